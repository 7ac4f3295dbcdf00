"""Local SP-API + Login with Amazon emulator (tests and the `--sandbox` demo). See `server.py`."""

from .faults import KINDS as FAULT_KINDS
from .limits import USAGE_PLANS, UsagePlan
from .server import DEMO_LWA_APP_ID, DEMO_LWA_CLIENT_SECRET, AmazonEmulator

__all__ = ["AmazonEmulator", "USAGE_PLANS", "UsagePlan", "FAULT_KINDS", "DEMO_LWA_APP_ID",
           "DEMO_LWA_CLIENT_SECRET"]
