#!/bin/bash
# bench/rtp_relay.sh - packets a second one media worker relays on loopback.
#
#   bench/rtp_relay.sh [CALLS] [SECONDS] [WINDOW]     (defaults 50 5 8)
#
# Builds bin/tandem-media and build/bench/rtp_relay, starts one worker with a
# throw-away config (127.0.0.1, a free bus port), lets rtp_relay play the
# router and the phones (see bench/rtp_relay.c), and stops the worker by PID.
# CALLEE_PT=8 makes the callees answer PCMA to the callers' PCMU, so every
# relayed packet is transcoded (default 0: the same codec, no conversion).
# MEDIA_BIN=path runs another build of the worker (an ASan one, say);
# LOGLEVEL=info SHOW_LOG=1 prints its log (per-call counters at release).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
calls=${1:-50}; seconds=${2:-5}; window=${3:-8}

make --no-print-directory -s bin/tandem-media build/gen/tandem.pb-c.h || exit 1
mkdir -p build/bench
cc -O2 -g -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -Ilib -Ibuild/gen -Imedia \
    $(pkg-config --cflags libevent libzmq libprotobuf-c) \
    -o build/bench/rtp_relay bench/rtp_relay.c media/sdp.c media/sdp_crypto.c lib/*.c build/gen/tandem.pb-c.c \
    $(pkg-config --libs libevent libzmq libprotobuf-c) || exit 1

tmp=$(mktemp -d /tmp/tandem-rtp-bench.XXXXXX)
media_pid=
cleanup() {
    [ -n "$media_pid" ] && kill -TERM "$media_pid" 2>/dev/null && wait "$media_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

bus_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rtp_start=$((21000 + ($$ % 200) * 16 * 4))   # below the ephemeral ports
cat >"$tmp/rtp.conf" <<CONF
[general]
rtpstart=$rtp_start
rtpend=$((rtp_start + calls * 4 + 63))
CONF
cat >"$tmp/tandem.conf" <<CONF
[general]
loglevel=${LOGLEVEL:-notice}
[bus]
endpoint=tcp://127.0.0.1:$bus_port
[media]
identity=media-bench
address=127.0.0.1
capacity=$calls
CONF

"${MEDIA_BIN:-bin/tandem-media}" -c "$tmp" >"$tmp/media.log" 2>&1 &
media_pid=$!
build/bench/rtp_relay -e "tcp://127.0.0.1:$bus_port" -n "$calls" -d "$seconds" -w "$window" \
    -p "${CALLEE_PT:-0}" | tee "$tmp/out"
rc=${PIPESTATUS[0]}
# The worker's CPU (user + system) over the whole run, per packet it relayed:
# steadier than packets/s on a busy host.
ticks=$(awk '{print $14 + $15}' "/proc/$media_pid/stat" 2>/dev/null)
relayed=$(grep -o 'received [0-9]* in all' "$tmp/out" | grep -o '[0-9]*')
[ -n "$ticks" ] && [ -n "$relayed" ] && [ "$relayed" -gt 0 ] &&
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v n="$relayed" \
        'BEGIN { printf "rtp_relay: worker CPU %.2f s, %.2f us per relayed packet\n", t / hz, t / hz * 1e6 / n }'
kill -TERM "$media_pid" 2>/dev/null; wait "$media_pid"; media_rc=$?; media_pid=
[ $rc -eq 0 ] && [ $media_rc -eq 0 ] || { echo "--- media log (exit $media_rc)"; cat "$tmp/media.log"; rc=1; }
[ -n "${SHOW_LOG:-}" ] && cat "$tmp/media.log"
exit $rc
