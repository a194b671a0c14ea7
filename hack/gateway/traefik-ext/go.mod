// Stands in for Traefik's nested module github.com/traefik/traefik/dynamic/ext, which Traefik's
// go.mod replaces with ./pkg/config/dynamic/ext: a nested module is never part of its parent's
// module zip and the proxy does not serve it, so hack/gateway/build-traefik.sh puts this one there.
module github.com/traefik/traefik/dynamic/ext

go 1.24
