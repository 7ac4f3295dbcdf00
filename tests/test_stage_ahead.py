"""dedup.stage_ahead: pages come out in order, staged one page ahead, and a fetch error comes after
the page fetched before it (so the engine still writes everything fetched before a failure)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from sync import dedup
from sync.errors import PlatformError
from sync.models import Page, Record


def _pages(count: int, fail_after: int | None = None):
    for n in range(count):
        if fail_after is not None and n == fail_after:
            raise PlatformError("the platform answered 500 three times")
        yield Page(records=[Record(f"{n}-{i}", {"n": n, "i": i}) for i in range(3)], state={"page": n})


def test_pages_in_order_with_their_staging():
    with ThreadPoolExecutor(1) as pool:
        out = [(page.state["page"], staging.result()) for page, staging in dedup.stage_ahead(_pages(4), pool)]
    assert [n for n, _ in out] == [0, 1, 2, 3]
    for n, (staged, repeats, refused) in out:
        assert list(staged) == [f"{n}-{i}" for i in range(3)] and repeats == 0 and refused == []
        assert staged[f"{n}-0"].data_json == f'{{"i":0,"n":{n}}}'


def test_fetch_error_comes_after_the_pages_fetched_before_it():
    seen = []
    with ThreadPoolExecutor(1) as pool:
        with pytest.raises(PlatformError):
            for page, staging in dedup.stage_ahead(_pages(5, fail_after=2), pool):
                staging.result()
                seen.append(page.state["page"])
    assert seen == [0, 1]


def test_a_record_that_cannot_be_staged_is_refused_and_the_rest_of_its_page_staged():
    def pages():
        yield Page(records=[Record("1", {"ok": 1})])
        yield Page(records=[Record("2", {"bad": object()}), Record("3", {"ok": 3}), Record("", {"ok": 4})])

    with ThreadPoolExecutor(1) as pool:
        it = dedup.stage_ahead(pages(), pool)
        first, staging = next(it)
        assert "1" in staging.result().rows
        _, staging = next(it)
        staged = staging.result()
    assert list(staged.rows) == ["3"] and staged.repeats == 0
    assert [(r.external_id, r.reason.split(" (")[0]) for r in staged.refused] == [
        ("'2'", "its data cannot be written as JSON"), ("''", "its id is empty")]
