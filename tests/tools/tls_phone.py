#!/usr/bin/env python3
"""SIP phones over TLS (or TCP), for what Debian's sipp cannot do (it is
built without OpenSSL). Each phone opens one connection, REGISTERs on it
(answering a digest challenge with MD5) and keeps it open; its Via and
Contact name the connection's own local address, as TLS phones do, so calls
come back on that connection (RFC 3261 18.2.2 / RFC 5626 reuse).

  tls_phone.py --port P callee --user 1002 --password 1002pass [--calls 1]
      register, then answer --calls INVITEs arriving on the connection
      (100/180/200 with SDP, wait for ACK and BYE, 200), exit 0 when done
  tls_phone.py --port P register --prefix phone --count 1000 [--hold 30]
      register phone0001..phoneNNNN (peers without a secret: no challenge),
      one connection each, print "registered N" and hold them --hold seconds
      (or until a line arrives on stdin / SIGTERM)

--tcp uses plain TCP instead of TLS. The server certificate is not checked
(the tests make a self-signed one). Exit 1 on any unexpected answer."""
import argparse
import hashlib
import random
import re
import select
import signal
import socket
import ssl
import sys
import time


def connect(a):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    if a.tcp:
        return s
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(s)


class Conn:
    def __init__(self, sock, tcp):
        self.s = sock
        self.buf = b""
        self.proto = "TCP" if tcp else "TLS"
        self.lhost, self.lport = sock.getsockname()[:2]

    def send(self, text):
        self.s.sendall(text.encode())

    def recv(self, timeout=10.0):
        """One whole message (framed by Content-Length), or None on timeout/EOF."""
        end = time.time() + timeout
        while True:
            m = re.search(rb"\r\n\r\n", self.buf)
            if m:
                head = self.buf[:m.end()].decode(errors="replace")
                cl = re.search(r"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
                n = m.end() + (int(cl.group(1)) if cl else 0)
                if len(self.buf) >= n:
                    msg, self.buf = self.buf[:n].decode(errors="replace"), self.buf[n:]
                    return msg
            left = end - time.time()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                data = self.s.recv(65536)
            except (socket.timeout, ssl.SSLError, OSError):
                return None
            if not data:
                return None
            self.buf += data


def header(msg, name):
    m = re.search(r"(?im)^%s\s*:\s*(.*?)\r?$" % re.escape(name), msg)
    return m.group(1) if m else ""


def status(msg):
    m = re.match(r"SIP/2.0 (\d+)", msg)
    return int(m.group(1)) if m else 0


def register(c, a, user, password, expires=300):
    callid = "%08x-reg@%s" % (random.getrandbits(32), c.lhost)
    tag = "%08x" % random.getrandbits(32)
    auth = ""
    for cseq in (1, 2):
        c.send("REGISTER sip:127.0.0.1:%d SIP/2.0\r\n"
               "Via: SIP/2.0/%s %s:%d;branch=z9hG4bK%08x;rport\r\n"
               "Max-Forwards: 70\r\n"
               "From: <sip:%s@127.0.0.1>;tag=%s\r\nTo: <sip:%s@127.0.0.1>\r\n"
               "Call-ID: %s\r\nCSeq: %d REGISTER\r\n"
               "Contact: <sip:%s@%s:%d;transport=%s>\r\nExpires: %d\r\n%s"
               "Content-Length: 0\r\n\r\n"
               % (a.port, c.proto, c.lhost, c.lport, random.getrandbits(32), user, tag, user,
                  callid, cseq, user, c.lhost, c.lport, c.proto.lower(), expires, auth))
        r = c.recv()
        while r is not None and status(r) == 100:
            r = c.recv()
        if r is None:
            return 0
        if status(r) != 401 or cseq == 2:
            return status(r)
        ch = dict(re.findall(r'(\w+)="?([^",]*)"?', header(r, "WWW-Authenticate")))
        uri = "sip:127.0.0.1:%d" % a.port
        ha1 = hashlib.md5(("%s:%s:%s" % (user, ch["realm"], password)).encode()).hexdigest()
        ha2 = hashlib.md5(("REGISTER:%s" % uri).encode()).hexdigest()
        if "qop" in ch:
            cn = "%08x" % random.getrandbits(32)
            resp = hashlib.md5(("%s:%s:00000001:%s:auth:%s" % (ha1, ch["nonce"], cn, ha2))
                               .encode()).hexdigest()
            extra = ', qop=auth, nc=00000001, cnonce="%s"' % cn
        else:
            resp = hashlib.md5(("%s:%s:%s" % (ha1, ch["nonce"], ha2)).encode()).hexdigest()
            extra = ""
        auth = ('Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                'response="%s", algorithm=MD5%s\r\n' % (user, ch["realm"], ch["nonce"], uri,
                                                        resp, extra))
    return 0


def reply(c, req, code, reason, totag, body=""):
    vias = "".join("Via: %s\r\n" % v for v in re.findall(r"(?im)^Via\s*:\s*(.*?)\r?$", req))
    to = header(req, "To")
    if totag and ";tag=" not in to:
        to += ";tag=" + totag
    extra = ""
    if body:
        extra = "Content-Type: application/sdp\r\n"
    c.send("SIP/2.0 %d %s\r\n%sFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
           "Contact: <sip:callee@%s:%d;transport=%s>\r\n%sContent-Length: %d\r\n\r\n%s"
           % (code, reason, vias, header(req, "From"), to, header(req, "Call-ID"),
              header(req, "CSeq"), c.lhost, c.lport, c.proto.lower(), extra, len(body), body))


def callee(a):
    c = Conn(connect(a), a.tcp)
    st = register(c, a, a.user, a.password)
    if st != 200:
        print("REGISTER: %d" % st)
        return 1
    print("registered %s over %s from %s:%d" % (a.user, c.proto, c.lhost, c.lport), flush=True)
    sdp = ("v=0\r\no=callee 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" % a.rtpport)
    for n in range(a.calls):
        inv = c.recv(a.wait)
        while inv is not None and not inv.startswith("INVITE "):
            inv = c.recv(a.wait)
        if inv is None:
            print("call %d: no INVITE on the connection" % (n + 1))
            return 1
        print("call %d: %s" % (n + 1, inv.split("\r\n")[0]), flush=True)
        print("call %d: %s" % (n + 1, header(inv, "Via")), flush=True)
        print("call %d: Contact %s" % (n + 1, header(inv, "Contact")), flush=True)
        tag = "%08x" % random.getrandbits(32)
        reply(c, inv, 180, "Ringing", tag)
        reply(c, inv, 200, "OK", tag, sdp)
        got_ack = got_bye = False
        while not got_bye:
            m = c.recv(a.wait)
            if m is None:
                print("call %d: connection closed or silent (ack %s)" % (n + 1, got_ack))
                return 1
            if m.startswith("ACK "):
                got_ack = True
            elif m.startswith("BYE "):
                got_bye = True
                reply(c, m, 200, "OK", None)
        print("call %d: ACK %s, BYE on the same connection" % (n + 1, got_ack), flush=True)
        if not got_ack:
            return 1
    return 0


def mass(a):
    conns = []
    t0 = time.time()
    for i in range(1, a.count + 1):
        try:
            c = Conn(connect(a), a.tcp)
        except OSError as e:
            print("connection %d: %s" % (i, e))
            return 1
        st = register(c, a, "%s%04d" % (a.prefix, i), "", expires=3600)
        if st != 200:
            print("REGISTER %s%04d: %d" % (a.prefix, i, st))
            return 1
        conns.append(c)
    print("registered %d in %.1f s" % (len(conns), time.time() - t0), flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *x: stop.append(1))
    end = time.time() + a.hold
    while not stop and time.time() < end:
        r, _, _ = select.select([sys.stdin], [], [], 0.2)
        if r:
            break
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tcp", action="store_true")
    sub = ap.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("callee")
    c.add_argument("--user", required=True)
    c.add_argument("--password", required=True)
    c.add_argument("--calls", type=int, default=1)
    c.add_argument("--rtpport", type=int, default=40000)
    c.add_argument("--wait", type=float, default=15.0)
    m = sub.add_parser("register")
    m.add_argument("--prefix", default="phone")
    m.add_argument("--count", type=int, default=1000)
    m.add_argument("--hold", type=float, default=30.0)
    a = ap.parse_args()
    return callee(a) if a.mode == "callee" else mass(a)


if __name__ == "__main__":
    sys.exit(main())
