#!/usr/bin/env bash
# Install the API Sync cron jobs for the current user (Linux/Mac):
#   - api_sync_cron.py every hour, on the hour (it syncs only the integrations that are due);
#   - sku_analysis_cron.py at 01:00, 09:00 and 17:00 (the machine's local time, as cron reads it).
#
# Usage: ./cron_setup.sh            install (or update) the two lines; run it again at will
#        ./cron_setup.sh --print    show the lines, change nothing
#        ./cron_setup.sh --remove   remove the lines this script installed for this folder
# The python used is the one that runs now ($PYTHON, else python3, else python): activate the
# project's virtualenv first, or set PYTHON=/path/to/python.
#
# The jobs log to logs/api_sync_cron.log and logs/sku_analysis_cron.log themselves; their console
# output is turned off (--json to /dev/null) and only what goes wrong before logging starts (a crash,
# a configuration error) lands in logs/cron_errors.log.
set -euo pipefail

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }

mode=install
case "${1:-}" in
    "") ;;
    --print) mode=print ;;
    --remove) mode=remove ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown option $1" >&2; usage >&2; exit 2 ;;
esac

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
python="${PYTHON:-$(command -v python3 || command -v python || true)}"
if [ -z "$python" ]; then
    echo "error: no python found; activate the project's virtualenv or set PYTHON=/path/to/python" >&2
    exit 2
fi
# The interpreter itself, by absolute path: cron runs with a bare PATH, no virtualenv activated and no
# pyenv shims set up. (A virtualenv's python keeps its own path, and with it the virtualenv.)
if ! python="$("$python" -c 'import sys; print(sys.executable)')" || [ -z "$python" ]; then
    echo "error: cannot run ${PYTHON:-python3}; activate the project's virtualenv or set PYTHON=/path/to/python" >&2
    exit 2
fi

# Each line ends with a marker naming its job and this folder, so a second run replaces exactly these
# lines, and another checkout's lines on the same account are left alone.
# (cron hands the whole line to sh, which reads the marker as a comment.)
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
# cron turns an unescaped % into a newline: escape any in the paths.
cron_escape() { printf '%s' "$1" | sed 's/%/\\%/g'; }
marker_api="# api-sync:api_sync_cron $(cron_escape "$repo")"
marker_sku="# api-sync:sku_analysis_cron $(cron_escape "$repo")"

q_repo="$(quote "$repo")"
q_python="$(quote "$python")"
q_errors="$(quote "$repo/logs/cron_errors.log")"
job() {  # job SCRIPT
    cron_escape "cd $q_repo && $q_python $1 --json >/dev/null 2>>$q_errors"
}
line_api="0 * * * * $(job api_sync_cron.py) $marker_api"
line_sku="0 1,9,17 * * * $(job sku_analysis_cron.py) $marker_sku"

if [ "$mode" = print ]; then
    printf '%s\n%s\n' "$line_api" "$line_sku"
    exit 0
fi

if ! command -v crontab >/dev/null 2>&1; then
    echo "error: crontab is not installed (Debian/Ubuntu: apt-get install cron); the lines would be:" >&2
    printf '%s\n%s\n' "$line_api" "$line_sku" >&2
    exit 1
fi

current="$(crontab -l 2>/dev/null || true)"
# Keep every line that is not one of ours (grep -F: the folder name is text, not a pattern).
kept="$(printf '%s\n' "$current" | grep -vF -e "$marker_api" -e "$marker_sku" || true)"
# Drop the blank line an empty crontab leaves behind.
kept="$(printf '%s\n' "$kept" | sed '/./,$!d')"

if [ "$mode" = remove ]; then
    if [ -z "$kept" ]; then crontab -r 2>/dev/null || true; else printf '%s\n' "$kept" | crontab -; fi
    echo "Removed the API Sync cron jobs of $repo"
    exit 0
fi

mkdir -p "$repo/logs"
{
    if [ -n "$kept" ]; then printf '%s\n' "$kept"; fi
    printf '%s\n%s\n' "$line_api" "$line_sku"
} | crontab -

echo "Installed the API Sync cron jobs of $repo (python: $python):"
printf '  %s\n  %s\n' "$line_api" "$line_sku"
echo "Check with: crontab -l    Logs: $repo/logs/"
