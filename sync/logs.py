"""Logging in the guide's format, to a rotated file and the console, with secrets redacted.

`YYYY-MM-DD HH:MM:SS - <logger> - <LEVEL> - <message>`. The redaction filter sits on the handlers,
so a secret is scrubbed whichever logger (ours or a library's) writes it.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import threading
from pathlib import Path
from typing import Iterable

LOG_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
REDACTED = "***"

# Shapes of secrets we may see before anyone registers them (tokens in URLs or headers of library logs).
_PATTERNS = [
    re.compile(r"(shpat_|shpca_|shppa_|shpss_)[A-Za-z0-9]{8,}"),
    re.compile(r"Atzr\|[A-Za-z0-9\-_|.=]+"),  # LWA refresh tokens
    re.compile(r"Atza\|[A-Za-z0-9\-_|.=]+"),  # LWA access tokens
    # An Authorization value's scheme ("Bearer ", "Basic ") stays; the credential after it goes.
    re.compile(r"(?i)(x-shopify-access-token|x-amz-access-token|authorization)"
               r"(['\"]?\s*[:=]\s*['\"]?(?:(?:bearer|basic|token)\s+)?)[^\s'\",}]+"),
]


class Redactor:
    """Known secret values of this process; shared by the log filter and the error messages."""

    def __init__(self, values: Iterable[str] = ()):
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self.add(values)

    def add(self, values: Iterable[str]) -> None:
        with self._lock:
            self._values.update(v for v in values if v and len(v) >= 6)

    def scrub(self, text: str) -> str:
        if not text:
            return text
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, REDACTED)
        for pattern in _PATTERNS:
            if pattern.groups >= 2:
                text = pattern.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
            else:
                text = pattern.sub(REDACTED, text)
        return text


class RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call (arguments not matching the format): log it as written
            message = f"{record.msg} (log arguments did not match: {record.args!r})"
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        scrubbed = self.redactor.scrub(message)
        record.msg, record.args = scrubbed, None
        if record.exc_text:
            record.exc_text = self.redactor.scrub(record.exc_text)
        return True


def _safe_console_streams() -> None:
    # A Windows console in cp1252 cannot encode the guide's emoji; replace instead of crashing.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):
                pass


def setup_logging(name: str, log_dir: str, level: str, redactor: Redactor, *, console: bool = True,
                  max_bytes: int = 10 * 1024 * 1024, backups: int = 5) -> logging.Logger:
    """Configure the root logger's handlers for one command; returns the command's logger."""
    _safe_console_streams()
    formatter = logging.Formatter(LOG_FORMAT, DATE_FORMAT)
    redacting = RedactingFilter(redactor)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_api_sync", False):
            root.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = []
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    file_handler = logging.handlers.RotatingFileHandler(
        Path(log_dir) / f"{name}.log", maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    handlers.append(file_handler)
    if console:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler._api_sync = True  # type: ignore[attr-defined]
        handler.setFormatter(formatter)
        handler.addFilter(redacting)
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logger = logging.getLogger(name)
    logger.setLevel(level)
    logging.getLogger("sync").setLevel(level)
    return logger
