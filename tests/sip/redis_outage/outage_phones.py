#!/usr/bin/env python3
"""Phones for tests/sip/redis_outage: calls that go on while Redis is away.

  outage_phones.py --port SWITCH_PORT --ready FILE --outage FILE --out FILE
                   --go1 FILE --go2 FILE [--first 1101] [--max-time 55]

17 phones (--first .. --first+16), each its own SIP socket, digest auth
(secret <user>pass) as tests/sip/signaling_restore/phones20.py's. Phones 0..15
register (Expires 300); calls k = 0..4 (phone 2k -> 2k+1) are answered with
RTP both ways, and 1.5 s later the --ready file is written. When --go1 appears (Redis
is away now): calls 5..7 are placed and answered, call 0 ends by the
caller's BYE and call 1 by the callee's (the other phone must get a BYE),
phone 16 registers for the first time and phone 4 registers again; when all
of that is done the --outage file gets "ok" (or "failed ..."). When --go2
appears (Redis is back and checked): every call still up ends (caller's BYE
on even calls, callee's on odd ones). RTP flows on every call up all along.
The JSON summary (--out): {"registered": [...], "calls": [{"k", "caller",
"callee", "status", "bye_from", "bye_status", "other_got_bye", "rx":
{"caller", "callee"}, "gaps": {...}}], "t_go1", "t_go2"}."""
import argparse
import json
import os
import select
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "../../tools"))
sys.path.insert(0, os.path.join(here, "../signaling_restore"))
from phones import parse, rand  # noqa: E402
from phones20 import Phone, Call, answer_request, answer_response  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--first", type=int, default=1101)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--outage", required=True)
    ap.add_argument("--go1", required=True)
    ap.add_argument("--go2", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-time", type=float, default=55.0)
    a = ap.parse_args()
    switch = ("127.0.0.1", a.port)
    phones = [Phone(str(a.first + i), switch) for i in range(17)]
    for p in phones:
        p.reg_at = 0.0               # the latest 200 to its REGISTER
    by_sock = {p.sip: p for p in phones}
    calls = []
    by_callid = {}
    to_place = list(range(5))        # calls waiting to be placed
    start = time.time()
    phase, phase_at = "register", start
    t_go1 = t_go2 = None
    next_rtp = start
    for p in phones[:16]:
        p.register()
    reg_sent = start
    failed = []

    def place(now):
        nonlocal phase_at
        if not to_place or (calls and not calls[-1].status and now - phase_at < 0.3):
            return
        k = to_place.pop(0)
        c = Call(k, phones[2 * k], phones[2 * k + 1], switch)
        c.callid = "outage-%d-%s" % (k, rand(10))
        calls.append(c)
        by_callid[c.callid] = (c, "caller")
        c.invite()
        phase_at = now

    def end(c, who):
        c.bye_from = who
        c.cseq += 1
        (c.caller_side if who == "caller" else c.callee_side).up = False
        c.send_bye()

    def on_response(phone, msg):
        answer_response(phone, msg, by_callid, switch)

    def on_request(phone, msg):
        answer_request(phone, msg, by_callid, calls)

    def answered(ks):
        return all(c.status == 200 and c.callee_side for c in calls if c.k in ks) and \
            sum(1 for c in calls if c.k in ks) == len(ks)

    def ended(c):
        return c.bye_status is not None and c.other_got_bye

    while time.time() - start < a.max_time:
        now = time.time()
        if any(c.status >= 300 for c in calls):
            bad = [c.k for c in calls if c.status >= 300]
            failed.append("call(s) %s refused" % bad)
            for f in (a.ready, a.outage):
                if not os.path.exists(f):
                    open(f, "w").write("failed: calls %s refused\n" % bad)
            break
        if phase == "register":
            if all(p.registered for p in phones[:16]):
                phase, phase_at = "calls", now
            elif now - reg_sent > 3:
                for p in phones[:16]:
                    if not p.registered:
                        p.register()
                reg_sent = now
        elif phase == "calls":
            place(now)
            if not to_place and answered(range(5)):
                phase, phase_at = "settle", now
        elif phase == "settle":
            if now - phase_at > 1.5:         # some RTP on every call first
                phase = "up"
                open(a.ready, "w").write("%f\n" % now)
        elif phase == "up":
            if os.path.exists(a.go1):
                t_go1 = now
                phase, phase_at = "outage", now
                to_place = [5, 6, 7]
                end(calls[0], "caller")
                end(calls[1], "callee")
                phones[16].register()
                phones[4].register()
                reg_sent = now
        elif phase == "outage":
            place(now)
            for c in calls[:2]:
                if c.bye_status is None and now - c.bye_sent_at > 0.5 and c.bye_tries < 8:
                    c.send_bye()
            regs_ok = phones[16].reg_at > t_go1 and phones[4].reg_at > t_go1
            if not regs_ok and now - reg_sent > 2:
                for p in (phones[16], phones[4]):
                    if p.reg_at <= t_go1:
                        p.register()
                reg_sent = now
            if not to_place and answered(range(8)) and ended(calls[0]) and ended(calls[1]) \
                    and regs_ok:
                open(a.outage, "w").write("ok %f\n" % (now - t_go1))
                phase = "outage-done"
            elif now - t_go1 > 8:
                open(a.outage, "w").write(
                    "failed: after 8 s: answered %s, ended %s, registered %s/%s\n" % (
                        [c.k for c in calls if c.status == 200 and c.callee_side],
                        [c.k for c in calls[:2] if ended(c)], phones[16].reg_at > t_go1,
                        phones[4].reg_at > t_go1))
                failed.append("outage steps not done in 8 s")
                break
        elif phase == "outage-done":
            if os.path.exists(a.go2):
                t_go2 = now
                for c in calls[2:]:
                    c.rx_at_go = {s.name: s.rx for s in c.sides()}
                    end(c, "caller" if c.k % 2 == 0 else "callee")
                phase, phase_at = "byes", now
        elif phase == "byes":
            for c in calls[2:]:
                if c.bye_status is None and now - c.bye_sent_at > 0.5 and c.bye_tries < 8:
                    c.send_bye()
            if all(ended(c) for c in calls) or now - phase_at > 8:
                phase, phase_at = "linger", now
        elif phase == "linger":
            if now - phase_at > 1.0:
                break
        if now >= next_rtp:
            for c in calls:
                for s in c.sides():
                    s.send_rtp()
            next_rtp += 0.02
            if next_rtp < now:
                next_rtp = now + 0.02
        socks = list(by_sock) + [s.rtp for c in calls for s in c.sides()]
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
        for c in calls:
            for s in c.sides():
                s.read_rtp(now)

    out = {"registered": [p.user for p in phones if p.registered], "phase": phase,
           "t_go1": t_go1, "t_go2": t_go2, "failed": failed, "calls": []}
    for c in calls:
        out["calls"].append({
            "k": c.k, "caller": c.caller.user, "callee": c.callee.user, "status": c.status,
            "bye_from": c.bye_from, "bye_status": c.bye_status,
            "other_got_bye": c.other_got_bye,
            "rx": {s.name: s.rx for s in c.sides()},
            "rx_at_go2": c.rx_at_go,
            "gaps": {s.name: s.gaps for s in c.sides()}})
    text = json.dumps(out, indent=1)
    open(a.out, "w").write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
