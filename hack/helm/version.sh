# The helm that hack/helm/build.sh builds and the release tests use (helm.sh/helm/v3 on the Go
# module proxy; its go.mod must accept the local Go toolchain).
HELM_VERSION=${HELM_VERSION:-v3.22.0}
export HELM_VERSION
