#!/usr/bin/env bash
# Builds the local kind node image without any registry, replaying what kind's base image
# Dockerfile and `kind build node-image` (pkg/build/nodeimage) do:
#   1. binaries from Go modules (build-binaries.sh, cached in $KIND_CACHE/bin);
#   2. the images kubeadm and containerd ask for (kube-apiserver, kube-controller-manager,
#      kube-scheduler, kube-proxy, etcd, coredns, pause) and the storage provisioner's, built
#      FROM scratch (or Debian for kube-proxy, which needs iptables) and saved to one archive;
#   3. the node: Debian bookworm (hack/images/base.sh) + kind's apt list + kind's own files
#      (images/base/files of kind's Go module) + the binaries + a static CNI config + the storage
#      manifest (node/Dockerfile, with kind's ENV, STOPSIGNAL and ENTRYPOINT); containerd
#      started in it imports the archive (pinned, unpacked later, as kind does), and the
#      container is committed as the node image.
# The image is tagged app-operator/kind-node:<k8s version>-<hash of all inputs>, so a change
# to any input builds a new one and an unchanged tree reuses it. Prints the tag on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=hack/kind/lib.sh
source "$here/lib.sh"
docker=$("$root/hack/images/docker.sh")

bin=$("$here/build-binaries.sh")
stamps=$(cat "$bin"/.*.stamp | sha256sum | cut -c1-16)
key=$(printf '%s %s %s' "$stamps" "$(hash_of "$here/node" "$here/images.sh" "$here/node-image.sh")" \
    "$KIND_VERSION" | sha256sum | cut -c1-12)
tag="app-operator/kind-node:$K8S_VERSION-$key"
if "$docker" image inspect "$tag" >/dev/null 2>&1; then
    log "node image $tag is up to date"
    echo "$tag"
    exit 0
fi
exec 8>"$KIND_CACHE/.node-image.lock"
flock 8
if "$docker" image inspect "$tag" >/dev/null 2>&1; then echo "$tag"; exit 0; fi
start=$SECONDS
log "building node image $tag"
"$root/hack/images/base.sh"

# images kubeadm, containerd and the storage manifest ask for, in one archive
archive="$KIND_CACHE/images-$key.tar"
if [ ! -s "$archive" ]; then
    rm -f "$KIND_CACHE"/images-*.tar
    "$here/images.sh" "$bin" "$archive.partial"
    mv "$archive.partial" "$archive"
fi

# the build context: kind's files from its module, the binaries, our node files
ctx="$KIND_CACHE/context"
rm -rf "$ctx" && mkdir -p "$ctx/bin"
kind_dir=$(cd / && go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
cp -r "$kind_dir/images/base/files" "$ctx/kind-files"
chmod -R u+w "$ctx/kind-files"
cp -a "$bin"/. "$ctx/bin/"
cp -r "$here/node/files" "$ctx/node-files"
echo "$K8S_VERSION" >"$ctx/node-files/kind/version"
sed -i -e "s#@LOCAL_PATH_PROVISIONER_VERSION@#$LOCAL_PATH_PROVISIONER_VERSION#g" \
    -e "s#@LOCAL_PATH_PROVISIONER_IMAGE@#$LOCAL_PATH_PROVISIONER_IMAGE#g" \
    -e "s#@LOCAL_PATH_HELPER_IMAGE@#$LOCAL_PATH_HELPER_IMAGE#g" \
    "$ctx/node-files/kind/manifests/default-storage.yaml"
cp "$here/node/Dockerfile" "$ctx/Dockerfile"
build_tag="app-operator/kind-node-build:$key"
run_logged "node rootfs (apt packages, kind's files, binaries)" "$KIND_CACHE/logs/node-build.log" \
    "$docker" build --target node -t "$build_tag" "$ctx"

# preload the images into the node's containerd, as kind's node-image build does
cid=$("$docker" run -d --entrypoint sleep --security-opt seccomp=unconfined "$build_tag" infinity)
trap '"$docker" rm -f -v "$cid" >/dev/null 2>&1 || true' EXIT
"$docker" exec "$cid" bash -c 'nohup containerd >/var/log/containerd-build.log 2>&1 &'
# shellcheck disable=SC2016 # expanded in the node
"$docker" exec "$cid" bash -c 'for _ in $(seq 1 30); do [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && exit 0; sleep 1; done; cat /var/log/containerd-build.log; exit 1'
log "importing $(du -h "$archive" | cut -f1) of images into the node's containerd"
"$docker" exec -i "$cid" ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned \
    --all-platforms --no-unpack --digests - <"$archive" >"$KIND_CACHE/logs/node-import.log"
"$docker" exec "$cid" ctr --namespace=k8s.io images list -q | grep -v '^sha256:' >&2
# (sleep, PID 1 here, reaps no child: a stopped containerd stays a zombie, state Z)
# shellcheck disable=SC2016 # expanded in the node
"$docker" exec "$cid" bash -c 'pkill containerd; for _ in $(seq 1 30); do ps -C containerd -o stat= | grep -qv Z || exit 0; sleep 1; done; exit 1'
"$docker" exec "$cid" rm -rf /var/log/containerd-build.log /tmp/* /run/containerd

# kind's entrypoint again (the build container ran sleep), as its node-image build commits it
log "committing $tag"
"$docker" commit \
    --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
    --change 'CMD []' \
    "$cid" "$tag" >/dev/null
"$docker" rm -f -v "$cid" >/dev/null
trap - EXIT
"$docker" rmi "$build_tag" >/dev/null 2>&1 || true
rm -rf "$ctx"
# older node images of this Kubernetes version
"$docker" images --format '{{.Repository}}:{{.Tag}}' "app-operator/kind-node" |
    grep -v -x "$tag" | xargs -r "$docker" rmi >/dev/null 2>&1 || true
log "node image $tag built in $(( SECONDS - start ))s ($("$docker" image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$tag"
