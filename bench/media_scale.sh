#!/bin/bash
# bench/media_scale.sh - the most concurrent relayed G.711 calls (RTP both
# ways through the switch) with < 0.1 % loss and p99 round trip < 5 ms, on 1,
# 2 and 3 media workers (`make bench-media`; not part of `make test`).
#
#   bench/media_scale.sh               workers as processes on 127.0.0.1
#   bench/media_scale.sh --containers  workers in containers: docker-compose
#                                      with deploy/docker-compose.yml,
#                                      --scale media=W (needs `make images`)
#
# For each worker count W: router + signaling + W media workers (processes
# with distinct identities on one config, or the compose stack scaled to W),
# then, for C on a ladder, one step: build/bench/rtp_load binds 2C UDP ports
# (the phones' RTP), a sipp UAC (static peer `load`, insecure=port,invite: no
# challenge) places C calls at BENCH_RATE calls/s through signaling to a sipp
# UAS (static peer `uas`), each offering one of rtp_load's ports; sipp logs
# the worker address and port each SDP names, and rtp_load sends 50 packets/s
# per call (160-byte PCMU payload, 20 ms) from the caller to the worker, the
# callee reflects each back through the worker, and the caller takes the
# round trip and the loss per direction over a BENCH_WINDOW-second window
# once all C calls are up (and BENCH_SETTLE seconds more). Then the calls are
# hung up (BYE from the UAC). The round trip is the switch's: from the send
# to the kernel's arrival time at the caller, less the time the callee held
# the packet (see bench/rtp_load.c; the raw one is printed too).
#
# A step passes when every call was set up and torn down, loss <
# BENCH_MAX_LOSS %, p99 < BENCH_MAX_P99_US and the generator sent 99 % of
# the packets due. The ladder stops at the first failing step (a step that
# failed on p99 alone runs once more, once per W), then one step halfway
# between the last pass and the failure is tried (if the first step fails,
# half of it, twice at most); for W > 1 the ladder starts at half the best of
# the W before. A step only starts if it fits in W's share of the time
# budget. Per step it prints loss, p50/p99 round trip, the CPU of each
# process over the window (% of one core), and the calls each worker held
# (its socket descriptors over 4 in process mode; the addresses the SDPs
# named in container mode, where each worker has its own); at the end, a
# table and the ratio max C (3 workers) / max C (1 worker).
#
# Everything runs on 127.0.0.1 (processes) or on the compose network (the
# phones bind its gateway address on the host, as deploy/smoke-call.sh
# does); every process started is stopped by PID, the compose project
# (td-bench-PID) is taken down with `down -v` on exit, failure or interrupt.
#
# Environment: BENCH_WORKERS ("1 2 3"), BENCH_CALLS (the ladder, "50 100 200
# 300 400 600 800 1000 1200 1500 2000 2400"), BENCH_RATE (300 calls/s set-up
# rate), BENCH_WINDOW (10 s), BENCH_SETTLE (2 s), BENCH_BUDGET (420 s for the
# whole search of one mode), BENCH_MAX_LOSS (0.1), BENCH_MAX_P99_US (5000),
# BENCH_LOGLEVEL (notice), BENCH_KEEP=1 keeps the work directory.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
. tests/lib.sh

mode=processes
case ${1:-} in
--containers) mode=containers ;;
"") ;;
*) echo "usage: bench/media_scale.sh [--containers]" >&2; exit 2 ;;
esac
workers=${BENCH_WORKERS:-1 2 3}
ladder=${BENCH_CALLS:-50 100 200 300 400 600 800 1000 1200 1500 2000 2400}
rate=${BENCH_RATE:-300}
window=${BENCH_WINDOW:-10}
settle=${BENCH_SETTLE:-2}
budget=${BENCH_BUDGET:-420}
max_loss=${BENCH_MAX_LOSS:-0.1}
max_p99=${BENCH_MAX_P99_US:-5000}
loglevel=${BENCH_LOGLEVEL:-notice}
rtpstart=10000; rtpend=19999          # below lib.sh's test port blocks (20000+)
capacity=2500                         # (rtpend - rtpstart + 1) / 4
compose="docker-compose -f $root/deploy/docker-compose.yml"
image=${TANDEM_IMAGE:-tandem:latest}

say() { echo "bench: $*"; }
die() { echo "bench: $*" >&2; exit 1; }

for p in router media signaling; do
    [ -x "bin/tandem-$p" ] || die "bin/tandem-$p missing (make all)"
done
command -v sipp >/dev/null || die "sipp missing (apt-get install sip-tester)"
mkdir -p build/bench
cc -O2 -g -std=gnu11 -Wall -Wextra -o build/bench/rtp_load bench/rtp_load.c ||
    die "cannot build build/bench/rtp_load"
if [ $mode = containers ]; then
    command -v docker-compose >/dev/null || die "docker-compose missing (apt-get install docker-compose)"
    docker info >/dev/null 2>&1 || die "the Docker daemon is not running (make images starts it)"
    docker image inspect "$image" >/dev/null 2>&1 || die "no image $image (make images)"
fi

tmp=$(mktemp -d /tmp/tandem-media-bench.XXXXXX)
chmod 755 "$tmp"                      # the containers' user reads the config
proj=td-bench-$$
pids=()                               # every process we started (by PID)
up=0                                  # the compose project exists
cleanup() {
    local p i
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for i in $(seq 30); do
        local alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    if [ $up = 1 ]; then
        timeout -k 5 120 $compose -p "$proj" down -v --remove-orphans >"$tmp/down.log" 2>&1 ||
            { echo "bench: docker-compose down failed:"; tail -n 5 "$tmp/down.log"; }
    fi
    [ -n "${TD_LOCK:-}" ] && rm -rf "$TD_LOCK"
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'echo "bench: interrupted"; exit 130' INT TERM

# s_forget PID...: drop reaped PIDs from pids (a reaped PID may be reused).
s_forget() {
    local p q keep=()
    for p in "${pids[@]}"; do
        for q in "$@"; do [ "$p" = "$q" ] && continue 2; done
        keep+=("$p")
    done
    pids=("${keep[@]}")
}

s_claim_ports || exit 1
sip_port=$TD_BASE; bus=$((TD_BASE + 1)); uas=$((TD_BASE + 2)); uac=$((TD_BASE + 3))
ulimit -n "$(ulimit -Hn)" 2>/dev/null

# s_conf DIR PHONES_ADDR: the config (static peers at PHONES_ADDR).
s_conf() {
    local dir=$1 phones=$2
    mkdir -p "$dir"
    cat > "$dir/sip.conf" <<EOF
[general]
udpbindaddr=127.0.0.1:$sip_port
realm=tandem
context=bench
allowguest=no
alwaysauthreject=yes
directmedia=no
disallow=all
allow=ulaw

[load]                        ; the sipp UAC
type=peer
host=$phones
port=$uac
insecure=port,invite
context=bench

[uas]                         ; the sipp UAS
type=peer
host=$phones
port=$uas
insecure=port,invite
context=bench
EOF
    cat > "$dir/extensions.conf" <<'EOF'
[bench]
exten => _X.,1,Dial(SIP/uas/${EXTEN},10)
 same => n,Hangup()
EOF
    cat > "$dir/rtp.conf" <<EOF
[general]
rtpstart=$rtpstart
rtpend=$rtpend
EOF
    cat > "$dir/tandem.conf" <<EOF
[general]
loglevel=$loglevel

[bus]
endpoint=tcp://127.0.0.1:$bus

[media]
address=127.0.0.1
capacity=$capacity
EOF
    if [ $mode = processes ]; then
        printf '\n[router]\ncdrdir=%s\n' "$tmp/cdr" >> "$dir/tandem.conf"
    fi
    chmod 755 "$dir"; chmod 644 "$dir"/*
}

# s_ping HOST PORT SECONDS: 0 once HOST:PORT answers an OPTIONS with 200.
s_ping() {
    python3 - "$@" <<'PY'
import socket, sys, time
host, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
end = time.time() + secs
n = 0
while time.time() < end:
    n += 1
    msg = ("OPTIONS sip:ping@%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:9;branch=z9hG4bK-bench%d;rport\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:bench@%s>;tag=b%d\r\nTo: <sip:ping@%s>\r\n"
           "Call-ID: bench-ping-%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
           % (host, port, host, n, host, n, host, n))
    try:
        s.sendto(msg.encode(), (host, port))
        if s.recv(4096)[:11] in (b"SIP/2.0 200", b"SIP/2.0 404"):  # the router answered
            sys.exit(0)
    except OSError:
        time.sleep(0.3)
sys.exit(1)
PY
}

# Worker names, their PIDs (host view), and their socket counts at rest.
names=(); declare -A wpid; declare -A rest
router_pid=; sig_pid=
sip_host=127.0.0.1; sip_dport=$sip_port; phones=127.0.0.1

s_sockets() { ls -l "/proc/$1/fd" 2>/dev/null | grep -c 'socket:'; }

# s_wait_idle SECONDS: until every worker holds no more sockets than at rest.
s_wait_idle() {
    local n=$(( $1 * 10 )) i w busy
    for i in $(seq "$n"); do
        busy=0
        for w in "${names[@]}"; do
            [ "$(s_sockets "${wpid[$w]}")" -gt "${rest[$w]}" ] && busy=1
        done
        [ $busy = 0 ] && return 0
        sleep 0.1
    done
    return 1
}

# ---- processes -------------------------------------------------------------
s_proc_start() {    # s_proc_start W
    local n=$1 k log=$tmp/log-w$1
    mkdir -p "$log"
    names=(); wpid=(); rest=()
    bin/tandem-router -c "$conf" </dev/null >"$log/router.log" 2>&1 &
    router_pid=$!; pids+=($!)
    for k in $(seq "$n"); do
        bin/tandem-media -c "$conf" -i "media-$k" </dev/null >"$log/media-$k.log" 2>&1 &
        pids+=($!); names+=("media-$k"); wpid[media-$k]=$!
    done
    bin/tandem-signaling -c "$conf" </dev/null >"$log/signaling.log" 2>&1 &
    sig_pid=$!; pids+=($!)
    s_ping 127.0.0.1 "$sip_port" 10 || { tail -n 20 "$log"/*.log; die "signaling did not answer OPTIONS"; }
    for k in $(seq "$n"); do
        for _ in $(seq 100); do
            grep -q "Media worker media-$k is up" "$log/router.log" && break
            sleep 0.1
        done
        grep -q "Media worker media-$k is up" "$log/router.log" ||
            { tail -n 20 "$log"/*.log; die "the router never heard media-$k"; }
    done
    for k in "${names[@]}"; do rest[$k]=$(s_sockets "${wpid[$k]}"); done
}

s_proc_stop() {
    local p all=("$router_pid" "$sig_pid")
    for p in "${names[@]}"; do all+=("${wpid[$p]}"); done
    for p in "${all[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${all[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    s_forget "${all[@]}"
}

# ---- containers ------------------------------------------------------------
dc() { timeout -k 5 300 $compose -p "$proj" "$@"; }
s_cid() { docker ps -q --filter "label=com.docker.compose.project=$proj" --filter "label=com.docker.compose.service=$1"; }
s_cpid() { docker inspect -f '{{.State.Pid}}' "$1"; }

s_containers_create() {
    export TANDEM_CONF=$conf TANDEM_SIP_PORT=$sip_port TANDEM_IMAGE=$image
    up=1
    dc up --no-start --scale media=1 >"$tmp/compose.log" 2>&1 ||
        { tail -n 20 "$tmp/compose.log"; die "docker-compose up --no-start failed"; }
    phones=$(docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' "${proj}_default") ||
        die "no network ${proj}_default"
    s_conf "$conf" "$phones"          # the static peers are on the gateway
}

s_containers_scale() {    # s_containers_scale W
    local n=$1 c k ids
    dc up -d --no-recreate --scale media="$n" >>"$tmp/compose.log" 2>&1 ||
        { tail -n 20 "$tmp/compose.log"; die "docker-compose up --scale media=$n failed"; }
    local sigc; sigc=$(s_cid signaling)
    sip_host=$(docker inspect -f "{{(index .NetworkSettings.Networks \"${proj}_default\").IPAddress}}" "$sigc")
    sip_dport=5060
    s_ping "$sip_host" 5060 20 || { dc logs --tail 20; die "signaling ($sip_host) did not answer OPTIONS"; }
    router_pid=$(s_cpid "$(s_cid router)"); sig_pid=$(s_cpid "$sigc")
    for _ in $(seq 100); do
        [ "$(dc logs router 2>/dev/null | grep -c 'Media worker .* is up')" -ge "$n" ] && break
        sleep 0.2
    done
    [ "$(dc logs router 2>/dev/null | grep -c 'Media worker .* is up')" -ge "$n" ] ||
        { dc logs --tail 20; die "the router did not hear $n media workers"; }
    names=(); wpid=(); rest=()
    mapfile -t ids < <(docker ps -q --filter "label=com.docker.compose.project=$proj" \
        --filter label=com.docker.compose.service=media | xargs -r docker inspect \
        -f '{{index .Config.Labels "com.docker.compose.container-number"}} {{.Id}}' | sort -n)
    [ ${#ids[@]} = "$n" ] || die "expected $n media containers, found ${#ids[@]}"
    for c in "${ids[@]}"; do
        k=media-${c%% *}
        names+=("$k"); wpid[$k]=$(s_cpid "${c#* }"); rest[$k]=$(s_sockets "${wpid[$k]}")
        waddr[$k]=$(docker inspect -f "{{(index .NetworkSettings.Networks \"${proj}_default\").IPAddress}}" "${c#* }")
    done
}
declare -A waddr

# ---- one step --------------------------------------------------------------
# s_step W C: one measured step; prints its line, records it, returns 0 on
# pass, 3 when only the p99 round trip failed, 1 otherwise.
declare -A res
s_step() {
    local nw=$1 calls=$2 d=$tmp/w$1-c$2
    mkdir -p "$d"
    local setup=$(( calls * 12 / rate / 10 + 3 ))        # 1.2 x C/rate + 3 s
    local hold=$(( (setup + settle + window + 2) * 1000 ))
    local watch=() w
    for w in "${names[@]}"; do watch+=(-p "$w=${wpid[$w]}"); done
    watch+=(-p "router=$router_pid" -p "signaling=$sig_pid")
    s_wait_idle 20 || say "warning: the workers still hold sockets from the last step"
    rm -f "$d"/*
    timeout -k 2 $((setup + settle + window + 20)) build/bench/rtp_load -n "$calls" -o "$d" \
        -b "$phones" -s "$setup" -S "$settle" -w "$window" "${watch[@]}" \
        >"$d/gen.out" 2>"$d/gen.err" </dev/null &
    local gen=$!; pids+=($gen)
    for _ in $(seq 100); do [ -s "$d/callee.csv" ] && break; sleep 0.1; done
    [ -s "$d/callee.csv" ] || { cat "$d/gen.err"; die "rtp_load did not start"; }
    local t=$(( (hold / 1000) + setup + 60 ))
    timeout -k 2 "$t" sipp "$sip_host:$sip_dport" -sf bench/media_uas.xml -i "$phones" -p "$uas" \
        -inf "$d/callee.csv" -m "$calls" -nostdin -mp $((TD_BASE + 20)) \
        -max_recv_loops 10000 -max_sched_loops 10000 \
        -trace_logs -log_file "$d/callee.targets" -trace_err -error_file "$d/uas.err" \
        </dev/null >"$d/uas.out" 2>&1 &
    local uasp=$!; pids+=($uasp)
    for _ in $(seq 50); do td_ports_free "$uas" || break; sleep 0.1; done
    local t0=$SECONDS
    timeout -k 2 "$t" sipp "$sip_host:$sip_dport" -sf bench/media_uac.xml -i "$phones" -p "$uac" \
        -inf "$d/caller.csv" -s 5550000 -r "$rate" -m "$calls" -l "$calls" -d "$hold" \
        -nostdin -mp $((TD_BASE + 24)) -recv_timeout 10000 \
        -max_recv_loops 10000 -max_sched_loops 10000 \
        -trace_logs -log_file "$d/caller.targets" -trace_err -error_file "$d/uac.err" \
        -trace_stat -stf "$d/uac.csv" -fd 1 \
        </dev/null >"$d/uac.out" 2>&1 &
    local uacp=$!; pids+=($uacp)
    wait "$gen"; local grc=$?
    wait "$uacp"; local urc=$?
    # the UAS ends after its C calls; a call it never got would keep it: bounded
    for _ in $(seq 50); do kill -0 "$uasp" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$uasp" 2>/dev/null
    wait "$uasp"; local src=$?
    s_forget "$gen" "$uacp" "$uasp"
    local secs=$((SECONDS - t0))
    python3 - "$d" "$nw" "$calls" "$grc" "$urc" "$src" "$max_loss" "$max_p99" "$secs" \
        "$(declare -p waddr)" "$mode" <<'PY'
import sys, re
d, nw, calls, grc, urc, src = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
max_loss, max_p99, secs, mode = float(sys.argv[7]), float(sys.argv[8]), int(sys.argv[9]), sys.argv[11]
waddr = dict(re.findall(r'\[([^]]+)\]="([^"]*)"', sys.argv[10]))
kv = {}
for line in open(d + "/gen.out"):
    w = line.split()
    if not w:
        continue
    kv[w[0]] = dict(x.split("=", 1) for x in w[1:] if "=" in x)
r, cpu, held, addrs = kv.get("result", {}), kv.get("cpu", {}), kv.get("held", {}), kv.get("addresses", {})
why = []
if grc != 0 or "loss" not in r:
    why.append("calls not all up in %ss (%s)" % (r.get("setup_timeout", "?"), r.get("up", "?"))
               if "setup_timeout" in r else "rtp_load exit %d" % grc)
if urc != 0:
    stat = {}
    try:
        lines = open(d + "/uac.csv").read().splitlines()
        stat = dict(zip(lines[0].split(";"), lines[-1].split(";")))
    except (OSError, IndexError):
        pass
    why.append("sipp UAC exit %d: %s of %d calls failed" % (urc, stat.get("FailedCall(C)", "?"), calls))
if src != 0:
    why.append("sipp UAS exit %d" % src)
loss = float(r.get("loss", 100)); p99 = float(r.get("p99_us", 1e9))
if "loss" in r:
    if loss >= max_loss:
        why.append("loss %.3f%% >= %g%%" % (loss, max_loss))
    if p99 >= max_p99:
        why.append("p99 %.0f us >= %g us" % (p99, max_p99))
    if float(r.get("offered", 0)) < 99:
        why.append("the generator sent only %s%% of the packets due" % r.get("offered"))
    if int(r.get("misrouted", 0)):
        why.append("%s misrouted" % r["misrouted"])
# calls per worker: the socket count (processes) or the SDP addresses (containers)
if mode == "containers":
    per = [addrs.get(waddr.get(w, "?"), "0") for w in sorted(held)]
else:
    per = [held[w] for w in sorted(held)]
ok = not why
workers = "/".join(per)
if ok and nw > 1 and calls >= 10 * nw and any(int(x) == 0 for x in per if x.isdigit()):
    why.append("a worker got no call")
    ok = False
wcpu = "/".join("%.0f" % float(cpu[w]) for w in sorted(held) if w in cpu)
print("  W=%d C=%-5d %s  loss %s%% (fwd %s, back %s)  rtt p50 %s p99 %s max %s us (raw p99 %s)  "
      "calls/worker %s  cpu%% workers %s router %s sig %s gen %s host %s%%  %ds%s"
      % (nw, calls, "PASS" if ok else "FAIL", r.get("loss", "-"), r.get("loss_fwd", "-"),
         r.get("loss_back", "-"), r.get("p50_us", "-"), r.get("p99_us", "-"), r.get("max_us", "-"),
         r.get("raw_p99_us", "-"),
         workers or "-", wcpu or "-", cpu.get("router", "-")[:5], cpu.get("signaling", "-")[:5],
         cpu.get("generator", "-"), cpu.get("host_busy", "-"), secs,
         "" if ok else "  (" + "; ".join(why) + ")"))
with open(d + "/summary", "w") as f:
    f.write("%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\n" % ("pass" if ok else "fail", r.get("loss", "-"),
            r.get("p50_us", "-"), r.get("p99_us", "-"), wcpu or "-", cpu.get("router", "-"),
            cpu.get("signaling", "-"), cpu.get("generator", "-"), workers or "-",
            cpu.get("host_busy", "-")))
# 3: only the round trip failed (other load on the host can do that)
sys.exit(0 if ok else 3 if all(w.startswith("p99") for w in why) else 1)
PY
}

# ---- the search ------------------------------------------------------------
conf=$tmp/etc
s_conf "$conf" 127.0.0.1
echo "bench: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(uname -sr)"
echo "bench: mode $mode; workers: $workers; G.711 20 ms both ways per call; set-up $rate calls/s;" \
     "window ${window}s after ${settle}s; pass: loss < ${max_loss}% and p99 < ${max_p99} us"
echo "bench: rtp_load (one process) and sipp share the cores with Tandem; time budget ${budget}s"
[ $mode = containers ] && s_containers_create
start=$SECONDS
declare -A best
nws=($workers)
prev_best=0
for idx in "${!nws[@]}"; do
    nw=${nws[$idx]}
    left=$(( budget - (SECONDS - start) ))
    share=$(( left / (${#nws[@]} - idx) ))
    w_end=$(( SECONDS + share ))
    if [ $mode = processes ]; then s_proc_start "$nw"; else s_containers_scale "$nw"; fi
    say "$nw worker(s): ${names[*]} (pids $(for w in "${names[@]}"; do printf '%s ' "${wpid[$w]}"; done)); ${share}s for this search"
    best[$nw]=0; fail=0; retried=0
    for c in $ladder; do
        # more workers hold at least as much: start near half the last best
        if [ "$c" -lt $(( prev_best / 2 )) ]; then continue; fi
        est=$(( c * 22 / rate / 10 + settle + window + 12 ))
        if [ $(( SECONDS + est )) -gt "$w_end" ]; then
            say "  W=$nw C=$c: skipped (about ${est}s, beyond this search's time share)"; fail=-1; break
        fi
        s_step "$nw" "$c"; rc=$?
        # once per worker count, a step that failed on p99 alone runs again
        if [ $rc = 3 ] && [ $retried = 0 ] && [ $(( SECONDS + est )) -le "$w_end" ]; then
            retried=1; say "  W=$nw C=$c: once more (only p99 failed)"
            s_step "$nw" "$c"; rc=$?
        fi
        if [ $rc = 0 ]; then best[$nw]=$c; else fail=$c; break; fi
    done
    # the first step failed: halve it, twice at most
    tries=0
    while [ "$fail" -gt 0 ] && [ "${best[$nw]}" = 0 ] && [ $tries -lt 2 ] && [ $((fail / 2)) -ge 10 ]; do
        tries=$((tries + 1)); c=$((fail / 2))
        est=$(( c * 22 / rate / 10 + settle + window + 12 ))
        [ $(( SECONDS + est )) -le "$w_end" ] || break
        if s_step "$nw" "$c"; then best[$nw]=$c; else fail=$c; fi
    done
    if [ "$fail" -gt 0 ] && [ "${best[$nw]}" -gt 0 ]; then
        mid=$(( (best[$nw] + fail) / 2 / 50 * 50 ))
        est=$(( mid * 22 / rate / 10 + settle + window + 12 ))
        if [ "$mid" -gt "${best[$nw]}" ] && [ "$mid" -lt "$fail" ] && [ $(( SECONDS + est )) -le "$w_end" ]; then
            s_step "$nw" "$mid" && best[$nw]=$mid
        fi
    fi
    [ "$fail" = 0 ] && say "  W=$nw: the top of the ladder passed; the limit was not reached"
    prev_best=${best[$nw]}
    [ $mode = processes ] && s_proc_stop
done

echo
echo "bench: summary ($mode; $(nproc) cores; loss < ${max_loss}%, p99 < ${max_p99} us; CPU % of one core over the ${window}s window)"
printf '| %-7s | %-6s | %-7s | %-8s | %-8s | %-16s | %-14s | %-6s | %-9s | %-9s | %-5s |\n' \
    workers "max C" "loss %" "p50 us" "p99 us" "CPU per worker" "calls/worker" router signaling generator host
printf '|%s|\n' "---------|--------|---------|----------|----------|------------------|----------------|--------|-----------|-----------|-------"
for nw in $workers; do
    c=${best[$nw]:-0}
    if [ "$c" -gt 0 ] && [ -f "$tmp/w$nw-c$c/summary" ]; then
        IFS='|' read -r _ loss p50 p99 wcpu rcpu scpu gcpu per host < "$tmp/w$nw-c$c/summary"
    else
        loss=-; p50=-; p99=-; wcpu=-; rcpu=-; scpu=-; gcpu=-; per=-; host=-
    fi
    printf '| %-7s | %-6s | %-7s | %-8s | %-8s | %-16s | %-14s | %-6s | %-9s | %-9s | %-5s |\n' \
        "$nw" "$c" "$loss" "$p50" "$p99" "$wcpu" "$per" "$rcpu" "$scpu" "$gcpu" "$host"
done
one=${best[1]:-0}; three=${best[3]:-0}
if [ "$one" -gt 0 ] && [ -n "${best[3]:-}" ]; then
    echo "bench: ratio max C (3 workers) / max C (1 worker) = $three / $one = $(awk -v a="$three" -v b="$one" 'BEGIN { printf "%.2f", a / b }')"
fi
echo "bench: ($mode) total $((SECONDS - start))s"
