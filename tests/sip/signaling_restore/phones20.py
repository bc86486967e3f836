#!/usr/bin/env python3
"""Many phones, each with its own SIP socket (its own registration), for
tests/sip/signaling_restore: they register once (digest, Expires 300) and
never again, then place --calls calls phone 2k -> phone 2k+1, each answered
with SDP and RTP both ways (phones.py's Side).

  phones20.py --port SWITCH_PORT --first 1101 --phones 20 --calls 10
              --ready FILE --go FILE --out FILE [--max-time 60]

Once every call is answered the --ready file is written. When the --go file
appears (the switch's signaling was restarted meanwhile), each call is hung
up by a BYE: from the caller for even calls, from the callee for odd ones,
in the dialog as it was before the restart (no re-REGISTER, no new
INVITE); then phone 0 calls phone 1 again, the new call is answered, and
the caller hangs it up. Prints (and writes to --out) a JSON summary:
{"registered": N, "calls": [{"k", "status", "bye_from", "bye_status",
"other_got_bye", "rx_after_go": {"caller", "callee"}}...], "new_call":
{"status", "bye_status", "callee_got_invite"}}."""
import argparse
import hashlib
import json
import os
import re
import select
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tools"))
from phones import Side, hdr, parse, rand, sdp_target  # noqa: E402


class Phone:
    def __init__(self, user, switch):
        self.user = user
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind(("127.0.0.1", 0))
        self.port = self.sip.getsockname()[1]
        self.switch = switch
        self.registered = False
        self.reg_callid = "reg-%s-%s" % (user, rand(8))
        self.reg_cseq = 0

    def send(self, text):
        self.sip.sendto(text.encode("latin-1"), self.switch)

    def request(self, method, ruri, callid, cseq, frm, to, extra="", body="", branch=None):
        ctype = "Content-Type: application/sdp\r\n" if body else ""
        self.send("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
                  "Max-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n"
                  "Contact: <sip:%s@127.0.0.1:%d>\r\nUser-Agent: phones20\r\n%s%s"
                  "Content-Length: %d\r\n\r\n%s"
                  % (method, ruri, self.port, branch or rand(10), frm, to, callid, cseq, method,
                     self.user, self.port, extra, ctype, len(body), body))

    def reply(self, req, status, reason, to_tag=None, body=""):
        to = hdr(req, "to")
        if to_tag and "tag=" not in to:
            to += ";tag=" + to_tag
        vias = "".join("Via: %s\r\n" % v for v in hdr(req, "via", True))
        rr = "".join("Record-Route: %s\r\n" % v for v in hdr(req, "record-route", True))
        ctype = "Content-Type: application/sdp\r\n" if body else ""
        self.send("SIP/2.0 %d %s\r\n%s%sFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
                  "Contact: <sip:%s@127.0.0.1:%d>\r\n%sContent-Length: %d\r\n\r\n%s"
                  % (status, reason, vias, rr, hdr(req, "from"), to, hdr(req, "call-id"),
                     hdr(req, "cseq"), self.user, self.port, ctype, len(body), body))

    def auth(self, resp, method, ruri):
        ch = hdr(resp, "www-authenticate") or hdr(resp, "proxy-authenticate")
        p = dict((m.group(1).lower(), m.group(3) if m.group(3) is not None else m.group(2))
                 for m in re.finditer(r'([A-Za-z-]+)\s*=\s*("([^"]*)"|[^,\s]+)', ch))
        ha1 = hashlib.md5(("%s:%s:%spass" % (self.user, p["realm"], self.user)).encode()).hexdigest()
        ha2 = hashlib.md5(("%s:%s" % (method, ruri)).encode()).hexdigest()
        name = "Proxy-Authorization" if resp["status"] == 407 else "Authorization"
        if "qop" in p:
            cnonce = rand()
            r = hashlib.md5(("%s:%s:00000001:%s:auth:%s" % (ha1, p["nonce"], cnonce, ha2))
                            .encode()).hexdigest()
            return ('%s: Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                    'response="%s", algorithm=MD5, qop=auth, nc=00000001, cnonce="%s"\r\n'
                    % (name, self.user, p["realm"], p["nonce"], ruri, r, cnonce))
        r = hashlib.md5(("%s:%s:%s" % (ha1, p["nonce"], ha2)).encode()).hexdigest()
        return ('%s: Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", '
                'algorithm=MD5\r\n' % (name, self.user, p["realm"], p["nonce"], ruri, r))

    def register(self, auth=""):
        self.reg_cseq += 1
        ruri = "sip:%s:%d" % self.switch
        self.request("REGISTER", ruri, self.reg_callid, self.reg_cseq,
                     "<sip:%s@127.0.0.1>;tag=r%s" % (self.user, rand()),
                     "<sip:%s@127.0.0.1>" % self.user, "Expires: 300\r\n" + auth)


class Call:
    def __init__(self, k, caller, callee, switch):
        self.k = k
        self.caller, self.callee = caller, callee
        self.callid = "restore-%d-%s" % (k, rand(10))
        self.ftag = "c" + rand()
        self.cseq = 1
        self.ruri = "sip:%s@%s:%d" % (callee.user, switch[0], switch[1])
        self.auth = ""
        self.status = 0
        self.contact = None          # the switch's Contact in its 200 (caller side)
        self.to = None               # the 200's To, with the switch's tag
        self.caller_side = Side("caller")
        self.callee_side = None
        self.callee_invite = None    # the INVITE the callee got
        self.callee_callid = None
        self.callee_tag = None
        self.callee_cseq = 100
        self.bye_from = None
        self.bye_status = None
        self.bye_sent_at = None
        self.bye_tries = 0
        self.other_got_bye = False
        self.rx_at_go = {}
        self.rx_after_go = {}

    def frm(self):
        return '"Caller" <sip:%s@127.0.0.1>;tag=%s' % (self.caller.user, self.ftag)

    def invite(self):
        self.branch = rand(10)
        self.caller.request("INVITE", self.ruri, self.callid, self.cseq, self.frm(),
                            "<%s>" % self.ruri, self.auth, self.caller_side.sdp(), self.branch)

    def send_bye(self):
        if not self.bye_tries:
            self.bye_branch = rand(10)      # retransmissions: the same transaction
        self.bye_tries += 1
        self.bye_sent_at = time.time()
        if self.bye_from == "caller":
            self.caller.request("BYE", self.contact, self.callid, self.cseq, self.frm(), self.to,
                                branch=self.bye_branch)
        else:
            inv = self.callee_invite
            m = re.search(r"<([^>]+)>", hdr(inv, "contact"))
            target = m.group(1) if m else inv["ruri"]
            routes = "".join("Route: %s\r\n" % v for v in hdr(inv, "record-route", True))
            to = hdr(inv, "to")
            if "tag=" not in to:
                to += ";tag=" + self.callee_tag
            self.callee.request("BYE", target, self.callee_callid, self.callee_cseq, to,
                                hdr(inv, "from"), routes, branch=self.bye_branch)

    def sides(self):
        return [s for s in (self.caller_side, self.callee_side) if s]



def answer_response(phone, msg, by_callid, switch):
    """A phone's response handling shared by the scenario drivers: REGISTER
    challenges and 200s (phone.registered, phone.reg_at), BYE statuses, and the
    caller's INVITE answers (digest retry, ACK, the caller's RTP target)."""
    cid = hdr(msg, "call-id")
    st = msg["status"]
    method = hdr(msg, "cseq").split()[-1]
    if cid == phone.reg_callid:
        if st in (401, 407):
            phone.register(phone.auth(msg, "REGISTER", "sip:%s:%d" % switch))
        elif st == 200:
            phone.registered = True
            phone.reg_at = time.time()
        return
    got = by_callid.get(cid)
    if not got or st < 200:
        return
    call, role = got
    if method == "BYE":
        if call.bye_status is None:
            call.bye_status = st
        return
    if method != "INVITE" or role != "caller":
        return
    if st in (401, 407) and not call.auth:
        call.caller.request("ACK", call.ruri, call.callid, call.cseq, call.frm(),
                            hdr(msg, "to"), branch=call.branch)
        call.auth = phone.auth(msg, "INVITE", call.ruri)
        call.cseq += 1
        call.invite()
        return
    m = re.search(r"<([^>]+)>", hdr(msg, "contact"))
    call.contact = m.group(1) if m else call.ruri
    call.to = hdr(msg, "to")
    if st >= 300:
        call.caller.request("ACK", call.ruri, call.callid, call.cseq, call.frm(),
                            call.to, branch=call.branch)
        call.status = call.status or st
        return
    call.caller.request("ACK", call.contact, call.callid, call.cseq, call.frm(), call.to)
    if call.status == 0:
        call.status = st
        call.caller_side.remote = sdp_target(msg["body"])
        call.caller_side.up = True


def answer_request(phone, msg, by_callid, calls):
    """A phone's request handling: an INVITE for one of `calls` still waiting
    for its callee is answered with SDP (486 otherwise); re-INVITEs keep the
    session; a BYE ends the side (side.bye, call.other_got_bye)."""
    method = msg["method"]
    cid = hdr(msg, "call-id")
    got = by_callid.get(cid)
    if method == "ACK":
        return
    if method == "INVITE" and not got:
        pending = [c for c in calls if c.callee is phone and c.callee_invite is None
                   and c.status == 0]
        if not pending:
            phone.reply(msg, 486, "Busy Here")
            return
        call = pending[0]
        call.callee_side = Side("callee")
        call.callee_tag = "e" + rand()
        call.callee_invite = msg
        call.callee_callid = cid
        by_callid[cid] = (call, "callee")
        call.callee_side.remote = sdp_target(msg["body"])
        call.callee_side.up = True
        phone.reply(msg, 200, "OK", call.callee_tag, call.callee_side.sdp())
        return
    if not got:
        phone.reply(msg, 200 if method == "OPTIONS" else 481,
                    "OK" if method == "OPTIONS" else "Call/Transaction Does Not Exist")
        return
    call, role = got
    side = call.caller_side if role == "caller" else call.callee_side
    tag = call.callee_tag if role == "callee" else None
    if method == "INVITE":               # re-INVITE: same session
        if msg["body"]:
            side.remote = sdp_target(msg["body"])
        side.version += 1
        phone.reply(msg, 200, "OK", tag, side.sdp())
    elif method == "BYE":
        phone.reply(msg, 200, "OK", tag)
        side.up = False
        side.bye = True
        if call.bye_from and call.bye_from != role:
            call.other_got_bye = True
    else:
        phone.reply(msg, 200, "OK", tag)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--first", type=int, default=1101)
    ap.add_argument("--phones", type=int, default=20)
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--ready")
    ap.add_argument("--go")
    ap.add_argument("--out")
    ap.add_argument("--max-time", type=float, default=60.0)
    a = ap.parse_args()
    switch = ("127.0.0.1", a.port)
    phones = [Phone(str(a.first + i), switch) for i in range(a.phones)]
    by_sock = {p.sip: p for p in phones}
    calls = []
    by_callid = {}                   # Call-ID -> (call, role)
    new_call = None
    start = time.time()
    phase = "register"
    phase_at = start
    next_rtp = start
    for p in phones:
        p.register()
    reg_sent = start

    def all_sides():
        out = [s for c in calls for s in c.sides()]
        if new_call:
            out += new_call.sides()
        return out

    def on_response(phone, msg):
        answer_response(phone, msg, by_callid, switch)

    def on_request(phone, msg):
        answer_request(phone, msg, by_callid, calls + ([new_call] if new_call else []))

    while time.time() - start < a.max_time:
        now = time.time()
        if phase == "register":
            if all(p.registered for p in phones):
                phase, phase_at = "calls", now
            elif now - reg_sent > 3:
                for p in phones:
                    if not p.registered:
                        p.register()
                reg_sent = now
        elif phase == "calls":
            if len(calls) < a.calls and (not calls or calls[-1].status or now - phase_at > 0.3):
                k = len(calls)
                c = Call(k, phones[2 * k], phones[2 * k + 1], switch)
                calls.append(c)
                by_callid[c.callid] = (c, "caller")
                c.invite()
                phase_at = now
            if len(calls) == a.calls and all(c.status == 200 and c.callee_side for c in calls):
                phase, phase_at = "up", now
                if a.ready:
                    open(a.ready, "w").write("%f\n" % now)
            if any(c.status >= 300 for c in calls):
                if a.ready:
                    open(a.ready, "w").write("failed\n")
                break
        elif phase == "up":
            if a.go and os.path.exists(a.go):
                for c in calls:
                    c.rx_at_go = {s.name: s.rx for s in c.sides()}
                phase, phase_at = "settle", now
        elif phase == "settle":
            if now - phase_at > 1.5:         # RTP goes on through the restart
                for c in calls:
                    c.rx_after_go = {s.name: s.rx - c.rx_at_go.get(s.name, 0) for s in c.sides()}
                    c.bye_from = "caller" if c.k % 2 == 0 else "callee"
                    c.cseq += 1
                    if c.bye_from == "caller":
                        c.caller_side.up = False
                    else:
                        c.callee_side.up = False
                    c.send_bye()
                phase, phase_at = "byes", now
        elif phase == "byes":
            for c in calls:
                if c.bye_status is None and now - c.bye_sent_at > 0.5 and c.bye_tries < 6:
                    c.send_bye()
            done = all(c.bye_status is not None and c.other_got_bye for c in calls)
            if done or now - phase_at > 8:
                new_call = Call(len(calls), phones[0], phones[1], switch)
                by_callid[new_call.callid] = (new_call, "caller")
                new_call.invite()
                phase, phase_at = "new", now
        elif phase == "new":
            if new_call.status == 200 and now - phase_at > 1.0 and new_call.bye_from is None:
                new_call.bye_from = "caller"
                new_call.cseq += 1
                new_call.caller_side.up = False
                new_call.send_bye()
            if new_call.bye_status is not None or new_call.status >= 300 or now - phase_at > 10:
                phase, phase_at = "linger", now
        elif phase == "linger":
            if now - phase_at > 1.0:
                break
        if now >= next_rtp:
            for s in all_sides():
                s.send_rtp()
            next_rtp += 0.02
            if next_rtp < now:
                next_rtp = now + 0.02
        socks = list(by_sock) + [s.rtp for s in all_sides()]
        rd, _, _ = select.select(socks, [], [], max(0.0, min(0.02, next_rtp - time.time())))
        now = time.time()
        for sock in rd:
            phone = by_sock.get(sock)
            if not phone:
                continue
            data, _ = sock.recvfrom(65535)
            try:
                msg = parse(data)
            except (IndexError, ValueError):
                continue
            if "status" in msg:
                on_response(phone, msg)
            else:
                on_request(phone, msg)
        for s in all_sides():
            s.read_rtp(now)

    out = {"registered": sum(p.registered for p in phones), "phase": phase, "calls": []}
    for c in calls:
        out["calls"].append({"k": c.k, "status": c.status, "bye_from": c.bye_from,
                             "bye_status": c.bye_status, "other_got_bye": c.other_got_bye,
                             "rx_after_go": c.rx_after_go})
    if new_call:
        out["new_call"] = {"status": new_call.status, "bye_status": new_call.bye_status,
                           "callee_got_invite": new_call.callee_invite is not None,
                           "other_got_bye": new_call.other_got_bye}
    text = json.dumps(out, indent=1)
    if a.out:
        open(a.out, "w").write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
