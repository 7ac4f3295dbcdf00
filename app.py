#!/usr/bin/env python3
"""The admin HTTP API: `python app.py` (on `HOST`:`PORT`, default 0.0.0.0:8000) or `uvicorn app:app`.

Logs go to `logs/admin_api.log` (the syncs it triggers included), in the cron job's format.
See README.md for the endpoints and their authentication.
"""

import logging
import sys

from sync.admin_api import create_app
from sync.config import Settings
from sync.errors import ConfigError
from sync.logs import Redactor, setup_logging


def build_app():
    settings = Settings.from_env()
    redactor = Redactor(settings.secret_values())
    setup_logging("admin_api", settings.log_dir, settings.log_level, redactor)
    # The engine logs under the cron job's name and the server under uvicorn's: both belong in this log.
    for name in ("api_sync_cron", "api_sync", "uvicorn"):
        logging.getLogger(name).setLevel(settings.log_level)

    def engine_factory():
        from sync.engine import SyncEngine

        # The log filter's redactor: secrets decrypted during a run are scrubbed from this log as well.
        return SyncEngine(settings, redactor=redactor)

    return create_app(settings, engine_factory=engine_factory), settings


try:
    app, _settings = build_app()
except ConfigError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host=_settings.host, port=_settings.port, log_config=None)
