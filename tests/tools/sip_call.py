#!/usr/bin/env python3
"""One SIP call over UDP, as a plain softphone would make it, for tests that
care about what the switch decides rather than about media.

  sip_call.py --port 5060 --exten 100 [--from-user 1001] [--from-name Alice]
              [--rtp-port 4000] [--hold 10] [--timeout 15]

Sends INVITE (with a PCMU/PCMA/telephone-event offer) from an ephemeral
127.0.0.1 port to 127.0.0.1:PORT, request URI sip:EXTEN@127.0.0.1:PORT.
Provisional responses are noted. A final response >= 300 is ACKed. A 200 is
ACKed to its Contact; then the switch's BYE is awaited for at most --hold
seconds and answered 200; without one the call is ended with our BYE.
Prints one JSON object: {"status": N, "provisional": [...], "bye": "switch"|
"caller"|null}. status is 0 when no final response came within --timeout.
Exit status 0 whenever the exchange completed (whatever the status)."""
import argparse
import json
import random
import re
import socket
import sys
import time


def rand(n=8):
    return "%0*x" % (n, random.getrandbits(4 * n))


class Phone:
    def __init__(self, a):
        self.a = a
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.lport = self.s.getsockname()[1]
        self.dst = ("127.0.0.1", a.port)
        self.callid = "call-%s@127.0.0.1" % rand(12)
        self.ftag = rand()
        self.cseq = 1
        self.ruri = "sip:%s@127.0.0.1:%d" % (a.exten, a.port)
        self.to = "<sip:%s@127.0.0.1:%d>" % (a.exten, a.port)
        self.frm = '"%s" <sip:%s@127.0.0.1:%d>;tag=%s' % (a.from_name, a.from_user,
                                                          self.lport, self.ftag)
        self.contact = "<sip:%s@127.0.0.1:%d>" % (a.from_user, self.lport)

    def send(self, text):
        self.s.sendto(text.encode("latin-1"), self.dst)

    def request(self, method, ruri, branch, cseq, to, body="", extra=""):
        head = ("%s %s SIP/2.0\r\n"
                "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
                "Max-Forwards: 70\r\n"
                "From: %s\r\n"
                "To: %s\r\n"
                "Call-ID: %s\r\n"
                "CSeq: %d %s\r\n"
                "Contact: %s\r\n"
                "User-Agent: tandem-test sip_call.py\r\n"
                "%s"
                "Content-Length: %d\r\n\r\n"
                % (method, ruri, self.lport, branch, self.frm, to, self.callid, cseq, method,
                   self.contact, extra, len(body.encode("latin-1"))))
        return head + body

    def recv(self, deadline):
        while True:
            left = deadline - time.time()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                data, _ = self.s.recvfrom(65535)
            except socket.timeout:
                return None
            except ConnectionRefusedError:
                continue
            return parse(data.decode("latin-1"))


def parse(text):
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    msg = {"first": lines[0], "headers": [], "body": body, "raw": text}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            msg["headers"].append((k.strip().lower(), v.strip()))
    m = re.match(r"SIP/2\.0 (\d{3})", lines[0])
    msg["status"] = int(m.group(1)) if m else None
    msg["method"] = None if m else lines[0].split(" ", 1)[0]
    return msg


COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact"}


def header(msg, name, all_=False):
    vals = [v for k, v in msg["headers"] if COMPACT.get(k, k) == name]
    return vals if all_ else (vals[0] if vals else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--exten", default="100")
    ap.add_argument("--from-user", default="1001")
    ap.add_argument("--from-name", default="Alice")
    ap.add_argument("--rtp-port", type=int, default=4000)
    ap.add_argument("--hold", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=15.0)
    a = ap.parse_args()
    p = Phone(a)
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           "m=audio %d RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
           "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n" % a.rtp_port)
    branch = rand(16)
    invite = p.request("INVITE", p.ruri, branch, 1, p.to, sdp,
                       "Content-Type: application/sdp\r\n")
    result = {"status": 0, "provisional": [], "bye": None}
    p.send(invite)
    deadline = time.time() + a.timeout
    resend = time.time() + 0.5
    final = None
    while final is None and time.time() < deadline:
        m = p.recv(min(deadline, resend))
        if m is None:
            if time.time() >= resend and not result["provisional"]:
                p.send(invite)              # Timer A, as a phone would (UDP)
                resend = time.time() + 1.0
            else:
                resend = deadline
            continue
        if m["status"] is None or header(m, "call-id") != p.callid:
            continue
        if m["status"] < 200:
            if not result["provisional"] or result["provisional"][-1] != m["status"]:
                result["provisional"].append(m["status"])
            continue
        final = m
    if final is None:
        print(json.dumps(result))
        return 0
    result["status"] = final["status"]
    to = header(final, "to")
    if final["status"] >= 300:
        # ACK for a non-2xx: the same branch, the To of the response.
        p.send(p.request("ACK", p.ruri, branch, 1, to))
        print(json.dumps(result))
        return 0
    contact = header(final, "contact") or p.ruri
    m = re.search(r"<([^>]+)>", contact)
    target = m.group(1) if m else contact.split(";")[0]
    ack = p.request("ACK", target, rand(16), 1, to)
    p.send(ack)
    hold_end = time.time() + a.hold
    while time.time() < hold_end:
        m = p.recv(hold_end)
        if m is None:
            break
        if header(m, "call-id") != p.callid:
            continue
        if m["status"] == 200 and "INVITE" in (header(m, "cseq") or ""):
            p.send(ack)                     # the 200 again: our ACK was lost
            continue
        if m["method"] in ("BYE", "CANCEL"):
            vias = "".join("Via: %s\r\n" % v for v in header(m, "via", True))
            p.send("SIP/2.0 200 OK\r\n%sFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
                   "Content-Length: 0\r\n\r\n"
                   % (vias, header(m, "from"), header(m, "to"), p.callid, header(m, "cseq")))
            result["bye"] = "switch"
            print(json.dumps(result))
            return 0
        if m["method"] and m["method"] != "ACK":
            # in-dialog request we do not model (re-INVITE, INFO, ...): refuse it
            vias = "".join("Via: %s\r\n" % v for v in header(m, "via", True))
            p.send("SIP/2.0 488 Not Acceptable Here\r\n%sFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"
                   "CSeq: %s\r\nContent-Length: 0\r\n\r\n"
                   % (vias, header(m, "from"), header(m, "to"), p.callid, header(m, "cseq")))
    bye = p.request("BYE", target, rand(16), 2, to)
    p.send(bye)
    result["bye"] = "caller"
    end = time.time() + 3
    while time.time() < end:
        m = p.recv(end)
        if m is None:
            p.send(bye)
            end = min(end, time.time() + 1)
            continue
        if m["status"] and "BYE" in (header(m, "cseq") or ""):
            break
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
