#!/bin/bash
# deploy/smoke-call.sh PROJECT [ROUNDS]: calls through a running compose
# stack, from this host (no container needed). 1002 registers; each round,
# 1001 has a call to 600 (Echo) up while it calls 1002, both phones sending
# RTP, so two calls are up at once and the router's least-loaded choice puts
# them on two workers when there are two. The phones (sipp, rtp_peer.py)
# bind the stack network's gateway address, so the containers reach them
# directly; SIP goes to the signaling container's address, port 5060.
# Passes if every call completes and every phone gets SDP naming a media
# container and receives RTP from that address only (never from the other
# phone). Prints which worker each call used. Expects the users of the
# repository's etc/ (1001/1001pass, 1002/1002pass).
#
#   TANDEM_CONF=/path/to/etc docker-compose -f deploy/docker-compose.yml -p P up -d --scale media=2
#   bash deploy/smoke-call.sh P [ROUNDS]
#
# The same phones (tests/sip/compose/calls.sh) run in `make test`'s compose
# test, tests/sip/compose/run, which also starts the stack, scales it to
# three workers and takes it down.
set -uo pipefail
proj=${1:?usage: smoke-call.sh PROJECT [ROUNDS]}
rounds=${2:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/tests/lib.sh"
. "$root/tests/sip/compose/calls.sh"
td_show_logs() { :; }      # the stack's logs: docker-compose -p PROJECT logs

td_init smoke
tc_find "$proj"
td_log "signaling $TC_SIG:5060, phones on $TC_GW, media workers: $TC_MEDIA"
tc_register 1002 1002pass "$TD_UAS_PORT"
td_log "1002 registered"
for n in $(seq "$rounds"); do
    tc_echo_start "echo$n" "$TD_SIPP_PORT0" "$TD_RTP_PEER0"
    tc_wait_answered "echo$n"
    tc_call_start "call$n" "$TD_UAC_PORT" "$TD_UAS_PORT" $((TD_RTP_PEER0 + 2))
    tc_finish "echo$n" "call$n" || td_fail "round $n (above)"
    td_log "round $n: echo on $(cat "$TD_TMP/echo$n.worker"), 1001 -> 1002 on $(cat "$TD_TMP/call$n.worker")"
done
td_log "PASS: $rounds round(s), every phone got RTP from the worker its SDP named"
exit 0
