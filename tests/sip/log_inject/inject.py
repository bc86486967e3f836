#!/usr/bin/env python3
"""log_inject's SIP side: hostile requests over UDP to 127.0.0.1:PORT.

inject.py --port P            requests whose user parts percent-decode to
                              control characters (a forged fail2ban line
                              after "%0a"): each must get 400; and a request
                              with a raw ESC in its method and no Via (it is
                              dropped and logged, escaped)
inject.py --port P --flood N  N distinct OPTIONS at once: every one must be
                              answered, some taken (200, or 404 for "s") and,
                              past the configured max_transactions, some 503
                              with Retry-After;
                              then one more OPTIONS must be answered too
Prints what it saw; exit 0 when all is as expected."""
import argparse
import random
import socket
import sys
import time

FORGED = ("%0a2026-01-01 00:00:00.000 signaling NOTICE Registration from"
          " '<sip:1001@10.9.9.9>' failed for '10.9.9.9:5060' - Wrong password")


def request(method, ruri, from_user, to_user, lport, n, extra="", via=True):
    tag = "%08x" % random.getrandbits(32)
    head = "%s %s SIP/2.0\r\n" % (method, ruri)
    if via:
        head += "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-inj-%s-%d;rport\r\n" % (lport, tag, n)
    return (head +
            "Max-Forwards: 70\r\n"
            "From: <sip:%s@127.0.0.1:%d>;tag=%s\r\n"
            "To: <sip:%s@127.0.0.1>\r\n"
            "Call-ID: inj-%s-%d@127.0.0.1\r\n"
            "CSeq: 1 %s\r\n"
            "Contact: <sip:1001@127.0.0.1:%d>\r\n"
            "%s"
            "Content-Length: 0\r\n\r\n"
            % (from_user, lport, tag, to_user, tag, n, method, lport, extra)).encode("latin-1")


def status_of(data):
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[0] == "SIP/2.0" else 0


def final(sock, timeout=3.0):
    """The first final response (skipping 100), or 0."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.settimeout(max(0.05, deadline - time.time()))
        try:
            data = sock.recv(65535)
        except socket.timeout:
            break
        st = status_of(data)
        if st >= 200:
            return st, data
    return 0, b""


def probes(sock, port, lport):
    to = ("127.0.0.1", port)
    ok = True
    rows = [
        ("REGISTER from/to user", request("REGISTER", "sip:127.0.0.1", "1001" + FORGED,
                                          "1001" + FORGED, lport, 1)),
        ("INVITE from user", request("INVITE", "sip:600@127.0.0.1", "1001" + FORGED, "600",
                                     lport, 2)),
        ("OPTIONS Request-URI user CRLF", request("OPTIONS", "sip:%0d%0a@127.0.0.1", "1001",
                                                  "600", lport, 3)),
        ("INVITE To user ESC", request("INVITE", "sip:600@127.0.0.1", "1001", "600%1b[2J",
                                       lport, 4)),
    ]
    for what, msg in rows:
        sock.sendto(msg, to)
        st, data = final(sock)
        print("%-32s -> %s" % (what, st or "no answer"))
        if st != 400:
            ok = False
        if msg.startswith(b"INVITE") and st:
            # ACK the final response (same branch, its To tag)
            hdrs = data.decode("latin-1").split("\r\n")
            to_h = next((h for h in hdrs if h.lower().startswith("to:")), "")
            ack = msg.replace(b"INVITE sip:", b"ACK sip:", 1).replace(b" INVITE\r\n", b" ACK\r\n")
            ack = ack.replace(("To: <sip:%s@127.0.0.1>" % ("600%1b[2J" if b"%1b" in msg else "600")).encode(),
                              to_h.encode("latin-1"))
            sock.sendto(ack, to)
    # a raw ESC in the method, no Via: dropped, and logged with the method
    sock.sendto(request("X\x1b[2JY", "sip:127.0.0.1", "1001", "600", lport, 5, via=False), to)
    time.sleep(0.2)
    return ok


def flood(sock, port, lport, n):
    to = ("127.0.0.1", port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    seen = {}
    for i in range(n):
        sock.sendto(request("OPTIONS", "sip:127.0.0.1", "flood", "600", lport, 1000 + i), to)
        if i % 50 == 49:
            time.sleep(0.01)
    retry_after = 0
    deadline = time.time() + 5
    while len(seen) < n and time.time() < deadline:
        sock.settimeout(0.5)
        try:
            data = sock.recv(65535)
        except socket.timeout:
            continue
        cid = [h for h in data.split(b"\r\n") if h.lower().startswith(b"call-id:")]
        st = status_of(data)
        if cid and st >= 200:
            seen[cid[0]] = st
            if st == 503 and b"\r\nRetry-After:" in data:
                retry_after += 1
    n503 = sum(1 for s in seen.values() if s == 503)
    taken = len(seen) - n503
    print("flood: %d OPTIONS, %d answered: %d taken (200/404), %d x 503 (%d with Retry-After)"
          % (n, len(seen), taken, n503, retry_after))
    sock.sendto(request("OPTIONS", "sip:127.0.0.1", "after", "600", lport, 99999), to)
    st, _ = final(sock)
    print("one more OPTIONS -> %s" % (st or "no answer"))
    return len(seen) == n and taken > 0 and n503 > 0 and retry_after == n503 and st >= 200


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--flood", type=int, default=0)
    a = ap.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    lport = sock.getsockname()[1]
    ok = flood(sock, a.port, lport, a.flood) if a.flood else probes(sock, a.port, lport)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
