#!/bin/bash
# Run libFuzzer harnesses (build/fuzz/<name>) for SECONDS each:
#   tools/run-fuzz.sh SECONDS NAME...
# Seeds come from tests/fuzz/corpus/<name>/ (read only); what a run finds
# goes to build/fuzz/corpus/<name>/ (kept between runs), a crash to
# build/fuzz/crash-<name>-*. tests/fuzz/<name>.dict is used when present.
# Prints one line per harness (runs, coverage) and fails if any crashed.
# FUZZ_NICE=N runs them under nice -n N (offline runs on a shared machine);
# FUZZ_SEED=N fixes libFuzzer's random seed (the CI pass: the same
# mutations each run, as far as the time allows).
set -uo pipefail
secs=$1; shift
cd "$(dirname "$0")/.."
fail=0; failed=()
for name in "$@"; do
    bin=build/fuzz/$name
    out=build/fuzz/corpus/$name
    log=build/fuzz/$name.log
    mkdir -p "$out" "tests/fuzz/corpus/$name"
    # The longest input worth trying: a SIP message, a plan, a WAV are
    # bigger than a packet or an expression.
    case $name in
        *_sip|*_frame|*_dialplan|*_sdp) maxlen=8192 ;;
        *_wav) maxlen=16384 ;;
        *_envelope) maxlen=4096 ;;
        *) maxlen=1024 ;;
    esac
    args=(-max_total_time="$secs" -max_len=$maxlen -timeout=10 -rss_limit_mb=2048
          -print_final_stats=1 -artifact_prefix="build/fuzz/crash-$name-")
    [ -f "tests/fuzz/$name.dict" ] && args+=(-dict="tests/fuzz/$name.dict")
    [ -n "${FUZZ_SEED:-}" ] && args+=(-seed="$FUZZ_SEED")
    nice=()
    [ -n "${FUZZ_NICE:-}" ] && nice=(nice -n "$FUZZ_NICE")
    "${nice[@]}" "$bin" "${args[@]}" "$out" "tests/fuzz/corpus/$name" >"$log" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
    echo "fuzz: $name: ${runs:-?} runs, ${last:-no coverage line}, rc $rc"
    if [ $rc -ne 0 ]; then
        fail=$((fail+1)); failed+=("$name")
        # the whole report (the stack of each allocation or fault), so that
        # a failure seen only in CI can be found from its log
        sed -n '/^==[0-9]*==ERROR\|runtime error/,/^SUMMARY/p' "$log" | head -80
        grep -E 'artifact|Test unit written' "$log" | head -3
        f=$(grep -o 'Test unit written to [^ ]*' "$log" | head -1 | cut -d' ' -f5)
        [ -n "$f" ] && [ -f "$f" ] && { echo "the input (base64):"; base64 -w 100 "$f" | head -60; }
    fi
done
[ $fail -eq 0 ] || { echo "fuzz: failed: ${failed[*]} (logs: build/fuzz/<name>.log)"; exit 1; }
