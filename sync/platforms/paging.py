"""A guard on next-page tokens: a platform that answers a page with a token it already gave in the same
listing (a bug on its side, a caching proxy replaying one answer) would have the sync page forever,
storing the same records again and again while the lease is renewed. Every paging loop of both platforms
passes its tokens through one `NextPages`, which stops the listing with a sentence instead.
"""

from __future__ import annotations

from ..errors import IncompleteDataError


class NextPages:
    def __init__(self, listing: str):
        self.listing = listing  # what is being paged, for the message ("Shopify orders", "Amazon searchOrders")
        self._seen: set[str] = set()

    def next(self, token: str | None) -> str | None:
        """The token to ask the next page with (None: the listing ended); raises on a repeated token."""
        if not token:
            return None
        if token in self._seen:
            raise IncompleteDataError(
                f"{self.listing}: the platform answered with a next-page token it had already sent "
                f"(after {len(self._seen)} page(s)), so paging on would never end; the listing stops here, the data "
                "type fails and its cursor stays at the last committed page.")
        self._seen.add(token)
        return token

    def restart(self) -> None:
        """The listing is read again from its first page (an expired token): earlier tokens may recur."""
        self._seen.clear()
