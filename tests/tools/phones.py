#!/usr/bin/env python3
"""Two phones in one process, for tests of calls that must survive what
happens to the switch's media: a callee that registers and answers, and a
caller that places N calls, both sending RTP every 20 ms for the whole call
to wherever the latest SDP says, answering re-INVITEs, and logging where
each side's RTP comes from and when.

  phones.py --port SWITCH_PORT --calls 20 [--exten 1002] [--caller 1001]
            [--callee 1002] [--ready FILE] [--stop FILE] [--mark FILE]
            [--refuse K] [--max-time 60] [--linger 2] [--out FILE]
            [--mute ROLE:SECS] [--drop ROLE:N] [--rtcp ROLE]
            [--ptime MS] [--alternate] [--part FILE] [--window SECS]

--exten 1002 calls the callee (registered first, with digest); an exten the
callee does not answer (600, Echo) makes one-sided calls. Once every call is
answered the --ready file is written; when the --stop file appears the
caller hangs up every call that is still up (BYE) and the tool stops
--linger seconds later (2), answering what comes meanwhile.
--refuse K: call number K (0-based) answers re-INVITEs with 488.
--drop ROLE:N: that phone skips every Nth RTP packet (a known loss the
switch should count); --rtcp ROLE: that phone sends an RTCP RR each second
about the RTP it receives (summary: sent, dropped, rx_lost, rx_jitter_ms).
--ptime MS: one RTP packet each MS ms (20; a larger one keeps many calls
light). --alternate: odd-numbered calls are hung up by the callee (BYE from
its side of the dialog), even ones by the caller. --part FILE: when it
appears, the calls numbered below the number it holds are hung up (once);
the rest go on until --stop. --window SECS (with --mark): each side counts
the RTP it receives from the mark's appearance until SECS later
("window_rx" in the summary).
--mark FILE holds an epoch time (the moment a worker was killed): the
summary then says, per side, when the first packet from a new source
address came after it.

Prints (and writes to --out) one JSON object: {"calls": [{"status",
"ended_by", "bye_answered" (the final status to the caller's own BYE, None
if it sent none or heard nothing), "sides": {"caller"|"callee": {"sources": [[addr, first, last,
count]...], "reinvites": [t...]}}}...], "moved": {...}}. Exit status 0 when
the tool ran to the end, whatever it saw."""
import argparse
import hashlib
import json
import os
import random
import re
import select
import socket
import struct
import sys
import time


def rand(n=8):
    return "%0*x" % (n, random.getrandbits(4 * n))


def parse(data):
    text = data.decode("latin-1")
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    first = lines[0].split(" ", 2)
    msg = {"body": body, "headers": []}
    if first[0] == "SIP/2.0":
        msg["status"] = int(first[1])
    else:
        msg["method"], msg["ruri"] = first[0], first[1]
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            msg["headers"].append((k.strip().lower(), v.strip()))
    return msg


def hdr(msg, name, all_=False):
    vals = [v for k, v in msg["headers"] if k == name]
    return vals if all_ else (vals[0] if vals else "")


def sdp_target(body):
    c = re.search(r"^c=IN IP4 (\S+)", body, re.M)
    m = re.search(r"^m=audio (\d+)", body, re.M)
    if not c or not m:
        return None
    if c.group(1) == "0.0.0.0" or re.search(r"^a=(sendonly|inactive)", body, re.M):
        return None
    return (c.group(1), int(m.group(1)))


class Side:
    """One end of one call: a dialog, an RTP socket, what it received."""

    def __init__(self, name, ptime=0.02):
        self.name = name
        self.ptime = ptime
        self.gap = max(0.1, 2 * ptime)   # a silence worth logging
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.rtp.setblocking(False)
        self.port = self.rtp.getsockname()[1]
        self.remote = None
        self.seq = random.randint(0, 1000)
        self.ts = 0
        self.ssrc = random.getrandbits(32)
        self.version = 1
        self.sources = {}            # "ip:port" -> [first, last, count]
        self.reinvites = []
        self.refuse = False
        self.up = False
        self.last_rx = None
        self.bye = False             # the switch sent this side a BYE
        self.bye_at = None
        self.cancelled = False       # the switch CANCELled its INVITE to this side
        self.mute_at = None          # stops sending RTP then (--mute)
        self.rx = 0
        self.gaps = []               # [silence start, end, packets before it] over 100 ms
        self.drop_every = 0          # --drop: every Nth packet is not sent (its seq is used)
        self.sent = 0
        self.dropped = 0
        self.rtcp = False            # --rtcp: an RR about what it receives, every second
        self.next_rr = 0
        self.rx_ssrc = None          # the stream it receives: RFC 3550 A.1/A.8, simply
        self.rx_base = self.rx_max = 0
        self.rx_count = 0
        self.rx_transit = None
        self.rx_jitter = 0.0
        self.rr_prior = (0, 0)       # expected, received at the last RR
        self.rr_sent = 0
        self.rx_mark = None          # rx when the --mark file appeared
        self.rx_window = None        # rx --window seconds later

    def sdp(self):
        return ("v=0\r\no=phone 42 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                "t=0 0\r\nm=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
                "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n" % (self.version, self.port))

    def send_rtp(self):
        if not self.up or not self.remote:
            return
        if self.mute_at is not None and time.time() >= self.mute_at:
            return                   # a phone that lost power: nothing more
        pkt = struct.pack("!BBHII", 0x80, 0, self.seq & 0xFFFF, self.ts & 0xFFFFFFFF,
                          self.ssrc) + b"\xff" * 160
        self.seq += 1
        self.ts += int(8000 * self.ptime)
        if self.drop_every and self.seq % self.drop_every == 0:
            self.dropped += 1        # lost on the way: the switch sees a gap
            return
        try:
            self.rtp.sendto(pkt, self.remote)
            self.sent += 1
        except OSError:
            pass

    def send_rr(self, now):
        """An RTCP RR (RFC 3550 6.4.2) about the stream it receives, to the
        port above the remote's RTP port, from its RTP socket."""
        if not self.rtcp or not self.up or not self.remote or self.rx_ssrc is None:
            return
        if now < self.next_rr:
            return
        self.next_rr = now + 1.0
        expected = self.rx_max - self.rx_base + 1
        lost = expected - self.rx_count
        e0, r0 = self.rr_prior
        de, dr = expected - e0, self.rx_count - r0
        fraction = (256 * (de - dr) // de) if de > 0 and de > dr else 0
        self.rr_prior = (expected, self.rx_count)
        lost24 = max(min(lost, 0x7FFFFF), -0x800000) & 0xFFFFFF
        pkt = struct.pack("!BBHI", 0x81, 201, 7, self.ssrc) + struct.pack(
            "!IIIIII", self.rx_ssrc, (fraction & 0xFF) << 24 | lost24, self.rx_max & 0xFFFFFFFF,
            int(self.rx_jitter) & 0xFFFFFFFF, 0, 0)
        try:
            self.rtp.sendto(pkt, (self.remote[0], self.remote[1] + 1))
            self.rr_sent += 1
        except OSError:
            pass

    def count_rx(self, data, now):
        seq, ts, ssrc = struct.unpack("!HII", data[2:12])
        if self.rx_ssrc != ssrc:
            self.rx_ssrc, self.rx_base, self.rx_max, self.rx_count = ssrc, seq, seq, 0
            self.rx_transit = None
            self.rr_prior = (0, 0)
        else:
            ext = (self.rx_max & ~0xFFFF) | seq
            if ext < self.rx_max - 0x8000:
                ext += 0x10000
            elif ext > self.rx_max + 0x8000:
                ext -= 0x10000
            self.rx_max = max(self.rx_max, ext)
        self.rx_count += 1
        transit = now * 8000 - ts
        if self.rx_transit is not None:
            self.rx_jitter += (abs(transit - self.rx_transit) - self.rx_jitter) / 16
        self.rx_transit = transit

    def read_rtp(self, now):
        while True:
            try:
                data, src = self.rtp.recvfrom(2048)
            except (BlockingIOError, OSError):
                return
            if len(data) < 12:
                continue
            self.count_rx(data, now)
            if self.last_rx is not None and now - self.last_rx > self.gap:
                self.gaps.append([self.last_rx, now, self.rx])
            self.last_rx = now
            self.rx += 1
            key = "%s:%d" % src
            s = self.sources.setdefault(key, [now, now, 0])
            s[1] = now
            s[2] += 1


class Phones:
    def __init__(self, a):
        self.a = a
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind(("127.0.0.1", 0))
        self.lport = self.sip.getsockname()[1]
        self.dst = ("127.0.0.1", a.port)
        self.calls = []              # dicts: caller Side, callee Side, ids
        self.by_callid = {}          # Call-ID -> (call, "caller"|"callee")
        self.pending = {}            # Call-ID of our requests -> handler

    def send(self, text, dst=None):
        self.sip.sendto(text.encode("latin-1"), dst or self.dst)

    def request(self, method, ruri, callid, cseq, frm, to, extra="", body="", branch=None):
        ctype = "Content-Type: application/sdp\r\n" if body else ""
        self.send("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
                  "Max-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n"
                  "Contact: <sip:%s@127.0.0.1:%d>\r\n%s%sContent-Length: %d\r\n\r\n%s"
                  % (method, ruri, self.lport, branch or rand(10), frm, to, callid, cseq, method,
                     self.a.caller if "tag=c" in frm else self.a.callee, self.lport,
                     extra, ctype, len(body), body))

    def reply(self, req, status, reason, to_tag=None, body=""):
        to = hdr(req, "to")
        if to_tag and "tag=" not in to:
            to += ";tag=" + to_tag
        vias = "".join("Via: %s\r\n" % v for v in hdr(req, "via", True))
        ctype = "Content-Type: application/sdp\r\n" if body else ""
        self.send("SIP/2.0 %d %s\r\n%sFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
                  "Contact: <sip:%s@127.0.0.1:%d>\r\n%sContent-Length: %d\r\n\r\n%s"
                  % (status, reason, vias, hdr(req, "from"), to, hdr(req, "call-id"),
                     hdr(req, "cseq"), self.a.callee, self.lport, ctype, len(body), body))

    def auth(self, resp, method, ruri, user, password):
        ch = hdr(resp, "www-authenticate") or hdr(resp, "proxy-authenticate")
        p = dict((m.group(1).lower(), m.group(3) if m.group(3) is not None else m.group(2))
                 for m in re.finditer(r'([A-Za-z-]+)\s*=\s*("([^"]*)"|[^,\s]+)', ch))
        ha1 = hashlib.md5(("%s:%s:%s" % (user, p["realm"], password)).encode()).hexdigest()
        ha2 = hashlib.md5(("%s:%s" % (method, ruri)).encode()).hexdigest()
        name = "Proxy-Authorization" if resp["status"] == 407 else "Authorization"
        if "qop" in p:
            cnonce = rand()
            r = hashlib.md5(("%s:%s:00000001:%s:auth:%s" % (ha1, p["nonce"], cnonce, ha2))
                            .encode()).hexdigest()
            return ('%s: Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                    'response="%s", algorithm=MD5, qop=auth, nc=00000001, cnonce="%s"\r\n'
                    % (name, user, p["realm"], p["nonce"], ruri, r, cnonce))
        r = hashlib.md5(("%s:%s:%s" % (ha1, p["nonce"], ha2)).encode()).hexdigest()
        return ('%s: Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", '
                'algorithm=MD5\r\n' % (name, user, p["realm"], p["nonce"], ruri, r))

    def recv(self, timeout):
        r, _, _ = select.select([self.sip], [], [], timeout)
        if not r:
            return None, None
        data, src = self.sip.recvfrom(65535)
        return parse(data), src

    # --- registration ---------------------------------------------------

    def register(self):
        ruri = "sip:127.0.0.1:%d" % self.a.port
        callid = "reg-%s" % rand(12)
        frm = "<sip:%s@127.0.0.1>;tag=r%s" % (self.a.callee, rand())
        to = "<sip:%s@127.0.0.1>" % self.a.callee
        extra = "Expires: 300\r\n"
        for cseq in (1, 2, 3):
            self.request("REGISTER", ruri, callid, cseq, frm, to, extra)
            end = time.time() + 5
            while time.time() < end:
                msg, _ = self.recv(0.5)
                if not msg or hdr(msg, "call-id") != callid or "status" not in msg:
                    continue
                if msg["status"] < 200:
                    continue
                if msg["status"] == 200:
                    return True
                if msg["status"] in (401, 407):
                    extra = "Expires: 300\r\n" + self.auth(msg, "REGISTER", ruri, self.a.callee,
                                                         self.a.callee + "pass")
                    break
                return False
        return False

    # --- calls ------------------------------------------------------------

    def place(self, k):
        call = {"k": k, "caller": Side("caller", self.a.ptime / 1000.0), "callee": None, "status": 0,
                "ended_by": None, "callid": "phones-%d-%s" % (k, rand(10)),
                "ftag": "c" + rand(), "cseq": 1, "to": None, "auth": ""}
        call["ruri"] = "sip:%s@127.0.0.1:%d" % (self.a.exten, self.a.port)
        self.arm_quality(call["caller"])
        self.calls.append(call)
        self.by_callid[call["callid"]] = (call, "caller")
        self.invite(call)

    def invite(self, call):
        frm = '"Caller" <sip:%s@127.0.0.1>;tag=%s' % (self.a.caller, call["ftag"])
        call["branch"] = rand(10)
        self.request("INVITE", call["ruri"], call["callid"], call["cseq"], frm,
                     "<%s>" % call["ruri"], call["auth"], call["caller"].sdp(), call["branch"])

    def ack(self, call, resp, ruri, same_branch=False):
        """ACK of a final response: a non-2xx one in the INVITE's transaction
        (its branch), a 2xx one in a new transaction to the Contact."""
        frm = '"Caller" <sip:%s@127.0.0.1>;tag=%s' % (self.a.caller, call["ftag"])
        self.request("ACK", ruri, call["callid"], int(hdr(resp, "cseq").split()[0]), frm,
                     hdr(resp, "to"), branch=call["branch"] if same_branch else None)

    def on_response(self, msg):
        got = self.by_callid.get(hdr(msg, "call-id"))
        if not got:
            return
        call, role = got
        method = hdr(msg, "cseq").split()[-1]
        st = msg["status"]
        if role == "callee" and method == "BYE" and st >= 200:
            call["bye_answered"] = st           # the callee hung up (--alternate)
            return
        if role != "caller" or st < 200:
            return
        if method == "INVITE":
            cseq = int(hdr(msg, "cseq").split()[0])
            if st >= 300:
                self.ack(call, msg, call["ruri"], True)
            if cseq in call.setdefault("finals", set()):
                if st < 300:                    # 2xx retransmitted: our ACK was lost
                    self.ack(call, msg, call.get("contact", call["ruri"]))
                return
            call["finals"].add(cseq)
            if st in (401, 407) and not call["auth"]:
                call["auth"] = self.auth(msg, "INVITE", call["ruri"], self.a.caller,
                                         self.a.caller + "pass")
                call["cseq"] += 1
                self.invite(call)
                return
            m = re.search(r"<([^>]+)>", hdr(msg, "contact"))
            call["contact"] = m.group(1) if m else call["ruri"]
            call["to"] = hdr(msg, "to")
            if st >= 300:
                call["status"] = st
                return
            self.ack(call, msg, call["contact"])
            if call["status"] == 0:
                call["status"] = st
                side = call["caller"]
                side.remote = sdp_target(msg["body"])
                side.up = True
                self.arm_mute(side)
        elif method == "BYE":
            call["bye_answered"] = st

    def on_request(self, msg, src):
        method = msg["method"]
        callid = hdr(msg, "call-id")
        got = self.by_callid.get(callid)
        if method == "ACK":
            return
        if method == "OPTIONS":
            self.reply(msg, 200, "OK")
            return
        if method == "INVITE" and not got:
            # A new call to the callee: the newest caller call without one.
            call = next((c for c in self.calls if c["callee"] is None and c["status"] == 0),
                        None)
            if call is None:
                self.reply(msg, 486, "Busy Here")
                return
            side = Side("callee", self.a.ptime / 1000.0)
            self.arm_quality(side)
            side.tag = "e" + rand()
            side.refuse = call["k"] == self.a.refuse
            call["callee"] = side
            self.by_callid[callid] = (call, "callee")
            side.remote = sdp_target(msg["body"])
            side.invite = msg
            if self.a.answer_delay > 0:
                self.reply(msg, 180, "Ringing", side.tag)
                side.answer_at = time.time() + self.a.answer_delay
                return
            side.up = True
            self.arm_mute(side)
            self.reply(msg, 200, "OK", side.tag, side.sdp())
            return
        if not got:
            self.reply(msg, 481, "Call/Transaction Does Not Exist")
            return
        call, role = got
        side = call[role]
        if method == "CANCEL":
            self.reply(msg, 200, "OK", getattr(side, "tag", None))
            if not side.up and getattr(side, "invite", None):
                self.reply(side.invite, 487, "Request Terminated", side.tag)
                side.answer_at = None
                side.cancelled = True
            return
        if method == "INVITE" and not side.up and getattr(side, "answer_at", None):
            self.reply(msg, 180, "Ringing", side.tag)      # a retransmission while ringing
            return
        if method == "INVITE":                      # re-INVITE
            side.reinvites.append(time.time())
            if side.refuse:
                self.reply(msg, 488, "Not Acceptable Here", getattr(side, "tag", None))
                return
            if msg["body"]:
                side.remote = sdp_target(msg["body"])
            side.version += 1
            self.reply(msg, 200, "OK", getattr(side, "tag", None), side.sdp())
        elif method == "BYE":
            self.reply(msg, 200, "OK")
            side.up = False
            side.bye = True
            side.bye_at = time.time()
            other = call["callee"] if role == "caller" else call["caller"]
            if call["ended_by"] is None:
                call["ended_by"] = "switch-" + role
            if role == "caller":
                call["caller"].up = False
        else:
            self.reply(msg, 200, "OK")

    def arm_quality(self, side):
        for d in self.a.drop:
            role, _, n = d.partition(":")
            if role == side.name:
                side.drop_every = int(n)
        side.rtcp = side.name in self.a.rtcp

    def arm_mute(self, side):
        for m in self.a.mute:
            role, _, secs = m.partition(":")
            if role == side.name:
                side.mute_at = time.time() + float(secs)

    def hangup(self, call):
        if self.a.alternate and call["k"] % 2 == 1:
            self.hangup_callee(call)
            return
        if not call["caller"].up:
            return
        call["cseq"] += 1
        frm = '"Caller" <sip:%s@127.0.0.1>;tag=%s' % (self.a.caller, call["ftag"])
        self.request("BYE", call["contact"], call["callid"], call["cseq"], frm, call["to"])
        call["caller"].up = False
        call["ended_by"] = call["ended_by"] or "caller"

    def hangup_callee(self, call):
        """The callee's BYE, in the dialog the switch's INVITE made."""
        side = call["callee"]
        if not side or not side.up:
            return
        inv = side.invite
        m = re.search(r"<([^>]+)>", hdr(inv, "contact"))
        ruri = m.group(1) if m else "sip:127.0.0.1:%d" % self.a.port
        to = hdr(inv, "to")
        if "tag=" not in to:
            to += ";tag=" + side.tag
        self.request("BYE", ruri, hdr(inv, "call-id"), 1, to, hdr(inv, "from"))
        side.up = False
        call["ended_by"] = call["ended_by"] or "callee"

    def run(self):
        a = self.a
        if a.exten == a.callee and not self.register():
            print("phones: the callee could not register", file=sys.stderr)
            return 1
        start = time.time()
        placed = 0
        next_rtp = time.time()
        ready = False
        stopping = None
        parted = False
        window_end = None
        window_done = False
        while time.time() - start < a.max_time:
            now = time.time()
            if placed < a.calls and (placed == 0 or self.calls[-1]["status"] != 0 or
                                     now - start > placed * 0.5):
                self.place(placed)
                placed += 1
            if not ready and placed == a.calls and all(
                    c["status"] == 200 and (c["callee"] or a.exten != a.callee)
                    for c in self.calls):
                ready = True
                if a.ready:
                    open(a.ready, "w").write("%f\n" % now)
            if any(c["status"] >= 300 for c in self.calls) and a.ready and not ready:
                ready = True
                open(a.ready, "w").write("failed\n")
            if not parted and a.part and os.path.exists(a.part):
                try:
                    upto = int(open(a.part).read().split()[0])
                except (IndexError, ValueError):
                    upto = None
                if upto is not None:
                    parted = True
                    for c in self.calls:
                        if c["k"] < upto:
                            self.hangup(c)
            if a.mark and a.window and window_end is None and os.path.exists(a.mark):
                window_end = now + a.window
                for c in self.calls:
                    for role in ("caller", "callee"):
                        if c[role]:
                            c[role].rx_mark = c[role].rx
            if window_end is not None and not window_done and now >= window_end:
                window_done = True
                for c in self.calls:
                    for role in ("caller", "callee"):
                        if c[role]:
                            c[role].rx_window = c[role].rx
            if stopping is None and a.stop and os.path.exists(a.stop):
                stopping = now
                for c in self.calls:
                    self.hangup(c)
            if stopping is not None and now - stopping > a.linger:
                break
            for c in self.calls:
                side = c["callee"]
                if side and getattr(side, "answer_at", None) and not side.up and now >= side.answer_at:
                    side.up = True
                    side.answered_at = now
                    self.arm_mute(side)
                    self.reply(side.invite, 200, "OK", side.tag, side.sdp())
            if now >= next_rtp:
                for c in self.calls:
                    for role in ("caller", "callee"):
                        if c[role]:
                            c[role].send_rtp()
                            c[role].send_rr(now)
                next_rtp += a.ptime / 1000.0
                if next_rtp < now:
                    next_rtp = now + a.ptime / 1000.0
            sides = {c[r].rtp: c[r] for c in self.calls for r in ("caller", "callee") if c[r]}
            rd, _, _ = select.select([self.sip] + list(sides), [], [],
                                     max(0.0, min(0.02, next_rtp - time.time())))
            now = time.time()
            for s in rd:
                if s in sides:
                    sides[s].read_rtp(now)
                elif s is self.sip:
                    data, src = self.sip.recvfrom(65535)
                    try:
                        msg = parse(data)
                    except (IndexError, ValueError):
                        continue
                    if "status" in msg:
                        self.on_response(msg)
                    else:
                        self.on_request(msg, src)
        return 0

    def summary(self):
        mark = None
        if self.a.mark and os.path.exists(self.a.mark):
            mark = float(open(self.a.mark).read().split()[0])
        out = {"calls": []}
        delays = []
        unmoved = 0
        for c in self.calls:
            e = {"k": c["k"], "status": c["status"], "ended_by": c["ended_by"],
                 "bye_answered": c.get("bye_answered"), "sides": {}}
            for role in ("caller", "callee"):
                s = c[role]
                if not s:
                    continue
                srcs = sorted(([k] + v for k, v in s.sources.items()), key=lambda x: x[1])
                e["sides"][role] = {"sources": srcs, "reinvites": s.reinvites, "rx": s.rx, "bye": s.bye,
                                    "bye_at": s.bye_at, "muted_at": s.mute_at,
                                    "cancelled": s.cancelled,
                                    "sent": s.sent, "dropped": s.dropped,
                                    "rx_lost": (s.rx_max - s.rx_base + 1 - s.rx_count
                                                if s.rx_ssrc is not None else 0),
                                    "rx_jitter_ms": round(s.rx_jitter / 8.0, 2),
                                    "rr_sent": s.rr_sent,
                                    "window_rx": (s.rx_window - s.rx_mark
                                                  if s.rx_window is not None
                                                  and s.rx_mark is not None else None),
                                    "gaps": [[round(x, 3) for x in g] for g in s.gaps],
                                    "remote": "%s:%d" % s.remote if s.remote else None}
                if mark is not None:
                    # The silence the kill caused: the first gap that ends after
                    # it (the new worker may reuse the dead one's port numbers,
                    # so a new source address is not required). The mark is
                    # written just before the SIGKILL; on a loaded host the
                    # kill may land some tens of ms later, and packets flow
                    # until then: the gap may start up to 250 ms after it.
                    gap = next((g for g in s.gaps if g[1] >= mark and g[0] <= mark + 0.25),
                               None)
                    if gap:
                        d = gap[1] - mark
                        e["sides"][role]["moved_after"] = round(d, 3)
                        e["sides"][role]["new_packets"] = s.rx - gap[2]
                        delays.append(d)
                    else:
                        unmoved += 1
            out["calls"].append(e)
        if mark is not None:
            delays.sort()
            out["moved"] = {"sides": len(delays), "unmoved": unmoved,
                            "median": round(delays[len(delays) // 2], 3) if delays else None,
                            "max": round(delays[-1], 3) if delays else None}
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--calls", type=int, default=1)
    ap.add_argument("--exten", default="1002")
    ap.add_argument("--caller", default="1001")
    ap.add_argument("--callee", default="1002")
    ap.add_argument("--ready")
    ap.add_argument("--stop")
    ap.add_argument("--mark")
    ap.add_argument("--refuse", type=int, default=-1)
    ap.add_argument("--mute", action="append", default=[],
                    help="ROLE:SECONDS (caller or callee): that phone stops sending RTP "
                         "SECONDS after its call is answered")
    ap.add_argument("--drop", action="append", default=[],
                    help="ROLE:N (caller or callee): that phone does not send every Nth "
                         "RTP packet (its sequence number is used: the switch sees it lost)")
    ap.add_argument("--rtcp", action="append", default=[],
                    help="ROLE: that phone sends an RTCP receiver report every second "
                         "(loss and jitter of what it receives) to the port above the RTP one")
    ap.add_argument("--answer-delay", type=float, default=0.0,
                    help="the callee rings (180) this long before it answers")
    ap.add_argument("--ptime", type=float, default=20.0,
                    help="milliseconds between two RTP packets of a phone (20)")
    ap.add_argument("--alternate", action="store_true",
                    help="odd-numbered calls are hung up by the callee, even ones by the caller")
    ap.add_argument("--part",
                    help="FILE: when it appears, the calls numbered below the number it holds "
                         "are hung up (once)")
    ap.add_argument("--window", type=float, default=0.0,
                    help="SECONDS (with --mark): each side counts the RTP it receives from "
                         "the mark file's appearance until SECONDS later (window_rx)")
    ap.add_argument("--max-time", type=float, default=60.0)
    ap.add_argument("--linger", type=float, default=2.0,
                    help="seconds the tool still answers (BYEs, re-INVITEs) after --stop")
    ap.add_argument("--out")
    a = ap.parse_args()
    p = Phones(a)
    rc = p.run()
    out = json.dumps(p.summary(), indent=1)
    if a.out:
        open(a.out, "w").write(out + "\n")
    print(out)
    return rc


if __name__ == "__main__":
    sys.exit(main())
