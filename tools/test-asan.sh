#!/bin/bash
# `make test-asan`: the integration suite (tests/run-integration.sh, every
# scenario or those named) against the ASan/UBSan binaries in build/asan-bin/
# (tests/lib.sh starts $TD_BIN/tandem-*). Fails if a scenario fails or if any
# sanitizer report was written; prints every report.
#
# Reports: ASan, UBSan and LeakSanitizer write to build/asan-logs/<kind>.<pid>
# (log_path), not to the process's stderr, so a scenario that reads a log
# never sees them and the check below sees them all. The directory is emptied
# first.
#  - ASan stops the process at its first error (its default); UBSan reports
#    every distinct error and goes on (halt_on_error=0), so one run finds them
#    all; a report file fails the target either way.
#  - Leaks: detect_leaks=1. LeakSanitizer runs when a process exits normally
#    (main returns, exit(): SIGTERM/SIGINT and config errors). A process
#    stopped with SIGKILL (the scenarios that kill a worker or a router, and
#    td_cleanup's KILL after 2 s) gets no leak check: none is possible.
#  - Known leaks of libraries (not ours) are in tests/asan/lsan.supp, each
#    entry with its reason.
#  - Allocation stacks use the fast frame-pointer unwinder: through a
#    library built without frame pointers (libosip2's osip_strdup) a frame
#    can be skipped. To chase a report, add fast_unwind_on_malloc=0 to
#    ASAN_OPTIONS (much slower).
#  - TD_SLOW (default 3 here) scales the scenarios' waits that only bound
#    how long a step may take (the runner's cap, sipp's cap, startup waits):
#    ASan makes every process 2-3x slower.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
bin=$root/build/asan-bin
logs=$root/build/asan-logs
for p in tandem-router tandem-media tandem-signaling tandemctl; do
    [ -x "$bin/$p" ] || { echo "test-asan: $bin/$p is not built (make test-asan builds it)" >&2; exit 1; }
done
rm -rf "$logs"
mkdir -p "$logs"

export TD_BIN=$bin
export TD_ASAN=1
export TD_SLOW=${TD_SLOW:-3}
common="log_path=$logs/report:log_exe_name=1:print_stacktrace=1"
export ASAN_OPTIONS="$common:detect_leaks=1"
export UBSAN_OPTIONS="$common:halt_on_error=0"
export LSAN_OPTIONS="$common:suppressions=$root/tests/asan/lsan.supp:print_suppressions=0"

start=$SECONDS
bash tests/run-integration.sh "$@"
rc=$?
echo "test-asan: the suite took $((SECONDS - start))s under ASan/UBSan (TD_SLOW=$TD_SLOW)"

reports=("$logs"/report*)
if [ -e "${reports[0]}" ]; then
    echo "test-asan: ${#reports[@]} sanitizer report(s):"
    for f in "${reports[@]}"; do
        echo "==== $f"
        cat "$f"
    done
    echo "test-asan: FAIL (${#reports[@]} report(s) in $logs)"
    exit 1
fi
[ $rc -eq 0 ] || { echo "test-asan: FAIL (a scenario failed; no sanitizer report)"; exit 1; }
echo "test-asan: PASS (no sanitizer report)"
