#!/usr/bin/env python3
"""phones.py - drive real SIP phones from Debian against a running Tandem.

Used by tests/sip/softphones/run, which builds the network namespaces,
starts Tandem (and kamailio) and a tcpdump capture, then runs

    phones.py STEPS.json

STEPS.json names the namespaces, addresses and files (see the run script).
Phone A is baresip (1001; 1003 in the kamailio pass), controlled through its
ctrl_tcp module (JSON in netstrings); phone B is linphone-daemon (1002),
controlled through its unix socket (--pipe). Both run headless in their own
namespace with a config directory of their own under the test's temp dir
(HOME points there too): baresip's microphone is a 440 Hz sine (ausine),
linphone's a 300 Hz WAV played into each call (it has no sound card);
neither has a speaker.

RTP and SDP are judged from the capture the run script started in the
switch's namespace (tcpdump -U --immediate-mode -w, pcap): RTP packets, their
payload types and the tone they carry, between each phone's address and the
worker's RTP port range, counted over a window of wall-clock time; and the
SIP messages (SDP of INVITEs and 200s, Via and Contact).
Every wait is a bounded poll; on any failure the script says what it waited
for and exits 1 (the run script prints the logs and cleans up).
"""
import ctypes
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
T0 = time.time()


def log(msg):
    print("[softphones %5.1fs] %s" % (time.time() - T0, msg), flush=True)


class Fail(Exception):
    pass


def ns_socket(ns, family, kind):
    """A socket made inside network namespace NS (the calling thread goes
    there and back; the socket stays in NS)."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + ns)
        return socket.socket(family, kind)
    finally:
        _libc.setns(own, CLONE_NEWNET)
        os.close(own)
        os.close(target)


def poll(what, fn, timeout, step=0.1):
    """Call fn until it returns a true value (returned); Fail after timeout."""
    end = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() >= end:
            raise Fail("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(step)


def spawn(ns, argv, logpath, env=None):
    out = open(logpath, "ab")
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdin=subprocess.DEVNULL,
                            stdout=out, stderr=subprocess.STDOUT, env=e,
                            start_new_session=True)


class Client:
    """What both phones share: a process driven by `cmd` over a socket."""
    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.cmd("quit")
            except (Fail, OSError):
                pass
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.sock:
            self.sock.close()
            self.sock = None


class Baresip(Client):
    """baresip 1.0 with ctrl_tcp: commands are {"command", "params", "token"}
    netstrings; responses carry the token, events arrive unasked."""

    def __init__(self, name, ns, cfg, dir_):
        self.name, self.ns, self.cfg, self.dir = name, ns, cfg, dir_
        self.proc = None
        self.sock = None
        self.events = []
        self.responses = {}
        self.lock = threading.Lock()
        self.token = 0

    def write_config(self, account):
        c = self.cfg
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write("""# written by tests/sip/softphones/phones.py
poll_method\tepoll
sip_listen\t{ip}:{sip_port}
sip_trans_def\tudp
audio_source\tausine,440
audio_player\taubridge,nowhere
audio_alert\taubridge,nowhere
ausrc_srate\t48000
auplay_srate\t48000
ausrc_channels\t2
auplay_channels\t2
rtp_ports\t{rtp_lo}-{rtp_hi}
rtp_stats\tyes
module_path\t/usr/lib/baresip/modules
module\tg711.so
module\topus.so
module\tausine.so
module\taubridge.so
module_app\taccount.so
module_app\tmenu.so
module_app\tctrl_tcp.so
ctrl_tcp_listen\t127.0.0.1:{ctrl}
""".format(ip=c["ip"], sip_port=c["sip_port"], rtp_lo=c["rtp_port"],
                rtp_hi=c["rtp_port"] + 3, ctrl=c["ctrl_port"]))
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write(account + "\n")
        open(os.path.join(self.dir, "contacts"), "w").close()

    def start(self):
        self.events = []
        self.proc = spawn(self.ns, ["baresip", "-f", self.dir],
                          os.path.join(self.dir, "baresip.log"),
                          env={"HOME": self.dir})

        def connect():
            if self.proc.poll() is not None:
                raise Fail("%s: baresip exited %s at start (see %s/baresip.log)"
                           % (self.name, self.proc.returncode, self.dir))
            s = ns_socket(self.ns, socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.connect(("127.0.0.1", self.cfg["ctrl_port"]))
                return s
            except OSError:
                s.close()
                return None
        self.sock = poll("%s: baresip's ctrl_tcp" % self.name, connect, 10)
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        buf = b""
        while True:
            try:
                d = self.sock.recv(65536)
            except OSError:
                return
            if not d:
                return
            buf += d
            while True:
                m = re.match(rb"(\d+):", buf)
                if not m:
                    break
                n = int(m.group(1))
                start = m.end()
                if len(buf) < start + n + 1:
                    break
                msg = json.loads(buf[start:start + n].decode("utf-8", "replace"))
                buf = buf[start + n + 1:]
                with self.lock:
                    if msg.get("response"):
                        self.responses[msg.get("token")] = msg
                    elif msg.get("event"):
                        self.events.append(msg)

    def cmd(self, command, params=""):
        self.token += 1
        tok = str(self.token)
        j = json.dumps({"command": command, "params": params, "token": tok}).encode()
        self.sock.sendall(b"%d:%s," % (len(j), j))
        r = poll("%s: answer to '%s %s'" % (self.name, command, params),
                 lambda: self.responses.get(tok), 5, 0.02)
        if not r.get("ok"):
            raise Fail("%s: '%s %s' refused: %s" % (self.name, command, params, r.get("data")))
        return r.get("data", "")

    def mark(self):
        with self.lock:
            return len(self.events)

    def wait_event(self, types, since, timeout=10):
        types = types if isinstance(types, (list, tuple)) else [types]

        def seen():
            with self.lock:
                for e in self.events[since:]:
                    if e.get("type") in types:
                        return e
            return None
        return poll("%s: baresip event %s" % (self.name, "/".join(types)), seen, timeout, 0.05)

    def crash(self):
        """SIGKILL: no un-REGISTER; its binding stays at the switch."""
        self.proc.kill()
        self.proc.wait()
        self.sock.close()
        self.sock = None
        self.responses = {}

    def registered(self):
        # REGISTER_OK may come before ctrl_tcp is connected: ask instead.
        text = re.sub(r"\x1b\[[0-9;]*m", " ", self.cmd("reginfo"))
        return re.search(r"\bOK\b", text) is not None


class Linphone(Client):
    """linphone-daemon (liblinphone 5.1) through its unix socket: one line
    per command, a "Status: Ok|Error" block back."""

    def __init__(self, name, ns, cfg, dir_, pipe):
        self.name, self.ns, self.cfg, self.dir, self.pipe = name, ns, cfg, dir_, pipe
        self.cid = None         # the daemon's id of our own outgoing call
        self.proc = None
        self.sock = None

    def write_config(self, proxy, identity, route=None):
        c = self.cfg
        os.makedirs(os.path.join(self.dir, ".local/share/linphone"), exist_ok=True)
        # No [audio_codec_N] sections: linphone's own default list (opus,
        # speex, PCMU, PCMA, ...) is what the switch must negotiate down.
        with open(os.path.join(self.dir, "linphonerc"), "w") as f:
            f.write("""# written by tests/sip/softphones/phones.py
[sip]
sip_port={sip_port}
sip_tcp_port=-1
sip_tls_port=-1
bind_address={ip}
default_proxy=0
register_only_when_network_is_up=0
[net]
mtu=1300
[rtp]
audio_rtp_port={rtp_port}
[sound]
echocancellation=0
[proxy_0]
reg_proxy={proxy}
{route}reg_identity={identity}
reg_expires=120
reg_sendregister=1
[auth_info_0]
username={user}
passwd={secret}
realm=tandem
""".format(sip_port=c["sip_port"], ip=c["ip"], rtp_port=c["rtp_port"], proxy=proxy,
                identity=identity, user=c["user"], secret=c["secret"],
                route=("reg_route=%s\n" % route) if route else ""))

    def start(self):
        path = "/tmp/" + self.pipe
        self.proc = spawn(self.ns, ["linphone-daemon", "--config",
                                    os.path.join(self.dir, "linphonerc"),
                                    "--pipe", self.pipe, "--disable-stats-events",
                                    "--log", os.path.join(self.dir, "linphone.log")],
                          os.path.join(self.dir, "daemon.out"), env={"HOME": self.dir})

        def connect():
            if self.proc.poll() is not None:
                raise Fail("%s: linphone-daemon exited %s at start (see %s)"
                           % (self.name, self.proc.returncode, self.dir))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                return s
            except OSError:
                s.close()
                return None
        self.sock = poll("%s: linphone-daemon's socket %s" % (self.name, path), connect, 10)

    def cmd(self, line):
        self.sock.settimeout(5)
        self.sock.sendall(line.encode() + b"\n")
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Fail("%s: no answer to '%s'" % (self.name, line))
        self.sock.settimeout(0.05)
        while True:
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                break
            if not d:
                break
            data += d
        return data.decode("utf-8", "replace")

    def ok(self, line):
        r = self.cmd(line)
        if "Status: Ok" not in r:
            raise Fail("%s: '%s' failed: %r" % (self.name, line, r))
        return r

    def call(self, uri):
        """Call URI; later commands name this call (a paused call is no
        longer the daemon's "current call")."""
        r = self.ok("call " + uri)
        m = re.search(r"^Id: (\d+)", r, re.M)
        if not m:
            raise Fail("%s: no call id in %r" % (self.name, r))
        self.cid = m.group(1)

    def incoming_id(self):
        """The daemon's id of the call that rang last, from its event
        queue (pop-event): an answered incoming call has no other name."""
        found = None
        for _ in range(100):
            r = self.cmd("pop-event")
            if re.search(r"^Size: 0", r, re.M) or "Status: Ok" not in r:
                break
            if "IncomingReceived" in r:
                m = re.search(r"^Id: (\d+)", r, re.M)
                found = m.group(1) if m else found
        return found

    def call_state(self):
        r = self.cmd("call-status" + (" " + self.cid if self.cid else ""))
        m = re.search(r"^State: (\S+)", r, re.M)
        return m.group(1) if m else None

    def wait_state(self, states, timeout=10):
        states = states if isinstance(states, (list, tuple)) else [states]
        return poll("%s: linphone call state %s (last: %s)"
                    % (self.name, "/".join(states), self.call_state()),
                    lambda: self.call_state() in states, timeout, 0.1)

    def wait_no_call(self, timeout=10):
        poll("%s: linphone's call to end (state %s)" % (self.name, self.call_state()),
             lambda: self.call_state() in (None, "LinphoneCallEnd", "LinphoneCallReleased"),
             timeout, 0.1)
        self.cid = None

    def play(self, wav):
        """No sound card here: linphone sends nothing unless a file plays
        into the call."""
        self.ok("incall-player-start " + wav + (" " + self.cid if self.cid else ""))

    def registered(self):
        r = self.cmd("register-status ALL")
        return "LinphoneRegistrationOk" in r


class Capture:
    """The run script's tcpdump capture (pcap, -i any, written per packet
    with -U): UDP packets seen by the switch, RTP (to or from a port of the
    worker's range) and SIP (the text of every other datagram)."""

    def __init__(self, path, lo, hi, switch_ips):
        self.path, self.lo, self.hi = path, lo, hi
        self.switch = set(switch_ips)
        self.pos = 0
        self.link = None
        self.pkts = []          # (time, src, sport, dst, dport, payload)

    def _read(self):
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except OSError:
            return
        if self.link is None:
            if len(data) < 24:
                return
            self.link = struct.unpack("<I", data[20:24])[0]
            self.pos = 24
        hdr = {113: 16, 276: 20, 1: 14, 12: 0}.get(self.link)
        if hdr is None:
            raise Fail("capture: unknown link type %d" % self.link)
        pos = self.pos
        while pos + 16 <= len(data):
            sec, usec, incl, _ = struct.unpack("<IIII", data[pos:pos + 16])
            if pos + 16 + incl > len(data):
                break
            pkt = data[pos + 16:pos + 16 + incl]
            pos += 16 + incl
            ip = pkt[hdr:]
            if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
                continue
            ihl = (ip[0] & 15) * 4
            sp, dp = struct.unpack("!HH", ip[ihl:ihl + 4])
            self.pkts.append((sec + usec / 1e6, socket.inet_ntoa(ip[12:16]), sp,
                              socket.inet_ntoa(ip[16:20]), dp, ip[ihl + 8:]))
        self.pos = pos

    def rtp(self, phone_ip, t0, t1):
        """{"up": n, "down": n, "pt_up": {pt: n}, "pt_down": {pt: n}}: RTP
        between PHONE_IP and the worker in [t0, t1)."""
        self._read()
        r = {"up": 0, "down": 0, "pt_up": {}, "pt_down": {}, "audio_down": []}
        for t, s, sp, d, dp, pl in self.pkts:
            if not t0 <= t < t1 or len(pl) < 12 or pl[0] >> 6 != 2 or 200 <= pl[1] <= 207:
                continue        # not RTP, or RTCP
            if s == phone_ip and self.lo <= dp <= self.hi:
                way = "up"
            elif d == phone_ip and self.lo <= sp <= self.hi:
                way = "down"
            else:
                continue
            r[way] += 1
            pt = pl[1] & 0x7f
            if way == "down":
                cc = pl[0] & 0x0f
                r["audio_down"].append((pt, pl[12 + 4 * cc:]))
            r["pt_" + way][pt] = r["pt_" + way].get(pt, 0) + 1
        return r

    def sip(self, since, first_line, header_re, sent_by_switch):
        """The first SIP message after SINCE whose first line starts with
        FIRST_LINE, with a line matching HEADER_RE (each of them, if a
        list), sent by (or to) the switch: its text, or None."""
        self._read()
        res = header_re if isinstance(header_re, list) else [header_re]
        for t, s, sp, d, dp, pl in self.pkts:
            if t < since or not pl.startswith(first_line.encode()):
                continue
            if (s in self.switch) != sent_by_switch or (d in self.switch) == sent_by_switch:
                continue
            text = pl.decode("utf-8", "replace")
            if all(re.search(r, text, re.M | re.I) for r in res):
                return text
        return None

    def sip_between(self, since, ips):
        """SIP datagrams after SINCE between the switch and any of IPS."""
        self._read()
        return [pl.split(b"\r\n", 1)[0].decode("utf-8", "replace")
                for t, s, sp, d, dp, pl in self.pkts
                if t >= since and ((s in self.switch and d in ips) or
                                   (d in self.switch and s in ips))
                and (pl.startswith(b"SIP/2.0 ") or re.match(rb"[A-Z]+ sip:", pl))]

    @staticmethod
    def window(secs):
        """Sleep SECS; the window [start, end) to count in (then a little
        more, for the capture to be written)."""
        t0 = time.time()
        time.sleep(secs)
        t1 = time.time()
        time.sleep(0.2)
        return t0, t1


def sdp_audio(msg):
    """[(pt, "name/rate")] of a SIP message's m=audio line, in order."""
    body = msg.split("\r\n\r\n", 1)[-1]
    m = re.search(r"^m=audio \d+ \S+ ([\d ]+)", body, re.M)
    if not m:
        return []
    names = dict(re.findall(r"^a=rtpmap:(\d+) (\S+)", body, re.M))
    static = {"0": "PCMU/8000", "8": "PCMA/8000", "3": "GSM/8000", "9": "G722/8000",
              "18": "G729/8000", "13": "CN/8000"}
    return [(int(pt), names.get(pt, static.get(pt, "?"))) for pt in m.group(1).split()]


def only_g711(fmts):
    """Audio codecs other than G.711 (telephone-event and CN aside)."""
    return [n for _, n in fmts if not re.match(r"(PCMU|PCMA|telephone-event|CN)/", n, re.I)]


def s_ulaw(b):
    b = ~b & 0xff
    x = ((((b & 0x0f) << 3) + 0x84) << ((b >> 4) & 7)) - 0x84
    return -x if b & 0x80 else x


def s_alaw(b):
    b ^= 0x55
    e, m = (b >> 4) & 7, b & 0x0f
    x = (m << 4) + 8 if e == 0 else ((m << 4) + 0x108) << (e - 1)
    return x if b & 0x80 else -x


G711_DECODE = {0: [s_ulaw(i) for i in range(256)], 8: [s_alaw(i) for i in range(256)]}


def tone_hz(payloads):
    """The frequency of the tone in [(pt, bytes)] of G.711, from its
    zero crossings (0 when silent)."""
    samples = []
    for pt, data in payloads:
        table = G711_DECODE.get(pt)
        if table:
            samples.extend(table[b] for b in data)
    if len(samples) < 800 or max(abs(x) for x in samples) < 500:
        return 0.0
    cross, last = 0, 0
    for x in samples:
        sign = 1 if x > 200 else -1 if x < -200 else 0
        if sign and last and sign != last:
            cross += 1
        if sign:
            last = sign
    return cross / 2.0 / (len(samples) / 8000.0)


def write_tone(path, secs):
    """An 8 kHz mono 16-bit WAV of a 300 Hz tone (linphone's microphone)."""
    import math
    import wave
    w = wave.open(path, "wb")
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(8000)
    w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 300 * i / 8000)))
                           for i in range(8000 * secs)))
    w.close()


G711 = {0, 8}
QUIET = {13, 101}       # CN and telephone-event may come along


class Run:
    def __init__(self, conf):
        self.c = conf
        self.switch = [conf["a"]["switch"], conf["b"]["switch"]]
        self.cap = Capture(conf["capture"], conf["rtp_lo"], conf["rtp_hi"], self.switch)
        self.a_user, self.a_secret = "1001", "1001pass"
        self.a_pt = self.b_pt = None    # payload types the phones must use, if fixed
        self.a = Baresip("A(baresip)", conf["a"]["ns"], conf["a"],
                         os.path.join(conf["tmp"], "baresip-a"))
        self.b = Linphone("B(linphone 1002)", conf["b"]["ns"], conf["b"],
                          os.path.join(conf["tmp"], "linphone-b"), conf["b"]["pipe"])
        self.tone = os.path.join(conf["tmp"], "tone.wav")
        write_tone(self.tone, 30)
        self.win = conf.get("window", 1.0)
        self.min_pkts = conf.get("min_packets", 25)   # of 50 in 1 s at 20 ms

    # --- checks ---------------------------------------------------------
    def audio_both_ways(self, what):
        """Both phones send G.711 to the worker and get G.711 from it, and
        each hears the other's tone (A's 440 Hz sine, B's 300 Hz file)."""
        t0, t1 = self.cap.window(self.win)
        bad = []
        for who, ip, hz in (("A", self.c["a"]["ip"], 300), ("B", self.c["b"]["ip"], 440)):
            r = self.cap.rtp(ip, t0, t1)
            got = tone_hz(r["audio_down"])
            log("%s: RTP at %s in %.1f s: sent %d %s, received %d %s, hears %.0f Hz"
                % (what, who, t1 - t0, r["up"], r["pt_up"], r["down"], r["pt_down"], got))
            if abs(got - hz) > hz * 0.1:
                bad.append("phone %s hears %.0f Hz, not the other phone's %d Hz tone"
                           % (who, got, hz))
            for way in ("up", "down"):
                if r[way] < self.min_pkts:
                    bad.append("phone %s %s %d RTP packets; expected at least %d"
                               % (who, "sent" if way == "up" else "received", r[way],
                                  self.min_pkts))
                other = set(r["pt_" + way]) - G711 - QUIET
                want = self.a_pt if who == "A" else self.b_pt
                if want is not None and set(r["pt_" + way]) - QUIET - {want}:
                    bad.append("phone %s %s payload types %s; expected only %d"
                               % (who, "sent" if way == "up" else "received",
                                  sorted(r["pt_" + way]), want))
                if other:
                    bad.append("phone %s %s payload types %s, not G.711"
                               % (who, "sent" if way == "up" else "received", sorted(other)))
        if bad:
            raise Fail("%s: %s" % (what, "; ".join(bad)))

    def quiet_at(self, held, what):
        """No RTP from each held phone in HELD ("A", "B" or "AB": it was told
        not to send), none toward it, and none from the other one reaches it."""
        t0, t1 = self.cap.window(self.win)
        r = {"A": self.cap.rtp(self.c["a"]["ip"], t0, t1),
             "B": self.cap.rtp(self.c["b"]["ip"], t0, t1)}
        log("%s: RTP in %.1f s: A sent %d received %d, B sent %d received %d"
            % (what, t1 - t0, r["A"]["up"], r["A"]["down"], r["B"]["up"], r["B"]["down"]))
        for h in held:
            o = "B" if h == "A" else "A"
            if r[h]["up"] > 2 or r[o]["down"] > 2:
                raise Fail("%s: %s still sends (%d packets to the worker, %d reach %s in %.1f s)"
                           % (what, h, r[h]["up"], r[o]["down"], o, t1 - t0))
            if r[h]["down"] > 2:
                raise Fail("%s: the worker still sends %d packets to %s in %.1f s"
                           % (what, r[h]["down"], h, t1 - t0))

    def sdp_to_b(self, since, what):
        """The switch's offer to B and B's answer carry G.711 only."""
        offer = poll("%s: the switch's INVITE to 1002 in the capture" % what,
                     lambda: self.cap.sip(since, "INVITE ", r"^(To|t):.*sip:1002@", True), 3)
        answer = poll("%s: the 200 for it in the capture" % what,
                      lambda: self.cap.sip(since, "SIP/2.0 200",
                                           [r"^CSeq:\s*\d+ INVITE", r"^(To|t):.*sip:1002@"],
                                           False), 3)
        o, a = sdp_audio(offer), sdp_audio(answer)
        log("%s: the switch offers B %s; B answers %s" % (what, o, a))
        if not o or only_g711(o):
            raise Fail("%s: the switch offered B %s (only G.711 and telephone-event expected)"
                       % (what, o))
        if not a or a[0][0] not in G711:
            raise Fail("%s: B answered %s" % (what, a))

    def sdp_from_b(self, since, what):
        """B's own offer (opus first) is answered with G.711 only."""
        offer = poll("%s: B's INVITE in the capture" % what,
                     lambda: self.cap.sip(since, "INVITE ", r"^(To|t):.*sip:%s@" % self.a_user,
                                          False), 3)
        answer = poll("%s: the switch's 200 to B in the capture" % what,
                      lambda: self.cap.sip(since, "SIP/2.0 200",
                                           [r"^CSeq:\s*\d+ INVITE",
                                            r"^(To|t):.*sip:%s@" % self.a_user], True), 10)
        o, a = sdp_audio(offer), sdp_audio(answer)
        log("%s: B offers %s; the switch answers %s" % (what, o, a))
        if not o or not o[0][1].lower().startswith("opus/"):
            raise Fail("%s: linphone's offer %s does not start with opus: not its default list"
                       % (what, o))
        audio = [f for f in a if not re.match(r"(telephone-event|CN)/", f[1], re.I)]
        if len(audio) != 1 or audio[0][0] not in G711:
            raise Fail("%s: the switch answered %s; expected one G.711 codec "
                       "(and telephone-event)" % (what, a))

    # --- steps ----------------------------------------------------------
    def start_phones(self, via_proxy):
        c = self.c
        a, b = c["a"], c["b"]
        if via_proxy:
            # Outbound proxy: REGISTER and every request go to kamailio, which
            # adds Path / Record-Route and relays to the switch.
            acc = "<sip:%s@%s:%d>;auth_pass=%s;regint=120;outbound=\"sip:%s:%d;lr\"" % (
                self.a_user, a["switch"], c["sip_port"], self.a_secret, a["proxy"],
                c["proxy_port"])
            self.b.write_config("<sip:%s:%d;transport=udp>" % (b["proxy"], c["proxy_port"]),
                                "sip:1002@%s:%d" % (b["switch"], c["sip_port"]),
                                route="<sip:%s:%d;lr>" % (b["proxy"], c["proxy_port"]))
        else:
            acc = "<sip:%s@%s:%d>;auth_pass=%s;regint=120" % (self.a_user, a["switch"],
                                                               c["sip_port"], self.a_secret)
            self.b.write_config("<sip:%s:%d;transport=udp>" % (b["switch"], c["sip_port"]),
                                "sip:1002@%s:%d" % (b["switch"], c["sip_port"]))
        self.a.write_config(acc)
        self.a.start()
        self.b.start()
        poll("A(baresip %s) registered" % self.a_user, self.a.registered, 10, 0.2)
        poll("B(linphone 1002) registered", self.b.registered, 10, 0.2)
        log("both phones registered%s" % (" through kamailio" if via_proxy else ""))

    def stop_phones(self):
        self.a.stop()
        self.b.stop()

    def call_a_to_b(self, hold=True, hangup_by="B"):
        a, b = self.a, self.b
        m = a.mark()
        t = time.time()
        a.cmd("dial", "1002")
        b.wait_state("LinphoneCallIncomingReceived")
        log("B rings")
        b.ok("answer")
        a.wait_event("CALL_ESTABLISHED", m)
        b.wait_state("LinphoneCallStreamsRunning")
        b.play(self.tone)
        log("A -> B answered")
        self.sdp_to_b(t, "A->B")
        self.audio_both_ways("A->B talking")
        if hold:
            a.cmd("hold")
            b.wait_state("LinphoneCallPausedByRemote")
            log("A holds: B is PausedByRemote")
            time.sleep(0.3)      # packets already on their way
            self.quiet_at("B", "A->B on hold")
            a.cmd("resume")
            b.wait_state("LinphoneCallStreamsRunning")
            log("A resumes: B is StreamsRunning")
            b.play(self.tone)
            self.audio_both_ways("A->B resumed")
        # Transfer is its own call: see transfer_a_to_b.
        m = a.mark()
        if hangup_by == "B":
            b.ok("terminate")
        else:
            a.cmd("hangup")
        a.wait_event("CALL_CLOSED", m)
        b.wait_no_call()
        log("A -> B hung up by %s" % hangup_by)

    def call_b_to_a(self, hold=True, hangup_by="A"):
        a, b = self.a, self.b
        m = a.mark()
        t = time.time()
        b.call("sip:%s@%s:%d" % (self.a_user, self.c["b"]["switch"], self.c["sip_port"]))
        a.wait_event("CALL_INCOMING", m)
        log("A rings")
        a.cmd("accept")
        a.wait_event("CALL_ESTABLISHED", m)
        b.wait_state("LinphoneCallStreamsRunning")
        b.play(self.tone)
        log("B -> A answered")
        self.sdp_from_b(t, "B->A")
        self.audio_both_ways("B->A talking")
        if hold:
            # linphone's hold: a=sendonly toward the switch; A must be told
            # not to send (recvonly), and nothing flows to or from A.
            b.ok("call-pause " + b.cid)
            b.wait_state("LinphoneCallPaused")
            log("B holds: B is Paused")
            time.sleep(0.3)
            self.quiet_at("A", "B->A on hold")
            b.ok("call-resume " + b.cid)
            b.wait_state("LinphoneCallStreamsRunning")
            b.play(self.tone)
            log("B resumes: B is StreamsRunning")
            self.audio_both_ways("B->A resumed")
        m = a.mark()
        if hangup_by == "A":
            a.cmd("hangup")
        else:
            b.ok("terminate")
        a.wait_event("CALL_CLOSED", m)
        b.wait_no_call()
        log("B -> A hung up by %s" % hangup_by)

    def transfer_a_to_b(self):
        """TRANSFER (on unless "transfer": false in the json): A calls
        B, then transfers B blindly to the echo test. A's call ends (the
        switch releases the transferor after the NOTIFY), B stays up and
        hears its own tone from the echo."""
        a, b = self.a, self.b
        m = a.mark()
        a.cmd("dial", "1002")
        b.wait_state("LinphoneCallIncomingReceived")
        b.ok("answer")
        a.wait_event("CALL_ESTABLISHED", m)
        b.wait_state("LinphoneCallStreamsRunning")
        b.play(self.tone)
        m = a.mark()
        a.cmd("transfer", "sip:600@%s:%d" % (self.c["a"]["switch"], self.c["sip_port"]))
        log("A transfers B to 600 (REFER)")
        e = a.wait_event(["CALL_CLOSED", "TRANSFER_FAILED"], m, 10)
        if e.get("type") != "CALL_CLOSED":
            raise Fail("transfer: baresip reports %s: %s" % (e.get("type"), e.get("param")))
        log("A released: %s" % e.get("param"))
        b.wait_state("LinphoneCallStreamsRunning")
        time.sleep(0.5)
        b.play(self.tone)
        t0, t1 = self.cap.window(self.win)
        r = self.cap.rtp(self.c["b"]["ip"], t0, t1)
        got = tone_hz(r["audio_down"])
        log("transfer: B sent %d, received %d, hears %.0f Hz" % (r["up"], r["down"], got))
        if r["down"] < self.min_pkts or abs(got - 300) > 30:
            raise Fail("transfer: B is not on the echo test (%d packets back, %.0f Hz)"
                       % (r["down"], got))
        b.ok("terminate")
        b.wait_no_call()
        log("B hung up on the echo test it was transferred to")

    def call_waiting_b(self):
        """A calls B; B, in that call, calls the echo test: linphone holds
        A's call by itself first. B hears its own tone from the echo while
        nothing flows between A and the worker; B hangs up the echo and
        resumes A: both ways again."""
        a, b = self.a, self.b
        m = a.mark()
        a.cmd("dial", "1002")
        b.wait_state("LinphoneCallIncomingReceived")
        b.ok("answer")
        a.wait_event("CALL_ESTABLISHED", m)
        b.wait_state("LinphoneCallStreamsRunning")
        first = b.incoming_id()
        if not first:
            raise Fail("call waiting: no id for the call from A in linphone's events")
        b.call("sip:600@%s:%d" % (self.c["b"]["switch"], self.c["sip_port"]))
        b.wait_state("LinphoneCallStreamsRunning")
        b.play(self.tone)
        log("B put A on hold (call %s) and called the echo test" % first)
        t0, t1 = self.cap.window(self.win)
        ra = self.cap.rtp(self.c["a"]["ip"], t0, t1)
        rb = self.cap.rtp(self.c["b"]["ip"], t0, t1)
        got = tone_hz(rb["audio_down"])
        log("call waiting: A sent %d received %d; B hears %.0f Hz from the echo"
            % (ra["up"], ra["down"], got))
        if ra["up"] > 2 or ra["down"] > 2 or abs(got - 300) > 30:
            raise Fail("call waiting: A still sends or gets RTP (%d, %d), or B does not hear "
                       "itself (%.0f Hz)" % (ra["up"], ra["down"], got))
        b.ok("terminate " + b.cid)
        b.cid = first
        b.wait_state("LinphoneCallPaused")
        b.ok("call-resume " + first)
        b.wait_state("LinphoneCallStreamsRunning")
        b.play(self.tone)
        self.audio_both_ways("A's call resumed after the echo")
        m = a.mark()
        a.cmd("hangup")
        a.wait_event("CALL_CLOSED", m)
        b.wait_no_call()

    def double_hold(self):
        """B calls A; B holds, then A holds too (both on hold: nothing
        flows), B resumes (A still holds: still nothing), A resumes (both
        ways again)."""
        a, b = self.a, self.b
        m = a.mark()
        b.call("sip:%s@%s:%d" % (self.a_user, self.c["b"]["switch"], self.c["sip_port"]))
        a.wait_event("CALL_INCOMING", m)
        a.cmd("accept")
        a.wait_event("CALL_ESTABLISHED", m)
        b.wait_state("LinphoneCallStreamsRunning")
        b.play(self.tone)
        b.ok("call-pause " + b.cid)
        b.wait_state("LinphoneCallPaused")
        time.sleep(0.3)
        a.cmd("hold")
        time.sleep(0.5)
        self.quiet_at("AB", "both on hold")
        b.ok("call-resume " + b.cid)
        b.wait_state("LinphoneCallPausedByRemote")
        b.play(self.tone)
        log("B resumed while A holds: B is PausedByRemote")
        time.sleep(0.3)
        self.quiet_at("B", "A still holds")
        a.cmd("resume")
        b.wait_state("LinphoneCallStreamsRunning")
        b.play(self.tone)
        log("A resumed too: B is StreamsRunning")
        self.audio_both_ways("after the double hold")
        m = a.mark()
        a.cmd("hangup")
        a.wait_event("CALL_CLOSED", m)
        b.wait_no_call()

    def a_restarts(self):
        """baresip dies without un-registering and starts again: its new
        Contact (baresip puts a fresh token in the user part) replaces the
        stale one, as chan_sip keeps one contact per peer; B's call rings
        the new A."""
        a, b = self.a, self.b
        a.crash()
        a.start()
        poll("A(baresip %s) registered again" % self.a_user, a.registered, 10, 0.2)
        m = a.mark()
        b.call("sip:%s@%s:%d" % (self.a_user, self.c["b"]["switch"], self.c["sip_port"]))
        a.wait_event("CALL_INCOMING", m, 5)
        a.cmd("accept")
        a.wait_event("CALL_ESTABLISHED", m)
        b.wait_state("LinphoneCallStreamsRunning")
        m = a.mark()
        b.ok("terminate")
        a.wait_event("CALL_CLOSED", m)
        b.wait_no_call()
        log("A restarted without un-registering: B's call rang the new A")

    def hangup_on_hold(self, by):
        """A holds B, then BY ("A", the holder, or "B", the held one) hangs
        up: the other side's call ends too."""
        a, b = self.a, self.b
        m = a.mark()
        a.cmd("dial", "1002")
        b.wait_state("LinphoneCallIncomingReceived")
        b.ok("answer")
        a.wait_event("CALL_ESTABLISHED", m)
        b.wait_state("LinphoneCallStreamsRunning")
        a.cmd("hold")
        b.wait_state("LinphoneCallPausedByRemote")
        m = a.mark()
        if by == "A":
            a.cmd("hangup")
        else:
            b.ok("terminate")
        a.wait_event("CALL_CLOSED", m)
        b.wait_no_call()
        log("A -> B, A holds, %s hangs up during the hold: both calls ended" % by)

    def cancel_a_to_b(self):
        """A gives up while B rings (CANCEL): B stops ringing."""
        a, b = self.a, self.b
        m = a.mark()
        a.cmd("dial", "1002")
        b.wait_state("LinphoneCallIncomingReceived")
        a.wait_event("CALL_RINGING", m)
        a.cmd("hangup")
        a.wait_event("CALL_CLOSED", m)
        b.wait_no_call()
        log("A -> B cancelled while ringing: B stopped ringing")

    def reject_b_to_a(self):
        """A declines B's call: B's call ends with the rejection."""
        a, b = self.a, self.b
        m = a.mark()
        b.call("sip:%s@%s:%d" % (self.a_user, self.c["b"]["switch"], self.c["sip_port"]))
        a.wait_event("CALL_INCOMING", m)
        a.cmd("hangup")
        a.wait_event("CALL_CLOSED", m)
        b.wait_no_call()
        log("B -> A declined by A: B's call ended")

    def echo_b(self):
        """B calls the echo test (Answer, Echo) with its opus-first offer:
        the switch answers G.711 alone and B hears its own 300 Hz tone."""
        b = self.b
        t = time.time()
        b.call("sip:600@%s:%d" % (self.c["b"]["switch"], self.c["sip_port"]))
        b.wait_state("LinphoneCallStreamsRunning")
        b.play(self.tone)
        log("B -> echo 600 answered")
        offer = poll("B's INVITE to 600 in the capture",
                     lambda: self.cap.sip(t, "INVITE sip:600@", r"^(To|t):", False), 3)
        answer = poll("the switch's 200 to it in the capture",
                      lambda: self.cap.sip(t, "SIP/2.0 200",
                                           [r"^CSeq:\s*\d+ INVITE", r"^(To|t):.*sip:600@"],
                                           True), 3)
        a = sdp_audio(answer)
        log("echo: B offers %s; the switch answers %s" % ([n for _, n in sdp_audio(offer)], a))
        audio = [f for f in a if not re.match(r"(telephone-event|CN)/", f[1], re.I)]
        if len(audio) != 1 or audio[0][0] not in G711:
            raise Fail("echo: the switch answered %s; expected one G.711 codec" % a)
        t0, t1 = self.cap.window(self.win)
        r = self.cap.rtp(self.c["b"]["ip"], t0, t1)
        got = tone_hz(r["audio_down"])
        log("echo: B sent %d %s, received %d %s, hears %.0f Hz"
            % (r["up"], r["pt_up"], r["down"], r["pt_down"], got))
        if r["down"] < self.min_pkts or abs(got - 300) > 30:
            raise Fail("echo: B got %d packets back, hearing %.0f Hz (its own tone is 300 Hz)"
                       % (r["down"], got))
        b.ok("terminate")
        b.wait_no_call()
        log("B hung up on the echo test")

    def ivr_menu_a(self):
        """etc/extensions.conf's voice menu 800: A presses 2 during the
        prompt (Background), the menu dials 1002: B rings, answers, they
        talk, A hangs up."""
        a, b = self.a, self.b
        m = a.mark()
        a.cmd("dial", "800")
        a.wait_event("CALL_ESTABLISHED", m)
        time.sleep(0.7)
        a.cmd("sndcode", "2")
        log("A -> menu 800 answered, A pressed 2 during the prompt")
        b.wait_state("LinphoneCallIncomingReceived", 8)
        log("the menu rings B")
        b.ok("answer")
        b.wait_state("LinphoneCallStreamsRunning")
        b.play(self.tone)
        self.audio_both_ways("menu 800 -> 2 -> B")
        m = a.mark()
        a.cmd("hangup")
        a.wait_event("CALL_CLOSED", m)
        b.wait_no_call()

    def early_media_b(self):
        """B calls 832: Progress(), a 1.4 s prompt as early media (183 with
        SDP), then Answer() and Echo(): B sees early media with RTP before
        the 200, then hears its own tone."""
        b = self.b
        t = time.time()
        b.call("sip:832@%s:%d" % (self.c["b"]["switch"], self.c["sip_port"]))
        b.wait_state(["LinphoneCallOutgoingEarlyMedia", "LinphoneCallStreamsRunning"])
        b.wait_state("LinphoneCallStreamsRunning")
        b.play(self.tone)
        ok = poll("the switch's 200 to B's call to 832",
                  lambda: self.cap.sip(t, "SIP/2.0 200",
                                       [r"^CSeq:\s*\d+ INVITE", r"^(To|t):.*sip:832@"], True), 3)
        p183 = self.cap.sip(t, "SIP/2.0 183", r"^(To|t):.*sip:832@", True)
        t200 = [p[0] for p in self.cap.pkts if p[0] >= t and p[5].startswith(ok[:40].encode())]
        early = self.cap.rtp(self.c["b"]["ip"], t, t200[0] if t200 else t)
        log("early media: 183 %s, %d RTP packets to B before the 200"
            % ("with SDP" if p183 and sdp_audio(p183) else "MISSING or without SDP",
               early["down"]))
        if not p183 or not sdp_audio(p183) or early["down"] < 30:
            raise Fail("early media: no 183 with SDP, or too little RTP (%d) before the 200"
                       % early["down"])
        t0, t1 = self.cap.window(self.win)
        r = self.cap.rtp(self.c["b"]["ip"], t0, t1)
        got = tone_hz(r["audio_down"])
        log("early media, then echo: B hears %.0f Hz" % got)
        if abs(got - 300) > 30:
            raise Fail("after the answer B hears %.0f Hz, not its own 300 Hz tone" % got)
        b.ok("terminate")
        b.wait_no_call()

    def addresses_face_phones(self):
        """Every request the switch sent to a phone names, in its Via and
        Contact, the switch's address on that phone's network."""
        bad, n = [], 0
        for who in ("a", "b"):
            ip, sw = self.c[who]["ip"], self.c[who]["switch"]
            for t, s, sp, d, dp, pl in self.cap.pkts:
                if d != ip or s not in self.switch or pl[:8] == b"SIP/2.0 ":
                    continue
                text = pl.decode("utf-8", "replace")
                if not re.match(r"[A-Z]+ sip:", text):
                    continue
                n += 1
                via = re.search(r"^(?:Via|v):\s*SIP/2.0/UDP ([\d.]+)", text, re.M | re.I)
                con = re.search(r"^(?:Contact|m):[^\n]*@([\d.]+)", text, re.M | re.I)
                for name, m in (("Via", via), ("Contact", con)):
                    if m and m.group(1) != sw:
                        bad.append("%s to %s: %s %s" % (text.split(" ", 1)[0], ip, name,
                                                       m.group(1)))
        log("%d requests from the switch to the phones: Via and Contact face their network"
            % n if not bad else "addresses: %s" % bad[:3])
        if bad or n == 0:
            raise Fail("the switch named the other network's address: %s" % "; ".join(bad[:5]))

    def dtmf_sent(self, ip, since, what):
        """RFC 2833 / 4733 events (telephone-event, PT 101 here) from IP."""
        r = self.cap.rtp(ip, since, time.time())
        n = r["pt_up"].get(101, 0)
        log("%s: %d telephone-event packets to the worker" % (what, n))
        if n < 3:
            raise Fail("%s: the key went out as %s, not as telephone-event"
                       % (what, r["pt_up"]))

    def ivr_a(self):
        """A calls the IVR and presses the digit once it is answered; the
        dialplan's branch for it sets CDR(userfield) and hangs up (the run
        script checks Master.csv)."""
        a = self.a
        m = a.mark()
        a.cmd("dial", self.c["ivr_exten"])
        a.wait_event("CALL_ESTABLISHED", m)
        log("A -> IVR %s answered" % self.c["ivr_exten"])
        time.sleep(0.5)
        t = time.time()
        a.cmd("sndcode", self.c["ivr_digit"])
        log("A pressed %s" % self.c["ivr_digit"])
        a.wait_event("CALL_CLOSED", m, 10)
        log("the IVR hung up on A")
        self.dtmf_sent(self.c["a"]["ip"], t, "A's key")

    def ivr_b(self):
        """The same from linphone (its own telephone-event/8000)."""
        b = self.b
        b.call("sip:%s@%s:%d" % (self.c["ivr_exten"], self.c["b"]["switch"], self.c["sip_port"]))
        b.wait_state("LinphoneCallStreamsRunning")
        log("B -> IVR %s answered" % self.c["ivr_exten"])
        time.sleep(0.5)
        t = time.time()
        b.ok("dtmf " + self.c["ivr_digit"])
        log("B pressed %s" % self.c["ivr_digit"])
        b.wait_no_call(10)
        log("the IVR hung up on B")
        self.dtmf_sent(self.c["b"]["ip"], t, "B's key")

    def sha256_b(self):
        """The run script restarted signaling with auth_algorithms_uas=
        SHA-256,MD5 (RFC 8760): linphone answers the SHA-256 challenge, on
        REGISTER and on INVITE, then talks to the echo test. (baresip 1.0 is
        not run: offered SHA-256 first, it sends nothing after the 401.)"""
        b, c = self.b, self.c
        t = time.time()
        b.write_config("<sip:%s:%d;transport=udp>" % (c["b"]["switch"], c["sip_port"]),
                       "sip:1002@%s:%d" % (c["b"]["switch"], c["sip_port"]))
        b.start()
        poll("B(linphone 1002) registered", b.registered, 10, 0.2)
        reg = poll("B's REGISTER with credentials in the capture",
                   lambda: self.cap.sip(t, "REGISTER ", r"^Authorization:", False), 3)
        alg = re.search(r"algorithm=([\w-]+)", reg)
        log("B registered with %s digest" % (alg.group(1) if alg else "no algorithm (MD5)"))
        if not alg or alg.group(1) != "SHA-256":
            raise Fail("linphone answered the challenge with %s, not SHA-256"
                       % (alg.group(1) if alg else "MD5"))
        self.echo_b()
        inv = self.cap.sip(t, "INVITE sip:600@", r"^(Proxy-)?Authorization:.*SHA-256", False)
        if not inv:
            raise Fail("linphone's INVITE to 600 was not authorized with SHA-256")
        log("B's INVITE was authorized with SHA-256 too")
        b.stop()

    def main(self):
        passes = self.c.get("passes", ["direct", "proxy"])
        if passes == ["sha256"]:
            self.sha256_b()
            log("all steps passed")
            return
        for p in passes:
            via = p == "proxy"
            log("==== pass: %s" % ("through kamailio" if via else "straight to the switch"))
            if via:
                # A is 1003 now, allow=alaw only in sip.conf: its leg is
                # A-law, linphone's is µ-law, the worker transcodes.
                self.a_user, self.a_secret = "1003", "1003pass"
                self.a_pt, self.b_pt = 8, 0
            else:
                self.a_user, self.a_secret = "1001", "1001pass"
                self.a_pt = self.b_pt = None
            t_pass = time.time()
            self.start_phones(via)
            self.call_a_to_b(hold=True, hangup_by="B")
            self.call_b_to_a(hold=True, hangup_by="A")
            if self.c.get("transfer"):
                self.transfer_a_to_b()
            if not via:
                self.double_hold()
                self.call_waiting_b()
                self.a_restarts()
            self.hangup_on_hold("B" if via else "A")
            self.cancel_a_to_b()
            self.reject_b_to_a()
            if via:
                self.ivr_b()
            else:
                self.echo_b()
                self.early_media_b()
                self.ivr_a()
                self.ivr_menu_a()
                self.addresses_face_phones()
            if via:
                # Path and Record-Route: not one datagram of SIP went
                # straight between the switch and a phone.
                direct = self.cap.sip_between(t_pass, [self.c["a"]["ip"], self.c["b"]["ip"]])
                log("through kamailio: %d SIP messages went straight between the switch "
                    "and a phone" % len(direct))
                if direct:
                    raise Fail("SIP bypassed kamailio: %s" % direct[:5])
            self.stop_phones()
        log("all steps passed")


def main():
    conf = json.load(open(sys.argv[1]))
    run = Run(conf)
    rc = 1
    try:
        run.main()
        rc = 0
    except Fail as e:
        log("FAIL: %s" % e)
    finally:
        for ph in (run.a, run.b):
            try:
                ph.stop()
            except Exception:
                pass
    sys.exit(rc)


if __name__ == "__main__":
    main()
