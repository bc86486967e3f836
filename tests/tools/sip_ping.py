#!/usr/bin/env python3
"""Send SIP OPTIONS over UDP to 127.0.0.1:PORT until the switch is ready.

sip_ping.py --port 5060 [--wait 10]   exit 0 on 200 or 404, 1 otherwise.
The OPTIONS has no user part, so it asks for extension "s": as chan_sip, the
switch answers 200 when that exists in [general]'s context and 404 when not;
either way signaling and the router are both up (without a router: 503).
--any takes any final response (signaling is up, whatever the router).
--host ADDR pings another address, --bind ADDR sends from that address
(default: 127.0.0.1 for 127.0.0.1, else the one the route picks).
Prints the status line of the last response (or "no response")."""
import argparse
import os
import random
import socket
import sys
import time


def options(lhost, lport, rhost, rport, n):
    tag = "%08x" % random.getrandbits(32)
    return ("OPTIONS sip:%s:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-ping-%s-%d;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:ping@%s:%d>;tag=%s\r\n"
            "To: <sip:%s:%d>\r\n"
            "Call-ID: ping-%s-%d@%s\r\n"
            "CSeq: %d OPTIONS\r\n"
            "Accept: application/sdp\r\n"
            "Content-Length: 0\r\n\r\n"
            % (rhost, rport, lhost, lport, tag, n, lhost, lport, tag, rhost, rport,
               tag, os.getpid(), lhost, n)
            ).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--wait", type=float, default=10.0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--bind")
    ap.add_argument("--any", action="store_true")
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if a.bind is None and a.host == "127.0.0.1":
        a.bind = "127.0.0.1"
    s.bind((a.bind or "", 0))
    lport = s.getsockname()[1]
    lhost = a.bind
    if not lhost:
        # the address the route to the switch picks (connect sends nothing)
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect((a.host, a.port))
            lhost = probe.getsockname()[0]
        except OSError:
            lhost = "127.0.0.1"
        probe.close()
    deadline = time.time() + a.wait
    last = "no response"
    n = 0
    while time.time() < deadline:
        n += 1
        try:
            s.sendto(options(lhost, lport, a.host, a.port, n), (a.host, a.port))
        except OSError as e:       # no route yet, or an ICMP error reported late
            last = "send: %s" % e
            time.sleep(0.3)
            continue
        end = min(deadline, time.time() + 0.3)
        while time.time() < end:
            s.settimeout(max(0.01, end - time.time()))
            try:
                data, _ = s.recvfrom(65535)
            except (socket.timeout, ConnectionRefusedError):
                continue
            line = data.split(b"\r\n", 1)[0].decode("latin-1")
            last = line
            if (line.startswith("SIP/2.0 200") or line.startswith("SIP/2.0 404")
                    or (a.any and not line.startswith("SIP/2.0 1"))):
                print(line)
                return 0
    print(last)
    return 1


if __name__ == "__main__":
    sys.exit(main())
