"""`products`: the GET_MERCHANT_LISTINGS_ALL_DATA report, one record per seller SKU.

Per marketplace: reuse a listings report requested recently (IN_QUEUE, IN_PROGRESS or DONE within
`AMAZON_REPORT_REUSE_MINUTES`, found with getReports) so that a retried sync does not queue another one;
otherwise createReport. Then poll getReport with growing waits until DONE (FATAL: a clear error;
CANCELLED, which Amazon does by itself when there is no data: an empty catalogue), getReportDocument,
download (gunzip, decode), parse the TSV and yield pages of 250 rows.

Record ids: the seller SKU for the integration's first marketplace; `<sku>|<marketplaceId>` for the same
SKU in another marketplace of the account (listings differ per marketplace: price, status). `data` is the
report row (column -> text) plus `marketplace-id`. A listings report is a full snapshot, so the stream's
state only notes which report was read; each sync reads the whole catalogue and dedup keeps writes to
what changed. Once every marketplace's report is read, the snapshot's ids go to the audit, which marks
the listings no longer there (census.py).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

from ...errors import DataTypeSkipped, PlatformError
from ...models import Page, Record, StreamRequest
from . import census
from .calls import AmazonForbidden, SpApiCaller
from .client import ReportsClient
from .documents import DocumentExpired, NotTheReport, choose_encoding, download, iter_rows
from ...timeutil import iso_z as iso
from .options import AmazonOptions
from ...timeutil import utcnow

log = logging.getLogger("sync.platforms.amazon")

REPORT_TYPE = "GET_MERCHANT_LISTINGS_ALL_DATA"
PAGE_SIZE = 250
SKU_COLUMN = "seller-sku"


def listing_id(sku: str, marketplace_id: str, primary: str) -> str:
    return sku if marketplace_id == primary else f"{sku}|{marketplace_id}"


class ListingsFetcher:
    def __init__(self, caller: SpApiCaller, client: ReportsClient, tuning: AmazonOptions, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = utcnow):
        self.caller, self.client, self.tuning = caller, client, tuning
        self.sleep, self.clock, self.now = sleep, clock, now

    def fetch(self, request: StreamRequest, marketplace_ids: list[str]) -> Iterator[Page]:
        ids: set[str] = set()
        try:
            # Every marketplace's report read to its end: a complete snapshot (a failure gives none).
            yield from census.on_last(census.collect(self._reports(marketplace_ids), ids),
                                      lambda: census.snapshot(ids, marketplace_ids, marketplace_ids[0]))
        except AmazonForbidden as exc:
            raise DataTypeSkipped(f"{exc} Grant the app the 'Product Listing' role and authorize it again.") from None

    def _reports(self, marketplace_ids: list[str]) -> Iterator[Page]:
        read: dict[str, str] = {}
        for index, marketplace in enumerate(marketplace_ids):
            report = self._done_report(marketplace)
            read[marketplace] = report["reportId"]
            last = index == len(marketplace_ids) - 1
            yield from self._pages(report, marketplace, marketplace_ids[0],
                                   {"report_ids": dict(read)} if last else None)

    # ----- report lifecycle -----------------------------------------------------------------------
    def _reusable(self, marketplace: str) -> str | None:
        if self.tuning.report_reuse_minutes <= 0:
            return None
        since = self.now() - timedelta(minutes=self.tuning.report_reuse_minutes)
        response = self.caller.call("getReports", lambda: self.client.get_reports(
            reportTypes=[REPORT_TYPE], processingStatuses=["IN_QUEUE", "IN_PROGRESS", "DONE"],
            marketplaceIds=[marketplace], createdSince=iso(since), pageSize=10))
        reports = (response.payload or {}).get("reports") or []
        mine = [r for r in reports if r.get("marketplaceIds") == [marketplace] and r.get("reportType") == REPORT_TYPE]
        if not mine:
            return None
        newest = max(mine, key=lambda r: r.get("createdTime") or "")
        log.info("Amazon listings report %s for %s reused (%s)", newest["reportId"], marketplace,
                 newest.get("processingStatus"))
        return str(newest["reportId"])

    def _done_report(self, marketplace: str) -> dict[str, Any]:
        report_id = self._reusable(marketplace)
        if report_id is None:
            created = self.caller.call("createReport", lambda: self.client.create_report(
                reportType=REPORT_TYPE, marketplaceIds=[marketplace]))
            report_id = str((created.payload or {})["reportId"])
            log.info("Amazon listings report %s requested for %s", report_id, marketplace)
        deadline = self.clock() + self.tuning.report_timeout
        wait = self.tuning.report_poll
        while True:
            report = self.caller.call("getReport", lambda: self.client.get_report(report_id)).payload or {}
            status = report.get("processingStatus")
            if status == "DONE":
                return report
            if status == "CANCELLED":
                # We never cancel a report: Amazon cancels one by itself when there is no data to return.
                log.info("Amazon listings report %s for %s was CANCELLED: no listings there", report_id, marketplace)
                return report
            if status == "FATAL":
                raise PlatformError(
                    f"Amazon could not produce the listings report for marketplace {marketplace} "
                    f"(report {report_id} ended {status}); the next sync will request a new one.")
            if self.clock() + wait > deadline:
                raise PlatformError(
                    f"Amazon's listings report {report_id} for marketplace {marketplace} was still {status} "
                    f"after {self.tuning.report_timeout:g} s; the next sync will pick it up again.")
            self.sleep(wait)
            wait = min(self.tuning.report_poll_max, max(wait * 1.5, 0.05))

    # ----- document ---------------------------------------------------------------------------------
    def _document(self, document_id: str, marketplace: str):
        """The report's document, downloaded; one that is not a listings report (a captive portal's or a
        proxy's page where the file should be) is asked for again, like any transient fault."""
        not_the_report: NotTheReport | None = None
        for _ in range(3):
            meta = self.caller.call("getReportDocument",
                                    lambda: self.client.get_report_document(document_id)).payload or {}
            compressed = (meta.get("compressionAlgorithm") or "").upper() == "GZIP"

            def fetch():
                try:
                    return download(meta["url"], compressed=compressed, timeout=self.tuning.http_timeout)
                except DocumentExpired:
                    return None  # the presigned URL expired (a slow retry): ask for a fresh one

            doc = self.caller.call("downloadReportDocument", fetch)
            if doc is None:
                continue
            rows = iter_rows(doc, choose_encoding(doc, marketplace), required=(SKU_COLUMN,))
            try:
                next(rows, None)
                return doc
            except NotTheReport as exc:
                not_the_report = exc
                doc.close()
                log.warning("Amazon's report document %s is not a listings report (%s); downloading it again",
                            document_id, exc)
            finally:
                rows.close()
        if not_the_report is not None:
            # No snapshot: the data type fails, so no listing is marked deleted for being absent from it.
            raise PlatformError(f"Amazon's report document {document_id} is not a listings report: {not_the_report}, "
                                "three downloads in a row. Nothing was marked deleted; the next sync reads the "
                                "listings again.")
        raise PlatformError("Amazon's report document link kept expiring before it could be downloaded.")

    def _pages(self, report: dict[str, Any], marketplace: str, primary: str,
               final_state: dict[str, Any] | None) -> Iterator[Page]:
        if report.get("processingStatus") == "CANCELLED":  # no data to return: an empty catalogue
            yield Page(records=[], state=final_state)
            return
        document_id = report.get("reportDocumentId")
        if not document_id:
            raise PlatformError(f"Amazon marked listings report {report.get('reportId')} DONE without a document.")
        doc = self._document(str(document_id), marketplace)
        try:
            encoding = choose_encoding(doc, marketplace)
            batch: list[Record] = []
            seen: set[str] = set()
            for row in iter_rows(doc, encoding):
                sku = (row.get(SKU_COLUMN) or "").strip()
                if not sku:
                    continue
                external_id = listing_id(sku, marketplace, primary)
                if external_id in seen:  # Amazon lists a SKU once; a repeat would be the same listing
                    continue
                seen.add(external_id)
                batch.append(Record(external_id=external_id, data={**row, "marketplace-id": marketplace}))
                if len(batch) >= PAGE_SIZE:
                    yield Page(records=batch)
                    batch = []
            yield Page(records=batch, state=final_state)
        finally:
            doc.close()
