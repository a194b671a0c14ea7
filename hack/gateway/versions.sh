# shellcheck shell=bash
# Versions of the kind tier's gateway (hack/gateway/), both from the Go module proxy, the only
# source that answers here. Traefik's go.mod must accept the local Go toolchain (v3.7.x says
# `go 1.26.0`); gateway-api v1.7.0 says a newer Go than this machine's, so v1.6.x: Traefik
# v3.7.13 is built against v1.6.1 of the same API.
TRAEFIK_VERSION=${TRAEFIK_VERSION:-v3.7.13}
GATEWAY_API_VERSION=${GATEWAY_API_VERSION:-v1.6.3}
APP_OPERATOR_CACHE=${APP_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/app-operator}
# the image loaded into kind (never pushed nor pulled); its tag carries the binary's cache key
TRAEFIK_IMAGE_REPO=localhost/app-operator/traefik
export TRAEFIK_VERSION GATEWAY_API_VERSION APP_OPERATOR_CACHE TRAEFIK_IMAGE_REPO
