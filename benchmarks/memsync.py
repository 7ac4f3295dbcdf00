"""One sync in a process of its own, reporting the process's peak RSS (run by bench_memory).

`python -m benchmarks.memsync --count N --dsn DSN [--sqlite PATH]` syncs N generated orders (built
page by page, never held) into a fresh integration and prints one JSON line:
{"count", "seconds", "peak_rss_mb", "rss_before_mb"}.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def _peak_mb() -> float:
    """This process's peak resident set, in MB.

    VmHWM (Linux) first: `ru_maxrss` survives exec, so a child started by a big parent (the store
    benchmark holds 50,000 records) would report the parent's peak instead of its own.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--dsn")
    parser.add_argument("--sqlite")
    args = parser.parse_args(argv)

    from sync.engine import SyncEngine
    from sync.models import RunParams
    from sync.platforms import PlatformRegistry

    from . import pg
    from .platform import BenchPlatform, BenchShop

    settings = pg.settings_for(args.dsn, args.sqlite)
    pg.add_integrations(settings, 1)
    engine = SyncEngine(settings, platforms=PlatformRegistry(
        {"shopify": BenchPlatform(lambda secrets: BenchShop(count=args.count))}))
    before = _peak_mb()
    start = time.perf_counter()
    summary = engine.run(RunParams(force=True, triggered_by="manual"), workers=1)
    seconds = time.perf_counter() - start
    counts = summary.results[0].streams["orders"]
    if not summary.results[0].success or counts.new != args.count:
        print(f"sync went wrong: {summary.as_json()}", file=sys.stderr)
        return 1
    print(json.dumps({"count": args.count, "seconds": seconds, "peak_rss_mb": _peak_mb(),
                      "rss_before_mb": before}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
