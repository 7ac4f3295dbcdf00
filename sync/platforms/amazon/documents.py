"""Report documents: download (bounded memory), gunzip, pick the text encoding, parse the TSV.

Amazon serves report documents from a presigned URL that expires after five minutes. Flat-file reports
are tab-separated; their encoding is UTF-8 in some marketplaces and windows-1252 / ISO-8859-1 in others
(Shift_JIS in Japan), not always declared in `Content-Type`. So: the declared charset when there is one;
otherwise UTF-8 if the whole document is valid UTF-8, else the marketplace's legacy encoding. The body is
spooled to a temporary file (in memory up to 8 MB), so a 100,000-SKU report never sits in RAM at once.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import tempfile
from dataclasses import dataclass
from typing import IO, Iterator

import httpx

SPOOL_BYTES = 8 * 1024 * 1024
CHUNK = 256 * 1024
GZIP_MAGIC = b"\x1f\x8b"
# Legacy encodings of flat files by marketplace (when the document is not valid UTF-8 and says nothing).
LEGACY_ENCODINGS = {"A1VC38T7YXB528": "cp932"}  # Japan: Shift_JIS (Windows-31J)
DEFAULT_LEGACY = "cp1252"
# Labels read as the superset Amazon actually writes (as browsers do): Japanese flat files are
# Windows-31J even when labelled Shift_JIS (① ～ and the like are not in Shift_JIS), and an ISO-8859-1
# label means windows-1252 (€ – “ ” are 0x80-0x9F there, control characters in ISO-8859-1); a UTF-8
# label is read without a byte-order mark, which would otherwise stick to the first column's name.
SUPERSETS = {"shift_jis": "cp932", "iso8859-1": "cp1252", "ascii": "cp1252", "utf-8": "utf-8-sig"}


class DocumentExpired(Exception):
    """The presigned URL answered 403: ask getReportDocument for a fresh one."""


@dataclass
class DownloadedDocument:
    body: IO[bytes]  # positioned at 0; decompressed
    declared_charset: str | None

    def close(self) -> None:
        self.body.close()


def download(url: str, *, compressed: bool, timeout: float) -> DownloadedDocument:
    """Fetch the document into a spooled file, decompressing it when it is gzip."""
    raw = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    try:
        with httpx.Client(timeout=timeout) as http, http.stream("GET", url) as response:
            if response.status_code in (401, 403):
                raise DocumentExpired()
            response.raise_for_status()
            charset = response.charset_encoding
            for chunk in response.iter_bytes(CHUNK):
                raw.write(chunk)
        raw.seek(0)
        magic = raw.read(2)
        raw.seek(0)
        if compressed or magic == GZIP_MAGIC:
            plain = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                while block := gz.read(CHUNK):
                    plain.write(block)
            raw.close()
            plain.seek(0)
            return DownloadedDocument(plain, charset)
        return DownloadedDocument(raw, charset)
    except BaseException:
        raw.close()
        raise


def _decodes_as(body: IO[bytes], encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    body.seek(0)
    try:
        while block := body.read(CHUNK):
            decoder.decode(block)
        decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False
    finally:
        body.seek(0)


def choose_encoding(doc: DownloadedDocument, marketplace_id: str) -> str:
    if doc.declared_charset:
        try:
            name = codecs.lookup(doc.declared_charset).name
            return SUPERSETS.get(name, name)
        except LookupError:
            pass  # an unknown label: fall through to detection
    if _decodes_as(doc.body, "utf-8"):
        return "utf-8-sig"  # also drops a byte-order mark
    legacy = LEGACY_ENCODINGS.get(marketplace_id, DEFAULT_LEGACY)
    if _decodes_as(doc.body, legacy):
        return legacy
    return "latin-1"  # decodes any byte: windows-1252's five undefined bytes included


class NotTheReport(ValueError):
    """The downloaded document lacks a column every report of its type has: something else came back (a
    proxy's or a portal's page on HTTP 200), and reading it as rows would make an empty catalogue of it."""


def iter_rows(doc: DownloadedDocument, encoding: str, required: tuple[str, ...] = ()) -> Iterator[dict[str, str]]:
    """Rows of a tab-separated flat file as dicts keyed by the header row (empty lines skipped). A document
    with a header that lacks a `required` column raises NotTheReport before any row; an empty one has none."""
    doc.body.seek(0)
    text = io.TextIOWrapper(doc.body, encoding=encoding, errors="replace", newline="")
    try:
        reader = csv.reader(text, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if not header:
            return
        header = [h.strip() for h in header]
        missing = [c for c in required if c not in header]
        if missing:
            start = "\t".join(header)[:80]
            raise NotTheReport(f"it has no {', '.join(repr(c) for c in missing)} column (its first line: {start!r})")
        for values in reader:
            if not values or values == [""]:
                continue
            if len(values) < len(header):
                values = values + [""] * (len(header) - len(values))
            yield dict(zip(header, values))
    finally:
        text.detach()
