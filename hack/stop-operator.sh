#!/usr/bin/env bash
# Stops the operator that `make demo` started in the background, if it still runs.
set -euo pipefail
pidfile="$(cd "$(dirname "$0")/.." && pwd)/.cluster/operator.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill "$(cat "$pidfile")"
    echo "stopped the operator (pid $(cat "$pidfile"))"
fi
rm -f "$pidfile"
