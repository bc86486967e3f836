#!/usr/bin/env python3
"""Read a sipp -trace_msg file and print facts about the messages in it.

  sipmsg.py list FILE                 one line per message: dir, first line
  sipmsg.py last FILE [--status-of METHOD] [--nth -1]
                                      the raw received message (the last one,
                                      or the last response to METHOD)
  sipmsg.py header FILE NAME [--status-of METHOD]
                                      values of header NAME (compact forms too)
                                      in that received message, one a line
  sipmsg.py shape FILE [--status-of METHOD]
                                      the response reduced to what must not
                                      differ between a wrong password and an
                                      unknown user: status line, header names,
                                      challenge parameters other than nonce
Exit 1 when there is no such message."""
import argparse
import re
import sys

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
           "l": "content-length", "c": "content-type", "k": "supported",
           "s": "subject", "e": "content-encoding", "o": "event", "u": "allow-events"}


def messages(path):
    """Yield (direction, text) for each message in the trace."""
    with open(path, encoding="latin-1") as f:
        data = f.read()
    blocks = re.split(r"^-{20,} [^\n]*\n", data, flags=re.M)
    for b in blocks:
        m = re.match(r"\s*\S+ message (sent|received) [^\n]*\n\n?", b)
        if not m:
            continue
        yield m.group(1), b[m.end():].replace("\r\n", "\n").strip("\n") + "\n"


def parse(text):
    head = text.split("\n\n", 1)[0]
    lines = head.split("\n")
    start = lines[0]
    hdrs = []
    for ln in lines[1:]:
        if ln[:1] in (" ", "\t") and hdrs:
            hdrs[-1] = (hdrs[-1][0], hdrs[-1][1] + " " + ln.strip())
            continue
        if ":" not in ln:
            continue
        n, v = ln.split(":", 1)
        n = n.strip().lower()
        hdrs.append((COMPACT.get(n, n), v.strip()))
    return start, hdrs


def pick(path, status_of, nth):
    found = []
    for d, text in messages(path):
        if d != "received":
            continue
        start, hdrs = parse(text)
        if status_of:
            if not start.startswith("SIP/2.0 "):
                continue
            cseq = [v for n, v in hdrs if n == "cseq"]
            if not cseq or cseq[0].split()[-1].upper() != status_of.upper():
                continue
        found.append(text)
    if not found:
        return None
    try:
        return found[nth]
    except IndexError:
        return None


def shape(text):
    start, hdrs = parse(text)
    out = [" ".join(start.split()[:3]) if start.startswith("SIP/") else start]
    out.append("headers: " + " ".join(sorted(set(n for n, _ in hdrs))))
    for n, v in hdrs:
        if n in ("www-authenticate", "proxy-authenticate"):
            params = re.findall(r'([A-Za-z-]+)\s*=\s*("[^"]*"|[^,\s]+)', v)
            kept = sorted("%s=%s" % (k.lower(), val) for k, val in params
                          if k.lower() not in ("nonce", "opaque"))
            out.append("%s: %s %s" % (n, v.split()[0], " ".join(kept)))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["list", "last", "header", "shape"])
    ap.add_argument("file")
    ap.add_argument("name", nargs="?")
    ap.add_argument("--status-of")
    ap.add_argument("--nth", type=int, default=-1)
    a = ap.parse_args()
    try:
        if a.cmd == "list":
            for d, text in messages(a.file):
                print("%-8s %s" % (d, text.split("\n", 1)[0]))
            return 0
    except OSError as e:
        print(e, file=sys.stderr)
        return 1
    try:
        text = pick(a.file, a.status_of, a.nth)
    except OSError as e:
        print(e, file=sys.stderr)
        return 1
    if text is None:
        return 1
    if a.cmd == "last":
        sys.stdout.write(text)
    elif a.cmd == "header":
        want = a.name.lower()
        _, hdrs = parse(text)
        vals = [v for n, v in hdrs if n == want]
        for v in vals:
            print(v)
        return 0 if vals else 1
    else:
        print(shape(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
