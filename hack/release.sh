#!/usr/bin/env bash
# `make release [VERSION=x.y.z] [IMAGE=registry/name] [SKIP_IMAGE=1]`: the release bundle in dist/
#   dist/crds.yaml                 the CRD alone: apply it first, never delete it to uninstall
#   dist/install.yaml              manifests/ built by kustomize, the image pinned to IMAGE:VERSION
#   dist/app-operator-VERSION.tgz  the Helm chart, its image defaulting to IMAGE:VERSION
#   dist/SHA256SUMS
# and the image IMAGE:VERSION (docker build of the repository's Dockerfile, OCI labels), unless
# SKIP_IMAGE=1. The version is pyproject.toml's: VERSION, when given, must be the same (bump the
# package version, not a flag), and CHANGELOG.md must have a section for it.
# Pushing is left to you: `docker push IMAGE:VERSION` (the script prints it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { printf '[release] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

package_version=$(sed -nE 's/^version = "([^"]+)"$/\1/p' pyproject.toml | head -n 1)
[ -n "$package_version" ] || die "no version = \"...\" in pyproject.toml"
version=${VERSION:-$package_version}
[ "$version" = "$package_version" ] ||
    die "VERSION=$version but pyproject.toml says $package_version: the package version is the one source; change it there"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || die "$version is not a semantic version"
grep -qE "^## \[$version\]" CHANGELOG.md || die "CHANGELOG.md has no '## [$version]' section"
image=${IMAGE:-app-operator}
[[ "$image" =~ ^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?$ && "${image##*/}" != *:* ]] ||
    die "IMAGE=$image: a repository without a tag (the tag is the version), e.g. ghcr.io/me/app-operator"
out=${DIST:-$root/dist}

# The kubectl built with the local cluster (version-matched) when there is one, else PATH's.
source hack/cluster/versions.sh
kubectl=$CLUSTER_CACHE/bin/kubectl
[ -x "$kubectl" ] || kubectl=$(command -v kubectl) || die "no kubectl on PATH"

rm -rf "$out" && mkdir -p "$out"
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The CRDs: what `kubectl apply -f crds/` reads (the *.yaml files; crds/Kustomization is not one).
for crd in crds/*.yaml; do
    printf -- '---\n'; cat "$crd"
done >"$out/crds.yaml"

# The operator: manifests/ with the image pinned. kustomize reads a base by a relative path
# only, so the overlay lives beside the output.
mkdir -p "$work/overlay"
cat >"$work/overlay/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$work/overlay" "$root/manifests")
images:
  - name: app-operator
    newName: $image
    newTag: "$version"
YAML
{
    echo "# app-operator $version: the operator (namespace app-operator-system, RBAC, admission"
    echo "# policy, Deployment). Apply crds.yaml first; deleting this file's objects leaves the"
    echo "# Apps and what they run alone (docs/install.md)."
    "$kubectl" kustomize "$work/overlay"
} >"$out/install.yaml"
grep -q '^kind: CustomResourceDefinition' "$out/install.yaml" &&
    die "install.yaml holds a CRD: manifests/kustomization.yaml must not list ../crds"
grep -qF "image: $image:$version" "$out/install.yaml" || die "install.yaml does not name $image:$version"

# The chart: a copy (its crds/ link dereferenced), the image's repository set to IMAGE.
helm=$(hack/helm/build.sh | tail -n 1)
cp -rL charts/app-operator "$work/app-operator"
sed -i -E "s#^(  repository: ).*#\1$image#" "$work/app-operator/values.yaml"
"$helm" lint --quiet "$work/app-operator" >&2
"$helm" package "$work/app-operator" --version "$version" --app-version "$version" \
    --destination "$out" >/dev/null
log "wrote $(cd "$out" && ls -- *.yaml *.tgz | tr '\n' ' ')"

if [ "${SKIP_IMAGE:-}" = 1 ]; then
    log "SKIP_IMAGE=1: no image built"
else
    # DOCKER: a docker client of your choice (else hack/images/docker.sh starts dockerd).
    docker=${DOCKER:-$(hack/images/docker.sh)}
    build_args=()
    # As `make images`: on base images made here where no registry answers (BASE_IMAGES=public
    # builds on the Dockerfile's own python base).
    if [ "${BASE_IMAGES:-local}" = local ]; then
        hack/images/base.sh
        build_args=(--build-arg PYTHON_BASE=app-operator/python:3.11)
    fi
    revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
    git diff --quiet HEAD -- operator pyproject.toml Dockerfile 2>/dev/null || revision="$revision-dirty"
    log "building $image:$version"
    "$docker" build -q -t "$image:$version" "${build_args[@]}" \
        --label "org.opencontainers.image.title=app-operator" \
        --label "org.opencontainers.image.description=Kubernetes operator: one App resource to a Deployment, a Service and PersistentVolumeClaims" \
        --label "org.opencontainers.image.version=$version" \
        --label "org.opencontainers.image.revision=$revision" \
        --label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        ${SOURCE_URL:+--label "org.opencontainers.image.source=$SOURCE_URL"} \
        "$root" >/dev/null
    log "image $image:$version built; publish it with: $docker push $image:$version"
fi
(cd "$out" && sha256sum -- *.yaml *.tgz >SHA256SUMS)
log "release $version in $out"
