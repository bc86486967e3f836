/* sdp - read and rewrite the SDP bodies the worker anchors (IPv4, audio),
 * and the offer/answer of RFC 3264 over the codecs it carries (PCMU, PCMA,
 * telephone-event/8000). Signaling links it too, to check offers against a
 * peer's allow= list.
 *
 * Every function but sdp_offer and sdp_keep walks the body line by line (LF
 * or CRLF, kept per line) and checks the same rules: the body starts with
 * v=, every non-empty line is "<letter>=<value>" without control
 * characters, the first m=audio line has a numeric port, and a c= line
 * (media-level, else session-level) names an IPv4 address for it. Errors
 * read "line N: reason" or "no m=audio line". */
#ifndef SDP_H
#define SDP_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "sdp_crypto.h"

#define SDP_DTMF_PT_DEFAULT 101
#define SDP_MAX_FORMATS 32

/* What a payload type of the m=audio line carries, as far as the worker
 * cares: 0 and 8 are PCMU and PCMA by RFC 3551 whatever an rtpmap says;
 * another number is telephone-event/8000 if its a=rtpmap says so. */
typedef enum { SDP_KIND_OTHER = 0, SDP_KIND_PCMU, SDP_KIND_PCMA, SDP_KIND_DTMF } sdp_kind_t;

/* The direction of a stream (RFC 3264 section 6.1), as bits from the point
 * of view of whoever wrote the SDP: it sends, it receives. */
enum { SDP_DIR_INACTIVE = 0, SDP_DIR_SEND = 1, SDP_DIR_RECV = 2, SDP_DIR_SENDRECV = 3 };

/* "sendrecv", "sendonly", "recvonly", "inactive" (dir & 3). */
const char *sdp_dir_name(int dir);
/* The direction the answerer writes for an offer of `offer` (RFC 3264 6.1):
 * sendonly <-> recvonly, sendrecv and inactive stay. */
int sdp_dir_answer(int offer);

/* Where a side asks for its audio (the first m=audio stream). */
typedef struct {
    struct in_addr addr;   /* effective c= address; 0.0.0.0 means on hold */
    uint16_t port;         /* m=audio port; 0 means the stream is refused */
    uint16_t rtcp_port;    /* a=rtcp: port if given, else port + 1 (0 if port is 0) */
    struct in_addr rtcp_addr; /* a=rtcp: address if given, else addr */
    int g711_pt;           /* first of 0 (PCMU) / 8 (PCMA) in the m=audio list; -1 if neither */
    int dtmf_pt;           /* the first telephone-event/8000 format of the m=audio list,
                            * else SDP_DTMF_PT_DEFAULT */
    int dtmf_offered;      /* 1 if the m=audio list has a telephone-event/8000 */
    uint8_t nfmt;          /* formats of the m=audio line (the first SDP_MAX_FORMATS
                            * numeric ones below 128, in order) */
    uint8_t fmt[SDP_MAX_FORMATS];
    uint8_t kind[SDP_MAX_FORMATS];  /* sdp_kind_t of each */
    int dir;               /* SDP_DIR_*: a=sendrecv/sendonly/recvonly/inactive of the
                            * audio section, else of the session, else sendrecv; an
                            * address of 0.0.0.0 (RFC 2543 hold, RFC 3264 8.4) takes
                            * the receive bit away */
    int secure;            /* the m=audio profile is a secure one (RTP/SAVP, RTP/SAVPF) */
    uint8_t ncrypto;       /* a=crypto lines in the audio section (up to 255) */
    int crypto_ok;         /* one of them is usable (sdp_crypto_parse): the first such
                            * is `crypto` (chan_sip takes the first it can use, in the
                            * order of the offer, not by suite) */
    sdp_crypto_t crypto;
} sdp_media_t;

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
 *  - a=crypto lines are dropped: they hold the other side's SRTP keys (the
 *    worker writes its own with sdp_set_crypto);
 *  - every other line, and every line end, is copied byte for byte.
 * Returns the length written, or -1 with the reason in err (a malformed body,
 * or out too small). No allocation. */
int sdp_rewrite(const char *sdp, size_t len, const char *addr, uint16_t port,
                char *out, size_t outlen, char *err, size_t errlen);

/* The formats to keep from a parsed offer (RFC 3264 section 6): the
 * payload types of codecs[0..ncodecs) (0 and 8, in the order of preference
 * of the peer's allow list) that the offer lists, at most max_audio of them,
 * then the offer's telephone-event/8000 payload type if it has one. keep
 * needs room for ncodecs + 1. Returns how many were written; 0 when the offer
 * has none of the codecs (then no telephone-event either): no joint codec. */
size_t sdp_keep(const sdp_media_t *offer, const uint8_t *codecs, size_t ncodecs,
                size_t max_audio, uint8_t *keep);

/* sdp_rewrite, and the m=audio line lists exactly keep[0..nkeep) (in that
 * order); in the audio section a=rtpmap, a=fmtp and a=rtcp-fb lines of other
 * payload types are dropped. This is the answer to an offer (keep from
 * sdp_keep with max_audio 1). */
int sdp_answer(const char *sdp, size_t len, const char *addr, uint16_t port,
               const uint8_t *keep, size_t nkeep, char *out, size_t outlen,
               char *err, size_t errlen);

/* Only the format filtering of sdp_answer: addresses, ports, ICE and RTCP
 * lines stay as they are. For an offer sent on to a peer that allows fewer
 * codecs than the worker offers. */
int sdp_filter(const char *sdp, size_t len, const uint8_t *keep, size_t nkeep,
               char *out, size_t outlen, char *err, size_t errlen);

/* The worker's offer to an outgoing leg, written from scratch into out (CRLF
 * lines, NUL-terminated): audio to addr:port, PCMU and PCMA with first_pt
 * (0 or 8; anything else means 0) first, telephone-event/8000 on
 * SDP_DTMF_PT_DEFAULT, o= with session id and version sess_id. Returns the
 * length, or -1 if out is too small. */
int sdp_offer(const char *addr, uint16_t port, unsigned long sess_id, int first_pt,
              char *out, size_t outlen);

/* SRTP (SDES) in an SDP the worker or signaling sends: the m=audio
 * profile becomes RTP/SAVP (secure; RTP/AVPF -> RTP/SAVPF) or RTP/AVP (not;
 * RTP/SAVPF -> RTP/AVPF), every a=crypto line of the audio section is
 * dropped and, if crypto is not NULL, "a=crypto:<crypto>" written at the end
 * of the first m=audio section. Returns the length written to out
 * (NUL-terminated), or -1 if sdp has no m=audio line or out is too small. */
int sdp_set_crypto(const char *sdp, size_t len, int secure, const char *crypto,
                   char *out, size_t outlen);

/* What chan_sip's process_sdp answers an offer with, as far as SRTP goes,
 * for a peer with encryption= on or off: 0 (acceptable: SRTP if the offer
 * has a usable a=crypto line, else plain RTP) or 488:
 *  - a secure profile without a usable a=crypto line ("Rejecting secure
 *    audio stream without encryption details");
 *  - a=crypto lines of which none is usable, whatever the profile (chan_sip
 *    allocates its SRTP state at the first line and then finds "Failed to
 *    receive SDP offer/answer with required SRTP crypto attributes");
 *  - encryption=yes and no usable a=crypto ("Matched device setup to use
 *    SRTP, but request was not!").
 * A usable line with RTP/AVP is taken ("Processed audio crypto attribute
 * without SAVP specified; accepting anyway"). chan_sip does not ask for TLS:
 * SDES over UDP works, keys in the clear. */
int sdp_crypto_offer_status(const sdp_media_t *offer, int encryption);

/* The same for an answer to our offer: offered is whether our offer had
 * a=crypto (encryption=yes). 0 acceptable, -1 not (chan_sip ACKs the 200,
 * then sends BYE with cause 58). Not offered: a=crypto lines are ignored
 * ("Ignoring unexpected crypto attribute in SDP answer") but a secure
 * profile is refused; offered: a usable line is needed. */
int sdp_crypto_answer_status(const sdp_media_t *answer, int offered);

/* The o= line of an SDP we send on a leg: RFC 3264 section 8 wants every
 * later SDP on the leg to repeat user and session id, with the version one
 * higher each time the body changes. */
typedef struct {
    char user[32];
    unsigned long long id, version;
} sdp_origin_t;

/* Read the o= line of sdp[0..len) into out. 0, or -1 if there is none or
 * it is malformed. */
int sdp_origin(const char *sdp, size_t len, sdp_origin_t *out);

/* Copy sdp[0..len) into out (NUL-terminated) with its o= line's user,
 * session id and version taken from origin (the rest of the line stays),
 * every a=sendrecv/sendonly/recvonly/inactive line dropped and one
 * a=<dir> written at the end of the first m=audio section. Returns the
 * length, or -1 if sdp has no o= line or out is too small. */
int sdp_restamp(const char *sdp, size_t len, const sdp_origin_t *origin, int dir,
                char *out, size_t outlen);

#endif
