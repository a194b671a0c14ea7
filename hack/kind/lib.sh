# shellcheck shell=bash
# Helpers shared by the kind scripts: progress lines with elapsed seconds, content stamps.
# shellcheck source=hack/kind/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"
# elapsed seconds since the outermost kind script started (children inherit KIND_T0)
KIND_T0=${KIND_T0:-$(date +%s)}
export KIND_T0
log() { printf '[kind] %4ds %s\n' "$(( $(date +%s) - KIND_T0 ))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# hash_of FILE_OR_DIR... : a short content hash (file names and contents, sorted).
hash_of() {
    local p
    for p in "$@"; do
        if [ -d "$p" ]; then
            (cd "$p" && find . -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
        else
            printf '%s %s\n' "$(sha256sum <"$p" | cut -c1-64)" "$(basename "$p")"
        fi
    done | sha256sum | cut -c1-16
}

stamp_matches() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

# run_logged WHAT LOGFILE CMD...: runs CMD with its output in LOGFILE and a progress line
# every 20 s (for go build -v: the number of packages compiled so far).
run_logged() {
    local what=$1 logfile=$2
    shift 2
    local start=$SECONDS
    mkdir -p "$(dirname "$logfile")"
    ("$@" >"$logfile" 2>&1) &
    local pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 5
        kill -0 "$pid" 2>/dev/null || break
        if (( (SECONDS - start) % 20 < 5 )); then
            log "$what: $(( SECONDS - start ))s, $(wc -l <"$logfile") log lines so far"
        fi
    done
    if ! wait "$pid"; then
        tail -n 40 "$logfile" >&2
        die "$what failed, full log in $logfile"
    fi
    log "$what: done in $(( SECONDS - start ))s"
}
