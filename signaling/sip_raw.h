/* sip_raw - a datagram's own bytes, where libosip2's parser falls short.
 *
 * libosip2 is the parser; these functions work on the raw text before or
 * after it, for the cases RFC 4475 shows it getting wrong: a NUL byte it
 * cannot read past, a URI with headers outside <> it accepts anyway, and
 * requests it refuses that must still be answered (RFC 3261 wants a 400, or
 * 416 for a Request-URI scheme it cannot parse). No allocation: the caller
 * gives the buffers. */
#ifndef SIP_RAW_H
#define SIP_RAW_H

#include <stddef.h>

/* The text to hand the parser for the datagram [buf, buf + len): buf itself
 * when its headers hold no NUL; else a copy in fix (len + 1 bytes) with
 * every NUL that is a quoted-pair inside a quoted string (the only place
 * RFC 3261 allows one in the headers, RFC 4475 3.1.1.2) turned into a
 * space; NULL when a NUL stands anywhere else in the headers. */
const char *sip_raw_mend(const char *buf, size_t len, char *fix);
/* ... also NULL (refused as unparsable: 400) when sip_raw_mime_dup_type
 * says so. */

/* 1 when [buf, len) has a multipart body one of whose parts could carry
 * two Content-Type lines: libosip2 (5.3, osip_body_set_contenttype) keeps
 * the last and leaks the others, a few bytes a datagram that anyone can
 * send (found by tests/fuzz/signaling_sip). Conservative: any run of
 * lines in the body with two lines that start (after blanks) with
 * "content-type", whatever the case, as libosip2 matches a part's header
 * name. Tandem takes no multipart body (an INVITE's gets 415). 0 if not. */
int sip_raw_mime_dup_type(const char *buf, size_t len);

/* 1 when a From, To or Contact line holds a URI with headers ('?') that is
 * not enclosed in <>, which RFC 3261 20 forbids (RFC 4475 3.1.2.13); 0 if
 * not. Only the first line of a folded header is looked at. */
int sip_raw_bare_uri_headers(const char *buf, size_t len);

/* For a datagram the parser refused: if it is a request (not an ACK) with a
 * Via, From, To, Call-ID and CSeq, the stateless answer built from those raw
 * lines into out (cap bytes): 416 when its Request-URI has a well-formed
 * scheme other than sip/sips, else 400, with ";tag=<to_tag>" added to a To
 * that has none. Returns its length and sets *status, or 0 when it cannot be
 * answered (then nothing is written). A request line may end in blanks
 * (RFC 4475 3.1.2.10) and its method may use any token characters. */
size_t sip_raw_answer(const char *buf, size_t len, const char *to_tag, char *out, size_t cap,
                      int *status);

/* Part of a datagram: where it starts, how long (not NUL-terminated). */
typedef struct { const char *p; size_t n; } sip_raw_span_t;

/* What admission control reads of a request before (instead of) parsing
 * it: the method, the top Via's sent-by and branch, the Call-ID split as
 * libosip2 splits it, the To tag. Spans point into the datagram. */
typedef struct {
    char method[16];
    sip_raw_span_t host, port;              /* the top Via's sent-by; port.p NULL: none */
    sip_raw_span_t branch;                  /* starts with z9hG4bK and has more */
    int rport;                              /* the top Via has ;rport */
    sip_raw_span_t callid_number, callid_host;   /* host.p NULL: no '@' */
    sip_raw_span_t to_tag;                  /* p NULL: no tag */
    const char *lines, *buf;                /* for sip_raw_reply */
    size_t len;
} sip_raw_head_t;

/* Read the head of a request [buf, buf + len) the cheap way: 0 when it is
 * simple enough that the fields above are exactly what libosip2 would
 * make of it (no folded lines, an RFC 3261 branch, a host name or IPv4
 * sent-by, one-word Call-ID, Via, From, To, Call-ID and CSeq present); -1
 * when it is not, and the parser must decide. */
int sip_raw_head(const char *buf, size_t len, sip_raw_head_t *out);

/* A stateless response to the request read by sip_raw_head, into out (cap
 * bytes): status line "SIP/2.0 <code> <reason>", its Vias, From, To (with
 * ";tag=<to_tag>" when it has none), Call-ID and CSeq, then extra (one
 * header line without CRLF, or NULL) and Content-Length: 0. Its length, 0
 * when it does not fit. No allocation. */
size_t sip_raw_reply(const sip_raw_head_t *head, int code, const char *reason,
                     const char *extra, const char *to_tag, char *out, size_t cap);

#endif
