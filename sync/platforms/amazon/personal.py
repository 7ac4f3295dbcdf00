"""Amazon's personal fields in Orders API v2026-01-01 orders, removed when SYNC_STORE_PII=false
(sync/personal.py). With that setting the BUYER and RECIPIENT sections are not even requested (tuning.py);
these paths also clear whatever personal data another section or a stored setting brings.

Removed: the buyer's name, e-mail and company; the recipient's name, company, street lines, postal code,
phone and street name, and the delivery instructions; a business buyer's tax registration name and
address lines; gift messages. Kept: ids, the city, region and country, totals, items, the seller's own
ship-from address.
"""

_ADDRESS = ("name", "companyName", "addressLine1", "addressLine2", "addressLine3", "postalCode", "phone",
            "extendedFields")

PERSONAL_DATA: dict[str, tuple[str, ...]] = {
    "orders": (
        "buyer.buyerName", "buyer.buyerEmail", "buyer.buyerCompanyName",
        *(f"recipient.deliveryAddress.{field}" for field in _ADDRESS),
        "recipient.deliveryPreference.addressInstruction", "recipient.deliveryPreference.dropOffLocation",
        "tax.taxRegistrations.legalName", *(f"tax.taxRegistrations.taxRegistrationAddress.{field}" for field in _ADDRESS),
        "orderItems.fulfillment.packing.giftOption.giftMessage",
    ),
}
