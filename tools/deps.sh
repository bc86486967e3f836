#!/bin/bash
# Install the Debian packages Tandem needs, if any is missing. Idempotent.
set -euo pipefail
pkgs=(build-essential pkg-config libosip2-dev libevent-dev libzmq3-dev
      libprotobuf-c-dev protobuf-c-compiler libcmocka-dev libsrtp2-dev libedit-dev sip-tester python3
      libssl-dev openssl stunnel4
      libpq-dev postgresql
      libhiredis-dev redis-server
      iproute2 procps nftables
      baresip-core linphone-cli kamailio tcpdump
      asterisk-core-sounds-en-wav asterisk-core-sounds-en asterisk-moh-opsound-wav
      sipvicious fail2ban clang-14 libclang-rt-14-dev)
# libedit-dev: tandemctl's prompt (line editing, history), BSD licensed.
# libpq-dev: the router's CDRs to PostgreSQL (router/cdr_pgsql.c); postgresql
# is the server tests/sip/cdr_pgsql starts (initdb, pg_ctl) as user postgres.
# libhiredis-dev: the cluster's state in Redis (lib/td_store.c, hiredis's libevent
# adapter); redis-server is the Redis the unit test and tests/sip/cluster_* start.
# iproute2 (ip) and procps (pgrep) are used by the integration tests; a
# standard install has them, a minimal root (make test-fresh) does not.
# nftables (nft) makes the NAT of tests/sip/nat_phone and nat_extern.
# libssl-dev: TLS (libevent-openssl); openssl makes the TLS tests' certificate;
# stunnel4 puts TLS under the tests' phones (Debian's sipp has no TLS).
# (tests/sip/multihost also uses nsenter, from util-linux, which is Essential.)
# baresip-core, linphone-cli (linphone-daemon), kamailio and tcpdump are the
# real phones, the front proxy and the capture of tests/sip/softphones;
# kamailio is also the SIP load balancer of tests/sip/kamailio_dispatcher
# (deploy/kamailio/).
# sipvicious (svwar, svcrack) attacks the switch in tests/sip/sipvicious;
# fail2ban's fail2ban-regex checks that tests/sip/ban's log lines are read
# by etc/fail2ban/filter.d/tandem.conf (nothing starts the fail2ban service
# under a test).
# asterisk-core-sounds-en-wav puts the prompts in sounds/en_US_f_Allison;
# asterisk-core-sounds-en (a Recommends, skipped with --no-install-recommends)
# makes the sounds/en link to it. tandem-media finds either (media/sound_dir.h).
# clang-14 and libclang-rt-14-dev (libFuzzer's runtime, libclang_rt.fuzzer):
# the fuzz harnesses of tests/fuzz (make fuzz; a short pass in make test).
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages and not root; run as root or install: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The packages' own services (fail2ban, redis-server, postgresql, kamailio)
# are not started by the install: the tests start what they need on their own
# ports, and a fail2ban nobody configured has no business banning hosts.
# policy-rc.d (read by invoke-rc.d and deb-systemd-invoke) says so, and is
# removed again unless it was there before.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
