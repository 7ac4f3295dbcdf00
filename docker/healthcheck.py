#!/usr/bin/env python3
"""The image's HEALTHCHECK (see Dockerfile): is this container doing its job?

One image runs two ways. Started as the admin API (`uvicorn app:app ...` or `python app.py`), it is
healthy when `GET /healthz` answers 200. Started with the default command (supercronic running
`docker-cron`) or a one-off command, there is no HTTP server to ask: the container is healthy while it
runs, since supercronic exiting stops the container anyway.

Which of the two it is comes from PID 1's command line, so one HEALTHCHECK serves both. The port is the
command's `--port`, else `PORT`, else 8000 (the image's default).

Usage: python docker/healthcheck.py [CMDLINE_FILE]   (default /proc/1/cmdline; exit 0 healthy, 1 not)
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

TIMEOUT_SECONDS = 4  # under the Dockerfile's --timeout=5s, so a slow answer is reported, not killed


def read_cmdline(path: str) -> list[str]:
    raw = Path(path).read_bytes()
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def _words(cmdline: list[str]) -> list[str]:
    # A platform may start the command as `sh -c "uvicorn app:app ..."`: look inside the script too.
    return [word for arg in cmdline for word in arg.split()]


def is_admin_api(cmdline: list[str]) -> bool:
    words = _words(cmdline)
    return any(Path(w).name == "uvicorn" or w == "app:app" or Path(w).name == "app.py" for w in words)


def _option(words: list[str], name: str) -> str | None:
    for i, word in enumerate(words):
        if word == name and i + 1 < len(words):
            return words[i + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def health_url(cmdline: list[str], env: dict[str, str]) -> str:
    words = _words(cmdline)
    # Under `sh -c "... --port $PORT"` the command line holds the unexpanded `$PORT`: the environment has it.
    port = _option(words, "--port") or ""
    if not port.isdigit():
        port = env.get("PORT", "").strip() or "8000"
    host = _option(words, "--host") or ""
    if "$" in host:
        host = ""
    host = host or env.get("HOST", "").strip()
    if host in ("", "0.0.0.0", "::", "[::]"):  # listening everywhere: ask over loopback
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def check(cmdline: list[str], env: dict[str, str]) -> tuple[bool, str]:
    if not is_admin_api(cmdline):
        return True, "no HTTP server in this variant (cron or one-off command): healthy while running"
    url = health_url(cmdline, env)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:  # refused, timed out, unresolvable, malformed port
        return False, f"{url}: {exc}"
    return status == 200, f"{url}: HTTP {status}"


def main(argv: list[str]) -> int:
    healthy, message = check(read_cmdline(argv[1] if len(argv) > 1 else "/proc/1/cmdline"), dict(os.environ))
    print(message)  # Docker keeps the output in `docker inspect`'s health log
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
