#!/usr/bin/env python3
"""REGISTERs (or OPTIONS, or INVITEs) from a chosen 127.0.0.x source,
answering the digest challenge (MD5, qop=auth) with a given password, for
the ban and ACL scenarios (sipp cannot pick its source address per run as
simply).

  sip_reg.py --port SWITCH_PORT --addr 127.0.0.2 --user 1001 --password P \\
      [--count N] [--wait S] [--ua UA] [--to EXTEN] [register|options|invite]

Each attempt is a new Call-ID: REGISTER (or INVITE to EXTEN, with an SDP
offer), and if the answer is 401 the same request again with credentials;
OPTIONS is sent once. Every final answer to an INVITE is acknowledged (ACK;
a 2xx is then ended with BYE). One line per attempt,
"ATTEMPT: STATUS" (the final status, or "timeout" when nothing came back
within --wait seconds), then "summary: STATUS xN ..." in order of first
appearance. Exit status 0 (the caller checks the lines)."""
import argparse
import hashlib
import random
import re
import socket


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def challenge(resp):
    for line in resp.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() in ("www-authenticate", "proxy-authenticate") and "digest" in v.lower():
            out = {}
            for m in re.finditer(r'([A-Za-z-]+)\s*=\s*("([^"]*)"|[^,\s]+)', v):
                out[m.group(1).lower()] = m.group(3) if m.group(3) is not None else m.group(2)
            return out
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", default="")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--wait", type=float, default=2.0)
    ap.add_argument("--ua", default="Tandem-test")
    ap.add_argument("--to", default="", help="the INVITE's number (default: --user)")
    ap.add_argument("method", nargs="?", default="register",
                    choices=["register", "options", "invite"])
    a = ap.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((a.addr, 0))
    sock.settimeout(a.wait)
    lport = sock.getsockname()[1]
    dest = ("127.0.0.1", a.port)
    counts = {}

    def request_uri(method):
        if method == "REGISTER" or method == "OPTIONS":
            return "sip:127.0.0.1:%d" % a.port
        return "sip:%s@127.0.0.1:%d" % (a.to or a.user, a.port)

    def send(method, callid, tag, cseq, branch, auth=None, to_tag=None):
        uri = request_uri(method)
        me = "<sip:%s@127.0.0.1:%d>" % (a.user, a.port)
        to = me if method in ("REGISTER", "OPTIONS") else "<%s>" % uri
        lines = [
            "%s %s SIP/2.0" % (method, uri),
            "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport" % (a.addr, lport, branch),
            "Max-Forwards: 70",
            "From: %s;tag=%s" % (me, tag),
            "To: %s%s" % (to, ";tag=" + to_tag if to_tag else ""),
            "Call-ID: %s" % callid,
            "CSeq: %d %s" % (cseq, "INVITE" if method == "ACK" else method),
            "Contact: <sip:%s@%s:%d>" % (a.user, a.addr, lport),
            "User-Agent: %s" % a.ua,
        ]
        if method == "REGISTER":
            lines.append("Expires: 60")
        if auth:
            lines.append(("Proxy-Authorization: " if auth.startswith("407 ") else
                          "Authorization: ") + auth.split(" ", 1)[1])
        body = ""
        if method == "INVITE":
            body = ("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
                    "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
                    % (a.addr, a.addr, lport + 2))
            lines.append("Content-Type: application/sdp")
        lines += ["Content-Length: %d" % len(body), "", body]
        sock.sendto("\r\n".join(lines).encode(), dest)
        if method == "ACK":
            return None, None
        while True:
            try:
                data, _ = sock.recvfrom(65535)
            except socket.timeout:
                return None, None
            text = data.decode(errors="replace")
            m = re.match(r"SIP/2\.0 (\d+)", text)
            if not m or ("z9hG4bK%s" % branch) not in text:
                continue
            code = int(m.group(1))
            if code >= 200:
                if method == "INVITE":   # the ACK of a final answer
                    tt = re.search(r"\r\nTo:[^\r]*;tag=([^;\r\s]+)", text, re.I)
                    ack_branch = branch if code >= 300 else "%x" % random.getrandbits(48)
                    send("ACK", callid, tag, cseq, ack_branch, to_tag=tt and tt.group(1))
                    if code < 300:
                        send("BYE", callid, tag, cseq + 1, "%x" % random.getrandbits(48),
                             to_tag=tt and tt.group(1))
                return code, text

    for i in range(a.count):
        callid = "%x@%s" % (random.getrandbits(64), a.addr)
        tag = "%x" % random.getrandbits(32)
        method = a.method.upper()
        code, text = send(method, callid, tag, 1, "%x" % random.getrandbits(48))
        if code in (401, 407) and method != "OPTIONS":
            ch = challenge(text) or {}
            uri = request_uri(method)
            ha1 = md5("%s:%s:%s" % (a.user, ch.get("realm", ""), a.password))
            ha2 = md5("%s:%s" % (method, uri))
            nonce = ch.get("nonce", "")
            if "auth" in ch.get("qop", ""):
                cnonce = "%x" % random.getrandbits(32)
                resp = md5("%s:%s:00000001:%s:auth:%s" % (ha1, nonce, cnonce, ha2))
                auth = ('Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                        'response="%s", algorithm=MD5, qop=auth, nc=00000001, cnonce="%s"'
                        % (a.user, ch.get("realm", ""), nonce, uri, resp, cnonce))
            else:
                resp = md5("%s:%s:%s" % (ha1, nonce, ha2))
                auth = ('Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                        'response="%s", algorithm=MD5' % (a.user, ch.get("realm", ""), nonce,
                                                          uri, resp))
            code, text = send(method, callid, tag, 2, "%x" % random.getrandbits(48),
                              "%d %s" % (code, auth))
        status = str(code) if code else "timeout"
        print("%d: %s" % (i + 1, status), flush=True)
        counts[status] = counts.get(status, 0) + 1
    print("summary: " + " ".join("%s x%d" % (k, v) for k, v in counts.items()))


if __name__ == "__main__":
    main()
