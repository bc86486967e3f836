#!/usr/bin/env python3
"""Write the seed corpora of tests/fuzz/corpus/<harness>/ from what the
tests already hold (run from the repository root; rerun when they change):
  signaling_sip       RFC 4475's torture messages (tests/sip/bad_input/
                      rfc4475.py, the RFC's own bytes) and the SIPp scenarios'
                      messages (tests/sip/*/*.xml, keywords filled in)
  signaling_frame     the same messages as a TCP stream (a size-limit byte,
                      then messages back to back, keep-alive CRLFs between)
  media_sdp           the SDP bodies of those messages and of the unit tests
  router_dialplan     etc/extensions.conf and the tests' plans
  router_expr         the ${...} and $[...] rows of the router's unit tests
  media_wav           a few small WAVs, well-formed and odd
  *_envelope          one Envelope per body type, encoded by hand from
                      proto/tandem.proto (strings filled with plausible values)
Names are the content's SHA-1, as libFuzzer names its own finds."""
import glob
import hashlib
import os
import re
import struct
import sys

OUT = "tests/fuzz/corpus"
sys.path.insert(0, "tests/sip/bad_input")


def put(harness, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


# ---- SIP ---------------------------------------------------------------------
KEYS = {"service": "1002", "remote_ip": "127.0.0.1", "remote_port": "5060",
        "local_ip": "127.0.0.1", "local_port": "5062", "transport": "UDP",
        "media_ip": "127.0.0.1", "media_port": "40000", "media_ip_type": "4",
        "local_ip_type": "4", "pid": "4242", "cseq": "1", "call_number": "1",
        "last_Via:": "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1",
        "last_From:": "From: <sip:1001@127.0.0.1>;tag=1",
        "last_To:": "To: <sip:1002@127.0.0.1>;tag=2",
        "last_Call-ID:": "Call-ID: 1-4242@127.0.0.1",
        "last_CSeq:": "CSeq: 1 INVITE", "last_Record-Route:": "",
        "last_Contact:": "Contact: <sip:1002@127.0.0.1:5062>", "routes": "",
        "next_url": "sip:1002@127.0.0.1:5062", "peer_tag_param": ";tag=2",
        "branch": "z9hG4bK-4242-1-0", "call_id": "1-4242@127.0.0.1",
        "authentication": 'Authorization: Digest username="1001", realm="tandem", '
                          'nonce="abc", uri="sip:1002@127.0.0.1", response="0123456789abcdef'
                          '0123456789abcdef"'}


def sipp_messages(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    for m in re.finditer(r"<send[^>]*>\s*<!\[CDATA\[(.*?)\]\]>", text, re.S):
        body = m.group(1).strip("\n")
        lines = [l.strip() for l in body.split("\n")]
        while lines and not lines[0]:
            lines.pop(0)
        msg = "\r\n".join(lines)
        if "\r\n\r\n" not in msg:
            msg += "\r\n\r\n"
        head, _, sdp = msg.partition("\r\n\r\n")

        def sub(m):
            k = m.group(1)
            if k.startswith("$") or k.startswith("field"):
                return "1001"
            if k.startswith("branch"):
                return KEYS["branch"]
            if k.startswith("authentication"):
                return KEYS["authentication"]
            if k == "len":
                return "@LEN@"
            return KEYS.get(k, "x")
        head = re.sub(r"\[([^\]\r\n]*)\]", sub, head)
        sdp = re.sub(r"\[([^\]\r\n]*)\]", sub, sdp)
        if sdp and not sdp.endswith("\r\n"):
            sdp += "\r\n"
        head = head.replace("@LEN@", str(len(sdp.encode())))
        yield (head + "\r\n\r\n" + sdp).encode("utf-8", "replace"), sdp


def main():
    sip_msgs, sdps = [], []
    import rfc4475
    for row in rfc4475.ROWS:
        sip_msgs.append(row.data)
    for path in sorted(glob.glob("tests/sip/*/*.xml")):
        for msg, sdp in sipp_messages(path):
            sip_msgs.append(msg)
            if sdp.startswith("v=0"):
                sdps.append(sdp)
    seen = set()
    uniq = []
    for m in sip_msgs:
        if m not in seen:
            seen.add(m)
            uniq.append(m)
    sip_msgs = uniq
    for m in sip_msgs:
        put("signaling_sip", m)
    # Dialogs: an INVITE, then its ACK/BYE/CANCEL, as one input (4 NULs apart).
    invs = [m for m in sip_msgs if m.startswith(b"INVITE ")][:20]
    rest = [m for m in sip_msgs if m.split(b" ", 1)[0] in (b"ACK", b"BYE", b"CANCEL", b"PRACK",
                                                             b"UPDATE", b"REFER")][:20]
    for i, inv in enumerate(invs):
        if rest:
            put("signaling_sip", inv + b"\0\0\0\0" + rest[i % len(rest)])
    # TCP streams: byte 0 picks the size limit.
    for i, m in enumerate(sip_msgs[:60]):
        nxt = sip_msgs[(i + 1) % len(sip_msgs)]
        put("signaling_frame", bytes([i & 3]) + m)
        put("signaling_frame", bytes([0]) + b"\r\n\r\n" + m + nxt + b"\r\n")
    # SDP: bodies from the messages and the unit tests' literals.
    for path in ["tests/unit/media/test_sdp.c", "tests/unit/media/test_sdp_crypto.c",
                 "tests/unit/media/test_worker.c", "tests/unit/signaling/test_sip_core.c"]:
        for s in c_strings(path):
            if s.startswith("v=0"):
                sdps.append(s)
    for s in sorted(set(sdps)):
        put("media_sdp", s)
    # Plans.
    for path in ["etc/extensions.conf"] + sorted(glob.glob("tests/sip/*/extensions.conf")) + \
            sorted(glob.glob("tests/sip/dialplan_asterisk/cases/*.conf"))[:80]:
        with open(path, "rb") as f:
            data = f.read()
        if len(data) <= 8192:
            put("router_dialplan", data)
    for path in ["tests/unit/router/test_dialplan.c"]:
        for s in c_strings(path):
            if "[" in s and "=>" in s:
                put("router_dialplan", s)
    # Expressions and substitutions.
    for path in ["tests/unit/router/test_expr.c", "tests/unit/router/test_vars.c",
                 "tests/unit/router/test_func.c"]:
        for s in c_strings(path):
            if "${" in s or "$[" in s or path.endswith("test_expr.c"):
                if 0 < len(s) < 400:
                    put("router_expr", s)
    wavs()
    envelopes()
    rtp()


def c_strings(path):
    """C string literals of a file, adjacent ones joined (macros between them
    are dropped), escapes decoded."""
    text = open(path, encoding="utf-8", errors="replace").read()
    text = re.sub(r"//[^\n]*", "", text)
    out, cur, last_end = [], None, 0
    for m in re.finditer(r'"((?:[^"\\\n]|\\.)*)"', text):
        between = text[last_end:m.start()]
        s = m.group(1)
        s = re.sub(r"\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)", unesc, s)
        if cur is not None and re.fullmatch(r"\s*(?:[A-Z_][A-Z0-9_]*\s*)?", between):
            cur += s
        else:
            if cur is not None:
                out.append(cur)
            cur = s
        last_end = m.end()
    if cur is not None:
        out.append(cur)
    return out


def unesc(m):
    e = m.group(1)
    simple = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'", "0": "\0"}
    if e in simple:
        return simple[e]
    if e[0] == "x":
        return chr(int(e[1:], 16))
    if e[0].isdigit():
        return chr(int(e, 8))
    return e


# ---- WAV ---------------------------------------------------------------------
def chunk(tag, data):
    return tag + struct.pack("<I", len(data)) + data + (b"\0" if len(data) & 1 else b"")


def wav(fmt_tag=1, channels=1, rate=8000, bits=16, samples=160, extra=b"", fmt_extra=b""):
    pcm = b"".join(struct.pack("<h", (i * 997) % 20000 - 10000) for i in range(samples))
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * channels * bits // 8,
                      channels * bits // 8, bits) + fmt_extra
    body = b"WAVE" + chunk(b"fmt ", fmt) + extra + chunk(b"data", pcm)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def wavs():
    put("media_wav", wav())
    put("media_wav", wav(samples=1))
    put("media_wav", wav(samples=0))
    put("media_wav", wav(extra=chunk(b"LIST", b"INFOISFT\x05\0\0\0sox\0\0")))
    put("media_wav", wav(fmt_tag=0xFFFE, fmt_extra=struct.pack("<HHI", 22, 16, 4) + b"\x01\0\0\0"
                         b"\0\0\x10\0\x80\0\0\xaa\0\x38\x9b\x71"))
    put("media_wav", wav(rate=16000))
    put("media_wav", wav(channels=2))
    put("media_wav", wav(bits=8))
    put("media_wav", wav(fmt_tag=7, bits=8))
    put("media_wav", wav(extra=chunk(b"fact", struct.pack("<I", 160)) + chunk(b"odd", b"x")))
    put("media_wav", wav()[:60])


# ---- RTP, RTCP, RFC 4733 (media_rtp: byte 0 picks the path) ------------------
def rtp_pkt(pt, seq, ts, payload, marker=0, ssrc=0x11223344, csrc=(), ext=None, pad=0):
    b0 = 0x80 | len(csrc) | (0x10 if ext is not None else 0) | (0x20 if pad else 0)
    out = struct.pack("!BBHII", b0, pt | (marker << 7), seq, ts, ssrc)
    out += b"".join(struct.pack("!I", c) for c in csrc)
    if ext is not None:
        out += struct.pack("!HH", 0xBEDE, len(ext) // 4) + ext
    out += payload
    if pad:
        out += b"\0" * (pad - 1) + bytes([pad])
    return out


def rtp():
    pcmu = bytes((i * 37) & 0xFF for i in range(160))
    for mode in (0, 2, 3):
        put("media_rtp", bytes([mode]) + rtp_pkt(0, 1, 160, pcmu))
        put("media_rtp", bytes([mode]) + rtp_pkt(8, 2, 320, pcmu, marker=1))
        put("media_rtp", bytes([mode]) + rtp_pkt(0, 3, 480, pcmu, csrc=(1, 2), ext=b"\x10\xff\0\0",
                                                  pad=4))
    # A key press: start, continuation, three ends (RFC 4733 2.5.1.4).
    for i, (dur, end) in enumerate([(160, 0), (320, 0), (480, 1), (480, 1), (480, 1)]):
        ev = struct.pack("!BBH", 5, (0x80 if end else 0) | 10, dur)
        put("media_rtp", bytes([0]) + rtp_pkt(101, 10 + i, 8000, ev, marker=int(i == 0)))
    put("media_rtp", bytes([0]) + rtp_pkt(101, 20, 9000, struct.pack("!BBH", 11, 0x8a, 800) * 2))
    # RTCP: SR with a report block, RR, SDES, BYE, compound.
    rb = struct.pack("!IIIIII", 0x55667788, (3 << 24) | 5, 1000, 12, 0x12345678, 0x10000)
    sr = struct.pack("!BBHI", 0x81, 200, 12, 0x11223344) + struct.pack("!IIIII", 0xE0000000, 1 << 31,
                                                                       160, 10, 1600) + rb
    rr = struct.pack("!BBHI", 0x81, 201, 7, 0x11223344) + rb
    cname = b"\x01\x0bphone@local\0\0\0"
    sdes = struct.pack("!BBHI", 0x81, 202, (4 + len(cname)) // 4, 0x11223344) + cname
    bye = struct.pack("!BBHI", 0x81, 203, 1, 0x11223344)
    for mode in (1, 2):
        for pkt in (sr, rr, sr + sdes, rr + sdes + bye, sr[:20]):
            put("media_rtp", bytes([mode]) + pkt)


# ---- Envelopes -----------------------------------------------------------------
def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wt, payload):
    key = varint(num << 3 | wt)
    if wt == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
       "a=sendrecv\r\n")


def proto_messages():
    text = open("proto/tandem.proto").read()
    text = re.sub(r"//[^\n]*", "", text)
    msgs = {}
    for m in re.finditer(r"message\s+(\w+)\s*\{", text):
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        body = text[m.end():i - 1]
        body = re.sub(r"(enum|message)\s+\w+\s*\{[^{}]*\}", "", body)
        fields = re.findall(r"(repeated\s+)?([\w.]+)\s+(\w+)\s*=\s*(\d+)", body)
        msgs[m.group(1)] = fields
    return msgs


def encode(msgs, name, depth=0):
    out = b""
    for rep, typ, fname, num in msgs.get(name, []):
        num = int(num)
        if typ == "string":
            v = {"sdp": SDP, "call_id": "sig-f-1", "peer": "1001", "exten": "1002",
                 "context": "internal"}.get(fname)
            if v is None:
                v = "sounds/hello-world" if "file" in fname or "path" in fname else "1001"
            out += field(num, 2, v.encode())
        elif typ == "bytes":
            out += field(num, 2, b"\x80\x00\x00\x01")
        elif typ in ("uint32", "int32", "uint64", "int64", "bool", "sint32", "sint64") \
                or typ[0].isupper() and typ not in msgs:
            out += field(num, 0, 1)
        elif typ in ("double",):
            out += varint(num << 3 | 1) + struct.pack("<d", 1.5)
        elif typ in ("float",):
            out += varint(num << 3 | 5) + struct.pack("<f", 1.5)
        elif typ in msgs and depth < 3:
            out += field(num, 2, encode(msgs, typ, depth + 1))
    return out


def envelopes():
    msgs = proto_messages()
    env = msgs["Envelope"]
    for rep, typ, fname, num in env:
        num = int(num)
        if fname in ("call_id", "leg"):
            continue
        data = field(1, 2, b"sig-f-1") + field(2, 0, 1) + field(num, 2, encode(msgs, typ))
        for h in ("signaling_envelope", "media_envelope"):
            put(h, data)


if __name__ == "__main__":
    main()
