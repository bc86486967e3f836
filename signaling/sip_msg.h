/* sip_msg - small helpers over libosip2 messages that the signaling core,
 * the call legs and the registrar share: header and parameter access, tags,
 * bodies, our Contact, and the one way a response is sent for a reason
 * (logged once, at the place the decision is made). */
#ifndef SIP_MSG_H
#define SIP_MSG_H

#include <stddef.h>
#include "sip_conf.h"
#include "sip_txn.h"

#define SIP_MSG_ALLOW "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, REFER"
#define SIP_MSG_TOKEN_LEN 16              /* hex characters in a tag */

/* A random token of hex digits (tags, Call-IDs): buf gets SIP_MSG_TOKEN_LEN
 * characters and a NUL (len must be more than that). Returns buf. */
char *sip_msg_token(char *buf, size_t len);

/* A generic parameter's value ("" when it has none), or NULL if absent. */
const char *sip_msg_param(osip_list_t *params, const char *name);
/* The tag of the From / To header, or NULL. */
const char *sip_msg_from_tag(const osip_message_t *m);
const char *sip_msg_to_tag(const osip_message_t *m);
/* The first value of a header libosip2 keeps in its generic list
 * ("Max-Forwards", "Expires", "Require" ...), or NULL. */
const char *sip_msg_header(const osip_message_t *m, const char *name);
/* "number@host" (or "number") into buf; "" if none. Returns buf. */
char *sip_msg_call_id(const osip_message_t *m, char *buf, size_t len);

/* The first body and its length, or NULL/0. */
const char *sip_msg_body(const osip_message_t *m, size_t *len);
/* Set sdp (if not empty) as the body with Content-Type application/sdp. */
int sip_msg_set_sdp(osip_message_t *m, const char *sdp);
/* Add Contact: <sip:user@ip:port> (no user when user is NULL or ""). */
int sip_msg_add_contact(osip_message_t *m, const char *user, const struct sockaddr_in *addr);
/* "ip:port" into buf. Returns buf. */
char *sip_msg_addr(const struct sockaddr_in *a, char *buf, size_t len);

/* Where requests to the sender of req go, by chan_sip's nat= rules (see
 * sip_nat_t): contact's host:port when it is a numeric IPv4 address and
 * either nat is NO or (AUTO) req's top Via names the packet's source; else
 * the source itself (RFC 3581 symmetric response routing). Returns 1 when
 * the source was chosen because of NAT (nat=force_rport, or auto with a Via
 * that does not name the source: the dialog then ignores its route set for
 * the destination, as chan_sip's reqprep), else 0. */
int sip_msg_target(const osip_message_t *req, const osip_uri_t *contact,
                    const struct sockaddr_in *from, sip_nat_t nat, struct sockaddr_in *out);

/* 1 when req's top Via does not name from (address and port, 5060 when
 * none): the sender is behind NAT (chan_sip's check_via/check_for_nat). */
int sip_msg_behind_nat(const osip_message_t *req, const struct sockaddr_in *from);

/* Control characters at the SIP edge (issue 12): libosip2 percent-decodes
 * a URI's user and password, so "sip:1001%0a2026-...@host" reaches us with a
 * raw newline that would end up in CALLERID(num), the extension, CDRs and
 * log lines (which fail2ban reads). The name of the first of req's
 * Request-URI, From, To and Contact whose user or password holds a byte
 * below 0x20 or 0x7f (or whose display name does, a tab aside), e.g.
 * "From user"; NULL when none does. The caller refuses the request (400).
 * Asterisk (chan_sip, pedanticsipchecking=yes) decodes the same parts with
 * ast_uri_decode and takes whatever comes out; we refuse instead, as no
 * phone has a number or name with a control character in it. */
const char *sip_msg_control_chars(const osip_message_t *req);

/* Send `status` on txn with to_tag (NULL: a fresh one when the request's
 * To has none, as every response but 100 needs), logging why at LOG_INFO
 * when the status is 300 or more (why NULL: not logged). An extra header can
 * ride along (hname NULL: none). Returns 0 or -1. */
int sip_msg_reply(sip_txn_t *txn, int status, const char *to_tag, const char *why,
                  const char *hname, const char *hvalue);

#endif
