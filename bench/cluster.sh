#!/bin/bash
# bench/cluster.sh - issue 10's measurements: call rate with 1 and 2 routers
# and 1 and 2 signaling nodes on this machine, and what the shared store
# (Redis) costs per call and per registration (`make bench-cluster`; not part
# of `make test`).
#
# The harness is bench/calls.sh's (sourced with BENCH_LIB=1: same config,
# static peers `load` and `uas`, sipp UAC and UAS, the same result line):
# only the processes differ. For each topology RxS (BENCH_TOPOLOGIES):
#   R routers   tandem-router -i router-N on bus ports of their own; media and
#               signaling connect to all of them (`-b` with a comma list,
#               issue 10's several routers; a topology whose signaling does
#               not reach every router is reported as not run)
#   S nodes     tandem-signaling -i sig-N on SIP ports of their own, one sipp
#               UAC per node with an even share of the rate (the UAS is one)
#   1 worker    tandem-media
# the ladder BENCH_RATES is climbed in BENCH_STEP-second steps until a step
# fails; the best passing rate is the topology's. Each step restarts the
# processes.
#
# With Redis (BENCH_REDIS=auto: when redis-server is installed and the
# binaries know [cluster]), a redis-server on a port of the bench's block
# holds the cluster state ([cluster] redis= in tandem.conf, flushed before
# each start). Per step it reports the Redis commands per call (INFO
# commandstats, reset when the processes answer SIP; PING, the store's
# liveness probe, counted apart), redis-server's CPU per 1,000 calls and its
# used_memory. Then, on topology 1x1:
#   registrations  BENCH_REGS phones (r0001..., no secret: 200 at once)
#                  at BENCH_REG_RATE/s: used_memory_dataset and key count before and
#                  after, MEMORY USAGE of the reg: keys (mean of 50)
#   calls up       BENCH_UP_CALLS calls held up at once: used_memory_dataset and keys
#                  (call:, dlg:) while all are up, MEMORY USAGE of each kind
#
# Bounded: every sipp has a timeout; a topology stops climbing after
# BENCH_BUDGET seconds (default 240); with the defaults the whole run takes
# at most about 20 minutes on 2 cores (about 6 when the machine is idle).
#
# Environment: BENCH_TOPOLOGIES ("1x1 1x2 2x1 2x2"), BENCH_RATES ("100 200
# 300 400 500 600 800 1000"), BENCH_STEP (10), BENCH_BUDGET (240),
# BENCH_CALL_MS (1000), BENCH_REDIS (auto | yes | no), BENCH_REGS (1000),
# BENCH_REG_RATE (200), BENCH_UP_CALLS (300), BENCH_LOGLEVEL (notice),
# BENCH_KEEP=1 keeps the work directory.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
export BENCH_RATES=${BENCH_RATES:-100 200 300 400 500 600 800 1000}
export BENCH_STEP=${BENCH_STEP:-10}
BENCH_LIB=1 . bench/calls.sh || exit 1

topologies=${BENCH_TOPOLOGIES-1x1 1x2 2x1 2x2}   # empty: the memory phase only
budget=${BENCH_BUDGET:-240}
use_redis=${BENCH_REDIS:-auto}
regs=${BENCH_REGS:-1000}
reg_rate=${BENCH_REG_RATE:-200}
up_calls=${BENCH_UP_CALLS:-300}
# Beyond calls.sh's ports: signaling node 2, router 2's bus, Redis.
sip2=$((TD_BASE + 60)); bus2=$((TD_BASE + 61)); redis_port=$((TD_BASE + 62))
reg_port=$((TD_BASE + 63))
say() { echo "bench: $*"; }

redis_pid=
case $use_redis in
auto)
    use_redis=no
    if command -v redis-server >/dev/null && grep -aq TANDEM_REDIS bin/tandem-router; then
        use_redis=yes
    fi ;;
yes)
    command -v redis-server >/dev/null || { say "redis-server missing (tools/deps.sh)"; exit 1; }
    grep -aq TANDEM_REDIS bin/tandem-router || { say "these binaries have no [cluster] (the store)"; exit 1; } ;;
no) ;;
*) say "BENCH_REDIS must be auto, yes or no"; exit 1 ;;
esac

# calls.sh's clean-up, and Redis after it.
eval "s_calls_cleanup() $(declare -f cleanup | tail -n +2)"
cleanup() {
    if [ -n "$redis_pid" ]; then
        kill -TERM "$redis_pid" 2>/dev/null
        wait "$redis_pid" 2>/dev/null
    fi
    s_calls_cleanup
}
trap cleanup EXIT

rraw() { redis-cli -p "$redis_port" --raw "$@" 2>/dev/null; }
if [ "$use_redis" = yes ]; then
    mkdir -p "$tmp/redis"
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$tmp/redis" --daemonize no </dev/null >"$tmp/redis/redis.log" 2>&1 &
    redis_pid=$!
    for _ in $(seq 50); do rraw PING | grep -q PONG && break; sleep 0.1; done
    rraw PING | grep -q PONG || { say "redis-server did not start: $(tail -n 3 "$tmp/redis/redis.log")"; exit 1; }
    printf '\n[cluster]\nredis=127.0.0.1:%s\n' "$redis_port" >> "$conf/tandem.conf"
fi

n_routers=1; n_sigs=1; skip_reason=
# s_start_switch LABEL: n_routers routers, one worker, n_sigs signaling
# nodes, each answering SIP; children[] and cpu_names in the same order.
s_start_switch() {
    local label=$1 i ends="" p r ok
    if [ "$use_redis" = yes ]; then rraw FLUSHALL >/dev/null; fi
    children=(); cpu_names=
    local buses=("$bus" "$bus2")
    for i in $(seq "$n_routers"); do ends+="tcp://127.0.0.1:${buses[$((i - 1))]},"; done
    ends=${ends%,}
    for i in $(seq "$n_routers"); do
        local id=()
        [ "$n_routers" -gt 1 ] && id=(-i "router-$i")
        bin/tandem-router -c "$conf" "${id[@]}" -b "tcp://127.0.0.1:${buses[$((i - 1))]}" \
            </dev/null >>"$tmp/router-$i-$label.log" 2>&1 &
        children+=($!); cpu_names+="router${id:+-$i}/"
    done
    bin/tandem-media -c "$conf" -b "$ends" </dev/null >>"$tmp/media-$label.log" 2>&1 &
    children+=($!); cpu_names+="media"
    local sips=("$sip" "$sip2")
    for i in $(seq "$n_sigs"); do
        bin/tandem-signaling -c "$conf" -i "sig-$i" -s "127.0.0.1:${sips[$((i - 1))]}" -b "$ends" \
            </dev/null >>"$tmp/sig-$i-$label.log" 2>&1 &
        children+=($!); cpu_names+="/sig-$i"
    done
    for i in $(seq "$n_sigs"); do
        p=${sips[$((i - 1))]}
        if ! python3 tests/tools/sip_ping.py --port "$p" --wait 10 >/dev/null; then
            say "sig-$i did not answer OPTIONS on $p; its log:" >&2
            tail -n 20 "$tmp/sig-$i-$label.log" >&2
            [ "$n_routers" -gt 1 ] && skip_reason="sig-$i did not start with $n_routers router endpoints: $(grep -m 1 ERROR "$tmp/sig-$i-$label.log" | cut -d' ' -f4-)"
            return 1
        fi
    done
    # every router must hear every node (and the worker)
    for r in $(seq "$n_routers"); do
        for i in $(seq "$n_sigs"); do
            ok=0
            for _ in $(seq 25); do
                timeout -k 1 4 bin/tandemctl -c "$conf" -b "tcp://127.0.0.1:${buses[$((r - 1))]}" \
                    -x 'core show processes' 2>/dev/null | grep -Eq "^sig-$i +[a-z]+ +up" && { ok=1; break; }
                sleep 0.2
            done
            if [ $ok = 0 ]; then
                skip_reason="router $r never heard sig-$i (no endpoint list on the bus yet?)"
                say "$skip_reason" >&2
                return 2
            fi
        done
    done
    if [ "$use_redis" = yes ]; then
        rraw CONFIG RESETSTAT >/dev/null
        redis_cpu0=$(s_cpu "$redis_pid"); redis_t0=$(date +%s.%N)
    fi
    return 0
}

# s_step_hook LABEL CALLS: Redis's share of the step just run.
s_step_hook() {
    [ "$use_redis" = yes ] || return 0
    local label=$1 calls=$2 cpu1 t1
    cpu1=$(s_cpu "$redis_pid"); t1=$(date +%s.%N)
    rraw INFO commandstats > "$tmp/redis-$label.stats"
    rraw INFO memory > "$tmp/redis-$label.memory"
    python3 - "$tmp/redis-$label.stats" "$tmp/redis-$label.memory" "$calls" "$redis_cpu0" "$cpu1" \
        "$redis_t0" "$t1" "$(getconf CLK_TCK)" "$label" <<'PY' | tee -a "$tmp/redis-steps.txt"
import re, sys
stats, mem, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
c0, c1, t0, t1, tck, label = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8]), sys.argv[9]
cmds = {}
for line in open(stats):
    m = re.match(r"cmdstat_([a-z|]+):calls=(\d+)", line.strip())
    if m:
        cmds[m.group(1)] = int(m.group(2))
ping = cmds.pop("ping", 0)
for k in list(cmds):
    if k.split("|")[0] in ("config", "info", "flushall"):
        del cmds[k]
total = sum(cmds.values())
used = re.search(r"used_memory:(\d+)", open(mem).read())
cpu_ms = 1000.0 * (c1 - c0) / tck
per = ", ".join("%s %.2f" % (k, v / calls) for k, v in sorted(cmds.items(), key=lambda kv: -kv[1]))
print("redis %-9s %5.2f commands/call (%s); PING %d; redis-server cpu %.0f ms = %.1f ms per 1000 calls (%.0f%% of a core); used_memory %s"
      % (label, total / max(1, calls), per or "none", ping, cpu_ms, cpu_ms * 1000 / max(1, calls),
         100.0 * cpu_ms / 1000 / max(0.001, t1 - t0), used.group(1) if used else "?"))
PY
}

# s_keys PATTERN: how many keys match; s_mem_usage PATTERN: mean MEMORY
# USAGE (bytes) of at most 50 of them.
s_keys() { rraw --scan --pattern "$1" | wc -l; }
s_mem_usage() {
    rraw --scan --pattern "$1" | head -n 50 | while read -r k; do rraw MEMORY USAGE "$k"; done |
        awk '{ s += $1; n++ } END { if (n) printf "%.0f", s / n; else printf "-" }'
}
# s_used: used_memory_dataset (used_memory less Redis's own overhead:
# client buffers, replication, ...), the data's share.
s_used() { rraw INFO memory | sed -n 's/^used_memory_dataset:\([0-9]*\).*/\1/p'; }

# ---- call rate per topology ------------------------------------------------------
echo "bench: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(uname -sr)"
echo "bench: calls INVITE/180/200/ACK, ${call_ms} ms hold, BYE/200; steps of ${step}s; loglevel=$loglevel; Redis: $use_redis; topologies (routers x signaling): $topologies"
declare -A best note
for topo in $topologies; do
    n_routers=${topo%x*}; n_sigs=${topo#*x}
    case "$n_routers$n_sigs" in 11|12|21|22) ;; *) say "topology $topo: 1 or 2 of each"; exit 1 ;; esac
    targets=("$sip"); [ "$n_sigs" = 2 ] && targets+=("$sip2")
    best[$topo]=0; note[$topo]=; skip_reason=
    t_topo=$SECONDS
    for rate in $rates; do
        if [ $((SECONDS - t_topo)) -ge "$budget" ]; then
            say "topology $topo: time budget (${budget}s) spent"; break
        fi
        s_step "$topo-$rate" "$rate" "$step"; rc=$?
        if [ $rc = 0 ]; then best[$topo]=$rate; else break; fi
    done
    [ -n "$skip_reason" ] && note[$topo]="not run: $skip_reason"
done

# ---- Redis memory: registrations and calls up ---------------------------------------
if [ "$use_redis" = yes ]; then
    n_routers=1; n_sigs=1; targets=("$sip")
    # The phones: r0001... in sip.conf (no secret: bench/register.xml says
    # why; added only now, the nodes log a notice for each), and sipp's
    # injection file.
    {
        printf '\n[rphone](!)\ntype=friend\nhost=dynamic\ncontext=bench\ndisallow=all\nallow=ulaw\n'
        for i in $(seq -f '%04g' 1 "$regs"); do printf '[r%s](rphone)\n' "$i"; done
    } >> "$conf/sip.conf"
    { echo SEQUENTIAL; for i in $(seq -f '%04g' 1 "$regs"); do echo "r$i;"; done; } > "$tmp/phones.csv"
    if s_start mem 60; then
        u0=$(s_used); k0=$(rraw DBSIZE)
        timeout -k 2 $((regs / reg_rate + 60)) sipp 127.0.0.1:"$sip" -sf bench/register.xml \
            -inf "$tmp/phones.csv" -i 127.0.0.1 -p "$reg_port" -nostdin -m "$regs" -r "$reg_rate" \
            -l "$reg_rate" -recv_timeout 8000 -trace_err -error_file "$tmp/reg.err" \
            -trace_msg -message_file "$tmp/reg.msg" \
            </dev/null >"$tmp/reg.out" 2>&1; rrc=$?
        sleep 1
        u1=$(s_used); k1=$(rraw DBSIZE); nreg=$(s_keys 'tandem:reg:*')
        say "registrations: sipp rc $rrc, $regs REGISTERs; keys $k0 -> $k1 (reg: $nreg); used_memory_dataset $u0 -> $u1 = $(( (u1 - u0) / (regs > 0 ? regs : 1) )) bytes per registration; MEMORY USAGE of a reg: key $(s_mem_usage 'tandem:reg:*') bytes"
        k=$(rraw --scan --pattern 'tandem:reg:*' | head -n 1)
        [ -n "$k" ] && say "  e.g. $k: $(rraw HGETALL "$k" | paste -sd ' ')"
        # calls held up at once
        hold_ms=$(( (up_calls / 50 + 8) * 1000 ))
        u2=$(s_used); k2=$(rraw DBSIZE)
        timeout -k 2 $((hold_ms / 1000 + 90)) sipp 127.0.0.1:"$sip" -sf bench/uac.xml -t u1 \
            -i 127.0.0.1 -p "$uac" -mp $((TD_BASE + 24)) -nostdin \
            -s 5550000 -r 50 -rp 1000 -m "$up_calls" -l "$up_calls" -d "$hold_ms" \
            -recv_timeout 8000 -trace_err -error_file "$tmp/up.err" \
            </dev/null >"$tmp/up.out" 2>&1 &
        up_pid=$!; uac_pids=("$up_pid")
        sleep $((up_calls / 50 + 3))
        u3=$(s_used); k3=$(rraw DBSIZE)
        ncall=$(s_keys 'tandem:call:*'); ndlg=$(s_keys 'tandem:dlg:*')
        say "calls up: $up_calls at once; keys $k2 -> $k3 (call: $ncall, dlg: $ndlg); used_memory_dataset $u2 -> $u3 = $(( (u3 - u2) / up_calls )) bytes per call; MEMORY USAGE of a call: key $(s_mem_usage 'tandem:call:*'), a dlg: key $(s_mem_usage 'tandem:dlg:*') bytes"
        wait "$up_pid"; urc=$?; uac_pids=()
        sleep 1
        say "calls up: sipp rc $urc; after they ended: keys $(rraw DBSIZE) (call: $(s_keys 'tandem:call:*'), dlg: $(s_keys 'tandem:dlg:*')), used_memory_dataset $(s_used)"
        s_stop_all
    else
        s_stop_all
        say "memory phase: the switch did not start"
    fi
fi

echo "bench: summary (best step rate with no failed call, ${step}s steps; routers x signaling nodes):"
for topo in $topologies; do
    printf 'bench:   %s  %5s calls/s  %s\n' "$topo" "${best[$topo]}" "${note[$topo]}"
done
