#!/bin/sh
# PID 1 of a kind node started by the docker shim (see ./docker), before kind's entrypoint:
# docker mounts the cgroup hierarchies read-only in a container that is not --privileged, and
# systemd, containerd and the kubelet all need to write them. Each mount is remounted
# read-write in place (a bind remount changes only this mount's flags, not the host's).
set -eu
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    mount -o remount,bind,rw /sys/fs/cgroup
else
    for m in $(findmnt -rn -t cgroup -o TARGET); do
        mount -o remount,bind,rw "$m"
    done
fi
exec "$@"
