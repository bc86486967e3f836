# tests/sip/common/restart.sh - shared steps of the restart_* scenarios:
# calls up through phones.py, one process killed with SIGKILL and started
# again at once (same config, identity and ports), then the checks every
# restart must pass, read through tandemctl and the OS, not log wording:
#   - the router lists no call (`core show channels`: 0 active calls);
#   - the media worker reports no session (its load in `core show
#     processes`, its Sessions in `media show workers`), the router has no
#     call on it (Calls in `media show workers`), and
#     every port of rtp.conf's range can be bound again (none leaked);
#   - Master.csv has exactly one line per call.
# Source it after lib.sh; then rs_start, rs_calls N, rs_restart PROC, ...

RS_CALLS=0            # calls of the latest rs_calls
RS_TOTAL=0            # calls of every rs_calls: one CDR line each
RS_RINGING=0          # of which never answered (set by the scenario; counted in RS_TOTAL)
RS_NAMES=(router media signaling)

rs_ctl() { "$TD_BIN/tandemctl" -c "$TD_CONF" "$@"; }

rs_fail() {
    [ -s "$TD_TMP/calls.json" ] && { echo "---- phones summary"; head -c 4000 "$TD_TMP/calls.json"; }
    echo "---- Master.csv"; cat "$TD_CDR/Master.csv" 2>/dev/null
    local p
    for p in router media signaling; do
        [ -f "$TD_LOGS/$p-2.log" ] && { echo "---- tandem-$p after its restart (tail)"; tail -n 25 "$TD_LOGS/$p-2.log"; }
    done
    td_fail "$@"
}

rs_start() {
    [ -x "$TD_BIN/tandemctl" ] || td_fail "$TD_BIN/tandemctl is not built (make all)"
    td_start
}

# rs_calls N [ARGS...]: N bridged calls 1001 -> 1002 with RTP, in the
# background; waits until all are answered.
rs_calls() {
    RS_CALLS=$1; shift
    RS_TOTAL=$((RS_TOTAL + RS_CALLS))
    rm -f "$TD_TMP"/calls.*
    python3 "$TD_TOOLS/phones.py" --port "$TD_SIP_PORT" --calls "$RS_CALLS" \
        --ready "$TD_TMP/calls.ready" --stop "$TD_TMP/calls.stop" --mark "$TD_TMP/calls.mark" \
        --out "$TD_TMP/calls.json" --max-time 50 "$@" >"$TD_LOGS/phones.log" 2>&1 &
    RS_PHONES=$!
    TD_PIDS+=($RS_PHONES)
    td_wait_file "$TD_TMP/calls.ready" 20 || rs_fail "the $RS_CALLS calls were not all answered"
    ! grep -q failed "$TD_TMP/calls.ready" || rs_fail "a call was refused"
    rs_ctl -x 'core show channels' | grep -q "^$RS_CALLS active calls$" ||
        rs_fail "core show channels does not count $RS_CALLS active calls"
}

# rs_restart PROC [DELAY]: SIGKILL tandem-PROC and start it again at once
# (or DELAY seconds later); its new output goes to $TD_LOGS/PROC-2.log.
rs_restart() {
    rs_kill "$1"
    [ -n "${2:-}" ] && sleep "$2"
    rs_revive "$1"
}

s_index() {
    local i
    for i in 0 1 2; do [ "${RS_NAMES[$i]}" = "$1" ] && { echo $i; return; }; done
}

# rs_kill PROC: SIGKILL tandem-PROC (rs_revive starts it again).
rs_kill() {
    local proc=$1 i
    i=$(s_index "$proc")
    RS_OLD=${TD_TANDEM_PIDS[$i]}
    date +%s.%N > "$TD_TMP/calls.mark"
    disown "$RS_OLD" 2>/dev/null         # no "Killed" notice from bash
    kill -KILL "$RS_OLD"
    td_wait_gone "$RS_OLD" 2 || rs_fail "tandem-$proc survived SIGKILL"
}

# rs_revive PROC: start tandem-PROC again, same config.
rs_revive() {
    local proc=$1 i
    i=$(s_index "$proc")
    td_start_proc "$proc-2" "$proc"
    TD_TANDEM_PIDS[$i]=$TD_PROC_PID
    td_log "tandem-$proc killed (pid $RS_OLD) and started again (pid $TD_PROC_PID)"
}

# rs_until SECONDS CMD...: run CMD every 200 ms until it succeeds.
rs_until() {
    local n=$(( $1 * 5 )) i; shift
    for i in $(seq "$n"); do "$@" && return 0; sleep 0.2; done
    return 1
}

rs_no_calls() { rs_ctl -x 'core show channels' 2>/dev/null | grep -q "^0 active calls$"; }
rs_no_sessions() {
    rs_ctl -x 'core show processes' 2>/dev/null | grep -Eq "^media-1 +media +up +0 " &&
        rs_ctl -x 'media show workers' 2>/dev/null | grep -Eq "^media-1 +up +0 +[0-9]+ +0$"
}
rs_ctl_ringing() { rs_ctl -x 'core show channels' 2>/dev/null | grep -Eq "^SIP/1001-[0-9a-f]+ .* Ring "; }
rs_cdr_lines() { cat "$TD_CDR/Master.csv" 2>/dev/null | grep -c .; }
rs_cdr_at_least() { [ "$(rs_cdr_lines)" -ge "$1" ]; }

# rs_stop_phones: the callers hang up what is still up (BYE), the tool ends.
rs_stop_phones() {
    touch "$TD_TMP/calls.stop"
    wait "$RS_PHONES" 2>/dev/null
    [ -s "$TD_TMP/calls.json" ] || rs_fail "no summary from phones.py"
}

# rs_check_clean: nothing left behind, one CDR line per call.
rs_check_clean() {
    rs_until 10 rs_no_calls || rs_fail "the router still lists calls: $(rs_ctl -x 'core show channels' | tail -n 3 | tr '\n' ' ')"
    rs_until 10 rs_no_sessions || rs_fail "media sessions left: $(rs_ctl -x 'core show processes' | grep media-1); $(rs_ctl -x 'media show workers' | grep media-1)"
    rs_until 5 td_ports_free $(seq "$TD_RTP_START" "$TD_RTP_END") ||
        rs_fail "RTP ports of $TD_RTP_START-$TD_RTP_END are still bound"
    rs_until 5 rs_cdr_at_least "$RS_TOTAL"
    sleep 0.5
    local n
    n=$(rs_cdr_lines)
    [ "$n" = "$RS_TOTAL" ] || rs_fail "Master.csv has $n lines for $RS_TOTAL calls"
    [ "$(grep -c '"1001","1002".*"ANSWERED"' "$TD_CDR/Master.csv")" = $((RS_TOTAL - RS_RINGING)) ] ||
        rs_fail "not every answered call's CDR line is 1001 -> 1002 ANSWERED"
    td_log "clean: 0 calls, 0 sessions, no port bound, $n CDR lines"
}

# rs_expect PYTHON-EXPR-PER-CALL WHAT: every call of the summary (c, with
# c["sides"]["caller"|"callee"]) satisfies the expression.
rs_expect() {
    local out
    out=$(python3 - "$TD_TMP/calls.json" "$1" "$2" <<'PY'

import json, sys
calls = json.load(open(sys.argv[1]))["calls"]
expr, what = sys.argv[2], sys.argv[3]
bad = [c for c in calls if not eval(expr, {"c": c, "caller": c["sides"].get("caller") or {},
                                            "callee": c["sides"].get("callee") or {}})]
for c in bad:
    print("  call %d: ended_by %s, bye_answered %s, BYE to caller %s, to callee %s, "
          "re-INVITEs/new packets %s" % (
        c["k"], c["ended_by"], c.get("bye_answered"), c["sides"].get("caller", {}).get("bye"),
        c["sides"].get("callee", {}).get("bye"),
        ", ".join("%s %s/%s" % (n, s.get("reinvites"), s.get("new_packets"))
                  for n, s in c["sides"].items())))
print("%d of %d calls: %s" % (len(calls) - len(bad), len(calls), "ok" if not bad else "NOT " + what))
sys.exit(1 if bad else 0)
PY
    )
    local rc=$?
    echo "$out"
    # the calls that failed go in the failure's own line: the runner shows
    # that line and the logs' tail, not everything the scenario printed
    [ $rc -eq 0 ] || rs_fail "$2 ($(grep '^  call' <<<"$out" | head -n 3 | sed 's/^ *//' | tr '\n' ';'))"
}
