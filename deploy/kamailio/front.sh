#!/bin/bash
# tandem-front: Kamailio in front of the signaling replicas of a compose
# stack. The replicas come and go with `--scale signaling=N`, so the
# dispatcher list is made from DNS: every TANDEM_FRONT_INTERVAL s (2) the
# names in TANDEM_FRONT_NODES ("signaling:5060"; NAME:PORT, space
# separated) are resolved (Docker's DNS gives one A record per replica),
# and when the set of addresses changed, dispatcher.list is rewritten and
# reloaded (`kamcmd dispatcher.reload`). Kamailio's own OPTIONS pings still
# decide which listed node is up. Kamailio runs in the foreground; the
# script stops it on SIGTERM.
#   TANDEM_FRONT_NODES      NAME:PORT ... of the signaling nodes
#   TANDEM_FRONT_INTERVAL   seconds between DNS lookups
#   TANDEM_FRONT_ARGS       more kamailio arguments (e.g. -A DEBUG_LEVEL=2
#                           -A 'ALIAS=sip.example.com')
set -u
nodes=${TANDEM_FRONT_NODES:-signaling:5060}
interval=${TANDEM_FRONT_INTERVAL:-2}
run=/run/kamailio
list=$run/dispatcher.list
mkdir -p "$run"

# s_list: the dispatcher list for the current DNS answers (sorted).
s_list() {
    local n host port
    for n in $nodes; do
        host=${n%:*}; port=${n##*:}
        getent ahostsv4 "$host" | awk -v p="$port" '$2 == "DGRAM" { print "1 sip:" $1 ":" p " 0 0" }'
    done | sort -u
}

s_list > "$list.new"; mv "$list.new" "$list"
echo "tandem-front: nodes: $(awk '{ print $2 }' "$list" | paste -sd ' ')"
# shellcheck disable=SC2086
kamailio -f /etc/kamailio/kamailio.cfg -DD -E -Y "$run" -w "$run" \
    -A "DS_LIST=\"$list\"" ${TANDEM_FRONT_ARGS:-} &
kpid=$!
trap 'kill -TERM $kpid 2>/dev/null; wait $kpid; exit 0' TERM INT
while kill -0 "$kpid" 2>/dev/null; do
    sleep "$interval" &
    wait $!
    s_list > "$list.new"
    if [ -s "$list.new" ] && ! cmp -s "$list.new" "$list"; then
        mv "$list.new" "$list"
        echo "tandem-front: nodes now: $(awk '{ print $2 }' "$list" | paste -sd ' ')"
        kamcmd -s "unixs:$run/kamailio_ctl" dispatcher.reload >/dev/null ||
            echo "tandem-front: dispatcher.reload failed"
    fi
done
wait "$kpid"
