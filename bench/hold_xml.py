#!/usr/bin/env python3
"""bench/hold_xml.py K DIR: write DIR/uac-K.xml and DIR/uas-K.xml, the sipp
scenarios of bench/hold.sh, with K hold/resume pairs unrolled (K = 0: the
baseline call, no re-INVITE).

Caller (the static peer `load`, no challenge): INVITE, 200, ACK; then K
times a re-INVITE with a=sendonly (the answer must say recvonly), ACK, a
re-INVITE with a=sendrecv (answer sendrecv), ACK; then BYE, 200. Callee (the
peer `uas`): the INVITE, 180, 200, ACK; K times the switch's re-INVITE with
a=sendonly, answered recvonly, ACK, and with a=sendrecv, answered sendrecv,
ACK; the BYE, 200. Unrolled rather than looped, so every CSeq and SDP
version is a plain number. A direction the switch got wrong fails the call
(check_it), so a run that passes relayed every hold and resume."""
import sys

k, out = int(sys.argv[1]), sys.argv[2]

HEAD = '''<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- written by bench/hold_xml.py: %s, %d hold/resume pairs -->
<scenario name="%s">
'''
FROM = 'From: "load" <sip:load@[local_ip]:[local_port]>;tag=[pid]load[call_number]'
TO = 'To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]'


def sdp(who, version, port, direction):
    return '''      v=0
      o=%s 1 %d IN IP4 [local_ip]
      s=-
      c=IN IP4 [local_ip]
      t=0 0
      m=audio %s RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a=%s
''' % (who, version, port, direction)


def request(method, cseq, uri, body=None, retrans=True):
    head = '''  <send%s>
    <![CDATA[

      %s %s SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      Max-Forwards: 70
      %s
      %s
      Call-ID: [call_id]
      CSeq: %d %s
''' % (' retrans="500"' if retrans else '', method, uri, FROM, TO, cseq, method)
    if body is None:
        return head + '''      Content-Length: 0

    ]]>
  </send>
'''
    return head + '''      Contact: <sip:load@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

%s
    ]]>
  </send>
''' % body


def uac():
    s = [HEAD % ("caller", k, "hold bench caller")]
    s.append(request("INVITE", 1, "sip:[service]@[remote_ip]:[remote_port]",
                     sdp("load", 1, "[media_port]", "sendrecv")).replace(
        "      " + TO, "      To: <sip:[service]@[remote_ip]:[remote_port]>"))
    s.append('''  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
''')
    s.append(request("ACK", 1, "[next_url]", retrans=False))
    cseq = 1
    for i in range(k):
        for direction, want in (("sendonly", "recvonly"), ("sendrecv", "sendrecv")):
            cseq += 1
            s.append(request("INVITE", cseq, "[next_url]",
                             sdp("load", cseq, "[media_port]", direction)))
            s.append('''  <recv response="100" optional="true"/>
  <recv response="200">
    <action>
      <ereg regexp="a=%s" search_in="body" check_it="true" assign_to="dir"/>
    </action>
  </recv>
''' % want)
            s.append(request("ACK", cseq, "[next_url]", retrans=False))
    s.append(request("BYE", cseq + 1, "[next_url]"))
    if k:
        s.append('  <Reference variables="dir"/>\n')
    s.append('''  <recv response="200" crlf="true"/>
</scenario>
''')
    return "".join(s)


def response(code, body=None, tag=False):
    s = '''  <send%s>
    <![CDATA[

      SIP/2.0 %s
      [last_Via:]
      [last_From:]
      [last_To:]%s
      [last_Call-ID:]
      [last_CSeq:]
''' % (' retrans="500"' if body else '', code, ';tag=[pid]uas[call_number]' if tag else '')
    if body is None:
        return s + '''      Content-Length: 0

    ]]>
  </send>
'''
    return s + '''      Contact: <sip:uas@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

%s
    ]]>
  </send>
''' % body


def uas():
    s = [HEAD % ("callee", k, "hold bench callee")]
    s.append('  <recv request="INVITE" crlf="true"/>\n')
    s.append(response("180 Ringing", tag=True).replace(
        "      Content-Length: 0", "      Contact: <sip:uas@[local_ip]:[local_port]>\n"
        "      Content-Length: 0"))
    s.append(response("200 OK", sdp("uas", 1, "[media_port]", "sendrecv"), tag=True))
    s.append('  <recv request="ACK" crlf="true"/>\n')
    version = 1
    for i in range(k):
        for offer, answer in (("sendonly", "recvonly"), ("sendrecv", "sendrecv")):
            version += 1
            s.append('''  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="a=%s" search_in="body" check_it="true" assign_to="dir"/>
    </action>
  </recv>
''' % offer)
            s.append(response("200 OK", sdp("uas", version, "[media_port]", answer)))
            s.append('  <recv request="ACK" crlf="true"/>\n')
    s.append('  <recv request="BYE"/>\n')
    if k:
        s.append('  <Reference variables="dir"/>\n')
    s.append(response("200 OK"))
    s.append('</scenario>\n')
    return "".join(s)


with open("%s/uac-%d.xml" % (out, k), "w") as f:
    f.write(uac())
with open("%s/uas-%d.xml" % (out, k), "w") as f:
    f.write(uas())
