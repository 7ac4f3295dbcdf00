"""Profile the sync's hot path: one first load or one re-sync, under py-spy, summarized by function.

    py-spy record --idle -r 500 -f raw -o /tmp/spy.txt -- python -m benchmarks.profile --phase resync
    python -m benchmarks.profile --summarize /tmp/spy.txt

`--phase first` profiles a first load of `--records` orders; `--phase resync` loads them first and waits
for `--go FILE` to exist (or 1 s) before the measured 1%-changed re-sync, so that you can attach py-spy
with `--pid` to the re-sync alone. The summary keeps the samples of the sync worker thread (under
`SyncEngine._sync_stream`) and of the staging thread, and lists where their time goes.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time


def summarize(path: str, top: int = 25) -> None:
    own: collections.Counter[str] = collections.Counter()
    inside: collections.Counter[str] = collections.Counter()
    worker = staging = 0
    with open(path) as raw:
        for line in raw:
            stack, _, count = line.rstrip().rpartition(" ")
            frames, samples = stack.split(";"), int(count)
            if not any("_sync_stream" in f for f in frames):
                staging += samples if any("stage (sync/dedup.py" in f for f in frames) else 0
                continue
            worker += samples
            own[frames[-1]] += samples
            for frame in set(frames):
                inside[frame] += samples
    print(f"sync worker thread: {worker} samples; staging thread: {staging} samples")
    print("\nwhere the worker thread is (own time):")
    for frame, samples in own.most_common(top):
        print(f"  {samples / worker:6.1%}  {frame}")
    print("\nwhat the worker thread's time is spent under (inclusive):")
    for frame, samples in inside.most_common(top + 7)[7:]:
        print(f"  {samples / worker:6.1%}  {frame}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("--phase", choices=("first", "resync"), default="first")
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--go", help="resync: wait for this file before the measured sync")
    parser.add_argument("--summarize", metavar="RAW", help="summarize a py-spy raw profile and exit")
    args = parser.parse_args(argv)
    if args.summarize:
        summarize(args.summarize)
        return 0

    from sync.engine import SyncEngine
    from sync.models import RunParams
    from sync.platforms import PlatformRegistry

    from . import pg
    from .bench_store import CHANGED
    from .platform import BenchPlatform, BenchShop, build, make_record
    from .records import changed

    first = build(args.records)
    serving = {"records": first}
    params = RunParams(force=True, triggered_by="manual")
    with pg.fresh_schema() as dsn:
        settings = pg.settings_for(dsn)
        pg.add_integrations(settings, 1)
        engine = SyncEngine(settings, platforms=PlatformRegistry(
            {"shopify": BenchPlatform(lambda secrets: BenchShop(serving["records"]))}))
        if args.phase == "resync":
            engine.run(params, workers=1)
            serving["records"] = [make_record(i + 1, 1) if changed(i + 1, CHANGED) else r for i, r in enumerate(first)]
            print(f"loaded; pid {os.getpid()}", flush=True)
            deadline = time.monotonic() + (600 if args.go else 1)
            while time.monotonic() < deadline and not (args.go and os.path.exists(args.go)):
                time.sleep(0.05)
        start = time.perf_counter()
        engine.run(params, workers=1)
        seconds = time.perf_counter() - start
    print(f"{args.phase}: {args.records} records in {seconds:.2f} s, {args.records / seconds:,.0f} records/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
