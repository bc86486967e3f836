#!/bin/bash
# Run every unit test binary given; print one summary line cmocka-style.
pass=0; fail=0; failed=()
for t in "$@"; do
    if "$t"; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$t"); fi
done
echo "unit: $pass passed, $fail failed"
[ $fail -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
