"""Progress bars and the closing table of `test_api_sync_now.py` (rich)."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from .completeness import describe
from .models import Integration, StreamCounts, SyncResult


class RichProgress:
    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                  console=self.console, transient=False)
        self._tasks: dict[str, int] = {}
        self._results: list[tuple[Integration, SyncResult]] = []
        self._lock = threading.Lock()

    def __enter__(self) -> "RichProgress":
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    @staticmethod
    def _label(integration: Integration) -> str:
        # Descriptions are rich markup: a name with "[/...]" in it is escaped to show as it is.
        return escape(f"{integration.platform_type} · {integration.display_name or integration.credential_id[:8]}")

    def integration_started(self, integration: Integration) -> None:
        with self._lock:
            self._tasks[integration.credential_id] = self._progress.add_task(
                f"{self._label(integration)}: connecting", total=None)

    def page_stored(self, integration: Integration, data_type: str, counts: StreamCounts) -> None:
        task = self._tasks.get(integration.credential_id)
        if task is not None:
            self._progress.update(task, description=(
                f"{self._label(integration)}: {data_type} {counts.fetched} fetched, "
                f"{counts.new} new, {counts.updated} updated"))

    def integration_finished(self, integration: Integration, result: SyncResult) -> None:
        with self._lock:
            self._results.append((integration, result))
        task = self._tasks.get(integration.credential_id)
        if task is not None:
            mark = "✅" if result.success else "❌"
            self._progress.update(task, total=1, completed=1, description=(
                f"{mark} {self._label(integration)}: {result.records_fetched} fetched, "
                f"{result.records_stored} stored"))

    def print_summary(self) -> None:
        table = Table("client", "platform", "name", "result", "fetched", "new", "updated", "unchanged", "seconds",
                      "audit (stored of platform)", "error", title="Sync summary")
        for integration, result in self._results:
            streams = result.streams.values()
            table.add_row(integration.client_id, integration.platform_type, Text(integration.display_name or "-"),
                          "✅ ok" if result.success else "❌ failed", str(result.records_fetched),
                          str(sum(s.new for s in streams)), str(sum(s.updated for s in streams)),
                          str(sum(s.unchanged for s in streams)), f"{result.duration_seconds:.1f}",
                          Text(describe(result.data_types_synced())), Text(result.error_message or ""))
        if not self._results:
            self.console.print("Nothing to sync: no active integration matched.")
        else:
            self.console.print(table)
