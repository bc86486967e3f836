#!/usr/bin/env python3
"""Digest attacks on the switch, over raw UDP (tests/sip/auth_replay).

  auth_probe.py replay --port SWITCH --user 1001 --password 1001pass \\
      --exten 600 --other 1002 [--local-port N] [--alt-addr 127.0.0.2]
    1. INVITE EXTEN, challenged (401), answered: 200, ACK, BYE.
    2. the same Authorization sent with an INVITE to OTHER (a sniffed answer
       replayed to another number): must be 401 (a new challenge, not stale)
       or 403, never a call.
    3. the same Authorization to EXTEN again (a replay of a used nonce):
       401 stale=true.
    4. a fresh challenge answered rightly from ALT-ADDR (another source):
       401 stale=true; then from the phone's own address: 200, ACK, BYE.
    Prints one line per step; exit 1 on the first unexpected answer.

  auth_probe.py expire --port SWITCH --user 1001 --password 1001pass --sleep S
    A REGISTER challenged, answered rightly after S seconds (past the
    switch's nonce_lifetime): 401 stale=true; the new challenge answered at
    once: 200.

  auth_probe.py compare --port SWITCH --known 1001 --unknown 7777 \\
      --method REGISTER|INVITE|SUBSCRIBE|OPTIONS [--exten 600] [--local-port N]
    The same request from a known user and from an unknown one: without
    credentials, then (if challenged) answering with a wrong password. The
    responses must be byte-identical once tags, branches, nonces, Call-IDs
    and the user names are masked (alwaysauthreject). Prints the masked
    responses; exit 1 if they differ. The wall time of each is printed for
    information only (no timed assertion)."""
import argparse
import hashlib
import random
import re
import socket
import sys
import time

from sip_digest import parse_challenge  # noqa: E402  (the same directory)


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def rnd(bits=48):
    return "%x" % random.getrandbits(bits)


def headers(text, name):
    head = text.split("\r\n\r\n", 1)[0]
    return [line.partition(":")[2].strip() for line in head.split("\r\n")[1:]
            if line.partition(":")[0].strip().lower() == name]


SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


class Phone:
    def __init__(self, a, addr="127.0.0.1", port=0):
        self.a = a
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, port))
        self.sock.settimeout(a.wait)
        self.addr, self.lport = self.sock.getsockname()
        self.cseq = 0

    def close(self):
        self.sock.close()

    def send(self, text):
        self.sock.sendto(text.encode(), ("127.0.0.1", self.a.port))

    def request(self, method, ruri, user, callid, ftag, auth=None, to_tag=None, body="",
                cseq=None, branch=None):
        """Send; return (final status, text, branch). Provisional answers are
        skipped."""
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        branch = branch or "z9hG4bK" + rnd()
        to_user = user if method == "REGISTER" else None
        to = "<sip:%s@127.0.0.1>" % to_user if to_user else "<%s>" % ruri
        msg = ("%s %s SIP/2.0\r\n"
               "Via: SIP/2.0/UDP %s:%d;branch=%s;rport\r\n"
               "Max-Forwards: 70\r\n"
               "From: <sip:%s@127.0.0.1>;tag=%s\r\n"
               "To: %s%s\r\n"
               "Call-ID: %s\r\n"
               "CSeq: %d %s\r\n"
               "Contact: <sip:%s@%s:%d>\r\n"
               "User-Agent: auth_probe\r\n"
               % (method, ruri, self.addr, self.lport, branch, user, ftag, to,
                  ";tag=" + to_tag if to_tag else "", callid, cseq, method, user, self.addr,
                  self.lport))
        if method == "REGISTER":
            msg += "Expires: 60\r\n"
        if method == "SUBSCRIBE":
            msg += "Event: message-summary\r\nAccept: application/simple-message-summary\r\n" \
                   "Expires: 60\r\n"
        if auth:
            msg += "Authorization: %s\r\n" % auth
        if body:
            msg += "Content-Type: application/sdp\r\n"
        msg += "Content-Length: %d\r\n\r\n%s" % (len(body), body)
        self.send(msg)
        if method == "ACK":
            return 0, "", branch
        while True:
            data, _ = self.sock.recvfrom(65535)
            text = data.decode("latin-1")
            m = re.match(r"SIP/2.0 (\d{3})", text)
            if not m:
                continue                    # a request from the switch: ignore
            cs = headers(text, "cseq")
            if not cs or int(cs[0].split()[0]) != cseq or cs[0].split()[1] != method:
                continue
            code = int(m.group(1))
            if code >= 200:
                if method == "INVITE":
                    self.ack(ruri, user, callid, ftag, text, cseq, branch, code)
                return code, text, branch

    def ack(self, ruri, user, callid, ftag, resp, cseq, branch, code):
        """ACK a final answer to INVITE: the same branch for a failure
        (RFC 3261 17.1.1.3), a new one for a 2xx."""
        to = headers(resp, "to")[0]
        tag = re.search(r";tag=([^;>\s]+)", to)
        self.request("ACK", ruri, user, callid, ftag, to_tag=tag.group(1) if tag else None,
                     cseq=cseq, branch=None if code < 300 else branch)


def answer(ch, user, password, method, uri, nc=1):
    ha1 = md5("%s:%s:%s" % (user, ch["realm"], password))
    ha2 = md5("%s:%s" % (method, uri))
    cnonce = rnd(64)
    ncs = "%08x" % nc
    resp = md5("%s:%s:%s:%s:auth:%s" % (ha1, ch["nonce"], ncs, cnonce, ha2))
    return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5, '
            'qop=auth, nc=%s, cnonce="%s", response="%s"'
            % (user, ch["realm"], ch["nonce"], uri, ncs, cnonce, resp))


def challenge_of(text):
    chals = [parse_challenge(v) for v in headers(text, "www-authenticate")]
    md5s = [c for c in chals if c.get("algorithm", "MD5").upper() == "MD5"]
    return md5s[0] if md5s else None


def is_stale(text):
    return any(parse_challenge(v).get("stale", "").lower() == "true"
               for v in headers(text, "www-authenticate"))


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def bye(ph, ruri, user, callid, ftag, resp):
    to = headers(resp, "to")[0]
    tag = re.search(r";tag=([^;>\s]+)", to).group(1)
    code, _, _ = ph.request("BYE", ruri, user, callid, ftag, to_tag=tag)
    return code


def do_replay(a):
    ph = Phone(a, port=a.local_port)
    uri = "sip:%s@127.0.0.1:%d" % (a.exten, a.port)
    other = "sip:%s@127.0.0.1:%d" % (a.other, a.port)
    body = SDP % a.rtp_port
    # 1
    cid, ftag = rnd() + "@probe", rnd(32)
    code, text, _ = ph.request("INVITE", uri, a.user, cid, ftag, body=body)
    if code != 401 or not challenge_of(text):
        fail("call: the first INVITE got %d, not a 401 challenge" % code)
    auth = answer(challenge_of(text), a.user, a.password, "INVITE", uri)
    code, text, _ = ph.request("INVITE", uri, a.user, cid, ftag, auth=auth, body=body)
    if code != 200:
        fail("call: the authenticated INVITE to %s got %d, not 200" % (a.exten, code))
    print("call: 401 then 200 for %s" % a.exten)
    code = bye(ph, uri, a.user, cid, ftag, text)
    print("call: BYE %d" % code)
    # 2
    code, text, _ = ph.request("INVITE", other, a.user, rnd() + "@probe", rnd(32), auth=auth,
                               body=body)
    print("replay to %s: %d%s" % (a.other, code, " stale=true" if is_stale(text) else ""))
    if code not in (401, 403) or (code == 401 and is_stale(text)):
        fail("the replayed answer to %s got %d%s, not a new challenge or 403"
             % (a.other, code, " stale=true" if is_stale(text) else ""))
    # 3
    code, text, _ = ph.request("INVITE", uri, a.user, rnd() + "@probe", rnd(32), auth=auth,
                               body=body)
    print("replay to %s: %d%s" % (a.exten, code, " stale=true" if is_stale(text) else ""))
    if code != 401 or not is_stale(text):
        fail("the replay to %s got %d, not 401 stale=true" % (a.exten, code))
    # 4
    cid, ftag = rnd() + "@probe", rnd(32)
    code, text, _ = ph.request("INVITE", uri, a.user, cid, ftag, body=body)
    if code != 401:
        fail("source: the first INVITE got %d" % code)
    auth = answer(challenge_of(text), a.user, a.password, "INVITE", uri)
    alt = Phone(a, addr=a.alt_addr)
    code, text2, _ = alt.request("INVITE", uri, a.user, rnd() + "@probe", rnd(32), auth=auth,
                                 body=body)
    alt.close()
    print("from %s: %d%s" % (a.alt_addr, code, " stale=true" if is_stale(text2) else ""))
    if code != 401 or not is_stale(text2):
        fail("the right answer from %s got %d, not 401 stale=true" % (a.alt_addr, code))
    code, text, _ = ph.request("INVITE", uri, a.user, cid, ftag, auth=auth, body=body)
    print("from the phone's address: %d" % code)
    if code != 200:
        fail("the phone's own answer after the attempt from elsewhere got %d" % code)
    bye(ph, uri, a.user, cid, ftag, text)
    return 0


def do_expire(a):
    ph = Phone(a, port=a.local_port)
    ruri = "sip:127.0.0.1:%d" % a.port
    cid, ftag = rnd() + "@probe", rnd(32)
    code, text, _ = ph.request("REGISTER", ruri, a.user, cid, ftag)
    if code != 401:
        fail("expire: the first REGISTER got %d" % code)
    time.sleep(a.sleep)
    auth = answer(challenge_of(text), a.user, a.password, "REGISTER", ruri)
    code, text, _ = ph.request("REGISTER", ruri, a.user, cid, ftag, auth=auth)
    print("after %.0f s: %d%s" % (a.sleep, code, " stale=true" if is_stale(text) else ""))
    if code != 401 or not is_stale(text):
        fail("an expired nonce answered rightly got %d, not 401 stale=true" % code)
    auth = answer(challenge_of(text), a.user, a.password, "REGISTER", ruri)
    code, text, _ = ph.request("REGISTER", ruri, a.user, cid, ftag, auth=auth)
    print("the new challenge answered: %d" % code)
    if code != 200:
        fail("the stale challenge answered got %d" % code)
    return 0


def mask(text, user):
    head = text.split("\r\n\r\n", 1)[0]
    out = []
    for line in head.split("\r\n"):
        line = re.sub(r"sip:%s@" % re.escape(user), "sip:USER@", line)
        line = re.sub(r";tag=[^;>\s,]+", ";tag=TAG", line)
        line = re.sub(r"branch=[^;,\s]+", "branch=BRANCH", line)
        line = re.sub(r'nonce="[^"]*"', 'nonce="NONCE"', line)
        if line.lower().startswith(("call-id:", "i:")):
            line = "Call-ID: CALLID"
        out.append(line)
    return "\n".join(out)


def exchange(ph, a, user):
    """The request without credentials, then answered with a wrong password
    if challenged: the masked responses and the seconds it took."""
    m = a.method
    ruri = ("sip:127.0.0.1:%d" % a.port if m in ("REGISTER", "OPTIONS")
            else "sip:%s@127.0.0.1:%d" % (a.exten, a.port))
    body = SDP % a.rtp_port if m == "INVITE" else ""
    cid, ftag = rnd() + "@probe", rnd(32)
    ph.cseq = 0                             # both users send the same CSeq numbers
    t0 = time.monotonic()
    code, text, _ = ph.request(m, ruri, user, cid, ftag, body=body)
    out = [mask(text, user)]
    if code == 401 and challenge_of(text):
        auth = answer(challenge_of(text), user, "not-the-password", m, ruri)
        code, text, _ = ph.request(m, ruri, user, cid, ftag, auth=auth, body=body)
        out.append(mask(text, user))
    return out, time.monotonic() - t0


def do_compare(a):
    ph = Phone(a, port=a.local_port)
    known, tk = exchange(ph, a, a.known)
    unknown, tu = exchange(ph, a, a.unknown)
    for k, u in zip(known, unknown):
        print("---- %s, known and unknown alike?" % a.method)
        print(k)
        if k != u:
            print("---- the unknown user got:")
            print(u)
            fail("%s: an unknown user is answered differently from a wrong password" % a.method)
    if len(known) != len(unknown):
        fail("%s: %d answers for a known user, %d for an unknown one"
             % (a.method, len(known), len(unknown)))
    print("%s: %s (known %.1f ms, unknown %.1f ms, for information)"
          % (a.method, " then ".join(k.split("\n", 1)[0] for k in known), tk * 1000, tu * 1000))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["replay", "compare", "expire"])
    ap.add_argument("--sleep", type=float, default=3.0)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--local-port", type=int, default=0)
    ap.add_argument("--rtp-port", type=int, default=9)
    ap.add_argument("--user", default="1001")
    ap.add_argument("--password", default="1001pass")
    ap.add_argument("--exten", default="600")
    ap.add_argument("--other", default="1002")
    ap.add_argument("--alt-addr", default="127.0.0.2")
    ap.add_argument("--known", default="1001")
    ap.add_argument("--unknown", default="7777")
    ap.add_argument("--method", default="REGISTER")
    ap.add_argument("--wait", type=float, default=5.0)
    a = ap.parse_args()
    try:
        return {"replay": do_replay, "compare": do_compare, "expire": do_expire}[a.what](a)
    except socket.timeout:
        fail("no answer within %.0f s" % a.wait)


if __name__ == "__main__":
    sys.exit(main())
