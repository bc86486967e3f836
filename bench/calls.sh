#!/bin/bash
# bench/calls.sh - the highest call rate Tandem sustains for 60 s with no
# failed call (`make bench`; not part of `make test`).
#
#   bench/calls.sh            search 100..2000 calls/s, then hold the best
#
# A sipp UAC (matched to the static peer `load`, insecure=port,invite, so no
# challenge) calls through router + media + signaling, started by
# tools/run.sh as `make run` does, to a sipp UAS (the static peer `uas`):
# INVITE, 180, 200, ACK, BENCH_CALL_MS of hold, BYE, 200. Each step restarts
# the processes. The search raises the rate while a BENCH_STEP-second step
# has no failed call and sipp keeps the rate; then the best rate must hold
# BENCH_HOLD seconds (if it does not, the rate below it is tried once).
# Everything runs on 127.0.0.1 and is stopped by PID; the whole run is
# bounded (about 10 minutes with the defaults).
#
# BENCH_TRANSPORT=tcp runs both sipps over TCP (sipp -t t1: one connection
# each way; the peers get transport=tcp); BENCH_TRANSPORT=tls does the same
# over TLS through two stunnels (Debian's sipp has no TLS): the UAC's TCP
# goes into a TLS connection to the switch, and the switch's TLS connection
# to the peer `uas` ends in a stunnel in front of the UAS. The stunnels run
# on the same cores, so TLS figures include their CPU. A self-signed
# certificate is made at run time.
#
# Environment: BENCH_RATES ("100 200 ... 1000 1200 1500 2000"),
# BENCH_STEP (20), BENCH_HOLD (60), BENCH_CALL_MS (1000),
# BENCH_LOGLEVEL (notice: Asterisk's verbose 0; info logs every step),
# BENCH_KEEP=1 keeps the work directory.
#
# Sourced by another bench (bench/cluster.sh) with BENCH_LIB=1, it sets up
# the same (ports, config in $conf, clean-up) and returns before its ladder;
# that bench may then redefine s_start_switch (which processes run, their
# PIDs in children[] and their names in cpu_names), set targets[] (one UAC
# per signaling address, the rate split evenly) and call s_step.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
. tests/lib.sh

rates=${BENCH_RATES:-100 200 300 400 500 600 800 1000 1200 1500 2000}
step=${BENCH_STEP:-20}
hold=${BENCH_HOLD:-60}
call_ms=${BENCH_CALL_MS:-1000}
loglevel=${BENCH_LOGLEVEL:-notice}
transport=${BENCH_TRANSPORT:-udp}
case $transport in
    udp) tflag=u1 ;;
    tcp|tls) tflag=t1 ;;
    *) echo "bench: BENCH_TRANSPORT must be udp, tcp or tls" >&2; exit 1 ;;
esac

for p in router media signaling; do
    [ -x "bin/tandem-$p" ] || { echo "bench: bin/tandem-$p missing (make all)" >&2; exit 1; }
done
command -v sipp >/dev/null || { echo "bench: sipp missing (apt-get install sip-tester)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/tandem-bench.XXXXXX)
switch_pid=; uas_pid=; uac_pids=(); children=(); tunnel_pids=()
cpu_names=router/media/signaling
cleanup() {
    local p
    trap - EXIT INT TERM
    s_stop_all
    [ -n "${TD_LOCK:-}" ] && rm -rf "$TD_LOCK"
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'echo "bench: interrupted"; exit 130' INT TERM

s_claim_ports || exit 1
sip=$TD_BASE; bus=$((TD_BASE + 1)); uas=$((TD_BASE + 2)); uac=$((TD_BASE + 3))
tls=$((TD_BASE + 4)); uac_tunnel=$((TD_BASE + 5)); uas_tunnel=$((TD_BASE + 6))
target=$sip; uas_peer_port=$uas; general_extra=""; peer_extra=""
if [ "$transport" = tcp ]; then
    general_extra="tcpenable=yes"; peer_extra="transport=tcp"
elif [ "$transport" = tls ]; then
    stunnel=$(command -v stunnel4 || command -v stunnel) ||
        { echo "bench: stunnel4 missing (tools/deps.sh)" >&2; exit 1; }
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
        -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1 ||
        { echo "bench: openssl could not make a certificate" >&2; exit 1; }
    general_extra="tlsenable=yes
tlsbindaddr=127.0.0.1:$tls
tlscertfile=$tmp/cert.pem
tlsprivatekey=$tmp/key.pem
tlsdontverifyserver=yes"
    peer_extra="transport=tls"
    target=$uac_tunnel; uas_peer_port=$uas_tunnel
    cat > "$tmp/stunnel.conf" <<EOF
foreground = yes
pid =
[uac]
client = yes
accept = 127.0.0.1:$uac_tunnel
connect = 127.0.0.1:$tls
[uas]
cert = $tmp/cert.pem
key = $tmp/key.pem
accept = 127.0.0.1:$uas_tunnel
connect = 127.0.0.1:$uas
EOF
fi
# Media for ~2,500 calls at once (two RTP/RTCP pairs a call). Nothing sends
# RTP here (the switch still allocates, rewrites and frees the ports).
rtpstart=10000; rtpend=19999
td_ports_free $(seq $rtpstart 50 $rtpend) ||
    echo "bench: warning: some ports in $rtpstart-$rtpend are in use"
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
$general_extra

[load]                        ; the sipp UAC
type=peer
host=127.0.0.1
port=$uac
insecure=port,invite
context=bench
$peer_extra

[uas]                         ; the sipp UAS
type=peer
host=127.0.0.1
port=$uas_peer_port
insecure=port,invite
context=bench
$peer_extra
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

[media]
address=127.0.0.1
capacity=2500
EOF

# s_host_busy: "busy total" jiffies of all CPUs, from /proc/stat.
s_host_busy() {
    awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

# s_cpu PID...: total user+system clock ticks of each PID, space separated.
s_cpu() {
    local p
    for p in "$@"; do
        awk '{ printf "%d ", $14 + $15 }' "/proc/$p/stat" 2>/dev/null || printf '0 '
    done
}

s_stop_all() {
    local p i
    for p in "${uac_pids[@]}" $uas_pid; do kill -TERM "$p" 2>/dev/null; done
    if [ -n "$switch_pid" ]; then
        kill -TERM "$switch_pid" 2>/dev/null
    else
        for p in "${children[@]}"; do kill -TERM "$p" 2>/dev/null; done
    fi
    for i in $(seq 50); do
        local alive=0
        for p in $switch_pid "${children[@]}" "${uac_pids[@]}" $uas_pid; do
            kill -0 "$p" 2>/dev/null && alive=1
        done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for p in $switch_pid "${children[@]}" "${uac_pids[@]}" $uas_pid; do kill -KILL "$p" 2>/dev/null; done
    for p in "${tunnel_pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for p in $switch_pid "${children[@]}" "${uac_pids[@]}" $uas_pid; do wait "$p" 2>/dev/null; done
    switch_pid=; uas_pid=; uac_pids=(); children=(); tunnel_pids=()
}

# s_start_switch LABEL: the three processes (via tools/run.sh), answering
# SIP; sets switch_pid and children[] (their PIDs, in cpu_names' order).
s_start_switch() {
    local label=$1
    bash tools/run.sh "$conf" </dev/null >"$tmp/switch-$label.log" 2>&1 &
    switch_pid=$!
    if ! python3 tests/tools/sip_ping.py --port "$sip" --wait 10 >/dev/null; then
        echo "bench: the switch did not answer OPTIONS; its log:" >&2
        tail -n 20 "$tmp/switch-$label.log" >&2
        return 1
    fi
    # run.sh's children (router, media, signaling), to stop them by PID even
    # if run.sh itself were gone.
    mapfile -t children < <(pgrep -P "$switch_pid")
}

# s_start LABEL SECONDS: the switch (s_start_switch) and the UAS.
s_start() {
    local label=$1 secs=$2
    s_start_switch "$label" || return 1
    if [ "$transport" = tls ]; then
        "$stunnel" "$tmp/stunnel.conf" </dev/null >"$tmp/stunnel-$label.log" 2>&1 &
        tunnel_pids=($!)
    fi
    sleep 1
    timeout -k 2 $((secs * 2 + 90)) sipp 127.0.0.1:"$sip" -sf bench/uas.xml -t "$tflag" \
        -key contact_port "$uas_peer_port" \
        -i 127.0.0.1 -p "$uas" -mp $((TD_BASE + 20)) -nostdin \
        -trace_stat -stf "$tmp/uas-$label.csv" -fd 1 \
        -trace_err -error_file "$tmp/uas-$label.err" \
        </dev/null >/dev/null 2>&1 &
    uas_pid=$!
    sleep 0.5
}

# s_step LABEL RATE SECONDS: one measured run. Prints a result line and
# returns 0 when every call succeeded at the asked rate. With several
# targets[] (signaling addresses), one UAC per target takes an even share
# of the rate and of the calls (bench/cluster.sh); the line sums them.
# s_step_hook, if defined, runs after the calls and before the processes
# stop (bench/cluster.sh reads Redis there).
s_step() {
    local label=$1 rate=$2 secs=$3
    local calls=$((rate * secs)) rc=0 r cpu0 cpu1 t0 t1 host0 host1 n=${#targets[@]} i p csvs=""
    local share=$((rate / n)) mine
    s_start "$label" "$secs" || { s_stop_all; return 1; }
    cpu0=$(s_cpu "${children[@]}"); t0=$(date +%s.%N); host0=$(s_host_busy)
    uac_pids=()
    for i in "${!targets[@]}"; do
        mine=$share
        [ "$i" = $((n - 1)) ] && mine=$((rate - share * (n - 1)))   # the rest
        timeout -k 2 $((secs * 2 + 60)) sipp 127.0.0.1:"${targets[$i]}" -sf bench/uac.xml -t "$tflag" \
            -i 127.0.0.1 -p "${uac_ports[$i]}" -mp $((TD_BASE + 24 + 4 * i)) -nostdin \
            -s 5550000 -r "$mine" -rp 1000 -m $((mine * secs)) -l $((mine * 10)) \
            -d "$call_ms" -recv_timeout 8000 \
            -max_recv_loops 10000 -max_sched_loops 10000 \
            -trace_stat -stf "$tmp/uac-$label-$i.csv" -fd 1 \
            -trace_err -error_file "$tmp/uac-$label-$i.err" \
            </dev/null >"$tmp/uac-$label-$i.out" 2>&1 &
        uac_pids+=($!)
        csvs+="$tmp/uac-$label-$i.csv,"
    done
    for p in "${uac_pids[@]}"; do
        wait "$p"; r=$?
        [ $rc = 0 ] && rc=$r
    done
    uac_pids=()
    t1=$(date +%s.%N)
    cpu1=$(s_cpu "${children[@]}"); host1=$(s_host_busy)
    sleep 1                      # the UAS writes its last stats line
    local rss="" p
    for p in "${children[@]}"; do    # peak resident memory, MiB
        rss+="$(awk '/^VmHWM/ { printf "%d", $2 / 1024 }' /proc/"$p"/status 2>/dev/null || echo "?")/"
    done
    declare -F s_step_hook >/dev/null && s_step_hook "$label" "$calls"
    s_stop_all
    python3 - "${csvs%,}" "$tmp/uas-$label.csv" "$rate" "$secs" "$rc" \
        "$cpu0" "$cpu1" "$t0" "$t1" "$(getconf CLK_TCK)" "$label" "$host0" "$host1" "${rss%/}" \
        "$cpu_names" <<'PY'
import sys
uacs, uas, rate, secs, rc = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
names = sys.argv[15]
cpu0 = [int(x) for x in sys.argv[6].split()]
cpu1 = [int(x) for x in sys.argv[7].split()]
wall = float(sys.argv[9]) - float(sys.argv[8])
tck, label = int(sys.argv[10]), sys.argv[11]
h0, h1 = [int(x) for x in sys.argv[12].split()], [int(x) for x in sys.argv[13].split()]
rss = sys.argv[14]
host = 100.0 * (h1[0] - h0[0]) / max(1, h1[1] - h0[1])
calls = rate * secs

def rows(path):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return []
    head = lines[0].rstrip(";").split(";") if lines else []
    return [dict(zip(head, l.rstrip(";").split(";"))) for l in lines[1:] if l.strip()]

def epoch(v):
    return float(v.split("\t")[-1])

s = rows(uas)
num = lambda d, k: int(float(d.get(k, "0") or 0))
ok_calls = failed = retrans = created = 0
t_created = 0.0
for uac in uacs:
    r = rows(uac)
    last = r[-1] if r else {}
    ok_calls += num(last, "SuccessfulCall(C)")
    failed += num(last, "FailedCall(C)")
    retrans += num(last, "Retransmissions(C)")
    created += num(last, "TotalCallCreated")
    # when this UAC's last call was created: the first stats line (1 s
    # apart) with all of its share; the slowest UAC sets the rate kept
    t = None
    want = num(last, "TotalCallCreated")
    for d in r:
        if want > 0 and num(d, "TotalCallCreated") >= want:
            t = epoch(d["CurrentTime"]) - epoch(d["StartTime"])
            break
    t_created = None if t is None or t_created is None else max(t_created, t)
if created < calls:
    t_created = None
uas_failed = num(s[-1], "FailedCall(C)") if s else -1
achieved = calls / t_created if t_created else (created / wall if wall else 0)
cpu = ["%3.0f%%" % (100.0 * (b - a) / tck / wall) for a, b in zip(cpu0, cpu1)] if wall else []
verdict = (rc == 0 and failed == 0 and ok_calls == calls and uas_failed == 0
           and achieved >= 0.9 * rate)
print("%-10s %5d/s %4ds  calls %6d  ok %6d  failed %5d  uas-failed %4d  retrans %6d  "
      "kept %6.0f/s  cpu %s %s  peak MiB %s  host busy %3.0f%%  sipp rc %d  %s"
      % (label, rate, secs, calls, ok_calls, failed, uas_failed, retrans, achieved,
         names, "/".join(cpu) or "?", rss, host, rc, "PASS" if verdict else "FAIL"))
sys.exit(0 if verdict else 1)
PY
}

targets=("$target")
uac_ports=("$uac" $((TD_BASE + 7)) $((TD_BASE + 8)) $((TD_BASE + 9)))
[ "${BENCH_LIB:-0}" = 1 ] && return 0

echo "bench: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(uname -sr)"
echo "bench: $(sipp -v 2>&1 | grep -m1 -o 'SIPp v[^ ]*' | sed 's/\.$//'), sipp on the same cores as Tandem"
echo "bench: calls INVITE/180/200/ACK, ${call_ms} ms hold, BYE/200; steps of ${step}s, then ${hold}s; loglevel=$loglevel; transport=$transport"
best=0; passed=()
for rate in $rates; do
    if s_step "step-$rate" "$rate" "$step"; then
        best=$rate; passed+=("$rate")
    else
        break
    fi
done
if [ "$best" = 0 ]; then
    echo "bench: no step passed; see the failures above"
    echo "bench: sustained 0 calls/s for ${hold}s with no failed call"
    exit 1
fi
sustained=0
tries=("$best")
[ ${#passed[@]} -ge 2 ] && tries+=("${passed[$((${#passed[@]} - 2))]}")
for rate in "${tries[@]}"; do
    if s_step "hold-$rate" "$rate" "$hold"; then sustained=$rate; break; fi
done
if [ "$sustained" = 0 ]; then
    echo "bench: the best step rates did not hold for ${hold}s"
    exit 1
fi
top=${rates##* }
[ "$sustained" = "$top" ] && echo "bench: $top calls/s is the top of the ladder; the limit was not reached"
echo "bench: sustained $sustained calls/s over $transport for ${hold}s with no failed call ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'))"
