#!/usr/bin/env python3
"""A carrier's registrar that challenges with several digest algorithms and
checks which one the switch answers with (sipp 3.6.1 cannot verify SHA-256).

  sip_carrier.py --port P --user AUTHUSER --password SECRET \\
      --offer MD5,SHA-256 --want SHA-256 [--wait 15]

The first REGISTER gets a 401 with one WWW-Authenticate per --offer
algorithm, in that order, one nonce, qop="auth". The answer must use the
--want algorithm and verify (hashlib); then 200 (Expires 60) and exit 0.
Anything else: 403 and exit 1. Prints what it saw."""
import argparse
import hashlib
import re
import socket
import sys


def h(alg, text):
    return (hashlib.sha256 if alg == "SHA-256" else hashlib.md5)(text.encode()).hexdigest()


def params(value):
    value = re.sub(r"^\s*Digest\s+", "", value, flags=re.I)
    return {m.group(1).lower(): m.group(3) if m.group(3) is not None else m.group(2)
            for m in re.finditer(r'([A-Za-z-]+)\s*=\s*("([^"]*)"|[^,\s]+)', value)}


def reply(sock, addr, req, code, reason, extra=()):
    head = req.split("\r\n\r\n", 1)[0].split("\r\n")
    keep = [l for l in head[1:] if l.split(":", 1)[0].strip().lower()
            in ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")]
    out = ["SIP/2.0 %d %s" % (code, reason)] + keep + list(extra) + ["Content-Length: 0", "", ""]
    sock.sendto("\r\n".join(out).encode(), addr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--offer", default="MD5,SHA-256")
    ap.add_argument("--want", default="SHA-256")
    ap.add_argument("--realm", default="carrier.example")
    ap.add_argument("--wait", type=float, default=15.0)
    a = ap.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", a.port))
    sock.settimeout(a.wait)
    nonce = "c4rr13r" + hashlib.md5(str(a.port).encode()).hexdigest()
    while True:
        data, addr = sock.recvfrom(65535)
        req = data.decode("latin-1")
        if not req.startswith("REGISTER "):
            continue
        auth = [l.split(":", 1)[1].strip() for l in req.split("\r\n\r\n")[0].split("\r\n")
                if l.lower().startswith("authorization:")]
        if not auth:
            print("REGISTER without credentials: 401 offering " + a.offer, flush=True)
            reply(sock, addr, req, 401, "Unauthorized",
                  ['WWW-Authenticate: Digest realm="%s", nonce="%s", algorithm=%s, qop="auth"'
                   % (a.realm, nonce, alg) for alg in a.offer.split(",")])
            continue
        p = params(auth[0])
        alg = p.get("algorithm", "MD5")
        print("answered with algorithm=%s: %s" % (alg, auth[0]), flush=True)
        ha1 = h(alg, "%s:%s:%s" % (a.user, a.realm, a.password))
        ha2 = h(alg, "REGISTER:%s" % p.get("uri", ""))
        if p.get("qop"):
            want = h(alg, "%s:%s:%s:%s:%s:%s" % (ha1, p.get("nonce"), p.get("nc"),
                                                 p.get("cnonce"), p.get("qop"), ha2))
        else:
            want = h(alg, "%s:%s:%s" % (ha1, p.get("nonce"), ha2))
        ok = (alg == a.want and p.get("nonce") == nonce and p.get("username") == a.user
              and p.get("response", "").lower() == want)
        if ok:
            print("digest verified: 200", flush=True)
            reply(sock, addr, req, 200, "OK", ["Expires: 60"])
            return 0
        print("wrong answer (want %s, response %s): 403" % (want, p.get("response")), flush=True)
        reply(sock, addr, req, 403, "Forbidden")
        return 1


if __name__ == "__main__":
    sys.exit(main())
