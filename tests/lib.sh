# tests/lib.sh - shared helpers for the integration tests in tests/sip/*/run.
#
# A run script does:
#     . "$(dirname "$0")/../../lib.sh"
#     td_init <name>          # temp dir, free ports, cleanup trap
#     td_conf                 # write the config into $TD_CONF (edit it after)
#     td_start                # start router, media, signaling; wait for SIP
#     td_sipp uac -sf uac.xml -s 1002 ...   # or td_sipp_bg, then td_wait
#     td_expect_rc uac 0
#     td_pass
#
# Everything started here is recorded by PID and stopped by PID on exit, even
# when the script fails or is interrupted; every network namespace made with
# td_netns_add is deleted then, with the veths and bridges in it. Ports come
# from a block claimed with an atomic mkdir under /tmp, so two tests running
# at once never collide.
#
# Port block (TD_BASE .. TD_BASE+127, below the kernel's ephemeral range):
#   +0 SIP (signaling, UDP)   +1 bus (TCP)      +2 UAS sipp (the `uas` peer)
#   +3 UAC sipp               +4..+9 more sipp  +10..+19 RTP peers (phones)
#   +20..+59 sipp media ports (-mp: sipp binds 4 from each, 10 slots, reused
#   in turn)  +60 Redis (td_redis_start)         +64..+127 rtp.conf range

TD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TD_TOOLS=$TD_ROOT/tests/tools
# TD_BIN: where the scenarios find tandem-router/-media/-signaling and
# tandemctl (default bin/; `make test-asan` points it at build/asan-bin/). A
# relative path is taken from the top of the tree.
TD_BIN=${TD_BIN:-$TD_ROOT/bin}
case $TD_BIN in /*) ;; *) TD_BIN=$TD_ROOT/$TD_BIN ;; esac
export TD_BIN
# TD_SLOW: a whole factor (default 1) for the waits that only bound how long
# a step may take (startup, sipp's hard cap, td_wait_*): binaries built with
# ASan run 2-3x slower (`make test-asan` sets 3). Never used to shorten one.
TD_SLOW=${TD_SLOW:-1}
td_slow() { echo $(( $1 * TD_SLOW )); }
TD_LOCKS=/tmp/tandem-test-ports
TD_PIDS=()            # every background process we started
TD_TANDEM_PIDS=()     # router media signaling, in that order
TD_NAME=test
TD_TMP=
TD_LOCK=
TD_SIPP_TIMEOUT=${TD_SIPP_TIMEOUT:-$((30 * TD_SLOW))}   # hard cap (s) on any one sipp run

td_log() { echo "[$TD_NAME] $*"; }

# td_ports_free PORT... : 0 if every port can be bound for UDP and TCP (in
# the network namespace TD_NS, if set).
td_ports_free() {
    s_ns_prefix
    "${TD_NS_PRE[@]}" python3 - "$@" <<'EOF'
import socket, sys
for p in map(int, sys.argv[1:]):
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("0.0.0.0", p))
        except OSError:
            sys.exit(1)
        finally:
            s.close()
EOF
}

# Claim a free block of 128 ports: random start, then walk. Sets TD_BASE.
s_claim_ports() {
    mkdir -p "$TD_LOCKS" 2>/dev/null
    local tries=0 base lock owner
    base=$(( 20000 + (RANDOM % 94) * 128 ))
    while [ $tries -lt 94 ]; do
        lock=$TD_LOCKS/$base
        if [ -d "$lock" ]; then
            owner=$(cat "$lock/pid" 2>/dev/null)
            if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
                rm -rf "$lock"          # stale claim of a dead test
            fi
        fi
        if mkdir "$lock" 2>/dev/null; then
            echo $$ > "$lock/pid"
            if td_ports_free $(seq "$base" $((base + 127))); then
                TD_BASE=$base
                TD_LOCK=$lock
                return 0
            fi
            rm -rf "$lock"
        fi
        base=$(( base + 128 ))
        [ $base -ge 32032 ] && base=20000
        tries=$((tries + 1))
    done
    echo "lib.sh: no free port block found" >&2
    return 1
}

# td_more_ports: claim one more free block of 128 ports (for a test that needs
# a wide RTP range); sets TD_MORE_BASE. Released by td_cleanup.
TD_EXTRA_LOCKS=()
td_more_ports() {
    local base=$TD_BASE lock=$TD_LOCK
    s_claim_ports || td_fail "no second free port block"
    TD_MORE_BASE=$TD_BASE
    TD_EXTRA_LOCKS+=("$TD_LOCK")
    TD_BASE=$base
    TD_LOCK=$lock
}

# td_wide_ports N: claim N more adjacent free blocks of 128 ports (an RTP range
# wider than one block: a bridged call takes 4 ports); sets TD_WIDE_BASE (the
# range is TD_WIDE_BASE .. TD_WIDE_BASE + N*128 - 1). Released by td_cleanup.
td_wide_ports() {
    local n=$1 base=$TD_BASE lock=$TD_LOCK tries k b got ok
    for tries in $(seq 20); do
        s_claim_ports || break
        got=("$TD_LOCK")
        ok=1
        for k in $(seq 1 $((n - 1))); do
            b=$((TD_BASE + k * 128))
            [ $b -lt 32032 ] && mkdir "$TD_LOCKS/$b" 2>/dev/null || { ok=0; break; }
            echo $$ > "$TD_LOCKS/$b/pid"
            got+=("$TD_LOCKS/$b")
            td_ports_free $(seq "$b" $((b + 127))) || { ok=0; break; }
        done
        if [ $ok = 1 ]; then
            TD_WIDE_BASE=$TD_BASE
            TD_EXTRA_LOCKS+=("${got[@]}")
            TD_BASE=$base
            TD_LOCK=$lock
            return 0
        fi
        rm -rf "${got[@]}"
    done
    TD_BASE=$base
    TD_LOCK=$lock
    td_fail "no $n adjacent free port blocks"
}

# td_init NAME: temp dir, ports, trap. Exits 1 when it cannot.
td_init() {
    TD_NAME=${1:-$(basename "$(pwd)")}
    TD_TMP=$(mktemp -d "/tmp/tandem-$TD_NAME.XXXXXX") || exit 1
    trap td_cleanup EXIT
    # A function name, not a command string: bash 5.2 can lose a signal whose
    # trap string it has to parse while it is parsing a $(...).
    trap s_interrupted INT TERM
    s_claim_ports || exit 1
    TD_SIP_PORT=$TD_BASE
    TD_BUS_PORT=$((TD_BASE + 1))
    TD_UAS_PORT=$((TD_BASE + 2))
    TD_UAC_PORT=$((TD_BASE + 3))
    TD_SIPP_PORT0=$((TD_BASE + 4))       # +4..+9: free for extra sipp
    TD_RTP_PEER0=$((TD_BASE + 10))       # +10..+19: rtp_peer.py ports
    TD_MP0=$((TD_BASE + 20))             # +20..+59: sipp -mp, 4 apart
    TD_REDIS_PORT=$((TD_BASE + 60))      # td_redis_start
    TD_RTP_START=$((TD_BASE + 64))
    TD_RTP_END=$((TD_BASE + 127))
    TD_CONF=$TD_TMP/etc
    TD_CDR=$TD_TMP/cdr
    TD_LOGS=$TD_TMP/log
    mkdir -p "$TD_CONF" "$TD_CDR" "$TD_LOGS"
    TD_MP_NEXT=$TD_MP0
    td_log "tmp $TD_TMP, sip port $TD_SIP_PORT, rtp $TD_RTP_START-$TD_RTP_END"
}

s_interrupted() {
    td_log "interrupted${TD_STEP:+ during: $TD_STEP}"
    exit 130
}

# td_step TEXT: say which step of the scenario runs now. td_fail and an
# interrupt (the runner's timeout) name it, so a failure in a CI log says
# where it happened.
TD_STEP=
td_step() {
    TD_STEP=$*
    td_log "step: $TD_STEP"
}

# td_cleanup: stop every recorded PID (TERM, then KILL after 2 s), drop the
# port claim and the temp dir (kept when TD_KEEP=1 or the test failed and
# TD_KEEP_FAILED=1).
td_cleanup() {
    local rc=$? p i
    # INT and TERM are ignored, not reset: `timeout` (run-integration.sh)
    # sends TERM twice, to the script and to its process group, and with the
    # default action back the second one kills the shell in the middle of
    # this clean-up.
    trap - EXIT
    trap '' INT TERM
    # a Redis frozen by td_redis_stop would not hear the TERM
    [ "${TD_REDIS_STATE:-}" = stopped ] && kill -CONT "$TD_REDIS_PID" 2>/dev/null
    for p in "${TD_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for i in $(seq $((20 * TD_SLOW))); do
        local alive=0
        for p in "${TD_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    for p in "${TD_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    # rtp_peer.py processes started by sipp's <exec> write pid files here
    if [ -n "$TD_TMP" ]; then
        for f in "$TD_TMP"/*.pid; do
            [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
        done
    fi
    s_netns_cleanup
    [ -n "$TD_LOCK" ] && rm -rf "$TD_LOCK"
    for i in "${TD_EXTRA_LOCKS[@]}"; do rm -rf "$i"; done
    if [ -n "$TD_TMP" ]; then
        if [ "${TD_KEEP:-0}" = 1 ] || { [ $rc -ne 0 ] && [ "${TD_KEEP_FAILED:-0}" = 1 ]; }; then
            echo "[$TD_NAME] kept $TD_TMP"
        else
            rm -rf "$TD_TMP"
        fi
    fi
    exit $rc
}

# td_conf: write sip.conf, extensions.conf, rtp.conf, tandem.conf into
# $TD_CONF. Scenarios append to them (td_add_exten) or rewrite a file.
#   TD_AUTH_ALGS       auth_algorithms_uas= (unset: no line, the switch's
#                      default, MD5 alone; sipp 3.6.1 cannot answer SHA-256)
#   TD_PEER_INSECURE   insecure= of peer `uas` (default "invite": matched by
#                      address AND port, so the callers' INVITEs from other
#                      127.0.0.1 ports are still users to challenge)
td_conf() {
    cat > "$TD_CONF/sip.conf" <<EOF
; generated by tests/lib.sh for $TD_NAME
[general]
udpbindaddr=127.0.0.1:$TD_SIP_PORT
realm=tandem
context=internal
allowguest=no
alwaysauthreject=yes
${TD_AUTH_ALGS:+auth_algorithms_uas=$TD_AUTH_ALGS}
directmedia=no
disallow=all
allow=ulaw
allow=alaw
defaultexpiry=120
minexpiry=60
maxexpiry=3600

[phone](!)
type=friend
host=dynamic
context=internal
disallow=all
allow=ulaw,alaw

[1001](phone)
secret=1001pass
callerid="Alice" <1001>

[1002](phone)
secret=1002pass
callerid="Bob" <1002>

[uas]
type=peer
host=127.0.0.1
port=$TD_UAS_PORT
insecure=${TD_PEER_INSECURE:-invite}
context=internal
disallow=all
allow=ulaw
EOF
    cat > "$TD_CONF/extensions.conf" <<EOF
; generated by tests/lib.sh for $TD_NAME
[general]
static=yes
writeprotect=no
autofallthrough=yes

[globals]
RINGTIME=20

[internal]
exten => _1XXX,1,NoOp(Call from \${CALLERID(num)} to \${EXTEN})
 same => n,Dial(SIP/\${EXTEN},\${RINGTIME})
 same => n,Hangup()

exten => 600,1,Answer()
 same => n,Echo()
 same => n,Hangup()

; ring 1002 for 2 s only
exten => 700,1,Dial(SIP/1002,2)
 same => n,Hangup()

; a static peer, no registration
exten => 5551234,1,Dial(SIP/uas/5551234,10)
 same => n,Hangup()
EOF
    cat > "$TD_CONF/rtp.conf" <<EOF
[general]
rtpstart=$TD_RTP_START
rtpend=$TD_RTP_END
EOF
    cat > "$TD_CONF/tandem.conf" <<EOF
[general]
loglevel=${TD_LOGLEVEL:-info}

[bus]
endpoint=tcp://127.0.0.1:$TD_BUS_PORT

[router]
cdrdir=$TD_CDR
astdb=$TD_TMP/astdb

[media]
address=127.0.0.1
capacity=100
EOF
}

# td_start: start router, media, signaling from $TD_CONF, then wait (at most
# 10 s) until the SIP port answers OPTIONS with 200.
td_start() {
    local p
    for p in router media signaling; do
        [ -x "$TD_BIN/tandem-$p" ] || td_fail "$TD_BIN/tandem-$p is not built (make all)"
    done
    TD_TANDEM_PIDS=()
    for p in router media signaling; do
        "$TD_BIN/tandem-$p" -c "$TD_CONF" </dev/null >>"$TD_LOGS/$p.log" 2>&1 &
        TD_PIDS+=($!)
        TD_TANDEM_PIDS+=($!)
    done
    if ! python3 "$TD_TOOLS/sip_ping.py" --port "$TD_SIP_PORT" --wait "$(td_slow 10)" >"$TD_LOGS/ping.log" 2>&1; then
        td_fail "signaling did not answer OPTIONS with 200 on 127.0.0.1:$TD_SIP_PORT within 10 s (last: $(tail -1 "$TD_LOGS/ping.log"))"
    fi
    # Media says hello every 500 ms: let the router hear it before a call.
    sleep 1
    td_alive || td_fail "a process died at startup"
}

# td_stop: SIGTERM the three processes; each must exit within 5 s (a
# warning otherwise, then SIGKILL). Used to restart with another config.
td_stop() {
    local p i names=(router media signaling) n=0
    for p in "${TD_TANDEM_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${TD_TANDEM_PIDS[@]}"; do
        for i in $(seq $((50 * TD_SLOW))); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$p" 2>/dev/null; then
            td_log "warning: tandem-${names[$n]} ignored SIGTERM for 5 s; killing it"
            kill -KILL "$p" 2>/dev/null
        fi
        wait "$p" 2>/dev/null
        n=$((n + 1))
    done
    TD_TANDEM_PIDS=()
}

# td_alive: 0 if router, media and signaling are all still running.
td_alive() {
    local p names=(router media signaling) i=0 ok=0
    for p in "${TD_TANDEM_PIDS[@]}"; do
        if ! kill -0 "$p" 2>/dev/null; then
            echo "[$TD_NAME] tandem-${names[$i]} (pid $p) is not running"
            ok=1
        fi
        i=$((i + 1))
    done
    return $ok
}


# s_sipp_cmd NAME ARGS...: the sipp command line. Every run logs errors,
# messages and <log> actions into $TD_LOGS/NAME.*; ARGS must include -sf.
# For a phone on another host (tests/sip/multihost), set for the call:
#   TD_SIP_HOST  the switch's SIP address (default 127.0.0.1)
#   TD_SIPP_IP   sipp's own address, -i (default 127.0.0.1)
#   TD_NS        a network namespace (td_netns_add) to run sipp in
s_sipp_cmd() {
    local name=$1; shift
    local mp=$TD_MP_NEXT
    TD_MP_NEXT=$((TD_MP_NEXT + 4))
    [ $TD_MP_NEXT -ge $((TD_MP0 + 40)) ] && TD_MP_NEXT=$TD_MP0
    s_ns_prefix
    SIPP_CMD=("${TD_NS_PRE[@]}" timeout -k 2 "$TD_SIPP_TIMEOUT" sipp "${TD_SIP_HOST:-127.0.0.1}:$TD_SIP_PORT"
        -i "${TD_SIPP_IP:-127.0.0.1}" -nostdin -mp "$mp"
        -timeout $((20 * TD_SLOW))s -timeout_error -recv_timeout $((10000 * TD_SLOW)) -max_recv_loops 1000
        -trace_err -error_file "$TD_LOGS/$name.err"
        -trace_msg -message_file "$TD_LOGS/$name.msg"
        -trace_logs -log_file "$TD_LOGS/$name.logs"
        "$@")
}

# td_sipp NAME ARGS...: run sipp and wait for it; its exit code goes to
# $TD_LOGS/NAME.rc and is returned. (It runs as a background job so that a
# TERM to this script is handled at once, not after sipp ends.)
td_sipp() {
    td_sipp_bg "$@"
    td_wait "$1"
}

# td_sipp_bg NAME ARGS...: run sipp in the background; td_wait NAME collects
# its exit code. Sets TD_BG_PID.
declare -A TD_BG
td_sipp_bg() {
    local name=$1
    s_sipp_cmd "$@"
    ( cd "$TD_TMP" && exec "${SIPP_CMD[@]}" ) </dev/null >"$TD_LOGS/$name.out" 2>&1 &
    TD_BG_PID=$!
    TD_PIDS+=($TD_BG_PID)
    TD_BG[$name]=$TD_BG_PID
}

# td_bg NAME CMD...: run any helper in the background, logged and recorded
# (in the network namespace TD_NS, if set).
td_bg() {
    local name=$1; shift
    s_ns_prefix
    "${TD_NS_PRE[@]}" "$@" </dev/null >"$TD_LOGS/$name.out" 2>&1 &
    TD_BG_PID=$!
    TD_PIDS+=($TD_BG_PID)
    TD_BG[$name]=$TD_BG_PID
}

# td_wait NAME: wait for a td_sipp_bg/td_bg process; return its exit code.
td_wait() {
    local name=$1 rc
    wait "${TD_BG[$name]}"
    rc=$?
    echo $rc > "$TD_LOGS/$name.rc"
    return $rc
}

# td_wait_ready NAME PORT: wait (at most 5 s) until the background sipp NAME
# has bound UDP PORT. (sipp draws no screen until it exits when its output
# is not a terminal, so the port is the sign.)
td_wait_ready() {
    local name=$1 port=$2 i
    for i in $(seq $((50 * TD_SLOW))); do
        td_ports_free "$port" || return 0
        kill -0 "${TD_BG[$name]}" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# td_expect_rc NAME RC [WHAT]: fail unless NAME's sipp exited with RC.
td_expect_rc() {
    local name=$1 want=$2 what=${3:-}
    local got
    got=$(cat "$TD_LOGS/$name.rc" 2>/dev/null || echo "?")
    if [ "$got" != "$want" ]; then
        [ "$got" = 124 ] && got="124 (killed by timeout after ${TD_SIPP_TIMEOUT}s)"
        td_fail "sipp '$name' exited $got, expected $want${what:+: $what}" "$name"
    fi
}

# td_show_sipp NAME: the evidence of one sipp run.
td_show_sipp() {
    local name=$1
    echo "---- sipp $name: errors"
    tail -n 30 "$TD_LOGS/$name.err" 2>/dev/null
    echo "---- sipp $name: last messages"
    tail -n 60 "$TD_LOGS/$name.msg" 2>/dev/null
}

# td_show_logs: the tails of the three process logs.
td_show_logs() {
    local p
    for p in router media signaling; do
        echo "---- tandem-$p log (tail)"
        tail -n 25 "$TD_LOGS/$p.log" 2>/dev/null
    done
}

# td_show_state: the answers of the tandemctl commands in TD_FAIL_CTL (an
# array the scenario sets, e.g. ('core show processes' 'media show workers')),
# if the router in TD_TANDEM_PIDS still runs (tandemctl would wait 5 s for a
# router that is gone).
TD_FAIL_CTL=()
td_show_state() {
    local c
    [ ${#TD_FAIL_CTL[@]} -eq 0 ] && return 0
    if [ -z "${TD_TANDEM_PIDS[0]:-}" ] || ! kill -0 "${TD_TANDEM_PIDS[0]}" 2>/dev/null; then
        echo "---- tandemctl: no router running, no state to ask"
        return 0
    fi
    for c in "${TD_FAIL_CTL[@]}"; do
        echo "---- tandemctl -x '$c'"
        td_ctl -x "$c" 2>&1 | head -n 20
    done
}

# td_fail MESSAGE [SIPP NAMES...]: print evidence and exit 1: the step
# (td_step), the sipp runs named, the process logs' tails, then the state
# (td_show_state), last, so that the tail of the output a runner keeps
# shows it.
td_fail() {
    local msg=$1; shift
    echo "[$TD_NAME] FAIL: $msg${TD_STEP:+ (step: $TD_STEP)}"
    local n
    for n in "$@"; do td_show_sipp "$n"; done
    [ -d "$TD_LOGS" ] && td_show_logs
    td_show_state
    exit 1
}

# td_skip REASON: this machine cannot run the test: say so and exit 0.
# tests/run-integration.sh reports the scenario as SKIP with the reason.
td_skip() {
    echo "SKIP: $*"
    exit 0
}

# td_pass: final check that nothing crashed, then exit 0.
td_pass() {
    td_alive || td_fail "a Tandem process died during the test"
    td_log "ok"
    exit 0
}

# td_wait_file PATH SECONDS: wait until PATH exists and is not empty.
td_wait_file() {
    local f=$1 n=$(( ${2:-5} * 10 * TD_SLOW )) i
    for i in $(seq $n); do
        [ -s "$f" ] && return 0
        sleep 0.1
    done
    return 1
}

# td_expect_cdr PATTERN [SECONDS]: wait for a Master.csv line matching PATTERN
# (an extended regex) in the router's cdrdir.
td_expect_cdr() {
    local pat=$1 n=$(( ${2:-5} * 10 * TD_SLOW )) i
    for i in $(seq $n); do
        grep -Eq -- "$pat" "$TD_CDR/Master.csv" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "---- $TD_CDR/Master.csv"
    cat "$TD_CDR/Master.csv" 2>/dev/null || echo "(missing)"
    td_fail "no CDR line matching /$pat/ in Master.csv"
}

# td_rtp_peer NAME PORT [ARGS...]: start tests/tools/rtp_peer.py in the
# background bound to 127.0.0.1:PORT; results go to $TD_TMP/NAME.json.
td_rtp_peer() {
    local name=$1 port=$2; shift 2
    td_bg "$name" python3 "$TD_TOOLS/rtp_peer.py" --port "$port" \
        --out "$TD_TMP/$name.json" "$@"
}

# td_register USER PASS CONTACT_PORT [EXPIRES]: register USER with a contact
# at 127.0.0.1:CONTACT_PORT (401, then 200). Fails the test if it does not.
# The REGISTER is sent from CONTACT_PORT itself, so the phone is reachable
# whether the registrar uses the Contact or, like Asterisk's default
# nat=force_rport, the address the REGISTER came from. Run it before the
# phone's UAS sipp binds that port.
td_register() {
    local user=$1 pass=$2 cport=$3 exp=${4:-120}
    td_sipp "reg-$user" -sf "$TD_ROOT/tests/sip/common/register.xml" \
        -p "$cport" -m 1 -au "$user" -ap "$pass" \
        -key user "$user" -key contact_port "$cport" -key expires "$exp"
    td_expect_rc "reg-$user" 0 "REGISTER $user (401, then 200 with auth)"
}

# td_sounds_dir: the directory tandem-media plays prompts from, as it said
# at start ("prompts: DIR (N .wav files)", a NOTICE: TD_LOGLEVEL must not be
# warning or error); empty if it found none. After td_start.
td_sounds_dir() {
    sed -n 's/.* media NOTICE prompts: \(.*\) ([0-9]* \.wav files.*/\1/p' \
        "$TD_LOGS/media.log" 2>/dev/null | tail -n 1
}

# td_need_prompt NAME: fail unless the worker's prompt directory (the same
# search it does, see media/sound_dir.h) holds NAME.wav; sets TD_PROMPT to
# its path. After td_start.
td_need_prompt() {
    local dir
    dir=$(td_sounds_dir)
    [ -n "$dir" ] || td_fail "tandem-media found no prompts: $(grep -m 1 'WARNING prompts' "$TD_LOGS/media.log")"
    TD_PROMPT=$dir/$1.wav
    [ -r "$TD_PROMPT" ] || td_fail "$TD_PROMPT is missing (asterisk-core-sounds-en-wav)"
}

# ---- starting processes one by one, and echo calls ------------------------
# For scenarios that start the processes in another order, run several
# workers or restart one. Nothing above depends on these.

# td_redis_start: a redis-server of this test's own on 127.0.0.1:$TD_REDIS_PORT
# (no persistence, its folder and log under $TD_TMP/redis), recorded for the
# clean-up; waits (5 s at most) until it answers PING. Call it after td_conf:
# it appends [cluster] redis=127.0.0.1:$TD_REDIS_PORT to tandem.conf (not
# again when restarting). Sets TD_REDIS_PID.
td_redis_start() {
    command -v redis-server >/dev/null || td_fail "redis-server is not installed (tools/deps.sh)"
    mkdir -p "$TD_TMP/redis"
    redis-server --port "$TD_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$TD_TMP/redis" --daemonize no </dev/null >>"$TD_LOGS/redis.log" 2>&1 &
    TD_REDIS_PID=$!
    TD_PIDS+=($TD_REDIS_PID)
    TD_REDIS_STATE=up
    local i
    for i in $(seq 50); do
        [ "$(redis-cli -p "$TD_REDIS_PORT" ping 2>/dev/null)" = PONG ] && break
        kill -0 "$TD_REDIS_PID" 2>/dev/null || td_fail "redis-server exited (see $TD_LOGS/redis.log)"
        sleep 0.1
    done
    [ "$(redis-cli -p "$TD_REDIS_PORT" ping 2>/dev/null)" = PONG ] \
        || td_fail "redis-server did not answer on port $TD_REDIS_PORT within 5 s"
    if [ -z "${TD_REDIS_CONF_DONE:-}" ]; then
        printf '\n[cluster]\nredis=127.0.0.1:%s\n' "$TD_REDIS_PORT" >> "$TD_CONF/tandem.conf"
        TD_REDIS_CONF_DONE=1
    fi
}

# td_redis_stop [hang|kill]: take this test's Redis away: hang (default)
# freezes it with SIGSTOP (connections stay open, nothing answers), kill
# ends it (SIGKILL; its data is gone, no persistence). td_redis_cont brings it
# back: SIGCONT, or a new redis-server on the same port.
td_redis_stop() {
    [ -n "${TD_REDIS_PID:-}" ] || td_fail "td_redis_stop before td_redis_start"
    if [ "${1:-hang}" = kill ]; then
        kill -KILL "$TD_REDIS_PID" 2>/dev/null
        wait "$TD_REDIS_PID" 2>/dev/null
        TD_REDIS_STATE=killed
    else
        kill -STOP "$TD_REDIS_PID"
        TD_REDIS_STATE=stopped
    fi
}

td_redis_cont() {
    case "${TD_REDIS_STATE:-}" in
    stopped) kill -CONT "$TD_REDIS_PID"; TD_REDIS_STATE=up ;;
    killed) td_redis_start ;;
    esac
}

# td_redis_cli ARGS...: redis-cli against this test's Redis (at most 5 s).
td_redis_cli() {
    timeout -k 1 5 redis-cli -p "$TD_REDIS_PORT" "$@"
}

# td_start_proc LOG PROC [ARGS...]: start bin/tandem-PROC -c $TD_CONF ARGS in
# the background (in the network namespace TD_NS, if set), its output
# appended to $TD_LOGS/LOG.log, its PID recorded for cleanup and left in
# TD_PROC_PID. It does not touch TD_TANDEM_PIDS (what td_alive and td_pass
# watch): set that to (router media signaling) yourself.
td_start_proc() {
    local log=$1 proc=$2; shift 2
    [ -x "$TD_BIN/tandem-$proc" ] || td_fail "$TD_BIN/tandem-$proc is not built (make all)"
    s_ns_prefix
    "${TD_NS_PRE[@]}" "$TD_BIN/tandem-$proc" -c "$TD_CONF" "$@" </dev/null >>"$TD_LOGS/$log.log" 2>&1 &
    TD_PROC_PID=$!
    TD_PIDS+=($TD_PROC_PID)
}

# td_wait_log LOG ERE [SECONDS]: wait (at most SECONDS, default 5) until a
# line of $TD_LOGS/LOG.log matches the extended regex ERE.
td_wait_log() {
    local f=$TD_LOGS/$1.log pat=$2 n=$(( ${3:-5} * 10 * TD_SLOW )) i
    for i in $(seq "$n"); do
        grep -Eq -- "$pat" "$f" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# td_ctl ARGS...: bin/tandemctl against this test's switch (TD_CONF's bus;
# TD_CTL_BUS overrides the endpoint, TD_NS runs it in that network
# namespace). At most 6 s.
td_ctl() {
    local cmd=(timeout -k 1 "$(td_slow 6)" "$TD_BIN/tandemctl" -c "$TD_CONF")
    [ -n "${TD_CTL_BUS:-}" ] && cmd+=(-b "$TD_CTL_BUS")
    if [ -n "${TD_NS:-}" ]; then
        ip netns exec "$TD_NS" "${cmd[@]}" "$@"
    else
        "${cmd[@]}" "$@"
    fi
}

# td_wait_ctl COMMAND REGEX [SECONDS]: ask the running switch COMMAND through
# tandemctl until a line of the answer matches REGEX (at most SECONDS,
# default 5). 0 if one did. Tests read the switch's state this way, not
# from log wording.
td_wait_ctl() {
    local cmd=$1 pat=$2 end=$((SECONDS + ${3:-5} * TD_SLOW))
    while :; do
        td_ctl -x "$cmd" 2>/dev/null | grep -Eq -- "$pat" && return 0
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.2
    done
}

# td_wait_worker [NAME] [SECONDS]: the router lists media worker NAME (any
# worker without one) as up (`media show workers`).
td_wait_worker() {
    td_wait_ctl 'media show workers' "^${1:-[^ ]+} +up " "${2:-5}"
}

# td_wait_peer NAME [SECONDS]: the router lists bus peer NAME (sig-1, ...)
# as up (`core show processes`).
td_wait_peer() {
    td_wait_ctl 'core show processes' "^$1 +[a-z]+ +up" "${2:-5}"
}

# td_wait_gone PID [SECONDS]: wait (at most SECONDS, default 5) until PID has
# exited. 0 if it has.
td_wait_gone() {
    local pid=$1 n=$(( ${2:-5} * 10 * TD_SLOW )) i
    for i in $(seq "$n"); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    ! kill -0 "$pid" 2>/dev/null
}

# td_echo_start NAME SIP_PORT RTP_PORT [PACKETS]: 1001 calls 600 (Answer,
# Echo) from sipp on SIP_PORT with tests/sip/echo/uac.xml, while an
# rtp_peer.py phone on RTP_PORT sends PACKETS (default 50, 20 ms apart) to
# the address the 200's SDP names. Both run in the background (sipp logs
# under NAME, the phone under NAME-rtp); td_echo_finish NAME collects them.
# TD_ECHO_UAC=FILE uses another caller scenario (same keys: rtpport, target);
# TD_ECHO_ARGS adds sipp arguments (e.g. "-au 1003 -ap 1003pass -key user 1003").
declare -A TD_ECHO_COUNT
td_echo_start() {
    local name=$1 sport=$2 rport=$3 count=${4:-50}
    TD_ECHO_COUNT[$name]=$count
    rm -f "$TD_TMP/$name.target" "$TD_TMP/$name-rtp.json"
    td_rtp_peer "$name-rtp" "$rport" --target-file "$TD_TMP/$name.target" \
        --ssrc 0x600 --count "$count" --wait 10 --linger 0.5 \
        --pidfile "$TD_TMP/$name-rtp.pid"
    # The call lasts PACKETS x 20 ms (+ 0.5 s) from the ACK: a phone still
    # starting python when the 200 comes (a loaded machine) sends after the
    # BYE. Call once it is up (its port bound); it then only reads the target.
    s_udp_bound "${TD_BG[$name-rtp]}" "$rport" 5 ||
        echo "[$TD_NAME] $name: the phone did not bind port $rport within 5 s"
    td_sipp_bg "$name" -sf "${TD_ECHO_UAC:-$TD_ROOT/tests/sip/echo/uac.xml}" -p "$sport" -m 1 -s 600 \
        -d $(( count * 20 + 500 )) -key rtpport "$rport" -key target "$TD_TMP/$name.target" \
        ${TD_ECHO_ARGS:-}
}

# s_udp_bound PID PORT SECONDS: wait until UDP PORT is bound in the network
# namespace of process PID (the test's own port: PID's socket), read from
# /proc/PID/net/udp: no probe socket that could take the port from it.
# 1 if PID exits or time runs out.
s_udp_bound() {
    local pid=$1 hex n=$(( $3 * 20 )) i
    hex=$(printf ':%04X' "$2")
    for i in $(seq "$n"); do
        awk -v h="$hex" 'NR > 1 && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' \
            "/proc/$pid/net/udp" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# td_echo_finish NAME: wait for the call and its phone. 0 when sipp saw the
# whole call (401, 200, BYE answered) and at least half the packets came back
# with our SSRC from the worker port the SDP named (127.0.0.1, inside
# rtp.conf's range), and from nowhere else. Prints the phone's report, and
# why not; the worker's port is left in $TD_TMP/NAME.port.
td_echo_finish() {
    local name=$1 rc
    td_wait "$name"; rc=$?
    # A failed call never names a target: do not wait out the phone's 10 s.
    [ $rc -ne 0 ] && kill -TERM "${TD_BG[$name-rtp]}" 2>/dev/null
    td_wait "$name-rtp"
    if [ $rc -ne 0 ]; then
        echo "[$TD_NAME] $name: sipp exited $rc (expected 0: 401, INVITE with auth, 200, ACK, BYE, 200)"
        return 1
    fi
    python3 - "$name" "$TD_TMP/$name-rtp.json" "$TD_RTP_START" "$TD_RTP_END" \
        "$(( ${TD_ECHO_COUNT[$name]} / 2 ))" "$TD_TMP/$name.port" <<'PY'
import json, sys
name, path, lo, hi, need, portfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
try:
    r = json.load(open(path))
except (OSError, ValueError) as e:
    print("%s: no report from the phone (%s)" % (name, e))
    sys.exit(1)
print("%s: %s" % (name, json.dumps(r, sort_keys=True)))
bad = []
t = r.get("target")
if not t:
    bad.append("the phone never learned where to send (no SDP in the 200?)")
else:
    host, port = t.rsplit(":", 1)
    if host != "127.0.0.1" or not lo <= int(port) <= hi:
        bad.append("the 200's SDP names %s, not a worker port (127.0.0.1, %d-%d)" % (t, lo, hi))
    if r["echoed"] < need:
        bad.append("%d of %d packets came back; expected at least %d"
                   % (r["echoed"], r["sent"], need))
    for src, n in sorted(r["sources"].items()):
        if src != t:
            bad.append("%d packets came from %s, not from the worker port %s" % (n, src, t))
    open(portfile, "w").write(port + "\n")
for b in bad:
    print("%s: %s" % (name, b))
sys.exit(1 if bad else 0)
PY
}

# td_echo_call NAME SIP_PORT RTP_PORT [PACKETS]: td_echo_start, then finish.
td_echo_call() {
    td_echo_start "$@"
    td_echo_finish "$1"
}

# ---- network namespaces: several hosts on one machine ----------------------
# For scenarios that put the processes on different addresses
# (tests/sip/multihost). Every namespace made here is deleted by td_cleanup
# after the recorded PIDs are stopped; so are the veths and bridges in it (a
# veth dies with either end's namespace), and nothing is made in the root
# namespace. Commands enter a namespace with `nsenter --net=/run/netns/NS`
# (what `ip netns exec NS` does, minus its private mount namespace and /sys:
# so make test-fresh, which finds its processes by mount namespace, still
# finds them). It execs CMD in place, so the PID of `TD_NS=NS td_bg ...` is
# CMD's own.
TD_NETNS=()

# s_ns_prefix: sets TD_NS_PRE to the command prefix that runs in $TD_NS
# (empty when TD_NS is unset).
TD_NS_PRE=()
s_ns_prefix() {
    TD_NS_PRE=()
    [ -n "${TD_NS:-}" ] && TD_NS_PRE=(nsenter "--net=/run/netns/$TD_NS")
    return 0
}

# td_netns_check: 0 if this machine can make network namespaces; else 1 with
# the reason in TD_NETNS_WHY (for td_skip). After td_init: the probe
# namespace it makes is deleted on exit even if the test is interrupted here.
td_netns_check() {
    local probe=td$$-probe err
    TD_NETNS_WHY=
    if [ "$(id -u)" != 0 ]; then
        TD_NETNS_WHY="network namespaces need root (running as uid $(id -u))"
        return 1
    fi
    if ! command -v ip >/dev/null; then
        TD_NETNS_WHY="ip (iproute2) is not installed"
        return 1
    fi
    TD_NETNS+=("$probe")
    if ! err=$(ip netns add "$probe" 2>&1); then
        TD_NETNS_WHY="ip netns add failed: $err"
        return 1
    fi
    ip netns del "$probe" 2>/dev/null
    return 0
}

# td_netns_add NAME: make network namespace NAME (recorded for clean-up) with
# lo up. Fails the test if it cannot.
td_netns_add() {
    local ns=$1 err
    err=$(ip netns add "$ns" 2>&1) || td_fail "ip netns add $ns: $err"
    TD_NETNS+=("$ns")
    ip -n "$ns" link set lo up || td_fail "cannot bring up lo in $ns"
}

# td_netns_bridge NS: a bridge br0 in namespace NS, up (the switch hosts
# plug into).
td_netns_bridge() {
    ip -n "$1" link add br0 type bridge &&
        ip -n "$1" link set br0 up || td_fail "cannot make a bridge in $1"
}

# td_netns_plug NS SWITCH_NS PORT ADDR/LEN...: a veth pair between namespace
# NS (eth0, or $TD_NETNS_IF for a host's second interface, with the addresses
# given) and SWITCH_NS's bridge (port PORT, at most 15 characters), both ends up.
td_netns_plug() {
    local ns=$1 sw=$2 port=$3 a ifn=${TD_NETNS_IF:-eth0}; shift 3
    ip -n "$sw" link add "$port" type veth peer name "$ifn" netns "$ns" &&
        ip -n "$sw" link set "$port" master br0 up &&
        ip -n "$ns" link set "$ifn" up || td_fail "cannot plug $ns into $sw (veth $port)"
    for a in "$@"; do
        ip -n "$ns" addr add "$a" dev "$ifn" || td_fail "cannot add $a to $ifn in $ns"
    done
}

# s_netns_cleanup: stop whatever still runs in our namespaces (by PID: all
# of them were started by this test), then delete the namespaces.
s_netns_cleanup() {
    local ns p i left
    [ ${#TD_NETNS[@]} -eq 0 ] && return 0
    for ns in "${TD_NETNS[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$p" 2>/dev/null; done
    done
    for i in $(seq 20); do
        left=
        for ns in "${TD_NETNS[@]}"; do left=$left$(ip netns pids "$ns" 2>/dev/null); done
        [ -z "$left" ] && break
        sleep 0.1
    done
    for ns in "${TD_NETNS[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    TD_NETNS=()
}
