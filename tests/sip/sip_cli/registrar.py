#!/usr/bin/env python3
"""A registrar without auth for `register =>` lines: 200 (expires=60) to
every REGISTER on 127.0.0.1:PORT until killed; one line per REGISTER on
stdout ("REGISTER <Expires>").

  registrar.py PORT"""
import re
import socket
import sys


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    while True:
        data, src = s.recvfrom(65535)
        text = data.decode("latin-1")
        if not text.startswith("REGISTER "):
            continue
        head = text.split("\r\n\r\n", 1)[0].split("\r\n")
        keep = [l for l in head[1:] if re.match(r"(?i)(via|from|call-id|cseq)\s*:", l)]
        to = next((l for l in head[1:] if re.match(r"(?i)to\s*:", l)), "To: <sip:x@x>")
        if ";tag=" not in to:
            to += ";tag=reg"
        exp = next((l.split(":", 1)[1].strip() for l in head[1:]
                    if re.match(r"(?i)expires\s*:", l)), "")
        print("REGISTER", exp, flush=True)
        resp = "SIP/2.0 200 OK\r\n" + "\r\n".join(keep + [to]) + \
            "\r\nContact: <sip:8000@%s:%d>;expires=60\r\nContent-Length: 0\r\n\r\n" % src
        s.sendto(resp.encode(), src)


if __name__ == "__main__":
    main()
