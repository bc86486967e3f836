#!/usr/bin/env python3
"""Send bad and odd SIP to 127.0.0.1:PORT over UDP and check the answers.

Part 1, RFC 4475 (rfc4475.py): each of the RFC's 49 torture messages, byte
for byte, must get exactly the answer its row names (a status, or nothing at
all for "drop"). Each message goes out from its own address 127.a.b.N,
bound to the port its top Via names (5060 when none), because the switch
answers where RFC 3261 18.2.2 says: the packet's source address, the Via's
port. So every answer is known to be for that message, and nothing is
rewritten in the message to make the test work. An INVITE's final answer
is ACKed (built from the answer's own headers) so that it is not resent.
Prints one line per row and "rfc4475: N/49 as the RFC says"; any mismatch
fails the run.

Part 2, more cases written for this test (RFC 3261 and RFC 4475 style),
each from its own 127.0.0.1 port with rport. The expectations:
  400 / 505     must get exactly this status
  err           must get some 4xx or 5xx (a specific one may be better)
  should400     400 is what the RFC asks; anything else is only a warning
  none          must get no answer at all (a response, a stray message)
  any           anything goes, as long as nothing crashes
Prints one line per case; exits 1 when a "must" case fails."""
import argparse
import os
import random
import re
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rfc4475  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--wait", type=float, default=0.8)
ap.add_argument("--rfc-wait", type=float, default=2.0,
                help="seconds to collect the answers to the RFC 4475 messages")
a = ap.parse_args()
DST = ("127.0.0.1", a.port)
CRLF = "\r\n"


def req(lport, n, method="OPTIONS", ruri=None, first=None, drop=(), repl=None,
        extra=(), body="", clen=None, cseq=None):
    """An OPTIONS-like request from 127.0.0.1:lport with one thing broken."""
    ruri = ruri or "sip:tandem@127.0.0.1:%d" % a.port
    h = [
        ("Via", "SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-bad-%d-%x;rport"
         % (lport, n, random.getrandbits(32))),
        ("Max-Forwards", "70"),
        ("From", "<sip:torture@127.0.0.1>;tag=bad%d" % n),
        ("To", "<sip:tandem@127.0.0.1>"),
        ("Call-ID", "bad-%d-%d@127.0.0.1" % (n, os.getpid())),
        ("CSeq", cseq or "1 %s" % method),
        ("Content-Length", str(len(body.encode("latin-1")) if clen is None else clen)),
    ]
    h = [(k, v) for k, v in h if k not in drop]
    if repl:
        h = [(k, repl.get(k, v)) for k, v in h]
    h[-1:-1] = list(extra)
    start = first or "%s %s SIP/2.0" % (method, ruri)
    text = start + CRLF + "".join("%s: %s%s" % (k, v, CRLF) for k, v in h) + CRLF + body
    return text.encode("latin-1")


SDP = "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"

CASES = [
    # name, expectation, builder(lport, n) -> bytes
    ("garbage bytes", "any", lambda p, n: os.urandom(300)),
    ("CRLF keepalive", "none", lambda p, n: b"\r\n\r\n"),
    ("text that is not SIP", "any", lambda p, n: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("missing Call-ID", "400", lambda p, n: req(p, n, drop=("Call-ID",))),
    ("missing CSeq", "400", lambda p, n: req(p, n, drop=("CSeq",))),
    ("missing From", "400", lambda p, n: req(p, n, drop=("From",))),
    ("missing To", "400", lambda p, n: req(p, n, drop=("To",))),
    ("CSeq not a number", "400", lambda p, n: req(p, n, cseq="abc OPTIONS")),
    ("CSeq method differs from the request's", "400",
     lambda p, n: req(p, n, cseq="1 INVITE")),
    ("unknown method, CSeq method differs", "err",
     lambda p, n: req(p, n, method="FROBNICATE", cseq="1 OPTIONS")),
    ("CSeq number beyond 2**31", "400",
     lambda p, n: req(p, n, cseq="36893488147419103232 OPTIONS")),
    ("Max-Forwards beyond 255", "400",
     lambda p, n: req(p, n, repl={"Max-Forwards": "300"})),
    ("negative Content-Length", "400",
     lambda p, n: req(p, n, method="INVITE", body=SDP, clen="-999",
                      extra=[("Content-Type", "application/sdp")])),
    ("Content-Length larger than the body", "400",
     lambda p, n: req(p, n, method="INVITE", body=SDP, clen="9999",
                      extra=[("Content-Type", "application/sdp")])),
    ("SIP version 7.0", "505",
     lambda p, n: req(p, n, first="OPTIONS sip:tandem@127.0.0.1:%d SIP/7.0" % a.port)),
    ("unterminated quote in From display name", "400",
     lambda p, n: req(p, n, repl={"From": '"Torture <sip:torture@127.0.0.1>;tag=bad%d' % n})),
    ("Request-URI in angle brackets", "400",
     lambda p, n: req(p, n, first="OPTIONS <sip:tandem@127.0.0.1:%d> SIP/2.0" % a.port)),
    ("spaces inside the Request-URI", "400",
     lambda p, n: req(p, n, first="OPTIONS sip:tandem@127.0.0.1:%d; lr=on SIP/2.0" % a.port)),
    ("several spaces between request-line parts", "400",
     lambda p, n: req(p, n, first="OPTIONS  sip:tandem@127.0.0.1:%d  SIP/2.0" % a.port)),
    ("From without angle brackets but with params in URI", "400",
     lambda p, n: req(p, n, repl={"From": "sip:torture@127.0.0.1;user=phone;tag=bad%d" % n,
                                   "To": "Tandem sip:tandem@127.0.0.1"})),
    ("header line without a colon", "400",
     lambda p, n: req(p, n, extra=[("X-Broken-No-Colon-Here", "")]).replace(
         b"X-Broken-No-Colon-Here: \r\n", b"X-Broken-No-Colon-Here\r\n")),
    ("NUL and 8-bit bytes in a header", "any",
     lambda p, n: req(p, n, extra=[("Subject", "a\x00b\xff\xfe")])),
    ("30 kB header", "any",
     lambda p, n: req(p, n, extra=[("X-Huge", "a" * 30000)])),
    ("60 kB datagram of headers", "any",
     lambda p, n: req(p, n, extra=[("X-Many-%d" % i, "b" * 50) for i in range(900)])),
    ("Via without a branch", "any",
     lambda p, n: req(p, n, repl={"Via": "SIP/2.0/UDP 127.0.0.1:%d;rport" % p})),
    ("message cut in the middle of a header", "any",
     lambda p, n: req(p, n)[:120]),
    ("bare LF line ends", "any", lambda p, n: req(p, n).replace(b"\r\n", b"\n")),
    ("response with a 10-digit status code", "none",
     lambda p, n: ("SIP/2.0 4294967301 better not break the receiver\r\n"
                   "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-stray-%d\r\n"
                   "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>;tag=2\r\n"
                   "Call-ID: stray-%d\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
                   % (a.port, n, n)).encode()),
    ("stray 200 for no transaction", "none",
     lambda p, n: ("SIP/2.0 200 OK\r\n"
                   "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-stray-%d\r\n"
                   "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>;tag=2\r\n"
                   "Call-ID: stray-%d\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n"
                   % (a.port, n, n)).encode()),
    ("valid: compact headers, folding, odd case", "200",     # 600 exists: 200
     lambda p, n: ("OPTIONS sip:600@127.0.0.1:%d SIP/2.0\r\n"
                   "v:  SIP/2.0/UDP 127.0.0.1:%d\r\n   ;branch=z9hG4bK-fold-%d;rport\r\n"
                   "max-FORWARDS: 70\r\n"
                   "f: <sip:torture@127.0.0.1>\r\n ;tag=fold%d\r\n"
                   "t:\t<sip:tandem@127.0.0.1>\r\n"
                   "i: fold-%d@127.0.0.1\r\n"
                   "cseq:   8\r\n  OPTIONS\r\n"
                   "l: 0\r\n\r\n" % (a.port, p, n, n, n)).encode()),
]


def s_via_port(data):
    """The port of the first Via's sent-by (5060 when it has none)."""
    head = data.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"via", b"v"):
            m = re.match(rb"\s*SIP\s*/\s*[\d.]+\s*/\s*\S+\s+[^\s;:,]+:(\d+)", value)
            return int(m.group(1)) if m else 5060
    return 5060


def s_headers(text):
    """Header lines (unfolded) of a message from the switch, by lower-case name."""
    head = text.split("\r\n\r\n", 1)[0].split("\r\n")
    out = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        out.setdefault(name.strip().lower(), []).append(value.strip())
    return out


def s_ack(request, answer):
    """An ACK for a non-2xx final answer to an INVITE (RFC 3261 17.1.1.3): the
    answer's top Via, From, To, Call-ID and CSeq number. None if the answer
    lacks one of them."""
    h = s_headers(answer)
    if not all(k in h for k in ("via", "from", "to", "call-id", "cseq")):
        return None
    parts = request.split(b"\r\n", 1)[0].split()
    ruri = parts[1].decode("latin-1") if len(parts) == 3 and b"<" not in parts[1] \
        else "sip:tandem@127.0.0.1"
    return ("ACK %s SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\n"
            "Call-ID: %s\r\nCSeq: %s ACK\r\nContent-Length: 0\r\n\r\n"
            % (ruri, h["via"][0], h["from"][0], h["to"][0], h["call-id"][0],
               h["cseq"][0].split()[0])).encode("latin-1")


def s_cseq_method(data):
    m = re.search(rb"\r\n(?:cseq)\s*:\s*\d+\s+(\S+)", data.split(b"\r\n\r\n", 1)[0], re.I)
    return m.group(1).decode("latin-1") if m else None


def run_rfc4475():
    """Send every row at once (from its own address), collect, judge."""
    net = "127.%d.%d." % (random.randint(1, 254), random.randint(1, 254))
    socks = {}
    fails = 0
    for i, row in enumerate(rfc4475.ROWS, 1):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((net + str(i), s_via_port(row.data)))
        except OSError as e:
            print("FAIL  %-22s cannot bind %s%d:%d: %s" % (row.name, net, i, s_via_port(row.data), e))
            fails += 1
            s.close()
            continue
        socks[s] = (row, [])
    for s, (row, _) in socks.items():
        s.sendto(row.data, DST)
    end = time.time() + a.rfc_wait
    while time.time() < end:
        ready, _, _ = select.select(list(socks), [], [], 0.05)
        for s in ready:
            try:
                data = s.recv(65535)
            except OSError:
                continue
            row, got = socks[s]
            text = data.decode("latin-1")
            got.append(text)
            first = text.split("\r\n", 1)[0].split()
            if len(first) > 1 and first[0] == "SIP/2.0" and first[1] >= "2" \
                    and s_cseq_method(data) == "INVITE":
                ack = s_ack(row.data, text)
                if ack:
                    s.sendto(ack, DST)
    for s, (row, got) in socks.items():
        s.close()
        statuses = [g.split("\r\n", 1)[0].split()[1] if g.startswith("SIP/2.0 ") else "?"
                    for g in got]
        finals = [(st, g) for st, g in zip(statuses, got) if not st.startswith("1")]
        want = s_cseq_method(row.data)
        if row.expect == "drop":
            ok = not got
            shown = "nothing" if ok else got[0].split("\r\n", 1)[0]
        else:
            ok = bool(finals) and all(st == row.expect for st, _ in finals)
            shown = finals[0][1].split("\r\n", 1)[0] if finals else \
                ("only " + got[0].split("\r\n", 1)[0] if got else "no answer")
            stray = [g for g in got if s_cseq_method(g.encode("latin-1")) != want]
            if ok and stray:
                ok, shown = False, "an answer to another request: " + stray[0].split("\r\n", 1)[0]
            if ok and row.check and row.check not in finals[0][1].encode("latin-1"):
                ok, shown = False, "%s without %r" % (shown, row.check)
        print("%-5s %-22s expected %-5s got %s" % ("ok" if ok else "FAIL", row.name,
                                                    row.expect, shown))
        if not ok:
            print("      (%s)" % row.why)
            fails += 1
    n = len(rfc4475.ROWS)
    print("rfc4475: %d/%d as the RFC says" % (n - fails, n))
    return fails


def main():
    rfc_fail = run_rfc4475()
    must_fail = 0
    for n, (name, expect, build) in enumerate(CASES, 1):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        lport = s.getsockname()[1]
        data = build(lport, n)
        try:
            s.sendto(data, DST)
        except OSError as e:
            print("SKIP  %-48s could not send %d bytes: %s" % (name, len(data), e))
            continue
        got = []
        end = time.time() + a.wait
        while time.time() < end:
            s.settimeout(max(0.01, end - time.time()))
            try:
                r, _ = s.recvfrom(65535)
            except (socket.timeout, ConnectionRefusedError):
                continue
            line = r.split(b"\r\n", 1)[0].decode("latin-1")
            got.append(line)
            # one final answer is enough; keep reading past provisionals
            if not line.startswith("SIP/2.0 1"):
                break
        s.close()
        finals = [g for g in got if not g.startswith("SIP/2.0 1")]
        code = finals[0].split()[1] if finals and len(finals[0].split()) > 1 else None
        shown = finals[0] if finals else ("only " + got[0] if got else "no answer")
        if expect in ("200", "400", "505"):
            ok, level = code == expect, "FAIL"
        elif expect == "err":
            ok, level = code is not None and code[:1] in "45", "FAIL"
        elif expect == "none":
            ok, level = not got, "FAIL"
        elif expect == "should400":
            ok, level = code == "400", "WARN"
        elif expect == "should200":
            ok, level = code == "200", "WARN"
        else:
            ok, level = True, "FAIL"
        print("%-5s %-48s %5d bytes, expected %-9s got %s"
              % ("ok" if ok else level, name, len(data), expect, shown))
        if not ok and level == "FAIL":
            must_fail += 1
    print("torture: %d of %d more cases failed a MUST" % (must_fail, len(CASES)))
    return 1 if must_fail or rfc_fail else 0


if __name__ == "__main__":
    sys.exit(main())
