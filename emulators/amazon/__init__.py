"""Local SP-API + Login with Amazon emulator (tests and the `--sandbox` demo). See `server.py`."""

from .faults import KINDS as FAULT_KINDS
from .ledger import V0_ORDERS_LEDGER, V0Ledger
from .limits import USAGE_PLANS, V0_ORDERS_OPERATIONS, UsagePlan
from .orders_api import (ROLE_DIRECT_TO_CONSUMER, ROLE_ORDERS, ROLE_TAX_INVOICING, ROLE_TAX_REMITTANCE)
from .server import DEMO_LWA_APP_ID, DEMO_LWA_CLIENT_SECRET, AmazonEmulator

__all__ = ["AmazonEmulator", "USAGE_PLANS", "UsagePlan", "FAULT_KINDS", "DEMO_LWA_APP_ID",
           "DEMO_LWA_CLIENT_SECRET", "V0_ORDERS_OPERATIONS", "V0_ORDERS_LEDGER", "V0Ledger", "ROLE_ORDERS",
           "ROLE_DIRECT_TO_CONSUMER", "ROLE_TAX_INVOICING", "ROLE_TAX_REMITTANCE"]
