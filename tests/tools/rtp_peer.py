#!/usr/bin/env python3
"""A tiny RTP phone for the integration tests.

Binds 127.0.0.1:PORT (or --bind ADDR), learns where to send (--target HOST:PORT, or the first
line "HOST PORT ..." of --target-file, written by sipp once it has read the
SDP), sends --count PCMU packets every 20 ms with --ssrc, keeps receiving
while it sends and for --linger seconds after, then writes a JSON report:

  {"target": "127.0.0.1:20040", "sent": 100, "received": 97,
   "sources": {"127.0.0.1:20040": 97}, "ssrcs": {"0x2222": 97},
   "echoed": 0, "first_rx_after_ms": 12.5}

"echoed" counts received packets carrying our own SSRC and a sequence
number we sent (what an echo returns). Always exits 0 after writing the
report unless it could not bind; a missing target is reported as such.

With --foreign-stats the report also has "foreign": what arrived with an
SSRC other than ours (prompts the media worker plays), e.g.
  {"packets": 70, "span_ms": 1381.0, "rate_pps": 50.0, "pts": {"0": 70},
   "sizes": {"172": 70}, "markers": 1, "seq_steps_bad": 0, "ts_steps_bad": 0}
(seq must go up by 1 and the timestamp by 160 between consecutive packets
of one SSRC; rate_pps is (packets - 1) / span).

With --rebind-at N, packets N and later leave from a second socket on
another port of the same address (a NAT that rebinds the phone: same SSRC,
sequence numbers going on); the first socket still receives. The report
then has "rebound_from": that port.

With --dtmf DIGITS, RFC 4733 telephone-events (payload type --dtmf-pt)
replace the audio from --dtmf-at seconds on: per key, 4 packets of the
event growing, then 3 end packets (same timestamp), then 3 packets of audio
before the next key. Sequence numbers go on; they count as sent.

--pt N sends the audio with payload type N (default 0, PCMU) and --payload
HEX fills each 160-byte payload with that byte pattern, repeated (default
ff, µ-law silence). With --payload-stats the report also has "rx_pts" (RTP
received with an SSRC other than ours, by payload type) and "rx_payloads"
(the same packets by the hex of their first 16 payload bytes, at most 8
distinct kept), e.g. {"rx_pts": {"8": 150}, "rx_payloads": {"d5aa...": 150}}."""
import argparse
import json
import os
import select
import socket
import struct
import sys
import time


def read_target(path):
    try:
        with open(path) as f:
            parts = f.read().split()
    except OSError:
        return None
    if len(parts) < 2:
        return None
    return parts[0], int(parts[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bind", default="127.0.0.1",
                    help="address to bind (a phone outside the switch's host)")
    ap.add_argument("--target")
    ap.add_argument("--target-file")
    ap.add_argument("--wait", type=float, default=15.0,
                    help="seconds to wait for the target")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--linger", type=float, default=1.0)
    ap.add_argument("--ssrc", type=lambda x: int(x, 0), default=0x1234)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pidfile")
    ap.add_argument("--dtmf", default="", help="keys to send as RFC 4733 events")
    ap.add_argument("--dtmf-at", type=float, default=1.0)
    ap.add_argument("--dtmf-pt", type=int, default=101)
    ap.add_argument("--pt", type=int, default=0, help="payload type of the audio sent")
    ap.add_argument("--payload", default="ff",
                    help="hex bytes repeated to fill each 160-byte audio payload")
    ap.add_argument("--payload-stats", action="store_true",
                    help="report payload types and payloads received from others")
    ap.add_argument("--follow", action="store_true",
                    help="read --target-file again every 10 packets "
                         "and send to its new target (media moved by a re-INVITE); "
                         "the report lists every target in \"targets\"")
    ap.add_argument("--rebind-at", type=int, default=-1,
                    help="send packets from this index on from another port (NAT rebinding)")
    ap.add_argument("--foreign-stats", action="store_true",
                    help="report on packets with an SSRC other than ours")
    a = ap.parse_args()
    if a.pidfile:
        with open(a.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.bind, a.port))
    s.setblocking(False)

    report = {"port": a.port, "target": None, "sent": 0, "received": 0,
              "sources": {}, "ssrcs": {}, "echoed": 0,
              "received_before_target": 0, "first_rx_after_ms": None}
    sent_seqs = set()
    t_start = None
    foreign = {"packets": 0, "pts": {}, "sizes": {}, "markers": 0,
               "seq_steps_bad": 0, "ts_steps_bad": 0}
    last_by_ssrc = {}
    foreign_times = []
    echo_times = []
    if a.payload_stats:
        report["rx_pts"] = {}
        report["rx_payloads"] = {}

    def note_payload(data):
        pt = str(data[1] & 0x7f)
        report["rx_pts"][pt] = report["rx_pts"].get(pt, 0) + 1
        key = data[12 + 4 * (data[0] & 0x0f):][:16].hex()
        if key in report["rx_payloads"] or len(report["rx_payloads"]) < 8:
            report["rx_payloads"][key] = report["rx_payloads"].get(key, 0) + 1

    def note_foreign(data):
        pt = data[1] & 0x7f
        seq, ts, ssrc = struct.unpack("!HII", data[2:12])
        foreign["packets"] += 1
        foreign["pts"][str(pt)] = foreign["pts"].get(str(pt), 0) + 1
        foreign["sizes"][str(len(data))] = foreign["sizes"].get(str(len(data)), 0) + 1
        if data[1] & 0x80:
            foreign["markers"] += 1
        prev = last_by_ssrc.get(ssrc)
        if prev is not None:
            if seq != (prev[0] + 1) & 0xffff:
                foreign["seq_steps_bad"] += 1
            if ts != (prev[1] + 160) & 0xffffffff and not data[1] & 0x80:
                foreign["ts_steps_bad"] += 1
        last_by_ssrc[ssrc] = (seq, ts)
        foreign_times.append(time.time())

    def drain():
        while True:
            try:
                data, src = s.recvfrom(2048)
            except (BlockingIOError, ConnectionRefusedError):
                return
            if t_start is None:
                report["received_before_target"] += 1
            report["received"] += 1
            key = "%s:%d" % src
            report["sources"][key] = report["sources"].get(key, 0) + 1
            if len(data) >= 12 and (data[0] >> 6) == 2:
                seq, = struct.unpack("!H", data[2:4])
                ssrc, = struct.unpack("!I", data[8:12])
                k = "0x%x" % ssrc
                report["ssrcs"][k] = report["ssrcs"].get(k, 0) + 1
                if ssrc == a.ssrc and seq in sent_seqs:
                    report["echoed"] += 1
                    echo_times.append(time.time())
                elif a.foreign_stats and ssrc != a.ssrc:
                    note_foreign(data)
                if a.payload_stats and ssrc != a.ssrc:
                    note_payload(data)
            if t_start is not None and report["first_rx_after_ms"] is None:
                report["first_rx_after_ms"] = round((time.time() - t_start) * 1000, 1)

    # 1. the target
    target = None
    if a.target:
        h, p = a.target.rsplit(":", 1)
        target = (h, int(p))
    deadline = time.time() + a.wait
    while target is None and time.time() < deadline:
        if a.target_file:
            target = read_target(a.target_file)
        if target is None:
            select.select([s], [], [], 0.02)
            drain()
    if target is None:
        report["error"] = "no target within %.1f s" % a.wait
    else:
        report["target"] = "%s:%d" % target
        report["targets"] = [report["target"]]
        # 2. send, receiving in between
        t_start = time.time()
        out = s
        seq0 = 1000
        pattern = bytes.fromhex(a.payload) or b"\xff"
        payload = (pattern * (160 // len(pattern) + 1))[:160]
        # packet index -> (marker, payload type, timestamp, payload)
        events = {}
        first = int(round(a.dtmf_at / a.interval))
        for k, key in enumerate(a.dtmf):
            code = "0123456789*#ABCD".index(key.upper())
            start = first + k * 10
            for j in range(7):
                end = j >= 4
                duration = 160 * min(j + 1, 5)
                body = struct.pack("!BBH", code, (0x80 if end else 0) | 10, duration)
                events[start + j] = (j == 0, a.dtmf_pt, 160 * start, body)
        for i in range(a.count):
            due = t_start + i * a.interval
            while True:
                now = time.time()
                if now >= due:
                    break
                select.select([s], [], [], due - now)
                drain()
            if a.follow and a.target_file and i % 10 == 0:
                t = read_target(a.target_file)
                if t and t != target:
                    target = t
                    report["targets"].append("%s:%d" % target)
            if i == a.rebind_at:
                out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                out.bind((a.bind, 0))
                report["rebound_from"] = out.getsockname()[1]
            seq = (seq0 + i) & 0xffff
            marker, pt, ts, body = events.get(i, (False, a.pt, 160 * i, payload))
            hdr = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq, ts, a.ssrc)
            try:
                out.sendto(hdr + body, target)
                sent_seqs.add(seq)
                report["sent"] += 1
            except OSError as e:
                report["send_error"] = str(e)
            drain()
        # 3. linger
        end = time.time() + a.linger
        while time.time() < end:
            select.select([s], [], [], max(0, end - time.time()))
            drain()

    if len(echo_times) > 1:
        report["echo_max_gap_ms"] = round(max(y - x for x, y in zip(echo_times, echo_times[1:])) * 1000, 1)
    if a.foreign_stats:
        if len(foreign_times) > 1:
            span = foreign_times[-1] - foreign_times[0]
            foreign["span_ms"] = round(span * 1000, 1)
            foreign["rate_pps"] = round((len(foreign_times) - 1) / span, 1) if span > 0 else None
            foreign["max_gap_ms"] = round(max(b - a for a, b in zip(foreign_times, foreign_times[1:])) * 1000, 1)
        report["foreign"] = foreign

    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, sort_keys=True)
    os.rename(tmp, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
