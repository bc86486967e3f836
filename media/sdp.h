/* sdp - read and rewrite the SDP bodies the worker anchors (IPv4, audio).
 *
 * Both functions walk the body line by line (LF or CRLF, kept per line) and
 * check the same rules: the body starts with v=, every non-empty line is
 * "<letter>=<value>" without control characters, the first m=audio line has
 * a numeric port, and a c= line (media-level, else session-level) names an
 * IPv4 address for it. Errors read "line N: reason" or "no m=audio line". */
#ifndef SDP_H
#define SDP_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* Where a side asks for its audio (the first m=audio stream). */
typedef struct {
    struct in_addr addr;   /* effective c= address; 0.0.0.0 means on hold */
    uint16_t port;         /* m=audio port; 0 means the stream is refused */
    uint16_t rtcp_port;    /* a=rtcp: port if given, else port + 1 (0 if port is 0) */
    struct in_addr rtcp_addr; /* a=rtcp: address if given, else addr */
    int g711_pt;           /* first of 0 (PCMU) / 8 (PCMA) in the m=audio list; -1 if neither */
    int dtmf_pt;           /* a=rtpmap:<pt> telephone-event/8000 of the audio stream,
                            * else SDP_DTMF_PT_DEFAULT */
} sdp_media_t;

#define SDP_DTMF_PT_DEFAULT 101

/* Read sdp[0..len). Returns 0, or -1 with the reason in err. */
int sdp_parse(const char *sdp, size_t len, sdp_media_t *out, char *err, size_t errlen);

/* Rewrite sdp[0..len) into out[0..outlen) (NUL-terminated) so that its audio
 * goes to addr:port:
 *  - o= keeps user, session id and version; its address becomes IN IP4 addr;
 *  - every c= line becomes "c=IN IP4 addr" (one saying 0.0.0.0, the old way
 *    of putting a call on hold, is kept);
 *  - the first m=audio line gets `port` (a refused stream, port 0, stays 0);
 *    every other m= line gets port 0: the worker relays one audio stream;
 *  - a=rtcp: in the audio section becomes port+1 (and addr if it had one);
 *    elsewhere it is dropped;
 *  - ICE lines (a=candidate, a=ice-*, a=remote-candidates,
 *    a=end-of-candidates) are dropped: they name the other side's addresses;
 *  - every other line, and every line end, is copied byte for byte.
 * Returns the length written, or -1 with the reason in err (a malformed body,
 * or out too small). No allocation. */
int sdp_rewrite(const char *sdp, size_t len, const char *addr, uint16_t port,
                char *out, size_t outlen, char *err, size_t errlen);

#endif
