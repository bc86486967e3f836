#!/usr/bin/env python3
"""Check the reports of two rtp_peer.py phones in one bridged call.

--side NAME:REPORT:OTHER_PHONE_PORT:OTHER_SSRC (twice). For each side:
  * the SDP it received (its rtp_peer target) names a worker address
    (--hosts, a comma-separated list; default 127.0.0.1) and a port in
    --range, and not the other phone's own port;
  * it received at least --min packets carrying the other phone's SSRC;
  * every packet came from the address and port that SDP named (the worker).
The two sides must have been given different worker ports."""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--range", required=True)
    ap.add_argument("--side", action="append", required=True)
    ap.add_argument("--min", type=int, default=25)
    ap.add_argument("--hosts", default="127.0.0.1",
                    help="the workers' SDP addresses, comma-separated")
    a = ap.parse_args()
    hosts = a.hosts.split(",")
    lo, hi = map(int, a.range.split("-"))
    bad = []
    targets = []
    for spec in a.side:
        name, path, other_port, other_ssrc = spec.split(":")
        try:
            with open(path) as f:
                r = json.load(f)
        except (OSError, ValueError) as e:
            bad.append("%s: no RTP report (%s)" % (name, e))
            continue
        print("%s: %s" % (name, json.dumps(r, sort_keys=True)))
        t = r.get("target")
        if not t:
            bad.append("%s: never learned where to send RTP (no SDP seen?)" % name)
            continue
        host, port = t.rsplit(":", 1)
        port = int(port)
        targets.append(port)
        if host not in hosts:
            bad.append("%s: SDP c= is %s, expected a worker's (%s)" % (name, host, a.hosts))
        if port == int(other_port):
            bad.append("%s: SDP names the other phone's port %d, not the worker" % (name, port))
        elif not lo <= port <= hi:
            bad.append("%s: SDP m= port %d is outside rtp.conf's %d-%d" % (name, port, lo, hi))
        got = r.get("ssrcs", {}).get(other_ssrc.lower(), 0)
        if got < a.min:
            bad.append("%s: received %d packets from the other phone (ssrc %s), expected >= %d"
                       % (name, got, other_ssrc, a.min))
        for src, n in r.get("sources", {}).items():
            if src != t:
                bad.append("%s: %d packets came from %s, not from the worker port %s"
                           % (name, n, src, t))
    if len(targets) == 2 and targets[0] == targets[1]:
        bad.append("both legs were given the same worker port %d" % targets[0])
    for b in bad:
        print("media: " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
