#!/bin/bash
# bench/overload.sh - how Tandem behaves above the call rate it sustains
# (issue 11: shed early with 503 + Retry-After, keep admitted calls' setup
# time, give memory back). Not part of `make test`.
#
#   bench/overload.sh                      offer 400, 1200, 2000 calls/s
#   OVL_RATES="1300 4000 6500" bench/overload.sh
#   OVL_SIGNALING="overload_lag_ms=0" ...  the same without load shedding
#
# Each step restarts router, media and signaling (started by PID, like
# bench/calls.sh, with the same static peers `load` and `uas`), offers
# OVL_SECS seconds of calls at the rate from a sipp UAC
# (bench/overload_uac.xml: a 503 is ACKed and ends the call) to a sipp UAS
# through the switch, then waits OVL_AFTER seconds and stops everything.
# Printed per step: offered and achieved rate; calls admitted (answered),
# shed (503) and failed (sipp's failed calls: timeouts, unexpected
# messages); retransmissions; setup time (INVITE to 200) p50/p95/max of
# admitted calls; signaling's CPU; signaling's VmRSS before, at its peak
# and OVL_AFTER s after the burst, and VmHWM. Everything on 127.0.0.1, all
# stopped by PID, bounded: about (OVL_SECS + OVL_AFTER + 15) s a step.
#
# Environment: OVL_RATES ("400 1200 2000"), OVL_SECS (20), OVL_AFTER (40),
# OVL_CALL_MS (1000, hold), OVL_SIGNALING (extra [signaling] lines,
# ';'-separated), OVL_LOGLEVEL (notice), OVL_KEEP=1 keeps the work directory.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
. tests/lib.sh

rates=${OVL_RATES:-400 1200 2000}
secs=${OVL_SECS:-20}
after=${OVL_AFTER:-40}
call_ms=${OVL_CALL_MS:-1000}
loglevel=${OVL_LOGLEVEL:-notice}
sigextra=${OVL_SIGNALING:-}

for p in router media signaling; do
    [ -x "bin/tandem-$p" ] || { echo "overload: bin/tandem-$p missing (make all)" >&2; exit 1; }
done
command -v sipp >/dev/null || { echo "overload: sipp missing (apt-get install sip-tester)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/tandem-overload-bench.XXXXXX)
pids=(); uas_pid=; uac_pid=; sampler_pid=
s_stop_all() {
    local p i
    for p in $sampler_pid $uac_pid $uas_pid; do kill -TERM "$p" 2>/dev/null; done
    # signaling first (it ends calls and tells the router), then the others
    [ ${#pids[@]} -eq 3 ] && kill -TERM "${pids[2]}" 2>/dev/null
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for i in $(seq 50); do
        local alive=0
        for p in "${pids[@]}" $uac_pid $uas_pid $sampler_pid; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}" $uac_pid $uas_pid $sampler_pid; do kill -KILL "$p" 2>/dev/null; done
    for p in "${pids[@]}" $uac_pid $uas_pid $sampler_pid; do wait "$p" 2>/dev/null; done
    pids=(); uas_pid=; uac_pid=; sampler_pid=
}
cleanup() {
    trap - EXIT INT TERM
    s_stop_all
    [ -n "${TD_LOCK:-}" ] && rm -rf "$TD_LOCK"
    if [ "${OVL_KEEP:-0}" = 1 ]; then echo "overload: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'echo "overload: interrupted"; exit 130' INT TERM

s_claim_ports || exit 1
sip=$TD_BASE; bus=$((TD_BASE + 1)); uas=$((TD_BASE + 2)); uac=$((TD_BASE + 3))
rtpstart=10000; rtpend=19999
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

conf=$tmp/etc
mkdir -p "$conf" "$tmp/cdr"
cat > "$conf/sip.conf" <<EOF
[general]
udpbindaddr=127.0.0.1:$sip
realm=tandem
context=bench
allowguest=no
alwaysauthreject=yes
directmedia=no
disallow=all
allow=ulaw

[load]
type=peer
host=127.0.0.1
port=$uac
insecure=port,invite
context=bench

[uas]
type=peer
host=127.0.0.1
port=$uas
insecure=port,invite
context=bench
EOF
cat > "$conf/extensions.conf" <<'EOF'
[bench]
exten => _X.,1,Dial(SIP/uas/${EXTEN},10)
 same => n,Hangup()
EOF
cat > "$conf/rtp.conf" <<EOF
[general]
rtpstart=$rtpstart
rtpend=$rtpend
EOF
cat > "$conf/tandem.conf" <<EOF
[general]
loglevel=$loglevel

[bus]
endpoint=tcp://127.0.0.1:$bus

[router]
cdrdir=$tmp/cdr

[signaling]
$(echo "$sigextra" | tr ';' '\n')

[media]
address=127.0.0.1
capacity=2500
EOF

s_rss() { awk '/^VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }
s_hwm() { awk '/^VmHWM/ { printf "%d", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }
s_cpu() { awk '{ printf "%d", $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# s_step RATE: one measured step; prints one line.
s_step() {
    local rate=$1 label="r$1" calls=$(($1 * secs)) p
    for p in router media signaling; do
        bin/tandem-$p -c "$conf" </dev/null >>"$tmp/$label-$p.log" 2>&1 &
        pids+=($!)
    done
    local sig=${pids[2]}
    python3 tests/tools/sip_ping.py --port "$sip" --wait 10 >/dev/null ||
        { echo "overload: the switch did not answer OPTIONS"; tail -5 "$tmp/$label-signaling.log"; s_stop_all; return 1; }
    sleep 1
    ( cd "$tmp" && exec timeout -k 2 $((secs * 3 + after + 60)) sipp 127.0.0.1:"$sip" \
        -sf "$root/bench/uas.xml" -key contact_port "$uas" -i 127.0.0.1 -p "$uas" \
        -mp $((TD_BASE + 20)) -nostdin -trace_err -error_file "$tmp/$label-uas.err" ) \
        </dev/null >/dev/null 2>&1 &
    uas_pid=$!
    sleep 0.5
    local rss0 cpu0 t0 t1 cpu1
    rss0=$(s_rss "$sig"); cpu0=$(s_cpu "$sig")
    # signaling's VmRSS once a second, until stopped
    ( while kill -0 "$sig" 2>/dev/null; do echo "$(date +%s) $(s_rss "$sig")"; sleep 1; done ) \
        >"$tmp/$label-rss" 2>/dev/null &
    sampler_pid=$!
    t0=$(date +%s.%N)
    ( cd "$tmp" && exec timeout -k 2 $((secs * 3 + 60)) sipp 127.0.0.1:"$sip" \
        -sf "$root/bench/overload_uac.xml" -i 127.0.0.1 -p "$uac" -mp $((TD_BASE + 24)) -nostdin \
        -s 5550000 -r "$rate" -rp 1000 -m "$calls" -l $((rate * 10)) -d "$call_ms" \
        -recv_timeout 8000 -max_recv_loops 10000 -max_sched_loops 10000 \
        -trace_stat -stf "$tmp/$label-uac.csv" -fd 1 -trace_rtt -rtt_freq 1 \
        -trace_err -error_file "$tmp/$label-uac.err" ) </dev/null >"$tmp/$label-uac.out" 2>&1 &
    uac_pid=$!
    wait "$uac_pid"; local rc=$?
    uac_pid=
    t1=$(date +%s.%N); cpu1=$(s_cpu "$sig")
    local t_end; t_end=$(date +%s)
    sleep "$after"
    local rss_after hwm
    rss_after=$(s_rss "$sig"); hwm=$(s_hwm "$sig")
    s_stop_all
    python3 - "$rate" "$secs" "$rc" "$t0" "$t1" "$cpu0" "$cpu1" "$(getconf CLK_TCK)" \
        "$rss0" "$rss_after" "$hwm" "$tmp/$label-rss" "$t_end" "$after" \
        "$tmp/$label-uac.csv" "$tmp" <<'PY'
import glob, sys
rate, secs, rc = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
t0, t1, c0, c1, tck = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
rss0, rss_after, hwm = sys.argv[9], sys.argv[10], sys.argv[11]
rss_file, t_end, after, stat, tmp = sys.argv[12], int(sys.argv[13]), sys.argv[14], sys.argv[15], sys.argv[16]
calls = rate * secs
rows = []
try:
    lines = open(stat).read().splitlines()
    head = lines[0].rstrip(";").split(";")
    rows = [dict(zip(head, l.rstrip(";").split(";"))) for l in lines[1:] if l.strip()]
except (OSError, IndexError):
    pass
last = rows[-1] if rows else {}
num = lambda k: int(float(last.get(k, "0") or 0))
ok, failed, retrans, created = num("SuccessfulCall(C)"), num("FailedCall(C)"), num("Retransmissions(C)"), num("TotalCallCreated")
epoch = lambda v: float(v.split("\t")[-1])
t_created = None
for d in rows:
    if int(float(d.get("TotalCallCreated", "0") or 0)) >= calls:
        t_created = epoch(d["CurrentTime"]) - epoch(d["StartTime"])
        break
achieved = calls / t_created if t_created else created / max(0.001, t1 - t0)
rtts = []
for f in glob.glob(tmp + "/overload_uac_*_rtt.csv"):
    for l in open(f).read().splitlines()[1:]:
        p = l.split(";")
        if len(p) >= 2:
            try:
                rtts.append(float(p[1]))
            except ValueError:
                pass
    import os
    os.unlink(f)
rtts.sort()
pct = lambda q: rtts[min(len(rtts) - 1, int(q * len(rtts)))] if rtts else float("nan")
admitted = len(rtts)
shed = ok - admitted        # successful calls that ended on a 503
peak = 0
for l in open(rss_file).read().splitlines():
    p = l.split()
    if len(p) == 2 and p[1].isdigit() and int(p[0]) <= t_end + 1:
        peak = max(peak, int(p[1]))
cpu = 100.0 * (c1 - c0) / tck / max(0.001, t1 - t0)
print("offered %5d/s (achieved %5.0f/s) %ds: calls %6d admitted %6d shed(503) %6d failed %5d "
      "retrans %6d  setup p50 %6.1f ms p95 %7.1f ms max %7.1f ms  signaling cpu %3.0f%%  "
      "RSS MiB before %s peak %d after(+%ss) %s HWM %s  sipp rc %d"
      % (rate, achieved, secs, calls, admitted, shed, failed, retrans, pct(0.5), pct(0.95),
         rtts[-1] if rtts else float("nan"), cpu, rss0, peak, after, rss_after, hwm, rc))
PY
}

echo "overload: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(sipp -v 2>&1 | grep -m1 -o 'SIPp v[^ ]*' | sed 's/\.$//')"
echo "overload: ${secs}s per step, ${call_ms} ms hold, ${after}s after; [signaling] ${sigextra:-defaults}"
for rate in $rates; do
    s_step "$rate"
done
