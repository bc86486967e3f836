#!/bin/bash
# defaults.sh DIR: the second half of config_errors, run by it as
#     unshare -rn bash defaults.sh DIR
# i.e. in a private network namespace, where the default ports collide with
# nothing. DIR/etc holds only sip.conf (without udpbindaddr) and
# extensions.conf. The three processes start from DIR/run with -c DIR/etc
# and must come up on the defaults: the router binds tcp://127.0.0.1:5570,
# signaling answers OPTIONS on 5060, media takes RTP ports from 10000-20000
# and, with no address to detect, puts 127.0.0.1 in SDP. A call to 600 gets
# its RTP echoed, and its CDR lands in DIR/run/var/cdr-csv/Master.csv.
# Exit 0 on pass; everything started is stopped by PID on exit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib.sh"
TD_NAME=config_errors/defaults
dir=$1
TD_TMP=$dir
TD_CONF=$dir/etc
TD_LOGS=$dir/log
TD_CDR=$dir/run/var/cdr-csv
TD_SIP_PORT=5060
TD_RTP_START=10000
TD_RTP_END=20000
TD_MP0=7000
TD_MP_NEXT=7000

s_stop() {
    local p
    trap - EXIT
    for p in "${TD_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${TD_PIDS[@]}"; do td_wait_gone "$p" 3 || kill -KILL "$p" 2>/dev/null; done
}
trap s_stop EXIT
trap 'exit 130' INT TERM

ip link set lo up || { echo "[$TD_NAME] cannot bring lo up in the namespace"; exit 1; }
cd "$dir/run" || exit 1
td_log "config dir holds: $(ls "$TD_CONF" | tr '\n' ' ')"

td_start_proc router router; r=$TD_PROC_PID
td_start_proc media media; m=$TD_PROC_PID
td_start_proc signaling signaling; s=$TD_PROC_PID
TD_TANDEM_PIDS=("$r" "$m" "$s")
python3 "$TD_TOOLS/sip_ping.py" --port 5060 --wait 10 >"$TD_LOGS/ping.log" 2>&1 ||
    td_fail "no 200 to OPTIONS on 127.0.0.1:5060 within 10 s (last: $(tail -1 "$TD_LOGS/ping.log"))"
td_wait_log router 'Media worker media-1 is up' 5 || td_fail "the router never heard media-1"
td_wait_log router 'Peer sig-1 \(signaling\) is up' 5 || td_fail "the router never heard sig-1"
td_wait_log signaling 'bus: router \(router' 5 || td_fail "signaling never heard the router"
grep -q 'bound tcp://127.0.0.1:5570' "$TD_LOGS/router.log" ||
    td_fail "the router did not bind the default bus endpoint tcp://127.0.0.1:5570"
grep -q 'listening on udp 0.0.0.0:5060' "$TD_LOGS/signaling.log" ||
    td_fail "signaling is not on the default 0.0.0.0:5060"
grep -q 'rtp.conf not found: RTP ports 10000-20000' "$TD_LOGS/media.log" ||
    td_fail "media did not fall back to RTP ports 10000-20000"
td_log "defaults: bus 5570, SIP 0.0.0.0:5060, RTP 10000-20000; OPTIONS 200"

td_echo_call defaults-call 5062 8000 ||
    td_fail "echo call to 600 on the defaults failed" defaults-call
td_expect_cdr '"600"' 5
td_log "echo call ok; CDR in ./var/cdr-csv/Master.csv: $(tail -1 "$TD_CDR/Master.csv")"
td_alive || td_fail "a process died"
exit 0
