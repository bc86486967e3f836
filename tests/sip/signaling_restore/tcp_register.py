#!/usr/bin/env python3
"""Register USER (password USERpass) over TCP to 127.0.0.1:PORT with digest
MD5, then close the connection (as a phone whose switch restarts loses it).
Exit 0 on a 200.   tcp_register.py PORT USER"""
import hashlib
import re
import socket
import sys


def read_msg(sock, buf):
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65535)
        if not data:
            raise EOFError
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    n = int(m.group(1)) if m else 0
    while len(rest) < n:
        rest += sock.recv(65535)
    return head.decode("latin-1"), rest[n:]


def main():
    port, user = int(sys.argv[1]), sys.argv[2]
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    lport = s.getsockname()[1]
    ruri = "sip:127.0.0.1:%d;transport=tcp" % port
    auth, buf = "", b""
    for cseq in (1, 2):
        s.sendall(("REGISTER %s SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:%d;branch=z9hG4bKtcp%d\r\n"
                   "Max-Forwards: 70\r\nFrom: <sip:%s@127.0.0.1>;tag=t1\r\nTo: <sip:%s@127.0.0.1>\r\n"
                   "Call-ID: tcpreg-%s\r\nCSeq: %d REGISTER\r\n"
                   "Contact: <sip:%s@127.0.0.1:%d;transport=tcp>\r\nExpires: 300\r\n%s"
                   "Content-Length: 0\r\n\r\n"
                   % (ruri, lport, cseq, user, user, user, cseq, user, lport, auth)).encode())
        head, buf = read_msg(s, buf)
        status = int(head.split(" ", 2)[1])
        if status == 200:
            s.close()
            return 0
        if status != 401 or auth:
            print("REGISTER over TCP: %d" % status, file=sys.stderr)
            return 1
        ch = re.search(r"(?im)^WWW-Authenticate:\s*Digest\s+(.*)$", head).group(1)
        p = dict((m.group(1).lower(), m.group(3) if m.group(3) is not None else m.group(2))
                 for m in re.finditer(r'([A-Za-z-]+)\s*=\s*("([^"]*)"|[^,\s]+)', ch))
        ha1 = hashlib.md5(("%s:%s:%spass" % (user, p["realm"], user)).encode()).hexdigest()
        ha2 = hashlib.md5(("REGISTER:%s" % ruri).encode()).hexdigest()
        if "qop" in p:
            r = hashlib.md5(("%s:%s:00000001:abc:auth:%s" % (ha1, p["nonce"], ha2)).encode()).hexdigest()
            auth = ('Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                    'response="%s", algorithm=MD5, qop=auth, nc=00000001, cnonce="abc"\r\n'
                    % (user, p["realm"], p["nonce"], ruri, r))
        else:
            r = hashlib.md5(("%s:%s:%s" % (ha1, p["nonce"], ha2)).encode()).hexdigest()
            auth = ('Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                    'response="%s", algorithm=MD5\r\n' % (user, p["realm"], p["nonce"], ruri, r))
    return 1


if __name__ == "__main__":
    sys.exit(main())
