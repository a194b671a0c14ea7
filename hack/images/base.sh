#!/usr/bin/env bash
# Makes the base images locally, since none can be pulled here:
#   app-operator/debian:bookworm     debootstrap (minbase) + `docker import`
#   app-operator/python:3.11         Debian's python3 and venv on top
# Both trust this machine's CA bundle (copied to /etc/ssl/build-host-ca.crt), so that apt and
# pip inside builds reach the package registries. The debootstrap tarball is cached outside
# the checkout and reused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
docker=$("$here/docker.sh")
cache=${APP_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/app-operator}/images
debian=app-operator/debian:bookworm
python=app-operator/python:3.11
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
log() { printf '[base-images] %s\n' "$*" >&2; }
mkdir -p "$cache"

if ! "$docker" image inspect "$debian" >/dev/null 2>&1; then
    tarball="$cache/debian-bookworm-minbase.tar"
    if [ ! -s "$tarball" ]; then
        command -v debootstrap >/dev/null || {
            apt-get update -qq >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2; }
        rootfs=$(mktemp -d)
        start=$SECONDS
        log "debootstrap bookworm (minbase) from $mirror: a few minutes the first time"
        debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
            tail -20 "$cache/debootstrap.log" >&2; exit 1; }
        mkdir -p "$rootfs/etc/ssl/certs"
        cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/build-host-ca.crt"
        cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
        # The mirror may serve a snapshot whose Release files are past their Valid-Until.
        printf 'Acquire::Check-Valid-Until "false";\nAcquire::Check-Date "false";\n' \
            >"$rootfs/etc/apt/apt.conf.d/99app-operator-build-host"
        printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" \
            >"$rootfs/etc/apt/sources.list"
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        tar -C "$rootfs" -cf "$tarball.partial" .
        mv "$tarball.partial" "$tarball"
        rm -rf "$rootfs"
        log "debootstrap took $(( SECONDS - start ))s"
    fi
    log "docker import $debian"
    "$docker" import \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'ENV SSL_CERT_FILE=/etc/ssl/build-host-ca.crt PIP_CERT=/etc/ssl/build-host-ca.crt REQUESTS_CA_BUNDLE=/etc/ssl/build-host-ca.crt' \
        -c 'CMD ["/bin/bash"]' "$tarball" "$debian" >/dev/null
fi

if ! "$docker" image inspect "$python" >/dev/null 2>&1; then
    log "building $python"
    "$docker" build -q -t "$python" -f "$here/python.Dockerfile" "$here" >/dev/null
fi
log "base images ready: $debian, $python"
