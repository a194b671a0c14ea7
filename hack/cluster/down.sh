#!/usr/bin/env bash
# Stops and deletes the local development cluster. The cached binaries stay.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.sh"
name=$CLUSTER_NAME
export KWOK_WORKDIR="$CLUSTER_STATE/kwok"
bin="$CLUSTER_CACHE/bin"
if [ -x "$bin/kwokctl" ] && "$bin/kwokctl" get clusters 2>/dev/null | grep -qx "$name"; then
    "$bin/kwokctl" delete cluster --name "$name"
else
    echo "[cluster-down] no cluster '$name' here"
fi
# A component started again outside kwokctl (the fault tests restart kube-apiserver as a crash
# and a supervisor would) is not kwokctl's to stop: every process still running a binary of
# this cluster's folder goes too.
# (Found by the command's first word: the cluster's bin/ holds links to the cached binaries,
# so /proc/PID/exe names the cache.)
for cmdline in /proc/[0-9]*/cmdline; do
    target=$(tr '\0' '\n' <"$cmdline" 2>/dev/null | head -n 1) || continue
    case "$target" in
        "$KWOK_WORKDIR/clusters/$name/"*)
            pid=${cmdline#/proc/}; pid=${pid%/cmdline}
            echo "[cluster-down] stopping ${target##*/} (pid $pid), started outside kwokctl"
            # Its etcd is gone: a graceful stop would wait on it. A stopped API server keeps
            # nothing worth a graceful end.
            kill -KILL "$pid" 2>/dev/null || true
            ;;
    esac
done
rm -f "$CLUSTER_STATE/kubeconfig"
