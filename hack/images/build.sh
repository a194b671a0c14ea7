#!/usr/bin/env bash
# `make images`: the operator image (app-operator:dev), the tutorial's Flask app
# (pylounge_flask_app:v1) and PostgreSQL (app-operator/postgres:15, postgres.Dockerfile: the
# database of examples/flask-postgres). With BASE_IMAGES=local (the default where no registry
# can be reached) they build on base images made here by base.sh; BASE_IMAGES=public builds on the
# Dockerfiles' own defaults (python:3.11-slim-bookworm, ubuntu:24.04, debian:bookworm).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
docker=$("$root/hack/images/docker.sh")
log() { printf '[images] %s\n' "$*" >&2; }
args_operator=() args_flask=() args_postgres=()
if [ "${BASE_IMAGES:-local}" = local ]; then
    "$root/hack/images/base.sh"
    args_operator=(--build-arg PYTHON_BASE=app-operator/python:3.11)
    args_flask=(--build-arg BASE=app-operator/debian:bookworm)
    args_postgres=(--build-arg BASE=app-operator/debian:bookworm)
fi
start=$SECONDS
log "building app-operator:dev"
"$docker" build -q -t app-operator:dev "${args_operator[@]}" "$root" >/dev/null
log "building pylounge_flask_app:v1"
"$docker" build -q -t pylounge_flask_app:v1 "${args_flask[@]}" "$root/examples/flask-app" >/dev/null
log "images built in $(( SECONDS - start ))s"
# Its own step and its own build cache (only postgres.Dockerfile and postgres-entrypoint.sh
# are its inputs): about a minute the first time (Debian's postgresql-15), seconds after.
start=$SECONDS
log "building app-operator/postgres:15"
"$docker" build -q -t app-operator/postgres:15 "${args_postgres[@]}" \
    -f "$root/hack/images/postgres.Dockerfile" "$root/hack/images" >/dev/null
log "app-operator/postgres:15 built in $(( SECONDS - start ))s"
"$docker" images --format '{{.Repository}}:{{.Tag}}  {{.Size}}' |
    grep -E '^(app-operator:dev|pylounge_flask_app:v1|app-operator/postgres:15) ' >&2
