#!/bin/bash
# `make run`: start one router, one signaling and one media process in the
# foreground with the config in $1 (default etc). Ctrl-C stops all three.
set -u
conf=${1:-etc}
[ -d "$conf" ] || { echo "run: config directory '$conf' not found" >&2; exit 1; }
pids=()
# Signaling first: it ends every call properly (BYE, CANCEL, 503) and tells
# the router, which writes the CDRs; then the router and the media worker.
stop() {
    trap - INT TERM EXIT
    kill -TERM "${pids[2]}" 2>/dev/null
    wait "${pids[2]}" 2>/dev/null
    for p in "${pids[@]:0:2}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]:0:2}"; do wait "$p" 2>/dev/null; done
    exit "${1:-0}"
}
trap 'stop 0' INT TERM
trap 'stop 1' EXIT
# TD_BIN: another directory of binaries (tests/lib.sh; make test-asan)
bin=${TD_BIN:-bin}
"$bin/tandem-router" -c "$conf" & pids+=($!)
"$bin/tandem-media" -c "$conf" & pids+=($!)
"$bin/tandem-signaling" -c "$conf" & pids+=($!)
# If any process exits on its own (a config error, say), stop the others.
wait -n
echo "run: a process exited; stopping the others" >&2
stop 1
