#!/usr/bin/env python3
"""metrics.py - read a Tandem process's /metrics and /healthz (for tests).

  metrics.py dump [HOST:]PORT FILE   scrape http://HOST:PORT/metrics (HOST default
                                     127.0.0.1), check
                                     the text format 0.0.4 (HELP and TYPE before
                                     each family's samples, counters end in
                                     _total, histograms' _bucket{le}, _sum and
                                     _count, well-formed samples) and save the
                                     samples as JSON in FILE; exit 1 if invalid
  metrics.py get FILE SERIES         print a sample's value (0 if absent);
                                     SERIES is name or name{a="x",b="y"} (label
                                     order does not matter); name{} sums a family
  metrics.py expect BEFORE AFTER SERIES OP N
                                     exit 0 if value(AFTER) - value(BEFORE) OP N,
                                     with OP one of == >= > <=; BEFORE may be "-"
                                     (then the value itself is compared)
  metrics.py health [HOST:]PORT [PATH]  print "CODE BODY" of GET PATH (default
                                     /healthz); exit 0 whatever the code
"""
import json
import re
import sys
import urllib.error
import urllib.request

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s)(?:,%s)*\})? (\S+)$" % (NAME, LABEL, LABEL))
LABEL_ONE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')


def fetch(where, path):
    host, _, port = where.rpartition(":")
    url = "http://%s:%d%s" % (host or "127.0.0.1", int(port), path)
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def key(name, labels):
    """The canonical series key: labels sorted by name."""
    if not labels:
        return name
    return name + "{" + ",".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"


def parse_series(text):
    m = re.match(r"^(%s)(\{.*\})?$" % NAME, text)
    if not m:
        raise SystemExit("bad series %r" % text)
    labels = dict(LABEL_ONE.findall(m.group(2) or ""))
    return m.group(1), labels, m.group(2) == "{}"


def check(text):
    """The samples of a valid exposition, as {key: value}; raises on errors."""
    samples, types, helped = {}, {}, set()
    for n, line in enumerate(text.split("\n"), 1):
        if line == "":
            continue
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            if name in helped:
                raise ValueError("line %d: second HELP for %s" % (n, name))
            helped.add(name)
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram"):
                raise ValueError("line %d: bad TYPE line %r" % (n, line))
            if parts[2] not in helped:
                raise ValueError("line %d: TYPE before HELP for %s" % (n, parts[2]))
            types[parts[2]] = parts[3]
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("line %d: bad sample %r" % (n, line))
        name = m.group(1)
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and types.get(base) == "histogram":
                name = base
                break
        if name not in types:
            raise ValueError("line %d: sample of %s before its TYPE" % (n, name))
        if types[name] == "counter" and not name.endswith("_total"):
            raise ValueError("line %d: counter %s does not end in _total" % (n, name))
        value = float(m.group(3))   # NaN, +Inf parse too
        labels = dict(LABEL_ONE.findall(m.group(2) or ""))
        if types[name] == "histogram" and m.group(1).endswith("_bucket") and "le" not in labels:
            raise ValueError("line %d: histogram bucket without le" % n)
        k = key(m.group(1), labels)
        if k in samples:
            raise ValueError("line %d: %s twice" % (n, k))
        samples[k] = value
    if not text.endswith("\n"):
        raise ValueError("the exposition does not end with a newline")
    return samples


def value(samples, series):
    name, labels, family = parse_series(series)
    if family:
        return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))
    return samples.get(key(name, labels), 0.0)


def main(argv):
    if len(argv) >= 3 and argv[0] == "dump":
        status, ctype, body = fetch(argv[1], "/metrics")
        if status != 200:
            print("GET /metrics: %d %s" % (status, body.strip()))
            return 1
        if not ctype.startswith("text/plain; version=0.0.4"):
            print("GET /metrics: Content-Type %r" % ctype)
            return 1
        try:
            samples = check(body)
        except ValueError as e:
            print("GET /metrics on port %s: %s" % (argv[1], e))
            return 1
        with open(argv[2], "w") as f:
            json.dump(samples, f, indent=1, sort_keys=True)
        with open(argv[2] + ".txt", "w") as f:
            f.write(body)
        return 0
    if len(argv) == 3 and argv[0] == "get":
        with open(argv[1]) as f:
            v = value(json.load(f), argv[2])
        print(int(v) if v == int(v) else v)
        return 0
    if len(argv) == 6 and argv[0] == "expect":
        before = 0.0
        if argv[1] != "-":
            with open(argv[1]) as f:
                before = value(json.load(f), argv[3])
        with open(argv[2]) as f:
            after = value(json.load(f), argv[3])
        d, op, n = after - before, argv[4], float(argv[5])
        ok = {"==": d == n, ">=": d >= n, ">": d > n, "<=": d <= n}.get(op)
        if ok is None:
            raise SystemExit("bad OP %r" % op)
        what = "%s: %g -> %g" % (argv[3], before, after) if argv[1] != "-" else \
            "%s = %g" % (argv[3], after)
        print("%s %s (want %s %s %s)" % ("ok" if ok else "FAILED", what,
                                         "change" if argv[1] != "-" else "value", op, argv[5]))
        return 0 if ok else 1
    if len(argv) in (2, 3) and argv[0] == "health":
        try:
            status, _, body = fetch(argv[1], argv[2] if len(argv) == 3 else "/healthz")
        except OSError as e:
            print("000 %s" % e)
            return 0
        print("%d %s" % (status, body.strip()))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
