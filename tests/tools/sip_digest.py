#!/usr/bin/env python3
"""A REGISTER client that answers digest challenges with MD5 or SHA-256
(RFC 7616 / RFC 8760, computed with hashlib), for what sipp 3.6.1 cannot do
(it answers MD5 only, and only the first challenge of a 401).

  sip_digest.py --port SWITCH_PORT --user 1001 --password 1001pass --alg SHA-256 \\
      [--local-port N] [--no-qop] STEP...

Steps, run in order on one Call-ID (CSeq counts up, a new branch each time):
  challenge     REGISTER without credentials: expect 401; keep the challenge of
                --alg (fail if the 401 does not offer it); print the offered
                algorithms in order
  answer        REGISTER answering the kept challenge with the next nc: expect 200
  replay        resend the last Authorization unchanged: expect 401 stale=true
  wrongpass     answer the kept challenge with the next nc and a wrong password
Each step prints "STEP: STATUS [details]"; the exit status is 1 on the first
step whose answer is not the expected one (expect=CODE after a step overrides
it, e.g. answer=401)."""
import argparse
import hashlib
import random
import re
import socket
import sys


def h(alg, text):
    fn = hashlib.sha256 if alg == "SHA-256" else hashlib.md5
    return fn(text.encode()).hexdigest()


def parse_challenge(value):
    """Digest realm="x", nonce="y", algorithm=SHA-256, ... -> dict"""
    value = re.sub(r"^\s*Digest\s+", "", value, flags=re.I)
    out = {}
    for m in re.finditer(r'([A-Za-z-]+)\s*=\s*("([^"]*)"|[^,\s]+)', value):
        out[m.group(1).lower()] = m.group(3) if m.group(3) is not None else m.group(2)
    return out


def headers(text, name):
    head = text.split("\r\n\r\n", 1)[0]
    vals = []
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name:
            vals.append(v.strip())
    return vals


class Client:
    def __init__(self, a):
        self.a = a
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", a.local_port))
        self.sock.settimeout(a.wait)
        self.lport = self.sock.getsockname()[1]
        self.callid = "%x@digest" % random.getrandbits(64)
        self.tag = "%x" % random.getrandbits(32)
        self.cseq = 0
        self.ch = None
        self.nc = 0
        self.last_auth = None

    def request(self, auth):
        a = self.a
        self.cseq += 1
        branch = "z9hG4bK%x" % random.getrandbits(48)
        uri = "sip:127.0.0.1:%d" % a.port
        msg = ("REGISTER %s SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
               "Max-Forwards: 70\r\n"
               "From: <sip:%s@127.0.0.1>;tag=%s\r\n"
               "To: <sip:%s@127.0.0.1>\r\n"
               "Call-ID: %s\r\n"
               "CSeq: %d REGISTER\r\n"
               "Contact: <sip:%s@127.0.0.1:%d>\r\n"
               "Expires: 60\r\n" % (uri, self.lport, branch, a.user, self.tag, a.user,
                                    self.callid, self.cseq, a.user, self.lport))
        if auth:
            msg += "Authorization: %s\r\n" % auth
        msg += "Content-Length: 0\r\n\r\n"
        self.sock.sendto(msg.encode(), ("127.0.0.1", a.port))
        while True:
            data, _ = self.sock.recvfrom(65535)
            text = data.decode("latin-1")
            m = re.match(r"SIP/2.0 (\d{3})", text)
            if not m:
                continue
            cs = headers(text, "cseq")
            if not cs or int(cs[0].split()[0]) != self.cseq:
                continue
            code = int(m.group(1))
            if code >= 200:
                return code, text

    def answer(self, password):
        a, ch = self.a, self.ch
        alg = ch.get("algorithm", "MD5")
        uri = "sip:127.0.0.1:%d" % a.port
        ha1 = h(alg, "%s:%s:%s" % (a.user, ch["realm"], password))
        ha2 = h(alg, "REGISTER:%s" % uri)
        qop = not a.no_qop and "auth" in ch.get("qop", "").replace(" ", "").split(",")
        value = 'Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=%s' % (
            a.user, ch["realm"], ch["nonce"], uri, alg)
        if qop:
            self.nc += 1
            nc = "%08x" % self.nc
            cnonce = "%x" % random.getrandbits(64)
            resp = h(alg, "%s:%s:%s:%s:auth:%s" % (ha1, ch["nonce"], nc, cnonce, ha2))
            value += ', qop=auth, nc=%s, cnonce="%s"' % (nc, cnonce)
        else:
            resp = h(alg, "%s:%s:%s" % (ha1, ch["nonce"], ha2))
        return value + ', response="%s"' % resp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--local-port", type=int, default=0)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--alg", default="SHA-256", choices=["SHA-256", "MD5"])
    ap.add_argument("--no-qop", action="store_true")
    ap.add_argument("--wait", type=float, default=5.0)
    ap.add_argument("steps", nargs="+")
    a = ap.parse_args()
    c = Client(a)
    defaults = {"challenge": 401, "answer": 200, "replay": 401, "wrongpass": 403}
    for step in a.steps:
        name, _, want = step.partition("=")
        if name not in defaults:
            ap.error("unknown step " + name)
        want = int(want) if want else defaults[name]
        if name == "challenge":
            code, text = c.request(None)
        elif name == "replay":
            code, text = c.request(c.last_auth)
        else:
            if not c.ch:
                ap.error(name + " needs a challenge first")
            c.last_auth = c.answer(a.password if name == "answer" else "not-" + a.password)
            code, text = c.request(c.last_auth)
        chals = [parse_challenge(v) for v in headers(text, "www-authenticate")]
        algs = [x.get("algorithm", "MD5") for x in chals]
        stale = any(x.get("stale", "").lower() == "true" for x in chals)
        print("%s: %d%s%s" % (name, code, " offers " + ",".join(algs) if chals else "",
                              " stale=true" if stale else ""))
        if code != want:
            print("%s: expected %d" % (name, want))
            return 1
        if name == "replay" and want == 401 and not stale:
            print("replay: expected stale=true")
            return 1
        if code == 401:
            mine = [x for x in chals if x.get("algorithm", "MD5").upper() == a.alg]
            if not mine:
                print("%s: the 401 does not offer %s" % (name, a.alg))
                return 1
            c.ch, c.nc = mine[0], 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
