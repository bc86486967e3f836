# tests/sip/compose/calls.sh - phones for a running compose stack, from the
# Docker host. Sourced after tests/lib.sh's td_init (temp dir, port block,
# cleanup by PID); used by tests/sip/compose/run and deploy/smoke-call.sh.
#
# The phones (sipp, tests/tools/rtp_peer.py) bind the stack network's
# gateway address, which is this host's own address on the bridge, so the
# containers reach them directly; SIP goes to the signaling container's
# address, port 5060. Ports come from the test's block (lib.sh).
#
#   tc_find PROJECT          TC_NET TC_GW TC_SIG, TC_MEDIA (the workers' addresses)
#   tc_register USER PASS PORT
#   tc_echo_start NAME SIP_PORT RTP_PORT          1001 calls 600 (Echo), 3 s of RTP
#   tc_call_start NAME UAC_PORT UAS_PORT RTP_PORT  1001 calls 1002 (registered at
#                                                  UAS_PORT), 2 s of RTP each way
#   tc_wait_answered NAME    wait until the call's caller has the answer's SDP
#   tc_finish NAME...        wait for the calls, check their RTP; each call's
#                            worker address goes to $TD_TMP/NAME.worker (and
#                            the callee's to NAME-callee.worker)

TC_PROJECT=
TC_NET=
TC_GW=
TC_SIG=
TC_MEDIA=
declare -A TC_KIND       # NAME -> echo | call

# tc_find PROJECT: the addresses of a running stack (after it is healthy).
tc_find() {
    TC_PROJECT=$1
    TC_NET=${TC_PROJECT}_default
    TC_GW=$(docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' "$TC_NET") ||
        td_fail "no network $TC_NET"
    TC_SIG=$(tc_addrs signaling)
    TC_MEDIA=$(tc_addrs media | tr '\n' ' ')
    TC_MEDIA=${TC_MEDIA% }
    [ -n "$TC_GW" ] && [ -n "$TC_SIG" ] && [ -n "$TC_MEDIA" ] ||
        td_fail "project $TC_PROJECT: gateway '$TC_GW', signaling '$TC_SIG', media '$TC_MEDIA'"
}

# tc_addrs SERVICE: the addresses of the service's running containers on the
# stack network, one a line, in container-number order.
tc_addrs() {
    local c
    for c in $(docker ps -q --filter "label=com.docker.compose.project=$TC_PROJECT" \
                   --filter "label=com.docker.compose.service=$1"); do
        docker inspect -f "{{index .Config.Labels \"com.docker.compose.container-number\"}} {{(index .NetworkSettings.Networks \"$TC_NET\").IPAddress}}" "$c"
    done | sort -n | cut -d' ' -f2
}

# s_tc_sipp_bg NAME ARGS...: sipp from the gateway address to signaling, in
# the background, recorded for lib.sh's cleanup; td_wait NAME collects it.
s_tc_sipp_bg() {
    local name=$1; shift
    local mp=$TD_MP_NEXT
    TD_MP_NEXT=$((TD_MP_NEXT + 4))
    [ $TD_MP_NEXT -ge $((TD_MP0 + 40)) ] && TD_MP_NEXT=$TD_MP0
    ( cd "$TD_TMP" && exec timeout -k 2 "$TD_SIPP_TIMEOUT" sipp "$TC_SIG:5060" -i "$TC_GW" \
        -nostdin -mp "$mp" -timeout 20s -timeout_error -recv_timeout 10000 \
        -trace_err -error_file "$TD_LOGS/$name.err" \
        -trace_msg -message_file "$TD_LOGS/$name.msg" "$@" ) \
        </dev/null >"$TD_LOGS/$name.out" 2>&1 &
    TD_PIDS+=($!)
    TD_BG[$name]=$!
}

# s_tc_phone NAME PORT SSRC COUNT: an RTP phone on the gateway address that
# sends COUNT packets to what $TD_TMP/NAME.target names.
s_tc_phone() {
    rm -f "$TD_TMP/$1.target" "$TD_TMP/$1.json"
    td_bg "$1-rtp" python3 "$TD_TOOLS/rtp_peer.py" --bind "$TC_GW" --port "$2" \
        --target-file "$TD_TMP/$1.target" --ssrc "$3" --count "$4" --wait 15 \
        --linger 0.5 --out "$TD_TMP/$1.json"
}

# tc_register USER PASS PORT: 401, then 200; the contact is the gateway
# address and PORT (the REGISTER is sent from it).
tc_register() {
    s_tc_sipp_bg "reg-$1" -sf "$TD_ROOT/tests/sip/common/register.xml" -p "$3" -m 1 \
        -au "$1" -ap "$2" -key user "$1" -key contact_port "$3" -key expires 120
    td_wait "reg-$1" || td_fail "REGISTER $1 from $TC_GW:$3 (401, then 200 with auth)" "reg-$1"
}

# tc_echo_start NAME SIP_PORT RTP_PORT: 1001 calls 600; its phone sends 3 s
# of RTP to the worker, which echoes it.
tc_echo_start() {
    TC_KIND[$1]=echo
    s_tc_phone "$1" "$3" 0x600 150
    s_tc_sipp_bg "$1" -sf "$TD_ROOT/tests/sip/echo/uac.xml" -p "$2" -m 1 -s 600 -d 3500 \
        -au 1001 -ap 1001pass -key rtpport "$3" -key target "$TD_TMP/$1.target"
}

# tc_call_start NAME UAC_PORT UAS_PORT RTP_PORT: 1001 calls 1002, which
# answers on UAS_PORT (where it registered); the two phones (RTP_PORT and
# RTP_PORT+1) talk for 2 s through the worker.
tc_call_start() {
    local name=$1 uac=$2 uas=$3 rtp=$4
    TC_KIND[$name]=call
    s_tc_phone "$name-callee" $((rtp + 1)) 0x2222 100
    s_tc_sipp_bg "$name-uas" -sf "$TD_ROOT/tests/sip/call_basic/uas.xml" -p "$uas" -m 1 \
        -key rtpport $((rtp + 1)) -key target "$TD_TMP/$name-callee.target"
    s_tc_phone "$name" "$rtp" 0x1111 100
    # The callee's sipp must be listening before the INVITE reaches it.
    local i
    for i in $(seq 50); do
        td_ports_free "$uas" || break
        sleep 0.1
    done
    s_tc_sipp_bg "$name" -sf "$TD_ROOT/tests/sip/call_basic/uac.xml" -p "$uac" -m 1 -s 1002 \
        -d 2500 -au 1001 -ap 1001pass -key rtpport "$rtp" -key target "$TD_TMP/$name.target"
}

# tc_wait_answered NAME: wait (at most 10 s) until the caller has the
# answer's SDP, i.e. the router has given the call a worker.
tc_wait_answered() {
    td_wait_file "$TD_TMP/$1.target" 10 ||
        td_fail "call $1: no answer with SDP within 10 s" "$1"
}

# tc_finish NAME...: wait for each call's sipp and phones, then check that
# every phone got the answer's SDP naming a worker's address, and at least
# half its packets (echoed or from the other phone) from that address and
# port only. Prints one line per phone; $TD_TMP/NAME.worker gets the address.
tc_finish() {
    local name ok=0 phones=()
    for name in "$@"; do
        if [ "${TC_KIND[$name]}" = call ]; then
            td_wait "$name" || { echo "call $name: the caller's sipp exited $? (401, INVITE with auth, 180, 200, ACK, BYE, 200)"; ok=1; }
            td_wait "$name-uas" || { echo "call $name: the callee's sipp exited $? (INVITE, 180, 200, ACK, BYE, 200)"; ok=1; }
            td_wait "$name-callee-rtp"
            phones+=("$name-callee:call")
        else
            td_wait "$name" || { echo "call $name: the echo caller's sipp exited $? (401, INVITE with auth, 200, ACK, BYE, 200)"; ok=1; }
        fi
        td_wait "$name-rtp"
        phones+=("$name:${TC_KIND[$name]}")
    done
    python3 - "$TD_TMP" "$TC_MEDIA" "${phones[@]}" <<'PY' || ok=1
import json, sys
tmp, media = sys.argv[1], sys.argv[2].split()
bad = 0
for spec in sys.argv[3:]:
    name, kind = spec.split(":")
    try:
        r = json.load(open("%s/%s.json" % (tmp, name)))
    except (OSError, ValueError) as e:
        print("%s: no report from the phone (%s)" % (name, e)); bad = 1; continue
    t = r.get("target") or "-:-"
    host = t.rsplit(":", 1)[0]
    got = r["echoed"] if kind == "echo" else r["received"]
    why = []
    if host not in media:
        why.append("the SDP it got names %s, not a worker (%s)" % (t, " ".join(media)))
    if got < r["sent"] // 2 or got == 0:
        why.append("%d of %d packets %s" % (got, r["sent"], "came back" if kind == "echo" else "arrived"))
    for src in r["sources"]:
        if src != t:
            why.append("%d packets came from %s, not from %s" % (r["sources"][src], src, t))
    print("%s: worker %s, sent %d, %s %d from %s%s" % (
        name, t, r["sent"], "echoed" if kind == "echo" else "received", got,
        ",".join(sorted(r["sources"])) or "nowhere", "" if not why else ": " + "; ".join(why)))
    if why:
        bad = 1
    else:
        open("%s/%s.worker" % (tmp, name), "w").write(host + "\n")
sys.exit(bad)
PY
    if [ $ok -ne 0 ]; then
        for name in "$@"; do
            td_show_sipp "$name"
            [ "${TC_KIND[$name]}" = call ] && td_show_sipp "$name-uas"
        done
    fi
    return $ok
}
