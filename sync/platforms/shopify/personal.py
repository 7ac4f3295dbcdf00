"""Shopify's personal fields, removed from stored records when SYNC_STORE_PII=false (sync/personal.py).

Names, e-mail addresses, phone numbers and street-level address parts of the fields the documents select
(queries.py); ids, the city, province and country, totals, tags and line items are kept. Orders select no
buyer data at all (no customer, e-mail or address: see queries.py), so nothing is removed from them.
"""

PERSONAL_DATA: dict[str, tuple[str, ...]] = {
    "customers": ("firstName", "lastName", "displayName", "defaultEmailAddress", "defaultPhoneNumber",
                  "defaultAddress.zip"),
    "orders": (),
}
