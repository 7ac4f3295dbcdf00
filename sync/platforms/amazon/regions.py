"""Marketplace ids -> SP-API regional endpoint (no sp_api import: validating secrets stays cheap)."""

from __future__ import annotations

from ...errors import CredentialError

# Regional SP-API endpoints (https://developer-docs.amazon.com/sp-api/docs/sp-api-endpoints).
REGION_ENDPOINTS = {
    "NA": "https://sellingpartnerapi-na.amazon.com",
    "EU": "https://sellingpartnerapi-eu.amazon.com",
    "FE": "https://sellingpartnerapi-fe.amazon.com",
}
MARKETPLACE_REGIONS = {
    # North America
    "ATVPDKIKX0DER": "NA", "A2EUQ1WTGCTBG2": "NA", "A1AM78C64UM0Y8": "NA", "A2Q3Y263D00KWC": "NA",
    # Europe, Middle East, India, Africa
    "A1RKKUPIHCS9HS": "EU", "A1F83G8C2ARO7P": "EU", "AMEN7PMS3EDWL": "EU", "A13V1IB3VIYZZH": "EU",
    "A1805IZSGTT6HS": "EU", "A1PA6795UKMFR9": "EU", "APJ6JRA9NG5V4": "EU", "A2NODRKZP88ZB9": "EU",
    "A1C3SOZRARQ6R3": "EU", "A33AVAJ2PDY3EV": "EU", "A2VIGQ35RCS4UG": "EU", "A21TJRUUN4KGV": "EU",
    "A17E79C6D8DWNP": "EU", "ARBP9OOSHTCHU": "EU", "A28R8C7NBKEWEA": "EU", "AE08WJ6YKNBMC": "EU",
    # Far East
    "A19VAU5U5O7RUS": "FE", "A39IBJ37TRP1C6": "FE", "A1VC38T7YXB528": "FE",
}


def region_endpoint(marketplace_ids: list[str]) -> str:
    regions = set()
    for marketplace in marketplace_ids:
        region = MARKETPLACE_REGIONS.get(marketplace)
        if region is None:
            raise CredentialError(
                f"amazon credentials list an unknown marketplace id {marketplace!r}: use the ids from "
                f"https://developer-docs.amazon.com/sp-api/docs/marketplace-ids")
        regions.add(region)
    if len(regions) > 1:
        raise CredentialError(
            "amazon credentials mix marketplaces of several regions (" + ", ".join(sorted(regions)) +
            "): a refresh token belongs to one region, so store one integration per region")
    return REGION_ENDPOINTS[regions.pop()]
