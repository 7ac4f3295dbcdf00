# API Sync in a container. One image, two ways to run it (README.md, "Deploy: Docker and Render"):
#   docker run --env-file .env api-sync
#       the default command: supercronic runs docker-cron in the foreground (the hourly sync, and the SKU
#       analysis at 01:00, 09:00 and 17:00 in the container's time zone: UTC unless TZ is set);
#   docker run --env-file .env -p 8000:8000 api-sync uvicorn app:app --host 0.0.0.0 --port 8000
#       the admin API (where the platform sets PORT, as Render does: uvicorn app:app --host 0.0.0.0 --port $PORT).
# Any other command runs once in the same image, e.g. `docker run --env-file .env api-sync python -m sync init-db`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PORT=8000

# Time zone data, so that TZ (e.g. -e TZ=Europe/Paris) moves the cron schedules; without TZ they are UTC.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tzdata \
    && rm -rf /var/lib/apt/lists/*

# supercronic: a cron made for containers. Unlike the cron daemon it hands the container's environment to
# the jobs, logs to stdout/stderr, runs in the foreground as PID 1 (reaping, passing on SIGTERM) and never
# starts a job while its previous run is still going. Fetched by version and checked against the release
# binary's SHA-1 (a mismatch fails the build); bump the three together from the project's releases page.
ARG SUPERCRONIC_VERSION=v0.2.39
ARG SUPERCRONIC_SHA1SUM_AMD64=c98bbf82c5f648aaac8708c182cc83046fe48423
ARG SUPERCRONIC_SHA1SUM_ARM64=5ef4ccc3d43f12d0f6c3763758bc37cc4e5af76e
# Set by BuildKit for the platform being built; the base image's architecture otherwise.
ARG TARGETARCH
RUN set -eu; \
    arch="${TARGETARCH:-$(dpkg --print-architecture)}"; \
    case "$arch" in \
        amd64) sum="$SUPERCRONIC_SHA1SUM_AMD64" ;; \
        arm64) sum="$SUPERCRONIC_SHA1SUM_ARM64" ;; \
        *) echo "no supercronic checksum for architecture $arch" >&2; exit 1 ;; \
    esac; \
    url="https://github.com/aptible/supercronic/releases/download/${SUPERCRONIC_VERSION}/supercronic-linux-${arch}"; \
    python -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
        "$url" /usr/local/bin/supercronic; \
    echo "$sum  /usr/local/bin/supercronic" | sha1sum -c -; \
    chmod 0755 /usr/local/bin/supercronic

WORKDIR /app

# The dependencies first: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# The jobs run as an unprivileged user. The code stays root-owned (read-only to the jobs); only the
# folders they write are theirs: logs/ (LOG_DIR) and data/ (the SQLite store, when no database is set).
RUN groupadd --system --gid 10001 apisync \
    && useradd --system --uid 10001 --gid apisync --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin apisync
COPY . .
# The jobs start every hour, and the app user cannot write /app (nor would it: PYTHONDONTWRITEBYTECODE):
# their modules are compiled once here instead of from source at every start (about 40 ms of each).
RUN python -m compileall -q -j 0 sync emulators api_sync_cron.py test_api_sync_now.py sku_analysis_cron.py app.py
RUN mkdir -p logs data && chown apisync:apisync logs data
USER apisync

# A crontab supercronic cannot read fails the build rather than the first night.
RUN supercronic -test /app/docker-cron

EXPOSE 8000
# The admin API answers GET /healthz; under the default command there is no server and the check passes
# while supercronic runs (docker/healthcheck.py tells the two apart from PID 1's command line).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]

CMD ["supercronic", "/app/docker-cron"]
