"""Page sizes from Shopify's own figures, not from the documented cost formula.

Every answer reports the `requestedQueryCost` Shopify charged for the document at the page size it was
sent with; a `MAX_COST_EXCEEDED` error reports the `cost` it refused. Divided by the page size, that is
the points one more record costs (the document's fixed part included, so the estimate errs on the safe
side when pages grow), and the next page is as large as fits the budget: Shopify's single-query maximum
(1,000 points) and the bucket's size, at most 250 records. Shopify's real figures are often far below the
formula, so pages grow well past the documented sizes the first request starts from.

The sizes, and the points a record actually cost (`actualQueryCost` over the records returned), are kept
in the data type's cursor entry (`sync_state`), so the next sync of the integration starts at the size the
last one ended with, and estimates how long paging a delta would take (`paging_seconds`) before choosing
between paging and a bulk export.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

MAX_PAGE = 250
MAX_QUERY_COST = 1000.0
# Headroom under the budget: the fixed part of a document does not shrink with its page.
MARGIN = 0.95


@dataclass
class PageSizer:
    """The page size of one document (one variable of it), learnt from the answers."""

    size: int
    per_record: float | None = None  # requested points per record at the last answer
    budget_cap: float = MAX_QUERY_COST  # the bucket's size, once known, if smaller than the query maximum
    max_cost: float = MAX_QUERY_COST  # the single-query maximum (a MAX_COST_EXCEEDED error says it)

    def expected_cost(self) -> float | None:
        return self.per_record * self.size if self.per_record else None

    def _resize(self) -> None:
        if self.per_record and self.per_record > 0:
            budget = min(self.max_cost, self.budget_cap) * MARGIN
            self.size = max(1, min(MAX_PAGE, math.floor(budget / self.per_record)))

    def observe(self, cost: Mapping[str, Any] | None, sent_size: int) -> None:
        """An answer to a document sent with `sent_size`: its requested cost sets the next size."""
        requested = (cost or {}).get("requestedQueryCost")
        maximum = ((cost or {}).get("throttleStatus") or {}).get("maximumAvailable")
        if isinstance(maximum, (int, float)) and maximum > 0:
            self.budget_cap = float(maximum)
        if isinstance(requested, (int, float)) and requested > 0 and sent_size > 0:
            self.per_record = float(requested) / sent_size
            self._resize()

    def refused(self, cost: Any, sent_size: int, max_cost: Any = None) -> bool:
        """MAX_COST_EXCEEDED with Shopify's `cost` (and `maxCost`) for `sent_size`; False when no smaller
        page can help."""
        if sent_size <= 1:
            return False
        if isinstance(max_cost, (int, float)) and max_cost > 0:
            self.max_cost = float(max_cost)
        if isinstance(cost, (int, float)) and cost > 0:
            self.per_record = float(cost) / sent_size
            self._resize()
            self.size = min(self.size, sent_size - 1)
        else:
            self.size = max(1, sent_size // 2)
        return True


@dataclass
class Sizes:
    """Every document's page size for one data type, and what a record actually costs, as kept in its
    cursor entry: `{"page_sizes": {"Orders": 180, ...}, "points_per_record": 4.2}` (and `max_query_cost` when
    a refusal showed a lower single-query maximum than 1,000)."""

    defaults: Mapping[str, int]
    # Requested points per record by the documented formula, until an answer says better: lets a page be
    # sized before its first answer when the query maximum turns out lower than 1,000.
    formula: Mapping[str, float] = field(default_factory=dict)
    sizers: dict[str, PageSizer] = field(default_factory=dict)
    points_per_record: float | None = None  # actual points per record returned, measured
    max_cost: float = MAX_QUERY_COST

    @classmethod
    def from_state(cls, defaults: Mapping[str, int], state: Mapping[str, Any] | None,
                   formula: Mapping[str, float] | None = None) -> "Sizes":
        out = cls(defaults, dict(formula or {}))
        remembered = (state or {}).get("page_sizes") or {}
        if isinstance(remembered, Mapping):
            for operation, size in remembered.items():
                if operation in defaults and isinstance(size, int) and not isinstance(size, bool) \
                        and 1 <= size <= MAX_PAGE:
                    out.sizers[operation] = PageSizer(size, per_record=out.formula.get(operation))
        points = (state or {}).get("points_per_record")
        if isinstance(points, (int, float)) and points > 0:
            out.points_per_record = float(points)
        ceiling = (state or {}).get("max_query_cost")
        if isinstance(ceiling, (int, float)) and ceiling > 0:
            out.learn_max_cost(float(ceiling))
        return out

    def sizer(self, operation: str) -> PageSizer:
        if operation not in self.sizers:
            sizer = PageSizer(self.defaults[operation], per_record=self.formula.get(operation))
            if self.max_cost < MAX_QUERY_COST:
                sizer.max_cost = self.max_cost
                sizer._resize()
            self.sizers[operation] = sizer
        return self.sizers[operation]

    def learn_max_cost(self, max_cost: float | None) -> None:
        """A refusal told Shopify's single-query maximum: every page of this data type is sized under it."""
        if max_cost and 0 < max_cost < self.max_cost:
            self.max_cost = float(max_cost)
            for sizer in self.sizers.values():
                sizer.max_cost = self.max_cost
                sizer._resize()

    def measure(self, cost: Mapping[str, Any] | None, records: int) -> None:
        actual = (cost or {}).get("actualQueryCost")
        if records > 0 and isinstance(actual, (int, float)) and actual > 0:
            self.points_per_record = float(actual) / records

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {"page_sizes": {op: s.size for op, s in sorted(self.sizers.items())}}
        if self.points_per_record:
            out["points_per_record"] = round(self.points_per_record, 3)
        if self.max_cost < MAX_QUERY_COST:
            out["max_query_cost"] = self.max_cost
        return out


def paging_seconds(records: int, points_per_record: float, restore_rate: float) -> float:
    """How long paging `records` would take at the bucket's restore rate (the bucket's burst aside)."""
    if restore_rate <= 0:
        return math.inf
    return records * points_per_record / restore_rate
