#!/usr/bin/env bash
# images.sh BIN_DIR ARCHIVE: builds the container images the kind node needs and cannot pull,
# from the binaries in BIN_DIR, and `docker save`s them all into ARCHIVE:
#   every image `kubeadm config images list` names for this Kubernetes version (their
#   registry.k8s.io names: kube-apiserver, kube-controller-manager, kube-scheduler,
#   kube-proxy, etcd, coredns, pause), the pause image of kind's containerd config, and the
#   storage provisioner with its helper. The tags must be the built versions: this script
#   stops when kubeadm asks for an etcd or CoreDNS other than hack/kind/etcd or hack/kind/coredns.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=hack/kind/lib.sh
source "$here/lib.sh"
docker=$("$root/hack/images/docker.sh")
bin=$1 archive=$2
start=$SECONDS

mapfile -t kubeadm_images < <("$bin/kubeadm" config images list --kubernetes-version "$K8S_VERSION")
kind_dir=$(cd / && go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
sandbox=$(sed -nE 's/^[[:space:]]*sandbox_image[[:space:]]*=[[:space:]]*"(.*)"/\1/p' \
    "$kind_dir/images/base/files/etc/containerd/config.toml")
[ -n "$sandbox" ] || die "no sandbox_image in kind's containerd config"

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
# what a distroless base gives: /tmp, users root, nobody and nonroot, name resolution order
mkdir -p "$ctx/skel/tmp" "$ctx/skel/etc"
chmod 1777 "$ctx/skel/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$ctx/skel/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$ctx/skel/etc/group"
echo 'hosts: files dns' >"$ctx/skel/etc/nsswitch.conf"

# static_image TAG BINARY PATH_IN_IMAGE [USER]: FROM scratch, the binary as entrypoint.
static_image() {
    local tag=$1 binary=$2 path=$3 user=${4:-}
    local d
    d="$ctx/$(basename "$binary")"
    mkdir -p "$d" && cp -r "$ctx/skel" "$d/skel" && cp "$binary" "$d/binary"
    {
        echo "FROM scratch"
        echo "COPY skel/ /"
        echo "COPY binary $path"
        echo "ENV PATH=/usr/local/bin:/usr/bin:/bin"
        [ -n "$user" ] && echo "USER $user"
        echo "ENTRYPOINT [\"$path\"]"
    } >"$d/Dockerfile"
    "$docker" build -q -t "$tag" "$d" >/dev/null
}

built=()
for image in "${kubeadm_images[@]}"; do
    name=${image%:*} version=${image##*:}
    case "$name" in
        */kube-apiserver|*/kube-controller-manager|*/kube-scheduler)
            [ "$version" = "$K8S_VERSION" ] || die "kubeadm asks for $image"
            static_image "$image" "$bin/${name##*/}" "/usr/local/bin/${name##*/}" ;;
        */kube-proxy)
            # kube-proxy runs iptables, ip6tables and conntrack: Debian's, as in the node
            d="$ctx/kube-proxy" && mkdir -p "$d" && cp "$bin/kube-proxy" "$d/"
            cat >"$d/Dockerfile" <<'DOCKERFILE'
FROM app-operator/debian:bookworm
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      iptables nftables conntrack ipset kmod \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY kube-proxy /usr/local/bin/kube-proxy
ENTRYPOINT ["/usr/local/bin/kube-proxy"]
DOCKERFILE
            "$docker" build -q -t "$image" "$d" >/dev/null ;;
        */etcd)
            [ "${version%-*}" = "${KIND_ETCD_VERSION#v}" ] ||
                die "kubeadm asks for $image, hack/kind/etcd builds $KIND_ETCD_VERSION: update its go.mod"
            static_image "$image" "$bin/etcd" /usr/local/bin/etcd ;;
        */coredns)
            [ "$version" = "$COREDNS_VERSION" ] ||
                die "kubeadm asks for $image, hack/kind/coredns builds $COREDNS_VERSION: update its go.mod"
            static_image "$image" "$bin/coredns" /coredns ;;
        */pause)
            static_image "$image" "$bin/pause" /pause 65535:65535 ;;
        *) die "kubeadm asks for an image this script does not know: $image" ;;
    esac
    built+=("$image")
    log "image $image"
done
if [[ " ${built[*]} " != *" $sandbox "* ]]; then
    static_image "$sandbox" "$bin/pause" /pause 65535:65535
    built+=("$sandbox")
    log "image $sandbox (containerd's sandbox image)"
fi

static_image "$LOCAL_PATH_PROVISIONER_IMAGE" "$bin/local-path-provisioner" /usr/bin/local-path-provisioner
built+=("$LOCAL_PATH_PROVISIONER_IMAGE")
log "image $LOCAL_PATH_PROVISIONER_IMAGE"
# the helper runs sh, mkdir and rm: Debian's static busybox
d="$ctx/helper" && mkdir -p "$d"
cat >"$d/Dockerfile" <<'DOCKERFILE'
FROM app-operator/debian:bookworm AS busybox
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static
FROM scratch
COPY --from=busybox /bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/bin
CMD ["/bin/sh"]
DOCKERFILE
"$docker" build -q -t "$LOCAL_PATH_HELPER_IMAGE" "$d" >/dev/null
built+=("$LOCAL_PATH_HELPER_IMAGE")
log "image $LOCAL_PATH_HELPER_IMAGE"

"$docker" save -o "$archive" "${built[@]}"
log "${#built[@]} images saved in $(( SECONDS - start ))s: $(du -h "$archive" | cut -f1) in $archive"
