#!/bin/bash
# bench/failover.sh - how long calls are silent when their media worker dies
# (`make bench-failover`; not part of `make test`).
#
# Router, signaling and two media workers on 127.0.0.1. Each round:
# tests/tools/phones.py places BENCH_CALLS bridged calls (1001 -> 1002, both
# phones sending 50 RTP packets/s) on the worker that is alone at the time;
# the other worker is started; the first is killed with SIGKILL; the router
# moves every call to the survivor (MediaAdopt + a re-INVITE of each phone).
# Per round it prints, over the 2 x BENCH_CALLS phones, the time from the
# kill to the first packet a phone got again (median, max) and the calls
# dropped; then the calls hang up and the killed worker comes back as the
# next round's survivor. Then one drain: BENCH_CALLS calls, SIGUSR1 on their
# worker, the time until it exited and the longest silence at a phone.
#
# Environment: BENCH_CALLS (24; at most 31: the two workers share one
# 128-port RTP range, 4 ports a call, and a drain needs both at once),
# BENCH_ROUNDS (3), BENCH_LOGLEVEL (notice), BENCH_KEEP=1 keeps the work
# directory.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
. tests/lib.sh
calls=${BENCH_CALLS:-24}
rounds=${BENCH_ROUNDS:-3}
[ "$calls" -le 31 ] || { echo "BENCH_CALLS must be at most 31" >&2; exit 2; }
TD_KEEP=${BENCH_KEEP:-0}
TD_LOGLEVEL=${BENCH_LOGLEVEL:-notice}
td_init bench-failover
td_conf
td_more_ports
cat > "$TD_CONF/rtp.conf" <<EOF2
[general]
rtpstart=$TD_MORE_BASE
rtpend=$((TD_MORE_BASE + 127))
EOF2

declare -A PID
s_start_media() {
    td_start_proc "$1-$2" media -i "$1"; PID[$1]=$TD_PROC_PID
    for i in $(seq 50); do
        [ "$(grep -c "Media worker $1 is up" "$TD_LOGS/router.log")" -ge "$3" ] && return 0
        sleep 0.1
    done
    td_fail "the router never heard $1"
}
s_phones() {
    local name=$1; shift
    python3 tests/tools/phones.py --port "$TD_SIP_PORT" --calls "$calls" \
        --ready "$TD_TMP/$name.ready" --stop "$TD_TMP/$name.stop" --mark "$TD_TMP/$name.mark" \
        --out "$TD_TMP/$name.json" --max-time 120 "$@" >"$TD_LOGS/$name.log" 2>&1 &
    PID[phones]=$!
    TD_PIDS+=(${PID[phones]})
    td_wait_file "$TD_TMP/$name.ready" 60 || td_fail "$name: the calls were not all answered"
    ! grep -q failed "$TD_TMP/$name.ready" || td_fail "$name: a call was refused"
}
s_finish() {
    touch "$TD_TMP/$1.stop"
    wait "${PID[phones]}" 2>/dev/null
}

td_start_proc router router
td_start_proc signaling signaling
python3 tests/tools/sip_ping.py --port "$TD_SIP_PORT" --wait 10 >/dev/null 2>&1 ||
    td_fail "signaling did not answer OPTIONS"
declare -A UPS=([media-1]=0 [media-2]=0)
alone=media-1; other=media-2
UPS[$alone]=$((UPS[$alone] + 1)); s_start_media "$alone" 0 "${UPS[$alone]}"
echo "failover: $calls bridged calls per round, $rounds rounds"
for r in $(seq "$rounds"); do
    s_phones "round$r"
    UPS[$other]=$((UPS[$other] + 1)); s_start_media "$other" "$r" "${UPS[$other]}"
    sleep 1
    date +%s.%N > "$TD_TMP/round$r.mark"
    disown "${PID[$alone]}" 2>/dev/null
    kill -KILL "${PID[$alone]}"
    sleep 4
    s_finish "round$r"
    python3 - "$TD_TMP/round$r.json" "$r" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m = d["moved"]
dropped = sum(1 for c in d["calls"] if c["status"] != 200 or c["ended_by"] != "caller")
print("  round %s: %d phones, audio back after the kill: median %d ms, max %d ms; "
      "phones without audio again %d; calls dropped %d"
      % (sys.argv[2], m["sides"] + m["unmoved"], (m["median"] or 0) * 1000, (m["max"] or 0) * 1000,
         m["unmoved"], dropped))
PY
    t=$alone; alone=$other; other=$t
done

# drain: the calls on $alone move to $other, $alone exits
s_phones drain
UPS[$other]=$((UPS[$other] + 1)); s_start_media "$other" d "${UPS[$other]}"
sleep 1
date +%s.%N > "$TD_TMP/drain.mark"
t0=$(date +%s%N)
kill -USR1 "${PID[$alone]}"
td_wait_gone "${PID[$alone]}" 60 || td_fail "the drained worker did not exit"
t1=$(date +%s%N)
sleep 1
s_finish drain
python3 - "$TD_TMP/drain.json" "$(( (t1 - t0) / 1000000 ))" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
mark = float(open(sys.argv[1].replace(".json", ".mark")).read())
worst = 0.0
for c in d["calls"]:
    for s in c["sides"].values():
        for g in s["gaps"]:
            if g[1] > mark:
                worst = max(worst, g[1] - g[0])
dropped = sum(1 for c in d["calls"] if c["status"] != 200 or c["ended_by"] != "caller")
print("  drain: %d calls moved, worker exited after %s ms, longest silence at a phone %d ms "
      "(100 ms and more counted), calls dropped %d" % (len(d["calls"]), sys.argv[2],
                                                       worst * 1000, dropped))
PY
