"""Local emulators of third-party APIs, for tests and the `--sandbox` demo (loopback only)."""
