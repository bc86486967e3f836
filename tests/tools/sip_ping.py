#!/usr/bin/env python3
"""Send SIP OPTIONS over UDP to 127.0.0.1:PORT until a 200 comes back.

sip_ping.py --port 5060 [--wait 10]   exit 0 on 200, 1 otherwise.
Prints the status line of the last response (or "no response")."""
import argparse
import os
import random
import socket
import sys
import time


def options(lport, rport, n):
    tag = "%08x" % random.getrandbits(32)
    return ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-ping-%s-%d;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:ping@127.0.0.1:%d>;tag=%s\r\n"
            "To: <sip:127.0.0.1:%d>\r\n"
            "Call-ID: ping-%s-%d@127.0.0.1\r\n"
            "CSeq: %d OPTIONS\r\n"
            "Accept: application/sdp\r\n"
            "Content-Length: 0\r\n\r\n"
            % (rport, lport, tag, n, lport, tag, rport, tag, os.getpid(), n)
            ).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--wait", type=float, default=10.0)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    lport = s.getsockname()[1]
    deadline = time.time() + a.wait
    last = "no response"
    n = 0
    while time.time() < deadline:
        n += 1
        s.sendto(options(lport, a.port, n), ("127.0.0.1", a.port))
        end = min(deadline, time.time() + 0.3)
        while time.time() < end:
            s.settimeout(max(0.01, end - time.time()))
            try:
                data, _ = s.recvfrom(65535)
            except (socket.timeout, ConnectionRefusedError):
                continue
            line = data.split(b"\r\n", 1)[0].decode("latin-1")
            last = line
            if line.startswith("SIP/2.0 200"):
                print(line)
                return 0
    print(last)
    return 1


if __name__ == "__main__":
    sys.exit(main())
