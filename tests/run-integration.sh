#!/bin/bash
# Run every integration scenario, tests/sip/*/run, one after another.
# Prints NAME PASS/FAIL (with the scenario's output on failure), or SKIP with
# the reason when a scenario exits 0 after a line "SKIP: reason" (td_skip:
# this machine cannot run it), and ends with
#   integration: N passed, M failed[, K skipped]
# Exit status 1 if any failed. Pass scenario names to run only those.
# Each scenario is capped at TD_SCENARIO_TIMEOUT seconds (default 60), or at
# the number in its own tests/sip/<name>/timeout file (long tables).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
limit=${TD_SCENARIO_TIMEOUT:-60}
slow=${TD_SLOW:-1}      # tests/lib.sh: ASan binaries are slower (make test-asan)
pass=0; fail=0; skip=0; failed=()
if [ $# -gt 0 ]; then
    runs=(); for n in "$@"; do runs+=("tests/sip/$n/run"); done
else
    runs=(tests/sip/*/run)
fi
out=$(mktemp /tmp/tandem-integration.XXXXXX)
trap 'rm -f "$out"' EXIT
start=$SECONDS
for run in "${runs[@]}"; do
    name=$(basename "$(dirname "$run")")
    t0=$SECONDS
    cap=$limit
    [ -f "$(dirname "$run")/timeout" ] && cap=$(cat "$(dirname "$run")/timeout")
    # A stuck scenario gets TERM (its EXIT trap stops what it started by
    # PID), then KILL 5 s later.
    cap=$((cap * slow))
    timeout -k 5 "$cap" bash "$run" >"$out" 2>&1
    rc=$?
    dt=$((SECONDS - t0))
    if [ $rc -eq 0 ] && grep -q '^SKIP: ' "$out"; then
        printf '%-20s SKIP (%s)\n' "$name" "$(sed -n 's/^SKIP: //p' "$out" | head -n 1)"
        skip=$((skip + 1))
    elif [ $rc -eq 0 ]; then
        printf '%-20s PASS (%ds)\n' "$name" "$dt"
        pass=$((pass + 1))
    else
        [ $rc -eq 124 ] && echo "[$name] killed after ${cap}s" >>"$out"
        printf '%-20s FAIL (%ds, exit %d)\n' "$name" "$dt" "$rc"
        # The reason first (td_fail's line can be far above the logs' tail).
        grep -m 3 '^\[[^]]*\] FAIL: ' "$out" | sed 's/^/    /'
        tail -n 80 "$out" | sed 's/^/    /'
        fail=$((fail + 1))
        failed+=("$name")
    fi
done
[ $fail -gt 0 ] && echo "failed: ${failed[*]}"
echo "took $((SECONDS - start))s"
echo "integration: $pass passed, $fail failed$([ $skip -gt 0 ] && echo ", $skip skipped")"
[ $fail -eq 0 ]
