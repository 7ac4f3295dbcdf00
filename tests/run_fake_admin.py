"""Serve the admin API in this process with the test platform; used by the multi-process tests.

    python -m tests.run_fake_admin PORT

Settings come from the environment, as for app.py. Prints "ready" once the server listens; runs until
killed (SIGTERM stops uvicorn cleanly).
"""

from __future__ import annotations

import sys

import uvicorn

from sync.admin_api import create_app
from sync.config import Settings
from sync.engine import SyncEngine
from sync.logs import Redactor, setup_logging
from sync.platforms import PlatformRegistry

from .fakeplatform import FakePlatform


class _Server(uvicorn.Server):
    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        print("ready", flush=True)


def main() -> int:
    port = int(sys.argv[1])
    settings = Settings.from_env(load_dotenv=False)
    redactor = Redactor(settings.secret_values())
    setup_logging("admin_api", settings.log_dir, settings.log_level, redactor)
    registry = PlatformRegistry({"shopify": FakePlatform()})
    app = create_app(settings, engine_factory=lambda: SyncEngine(settings, platforms=registry, redactor=redactor))
    _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="warning")).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
