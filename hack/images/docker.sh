#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs Debian's docker.io when there is none and
# starts dockerd in the background when it is not running. Prints the docker client to use.
set -euo pipefail
log() { printf '[docker] %s\n' "$*" >&2; }

if ! command -v dockerd >/dev/null 2>&1; then
    log "installing Debian's docker.io"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >&2
fi
# Debian's client matches Debian's engine; another client on PATH may speak a newer API.
client=/usr/bin/docker
[ -x "$client" ] || client=$(command -v docker)
if ! "$client" info >/dev/null 2>&1; then
    log "starting dockerd (log: /var/log/app-operator-dockerd.log)"
    nohup dockerd >/var/log/app-operator-dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
        "$client" info >/dev/null 2>&1 && break
        sleep 1
    done
    "$client" info >/dev/null 2>&1 || { tail -20 /var/log/app-operator-dockerd.log >&2; exit 1; }
fi
echo "$client"
