"""Usage plans (rate in requests per second, burst) of the SP-API operations the emulator serves.

Copied from the operations' descriptions in the public SP-API models (`tests/reference/amazon-sp-api/`);
a test checks this table against those models, so a drift is caught. The emulator multiplies each rate
by its `time_scale` (bursts stay as documented) so that tests see real behaviour in a fraction of the time.

The Orders API v0 operations carry a `v0.` prefix: v0 and v2026-01-01 both have an operation called
`getOrder`, and the prefix keeps the removed API's counters apart from its successor's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UsagePlan:
    rate: float  # requests per second, sustained
    burst: int  # bucket size


# The Orders API v0 reads Amazon removes on 2027-03-27 (the emulator answers them 404 unless told otherwise).
V0_ORDERS_OPERATIONS = ("v0.getOrders", "v0.getOrder", "v0.getOrderItems", "v0.getOrderBuyerInfo",
                        "v0.getOrderAddress", "v0.getOrderItemsBuyerInfo")

USAGE_PLANS: dict[str, UsagePlan] = {
    "getMarketplaceParticipations": UsagePlan(0.016, 15),
    # Orders API v2026-01-01
    "searchOrders": UsagePlan(0.0056, 20),
    "getOrder": UsagePlan(0.5, 30),
    # Orders API v0 (deprecated)
    "v0.getOrders": UsagePlan(0.0167, 20),
    "v0.getOrder": UsagePlan(0.5, 30),
    "v0.getOrderItems": UsagePlan(0.5, 30),
    "v0.getOrderBuyerInfo": UsagePlan(0.5, 30),
    "v0.getOrderAddress": UsagePlan(0.5, 30),
    "v0.getOrderItemsBuyerInfo": UsagePlan(0.5, 30),
    # Reports API 2021-06-30
    "getReports": UsagePlan(0.0222, 10),
    "createReport": UsagePlan(0.0167, 15),
    "getReport": UsagePlan(2.0, 15),
    "getReportDocument": UsagePlan(0.0167, 15),
    # FBA Inventory API v1
    "getInventorySummaries": UsagePlan(2.0, 2),
}
