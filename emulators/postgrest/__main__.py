"""Run the emulator by hand: `python -m emulators.postgrest --dsn postgresql://... [--port 54321]`.

Prints the URL and the service key to give as SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY.
"""

from __future__ import annotations

import argparse
import time

from .server import PostgrestEmulator


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True, help="PostgreSQL DSN; its current schema is the exposed one")
    parser.add_argument("--port", type=int, default=54321)
    args = parser.parse_args()
    with PostgrestEmulator(args.dsn, port=args.port) as emu:
        print(f"SUPABASE_URL={emu.url}\nSUPABASE_SERVICE_ROLE_KEY={emu.service_key}", flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
