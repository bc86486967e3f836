#!/usr/bin/env python3
"""Send malformed SIP to 127.0.0.1:PORT over UDP and check the answers.

Each case is sent from its own socket, so any answer is known to be for it.
The expectations, per RFC 3261 and RFC 4475 section 3.1.2 (the messages
below are modeled on its "invalid messages" but written for this test):
  400 / 505     must get exactly this status
  err           must get some 4xx or 5xx (a specific one may be better)
  should400     400 is what the RFC asks; anything else is only a warning
  none          must get no answer at all (a response, a stray message)
  any           anything goes, as long as nothing crashes
Prints one line per case; exits 1 when a "must" case fails."""
import argparse
import os
import random
import socket
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--wait", type=float, default=0.8)
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
    ("valid: compact headers, folding, odd case", "200",
     lambda p, n: ("OPTIONS sip:tandem@127.0.0.1:%d SIP/2.0\r\n"
                   "v:  SIP/2.0/UDP 127.0.0.1:%d\r\n   ;branch=z9hG4bK-fold-%d;rport\r\n"
                   "max-FORWARDS: 70\r\n"
                   "f: <sip:torture@127.0.0.1>\r\n ;tag=fold%d\r\n"
                   "t:\t<sip:tandem@127.0.0.1>\r\n"
                   "i: fold-%d@127.0.0.1\r\n"
                   "cseq:   8\r\n  OPTIONS\r\n"
                   "l: 0\r\n\r\n" % (a.port, p, n, n, n)).encode()),
]


def main():
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
    print("torture: %d of %d cases failed a MUST" % (must_fail, len(CASES)))
    return 1 if must_fail else 0


if __name__ == "__main__":
    sys.exit(main())
