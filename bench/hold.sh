#!/bin/bash
# bench/hold.sh - the CPU cost of a hold/resume pair (`make bench-hold`; not
# part of `make test`).
#
# Router, media and signaling on 127.0.0.1, started once. A sipp UAC (the
# static peer `load`, insecure=port,invite: no challenge) places BENCH_CALLS
# bridged calls at BENCH_RATE calls/s through the switch to a sipp UAS (the
# static peer `uas`), in two kinds of run:
#   baseline  INVITE, 180, 200, ACK, BYE, 200
#   hold      the same call, and between the ACK and the BYE BENCH_PAIRS
#             hold/resume pairs from the caller: a re-INVITE with
#             a=sendonly, then one with a=sendrecv, each relayed by
#             signaling through the router to the media worker and on to the
#             callee as the switch's own re-INVITE, which the UAS answers
#             (recvonly, then sendrecv); the answer travels back; ACKs.
# The scenarios are written by bench/hold_xml.py with the pairs unrolled;
# each checks the direction it gets, so a run with no failed call relayed
# every hold and every resume. BENCH_ROUNDS rounds of (baseline, hold), each
# run measured by the utime+stime of each process (/proc/PID/stat) from
# before the UAC starts to after the UAS has seen the last BYE. Per round:
#   CPU per pair = (hold run - baseline run) / (calls x pairs), per process
#   and in total, in microseconds; and the pairs/s the hold run achieved
#   (calls x pairs / its wall time).
# Then the median of the rounds. Nothing sends RTP. Everything is stopped by
# PID (tests/lib.sh); every sipp run is capped in time.
#
# The processes' idle CPU (timers, the worker's hello) is measured for
# BENCH_IDLE seconds first and taken off each run by its wall time, as the
# two kinds of run last differently long.
#
# Environment: BENCH_CALLS (1000), BENCH_PAIRS (10), BENCH_RATE (100
# calls/s; at most 30 calls up at once, the RTP range claimed holds 32),
# BENCH_ROUNDS (3), BENCH_IDLE (3 s), BENCH_LOGLEVEL (notice), BENCH_KEEP=1
# keeps the work directory. With the defaults a run takes about 70 s.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
. tests/lib.sh
calls=${BENCH_CALLS:-1000}
pairs=${BENCH_PAIRS:-10}
rate=${BENCH_RATE:-100}
rounds=${BENCH_ROUNDS:-3}
[ "$pairs" -ge 1 ] && [ "$calls" -ge 1 ] && [ "$rate" -ge 1 ] && [ "$rounds" -ge 1 ] ||
    { echo "bench: BENCH_CALLS, BENCH_PAIRS, BENCH_RATE, BENCH_ROUNDS must be >= 1" >&2; exit 2; }
command -v sipp >/dev/null || { echo "bench: sipp missing (apt-get install sip-tester)" >&2; exit 1; }
TD_KEEP=${BENCH_KEEP:-0}
TD_LOGLEVEL=${BENCH_LOGLEVEL:-notice}
td_init bench-hold
td_more_ports          # RTP: 128 ports, 32 calls up at once (sipp -l caps it)
limit=30

cat > "$TD_CONF/sip.conf" <<EOF
[general]
udpbindaddr=127.0.0.1:$TD_SIP_PORT
realm=tandem
context=bench
allowguest=no
alwaysauthreject=yes
directmedia=no
disallow=all
allow=ulaw

[load]                        ; the sipp UAC
type=peer
host=127.0.0.1
port=$TD_UAC_PORT
insecure=port,invite
context=bench

[uas]                         ; the sipp UAS
type=peer
host=127.0.0.1
port=$TD_UAS_PORT
insecure=port,invite
context=bench
EOF
cat > "$TD_CONF/extensions.conf" <<'EOF'
[bench]
exten => _X.,1,Dial(SIP/uas/${EXTEN},10)
 same => n,Hangup()
EOF
cat > "$TD_CONF/rtp.conf" <<EOF
[general]
rtpstart=$TD_MORE_BASE
rtpend=$((TD_MORE_BASE + 127))
EOF
cat > "$TD_CONF/tandem.conf" <<EOF
[general]
loglevel=$TD_LOGLEVEL

[bus]
endpoint=tcp://127.0.0.1:$TD_BUS_PORT

[router]
cdrdir=$TD_CDR

[media]
address=127.0.0.1
capacity=32
EOF
python3 bench/hold_xml.py 0 "$TD_TMP" && python3 bench/hold_xml.py "$pairs" "$TD_TMP" ||
    td_fail "bench/hold_xml.py could not write the scenarios"
td_start

# s_cpu: utime+stime clock ticks of router, media, signaling.
s_cpu() {
    local p
    for p in "${TD_TANDEM_PIDS[@]}"; do
        awk '{ printf "%d ", $14 + $15 }' "/proc/$p/stat" 2>/dev/null || printf '0 '
    done
}
s_host_busy() {
    awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

# s_sipp NAME SECONDS ARGS...: sipp in the background, capped at SECONDS,
# its PID recorded for clean-up (td_wait NAME collects it). Not td_sipp_bg:
# that one traces every message, which would slow sipp here.
s_sipp() {
    local name=$1 secs=$2; shift 2
    timeout -k 2 "$secs" sipp 127.0.0.1:"$TD_SIP_PORT" -i 127.0.0.1 -nostdin \
        -mp "$TD_MP_NEXT" -timeout "${secs}s" -timeout_error -recv_timeout 8000 \
        -trace_err -error_file "$TD_LOGS/$name.err" -trace_stat -stf "$TD_LOGS/$name.csv" -fd 1 \
        "$@" </dev/null >"$TD_LOGS/$name.out" 2>&1 &
    TD_MP_NEXT=$((TD_MP_NEXT + 4))
    [ $TD_MP_NEXT -ge $((TD_MP0 + 40)) ] && TD_MP_NEXT=$TD_MP0
    TD_BG[$name]=$!
    TD_PIDS+=($!)
}

# s_run LABEL K: one run of $calls calls with K pairs each. Appends
# "LABEL K wall ticks... host-busy% ok failed" to $TD_TMP/runs.
cap=$(( calls / rate * 3 + calls * pairs / 100 + 60 ))
s_run() {
    local label=$1 k=$2 c0 c1 t0 t1 h0 h1 rc urc
    s_sipp "uas-$label" "$cap" -sf "$TD_TMP/uas-$k.xml" -p "$TD_UAS_PORT" -m "$calls"
    td_wait_ready "uas-$label" "$TD_UAS_PORT" || td_fail "the UAS did not bind its port"
    c0=$(s_cpu); h0=$(s_host_busy); t0=$(date +%s.%N)
    s_sipp "uac-$label" "$cap" -sf "$TD_TMP/uac-$k.xml" -p "$TD_UAC_PORT" \
        -s 5550000 -r "$rate" -m "$calls" -l "$limit" \
        -max_recv_loops 10000 -max_sched_loops 10000
    td_wait "uac-$label"
    rc=$?
    td_wait "uas-$label"; urc=$?
    t1=$(date +%s.%N); c1=$(s_cpu); h1=$(s_host_busy)
    python3 - "$TD_LOGS/uac-$label.csv" "$label" "$k" "$t0" "$t1" "$c0" "$c1" "$h0" "$h1" \
        "$rc" "$urc" "$calls" >> "$TD_TMP/runs" <<'PY'
import sys
path, label, k, t0, t1 = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
c0, c1 = [int(x) for x in sys.argv[6].split()], [int(x) for x in sys.argv[7].split()]
h0, h1 = [int(x) for x in sys.argv[8].split()], [int(x) for x in sys.argv[9].split()]
rc, urc, calls = int(sys.argv[10]), int(sys.argv[11]), int(sys.argv[12])
try:
    lines = open(path).read().splitlines()
    head = lines[0].rstrip(";").split(";")
    last = dict(zip(head, lines[-1].rstrip(";").split(";")))
except (OSError, IndexError):
    last = {}
num = lambda key: int(float(last.get(key, "0") or 0))
ok, failed = num("SuccessfulCall(C)"), num("FailedCall(C)")
if rc or urc:
    failed = max(failed, calls - ok)
host = 100.0 * (h1[0] - h0[0]) / max(1, h1[1] - h0[1])
print(label, k, "%.3f" % (t1 - t0), *[b - a for a, b in zip(c0, c1)], "%.0f" % host, ok, failed)
PY
    tail -n 1 "$TD_TMP/runs" | awk -v tck="$(getconf CLK_TCK)" '{
        printf "  %-10s %d pairs/call  %6.1f s  ok %d failed %d  CPU s router %.2f media %.2f signaling %.2f  host busy %s%%\n",
               $1, $2, $3, $8, $9, $4 / tck, $5 / tck, $6 / tck, $7 }'
    if [ "$rc" != 0 ] || [ "$urc" != 0 ]; then
        tail -n 5 "$TD_LOGS/uac-$label.err" "$TD_LOGS/uas-$label.err" 2>/dev/null
        td_fail "run $label: a call failed (UAC sipp $rc, UAS sipp $urc)"
    fi
    td_alive || td_fail "a process died during run $label"
}

echo "bench: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(uname -sr); load average $(cut -d' ' -f1-3 /proc/loadavg) before the first run"
echo "bench: $calls calls at $rate/s (at most $limit up at once), $pairs hold/resume pairs a call, $rounds rounds; loglevel=$TD_LOGLEVEL; sipp on the same cores"
: > "$TD_TMP/runs"
idle=${BENCH_IDLE:-3}
c0=$(s_cpu); sleep "$idle"; c1=$(s_cpu)
echo "idle $idle $c0 $c1" > "$TD_TMP/idle"
for r in $(seq "$rounds"); do
    s_run "base-$r" 0
    s_run "hold-$r" "$pairs"
done
python3 - "$TD_TMP/runs" "$(getconf CLK_TCK)" "$calls" "$pairs" "$TD_TMP/idle" <<'PY'
import statistics, sys
runs = [l.split() for l in open(sys.argv[1]) if l.strip()]
tck, calls, pairs = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
i = open(sys.argv[5]).read().split()
secs = float(i[1])
idle = [(int(b) - int(a)) / secs for a, b in zip(i[2:5], i[5:8])]   # ticks/s
print("  idle: router %.2f media %.2f signaling %.2f ticks/s (over %g s), taken off each run"
      % (*idle, secs))
n = calls * pairs
per = []          # per round: [router, media, signaling, total] us/pair, pairs/s
busy = lambda run, p: int(run[3 + p]) - idle[p] * float(run[2])
for base, hold in zip(runs[0::2], runs[1::2]):
    d = [(busy(hold, p) - busy(base, p)) * 1e6 / tck / n for p in range(3)]
    d.append(sum(d))
    per.append(d + [n / float(hold[2])])
    print("  round %s: CPU per hold/resume pair  router %.0f  media %.0f  signaling %.0f  "
          "total %.0f us;  %.0f pairs/s" % (base[0].split("-")[1], *per[-1]))
med = [statistics.median(col) for col in zip(*per)]
print("bench: median of %d rounds, CPU per hold/resume pair (two relayed re-INVITEs): "
      "router %.0f us, media %.0f us, signaling %.0f us, total %.0f us; %.0f pairs/s "
      "(clock tick %d ms: +-%.0f us per process per round)"
      % (len(per), *med, 1000 // tck, 2 * 1e6 / tck / n))
PY
td_pass
