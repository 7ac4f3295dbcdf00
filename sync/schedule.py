"""When an integration syncs next (SPEC section 3)."""

from __future__ import annotations

from datetime import datetime, timedelta

# Failure backoff: 15 min, 30 min, 1 h, ... capped at the integration's own frequency.
FAILURE_BACKOFF_BASE = timedelta(minutes=15)
# Longer frequencies are scheduled as this (a century): `anchor + frequency` must stay within the calendar.
MAX_STEP = timedelta(days=36525)
# A frequency of 0 or less (a row edited by hand) counts as one hour, the cron job's own period.
MIN_STEP = timedelta(hours=1)


def next_after_success(previous_next: datetime | None, started_at: datetime, frequency_hours: int,
                       now: datetime) -> datetime:
    """Keep the schedule's anchor: previous slot + frequency, stepped forward until in the future."""
    step = min(max(timedelta(hours=frequency_hours), MIN_STEP), MAX_STEP)
    anchor = previous_next if previous_next is not None else started_at
    candidate = anchor + step
    if candidate <= now:
        # Jump over the missed slots in one go rather than looping over months of them.
        missed = (now - candidate) // step + 1
        candidate += step * missed
    return candidate


def next_after_failure(consecutive_failures: int, frequency_hours: int, now: datetime) -> datetime:
    exponent = max(consecutive_failures - 1, 0)
    backoff = FAILURE_BACKOFF_BASE * (2 ** min(exponent, 20))
    return now + min(timedelta(hours=frequency_hours), backoff)
