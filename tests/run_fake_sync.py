"""Run one sync in this process with the test platform; used by the multi-process and crash tests.

    python -m tests.run_fake_sync [--workers N] [--force]

Settings come from the environment, as for api_sync_cron.py; prints the run's JSON summary.
"""

from __future__ import annotations

import argparse
import json
import sys

from sync.config import Settings
from sync.engine import SyncEngine
from sync.logs import Redactor, setup_logging
from sync.models import RunParams
from sync.platforms import PlatformRegistry

from .fakeplatform import FakePlatform


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--console", action="store_true", help="log to stderr too, as the cron job does")
    args = parser.parse_args()
    settings = Settings.from_env(load_dotenv=False)
    redactor = Redactor(settings.secret_values())
    setup_logging("api_sync_cron", settings.log_dir, settings.log_level, redactor, console=args.console)
    engine = SyncEngine(settings, platforms=PlatformRegistry({"shopify": FakePlatform()}), redactor=redactor)
    summary = engine.run(RunParams(force=args.force), workers=args.workers)
    print(json.dumps(summary.as_json()), flush=True)
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
