"""Usage plans (rate in requests per second, burst) of the SP-API operations the emulator serves.

Copied from the operations' descriptions in the public SP-API models (`tests/reference/amazon-sp-api/`);
a test checks this table against those models, so a drift is caught. The emulator multiplies each rate
by its `time_scale` (bursts stay as documented) so that tests see real behaviour in a fraction of the time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UsagePlan:
    rate: float  # requests per second, sustained
    burst: int  # bucket size


USAGE_PLANS: dict[str, UsagePlan] = {
    "getMarketplaceParticipations": UsagePlan(0.016, 15),
    "getOrders": UsagePlan(0.0167, 20),
    "getOrderItems": UsagePlan(0.5, 30),
    "getReports": UsagePlan(0.0222, 10),
    "createReport": UsagePlan(0.0167, 15),
    "getReport": UsagePlan(2.0, 15),
    "getReportDocument": UsagePlan(0.0167, 15),
    "getInventorySummaries": UsagePlan(2.0, 2),
    # Tokens API 2021-03-01 (its model is not among the references; rate and burst from its documentation).
    "createRestrictedDataToken": UsagePlan(1.0, 10),
}
