#!/usr/bin/env python3
"""The transferring phone of tests/sip/transfer_attended: a small SIP UA over
UDP that holds several dialogs at once (sipp keeps one Call-ID per scenario).

  phone.py --switch PORT --port LOCAL --user 1001 --password 1001pass \
           --target-file F SCRIPT

SCRIPT is one of
  attended  call 1002 (dialog 1), hold it (re-INVITE sendonly: 200 recvonly),
            call 1003 (dialog 2); REFER on dialog 1 with
            a Replaces naming a dialog that does not exist (202, NOTIFY 100,
            NOTIFY 481); then REFER with Replaces naming dialog 2 (202, NOTIFY
            100 Trying, NOTIFY 200 OK); hang up dialog 1 (200), and get the
            switch's BYE on dialog 2.
  replaces  call 1002 (dialog 1); then, as another phone (--user2/--password2,
            a new port), INVITE with Replaces: malformed (400), unknown dialog
            (481), early-only on a confirmed dialog (486); then naming dialog 1
            (with Require: replaces):
            200 with the media worker's SDP (its address goes to --target-file
            for rtp_peer.py), ACK; dialog 1 gets BYE; after --talk s BYE.
  refused   REFERs that must be refused, as chan_sip refuses them: on a call to
            600 (Echo): no Refer-To, two, an unparsable one (400), a tel: URI
            (603); a good one gets 202 and NOTIFY 503 (not a two-party bridge);
            outside a dialog 603, with an unknown To-tag 481; then as
            --user2 (allowtransfer=no) on a call to 600: 603.
Prints one line per step; exit 1 at the first unexpected answer."""
import argparse
import hashlib
import random
import re
import socket
import sys
import time
import urllib.parse


def rand(n=8):
    return "%0*x" % (n, random.getrandbits(4 * n))


def hdr(msg, name):
    m = re.search(r"^%s:\s*(.*?)\r?$" % re.escape(name), msg, re.M | re.I)
    return m.group(1) if m else None


def tag_of(value):
    m = re.search(r";\s*tag=([^;>\s]+)", value or "")
    return m.group(1) if m else None


def body_of(msg):
    return msg.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in msg else ""


class Fail(Exception):
    pass


class UA:
    def __init__(self, switch, port, user, password, rtp_port):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", port))
        self.lport = self.s.getsockname()[1]
        self.dst = ("127.0.0.1", switch)
        self.switch = switch
        self.user, self.password, self.rtp_port = user, password, rtp_port
        self.backlog = []

    def sdp(self, dir="sendrecv"):
        return ("v=0\r\no=%s 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=%s\r\n"
                % (self.user, self.rtp_port, dir))

    def send(self, text):
        self.s.sendto(text.encode("latin-1"), self.dst)

    def request(self, d, method, cseq=None, extra="", body="", ruri=None, branch=None):
        if cseq is None:
            d["cseq"] += 1
            cseq = d["cseq"]
        to = d["to"] + (";tag=%s" % d["rtag"] if d.get("rtag") else "")
        ctype = "Content-Type: application/sdp\r\n" if body else ""
        text = ("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
                "Max-Forwards: 70\r\nFrom: %s;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\n"
                "CSeq: %d %s\r\nContact: <sip:%s@127.0.0.1:%d>\r\n%s%sContent-Length: %d\r\n\r\n%s"
                % (method, ruri or d["ruri"], self.lport, branch or rand(12), d["from"],
                   d["ltag"], to, d["callid"], cseq, method, self.user, self.lport, extra, ctype,
                   len(body), body))
        self.send(text)
        return cseq

    def recv(self, want, timeout=10.0):
        """The next message for which want(msg) is true; others are answered
        (requests: 200) or dropped."""
        end = time.time() + timeout
        for i, m in enumerate(self.backlog):
            if want(m):
                return self.backlog.pop(i)
        while time.time() < end:
            self.s.settimeout(max(0.01, end - time.time()))
            try:
                data, _ = self.s.recvfrom(65536)
            except socket.timeout:
                break
            m = data.decode("latin-1")
            if want(m):
                return m
            self.backlog.append(m)
        raise Fail("timeout waiting")

    def reply(self, req, code, reason, body="", tag=None):
        lines = []
        for h in ("Via", "From", "To", "Call-ID", "CSeq"):
            for v in re.findall(r"^%s:\s*(.*?)\r?$" % h, req, re.M | re.I):
                if h == "To" and tag and "tag=" not in v:
                    v += ";tag=" + tag
                lines.append("%s: %s" % (h, v))
        ctype = "Content-Type: application/sdp\r\n" if body else ""
        self.send("SIP/2.0 %d %s\r\n%s\r\nContact: <sip:%s@127.0.0.1:%d>\r\n%sContent-Length: %d"
                  "\r\n\r\n%s" % (code, reason, "\r\n".join(lines), self.user, self.lport, ctype,
                                  len(body), body))

    @staticmethod
    def is_resp(cseq, method):
        return lambda m: m.startswith("SIP/2.0 ") and re.search(
            r"^CSeq:\s*%d %s" % (cseq, method), m, re.M | re.I) is not None

    @staticmethod
    def is_req(method, callid):
        return lambda m: m.startswith(method + " ") and hdr(m, "Call-ID") == callid

    def digest(self, chal, method, ruri):
        p = dict((k.lower(), v.strip('"')) for k, v in
                 re.findall(r'([A-Za-z-]+)=("[^"]*"|[^,\s]+)', chal))
        ha1 = hashlib.md5(("%s:%s:%s" % (self.user, p["realm"], self.password)).encode()).hexdigest()
        ha2 = hashlib.md5(("%s:%s" % (method, ruri)).encode()).hexdigest()
        if "qop" in p:
            cn = rand()
            resp = hashlib.md5(("%s:%s:00000001:%s:auth:%s" % (ha1, p["nonce"], cn, ha2)).encode()).hexdigest()
            return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", '
                    'algorithm=MD5, qop=auth, nc=00000001, cnonce="%s"'
                    % (self.user, p["realm"], p["nonce"], ruri, resp, cn))
        resp = hashlib.md5(("%s:%s:%s" % (ha1, p["nonce"], ha2)).encode()).hexdigest()
        return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=MD5'
                % (self.user, p["realm"], p["nonce"], ruri, resp))

    def invite(self, exten, extra="", expect=200):
        ruri = "sip:%s@127.0.0.1:%d" % (exten, self.switch)
        d = {"ruri": ruri, "callid": "%s@127.0.0.1" % rand(16), "ltag": rand(), "cseq": 0,
             "from": "<sip:%s@127.0.0.1>" % self.user, "to": "<sip:%s@127.0.0.1>" % exten}
        auth = ""
        for attempt in range(2):
            cseq = self.request(d, "INVITE", extra=extra + auth, body=self.sdp())
            while True:
                r = self.recv(self.is_resp(cseq, "INVITE"), 15)
                code = int(r.split()[1])
                if code >= 200:
                    break
            if code >= 300:     # ACK a final failure (same branch as the INVITE: hop by hop)
                via = hdr(r, "Via")
                br = re.search(r"branch=z9hG4bK([^;\s]+)", via).group(1)
                d2 = dict(d, rtag=tag_of(hdr(r, "To")))
                self.request(d2, "ACK", cseq=cseq, branch=br)
            if code == 401 and attempt == 0:
                auth = "Authorization: %s\r\n" % self.digest(hdr(r, "WWW-Authenticate"), "INVITE", ruri)
                continue
            break
        if code != expect:
            raise Fail("INVITE %s: %d, expected %d" % (exten, code, expect))
        if code != 200:
            return d, r
        d["rtag"] = tag_of(hdr(r, "To"))
        c = re.search(r"<([^>]+)>", hdr(r, "Contact") or "")
        d["ruri"] = c.group(1) if c else ruri
        self.request(d, "ACK", cseq=cseq)
        return d, r

    def expect_notify(self, d, frag, state):
        n = self.recv(self.is_req("NOTIFY", d["callid"]))
        self.reply(n, 200, "OK")
        body, ev, st = body_of(n), hdr(n, "Event"), hdr(n, "Subscription-State")
        ct = hdr(n, "Content-Type") or ""
        print("NOTIFY: %r, Event %s, Subscription-State %s, %s" % (body.strip(), ev, st, ct))
        if not body.startswith("SIP/2.0 " + frag) or not (ev or "").startswith("refer")  \
                or not (st or "").startswith(state) or "message/sipfrag" not in ct:
            raise Fail("NOTIFY: expected SIP/2.0 %s (%s)" % (frag, state))

    def refer(self, d, refer_to):
        cseq = self.request(d, "REFER", extra="Refer-To: %s\r\nReferred-By: <sip:%s@127.0.0.1>\r\n"
                            % (refer_to, self.user))
        r = self.recv(self.is_resp(cseq, "REFER"))
        print("REFER: %s" % r.split("\r\n")[0])
        if not r.startswith("SIP/2.0 202"):
            raise Fail("REFER not accepted")


def replaces_param(d):
    # RFC 3891: as the switch sees the dialog: to-tag is its tag, from-tag ours
    return "%s;to-tag=%s;from-tag=%s" % (d["callid"], d["rtag"], d["ltag"])


def attended(a, ua):
    d1, _ = ua.invite("1002")
    print("dialog 1 (to 1002) up")
    time.sleep(0.5)
    cseq = ua.request(d1, "INVITE", body=ua.sdp("sendonly"))     # hold 1002
    while True:
        r = ua.recv(ua.is_resp(cseq, "INVITE"))
        if int(r.split()[1]) >= 200:
            break
    ua.request(d1, "ACK", cseq=cseq)
    print("hold: %s, %s" % (r.split("\r\n")[0], "recvonly" if "a=recvonly" in r else "?"))
    if not r.startswith("SIP/2.0 200") or "a=recvonly" not in r:
        raise Fail("hold refused")
    d2, _ = ua.invite("1003")
    print("dialog 2 (to 1003) up")
    time.sleep(1.0)
    bogus = urllib.parse.quote("nosuchcall@x;to-tag=1;from-tag=2", safe="")
    ua.refer(d1, "<sip:1003@127.0.0.1?Replaces=%s>" % bogus)
    ua.expect_notify(d1, "100 Trying", "active")
    ua.expect_notify(d1, "481", "terminated")
    rep = urllib.parse.quote(replaces_param(d2), safe="")
    ua.refer(d1, "<sip:1003@127.0.0.1:%d?Replaces=%s>" % (a.switch, rep))
    ua.expect_notify(d1, "100 Trying", "active")
    ua.expect_notify(d1, "200 OK", "terminated")
    bye = ua.recv(ua.is_req("BYE", d2["callid"]))
    ua.reply(bye, 200, "OK")
    print("BYE from the switch on dialog 2")
    cseq = ua.request(d1, "BYE")
    r = ua.recv(ua.is_resp(cseq, "BYE"))
    print("our BYE on dialog 1: %s" % r.split("\r\n")[0])
    if not r.startswith("SIP/2.0 200"):
        raise Fail("BYE on dialog 1 refused")


def replaces(a, ua):
    d1, _ = ua.invite("1002")
    print("dialog 1 (to 1002) up")
    time.sleep(1.0)
    other = UA(a.switch, 0, a.user2, a.password2, a.rtp_port2)
    for value, code in (("nonsense", 400),
                        ("nosuchcall@x;to-tag=1;from-tag=2", 481),
                        (replaces_param(d1) + ";early-only", 486)):
        other.invite("1002", extra="Replaces: %s\r\n" % value, expect=code)
        print("INVITE with Replaces: %s -> %d" % (value, code))
    d3, r = other.invite("1002", extra="Require: replaces\r\nReplaces: %s\r\n"
                         % replaces_param(d1))
    print("INVITE with Replaces of dialog 1: 200")
    sdp = body_of(r)
    c = re.search(r"c=IN IP4 ([0-9.]+)", sdp).group(1)
    m = re.search(r"m=audio ([0-9]+)", sdp).group(1)
    with open(a.target_file + ".tmp", "w") as f:
        f.write("%s %s\n" % (c, m))
    import os
    os.rename(a.target_file + ".tmp", a.target_file)
    bye = ua.recv(ua.is_req("BYE", d1["callid"]))
    ua.reply(bye, 200, "OK")
    print("BYE from the switch on the replaced dialog 1")
    time.sleep(a.talk)
    cseq = other.request(d3, "BYE")
    r = other.recv(other.is_resp(cseq, "BYE"))
    print("BYE of the new phone: %s" % r.split("\r\n")[0])


def refused(a, ua):
    d, _ = ua.invite("600")
    print("call to 600 (Echo) up")
    for extra, code in (("", 400),
                        ("Refer-To: <sip:1002@127.0.0.1>\r\nRefer-To: <sip:1003@127.0.0.1>\r\n", 400),
                        ("Refer-To: <sip:1002@127.0.0.1\r\n", 400),
                        ("Refer-To: <sip:127.0.0.1>\r\n", 400),
                        ("Refer-To: <tel:+15551234>\r\n", 603)):
        cseq = ua.request(d, "REFER", extra=extra)
        r = ua.recv(ua.is_resp(cseq, "REFER"))
        print("REFER with %r: %s" % (extra.strip(), r.split("\r\n")[0]))
        if not r.startswith("SIP/2.0 %d" % code):
            raise Fail("expected %d" % code)
    ua.refer(d, "<sip:1002@127.0.0.1>")
    ua.expect_notify(d, "100 Trying", "active")
    ua.expect_notify(d, "503", "terminated")
    # outside a dialog: no To-tag (603), an unknown To-tag (481)
    for rtag, code in ((None, 603), ("nosuchtag", 481)):
        x = {"ruri": "sip:600@127.0.0.1:%d" % a.switch, "callid": "%s@127.0.0.1" % rand(16),
             "ltag": rand(), "cseq": 0, "from": "<sip:%s@127.0.0.1>" % ua.user,
             "to": "<sip:600@127.0.0.1>", "rtag": rtag}
        cseq = ua.request(x, "REFER", extra="Refer-To: <sip:1002@127.0.0.1>\r\n")
        r = ua.recv(ua.is_resp(cseq, "REFER"))
        print("REFER outside a dialog (To-tag %s): %s" % (rtag, r.split("\r\n")[0]))
        if not r.startswith("SIP/2.0 %d" % code):
            raise Fail("expected %d" % code)
    cseq = ua.request(d, "BYE")
    ua.recv(ua.is_resp(cseq, "BYE"))
    other = UA(a.switch, 0, a.user2, a.password2, 9)
    d2, _ = other.invite("600")
    cseq = other.request(d2, "REFER", extra="Refer-To: <sip:1002@127.0.0.1>\r\n")
    r = other.recv(other.is_resp(cseq, "REFER"))
    print("REFER from %s (allowtransfer=no): %s" % (a.user2, r.split("\r\n")[0]))
    if not r.startswith("SIP/2.0 603"):
        raise Fail("expected 603")
    cseq = other.request(d2, "BYE")
    other.recv(other.is_resp(cseq, "BYE"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--switch", type=int, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", default="1001")
    ap.add_argument("--password", default="1001pass")
    ap.add_argument("--user2", default="1003")
    ap.add_argument("--password2", default="1003pass")
    ap.add_argument("--rtp-port", type=int, default=9)
    ap.add_argument("--rtp-port2", type=int, default=9)
    ap.add_argument("--target-file", default="/dev/null")
    ap.add_argument("--talk", type=float, default=3.0)
    ap.add_argument("script", choices=("attended", "replaces", "refused"))
    a = ap.parse_args()
    ua = UA(a.switch, a.port, a.user, a.password, a.rtp_port)
    try:
        {"attended": attended, "replaces": replaces, "refused": refused}[a.script](a, ua)
    except Fail as e:
        print("FAIL: %s" % e)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
