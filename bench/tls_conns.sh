#!/bin/bash
# bench/tls_conns.sh - memory per open TLS (or TCP) connection: the resident
# set (VmRSS) of tandem-signaling before and after N phones register, each
# over its own connection that stays open (tests/tools/tls_phone.py; peers
# phone0001..phoneN without a secret, so no challenge).
#
#   bench/tls_conns.sh [N]          N defaults to 1000; BENCH_TRANSPORT=tcp for TCP
#
# Prints RSS before, after, and (after - before) / N. Stops what it started
# by PID.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
. tests/lib.sh
n=${1:-1000}
transport=${BENCH_TRANSPORT:-tls}
for p in router media signaling; do
    [ -x "bin/tandem-$p" ] || { echo "tls_conns: bin/tandem-$p missing (make all)" >&2; exit 1; }
done
tmp=$(mktemp -d /tmp/tandem-tlsconns.XXXXXX)
pids=()
cleanup() {
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    [ -n "${TD_LOCK:-}" ] && rm -rf "$TD_LOCK"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
s_claim_ports || exit 1
sip=$TD_BASE; bus=$((TD_BASE + 1)); tls=$((TD_BASE + 2))
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1 || exit 1
mkdir -p "$tmp/etc" "$tmp/cdr"
{
    echo "[general]"
    echo "udpbindaddr=127.0.0.1:$sip"
    echo "context=default"
    echo "maxexpiry=3600"
    if [ "$transport" = tcp ]; then
        echo "tcpenable=yes"
        echo "tcpbindaddr=127.0.0.1:$tls"
        flag=--tcp
    else
        echo "tlsenable=yes"
        echo "tlsbindaddr=127.0.0.1:$tls"
        echo "tlscertfile=$tmp/cert.pem"
        echo "tlsprivatekey=$tmp/key.pem"
        flag=
    fi
    for i in $(seq -f %04g 1 "$n"); do
        printf '[phone%s]\ntype=friend\nhost=dynamic\ntransport=%s\n' "$i" "$transport"
    done
} > "$tmp/etc/sip.conf"
printf '[default]\nexten => 1,1,Hangup()\n' > "$tmp/etc/extensions.conf"
printf '[general]\nrtpstart=%d\nrtpend=%d\n' $((TD_BASE + 64)) $((TD_BASE + 127)) > "$tmp/etc/rtp.conf"
printf '[general]\nloglevel=notice\n[bus]\nendpoint=tcp://127.0.0.1:%d\n[router]\ncdrdir=%s\n[media]\naddress=127.0.0.1\n' \
    "$bus" "$tmp/cdr" > "$tmp/etc/tandem.conf"
for p in router media signaling; do
    "bin/tandem-$p" -c "$tmp/etc" </dev/null >>"$tmp/$p.log" 2>&1 &
    pids+=($!)
done
sig=${pids[2]}
python3 tests/tools/sip_ping.py --port "$sip" --wait 10 >/dev/null || { echo "tls_conns: no switch"; exit 1; }
sleep 1
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$sig/status"; }
before=$(rss)
fifo=$tmp/hold
mkfifo "$fifo"
python3 tests/tools/tls_phone.py --port "$tls" $flag register --count "$n" --hold 300 \
    <"$fifo" >"$tmp/phones.out" 2>&1 &
phones=$!
pids+=($phones)
exec 9>"$fifo"
for i in $(seq 600); do
    grep -q "^registered" "$tmp/phones.out" && break
    kill -0 "$phones" 2>/dev/null || break
    sleep 0.5
done
grep "^registered" "$tmp/phones.out" || { cat "$tmp/phones.out"; exit 1; }
sleep 1
after=$(rss)
conns=$(ls -l /proc/$sig/fd 2>/dev/null | grep -c socket)
echo "tls_conns: $transport, $n phones registered, each on its own connection ($conns sockets open in tandem-signaling)"
echo "tls_conns: tandem-signaling VmRSS before $before KiB, after $after KiB: $(( (after - before) * 1024 / n )) bytes per connection (registration included)"
echo x >&9
exec 9>&-
wait "$phones" 2>/dev/null
