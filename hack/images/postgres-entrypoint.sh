#!/bin/sh
# The entrypoint of app-operator/postgres:15 (postgres.Dockerfile): on first start, initialises
# $PGDATA from the environment as the public postgres image does, then runs the server as
# PID 1 so that it gets the stop signal itself. Runs as the image's user (postgres, 999).
set -eu

log() { printf 'postgres-entrypoint: %s\n' "$*" >&2; }

# VAR or VAR_FILE (a mounted secret), not both: the public image's convention.
from_env_or_file() {
    var=$1 default=$2
    eval "value=\${$var:-} file=\${${var}_FILE:-}"
    if [ -n "$value" ] && [ -n "$file" ]; then
        log "both $var and ${var}_FILE are set; set only one"; exit 1
    fi
    if [ -n "$file" ]; then
        [ -r "$file" ] || { log "${var}_FILE=$file cannot be read"; exit 1; }
        value=$(cat "$file")
    fi
    printf '%s' "${value:-$default}"
}

# `docker run IMAGE -c shared_buffers=256MB` passes server options, as the public image does.
case "${1:-postgres}" in -*) set -- postgres "$@" ;; esac

if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ "$(id -u)" = 0 ]; then
        log "runs as root: PostgreSQL refuses that; run as the image's user postgres (999)"
        exit 1
    fi
    user=$(from_env_or_file POSTGRES_USER postgres)
    password=$(from_env_or_file POSTGRES_PASSWORD "")
    database=$(from_env_or_file POSTGRES_DB "$user")
    auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
    if [ -z "$password" ] && [ "$auth" != trust ]; then
        log "the database is not initialised and POSTGRES_PASSWORD is empty: set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to the superuser's password, or POSTGRES_HOST_AUTH_METHOD=trust to allow every connection without one"
        exit 1
    fi
    # A mount point's root may belong to root (kind's local-path, most provisioners): the
    # server's own subdirectory is made and owned here, 0700 as PostgreSQL demands.
    mkdir -p "$PGDATA"
    chmod 0700 "$PGDATA" 2>/dev/null || {
        log "cannot make $PGDATA 0700 as UID $(id -u): give the container a directory it owns"
        exit 1; }
    log "initialising $PGDATA for user $user, database $database"
    pwfile=$(mktemp)
    printf '%s\n' "$password" >"$pwfile"
    # POSTGRES_INITDB_ARGS is a list of arguments (unquoted), as in the public image
    initdb --pgdata="$PGDATA" --username="$user" --pwfile="$pwfile" --encoding=UTF8 \
        --locale=C.UTF-8 --auth-local=trust --auth-host="$auth" ${POSTGRES_INITDB_ARGS:-} >&2
    rm -f "$pwfile"
    printf 'host all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
    printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.auto.conf"
    # The database and the init scripts, on a server no one else can reach: no TCP, its
    # socket in a directory of its own, so that a readiness check (pg_isready on the usual
    # socket) does not see this one and call the database ready before it is.
    socket=$(mktemp -d)
    pg_ctl --pgdata="$PGDATA" --wait --silent \
        -o "-c listen_addresses='' -c unix_socket_directories='$socket'" start
    export PGHOST="$socket" PGUSER="$user" PGDATABASE=postgres
    if [ "$database" != postgres ]; then
        psql -v ON_ERROR_STOP=1 -q --set db="$database" <<'SQL'
CREATE DATABASE :"db";
SQL
    fi
    export PGDATABASE="$database"
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sql) log "running $script"; psql -v ON_ERROR_STOP=1 -q -f "$script" ;;
            *.sh) log "running $script"; . "$script" ;;
            */\*) ;;  # the directory is empty
            *) log "ignoring $script (only *.sql and *.sh are run)" ;;
        esac
    done
    unset PGHOST PGUSER PGDATABASE
    pg_ctl --pgdata="$PGDATA" --wait --silent -m fast stop
    rmdir "$socket"
    log "initialised; starting the server"
fi

exec "$@"
