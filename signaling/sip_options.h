/* sip_options - out-of-dialog OPTIONS answered as chan_sip's
 * handle_request_options: 200 only when the Request-URI's user part (or "s"
 * when it has none) exists at priority 1 in the context the request lands
 * in, 404 otherwise; 503 while shutting down. The context is [general]'s
 * (chan_sip's __sip_alloc sets sip_cfg.default_context), or the peer's when
 * auth_options_requests=yes identified one (check_user).
 *
 * The dialplan lives in the router, so the question goes over the bus
 * (ExtenQuery) and the transaction waits for the answer (ExtenReply). A
 * fixed table of pending questions, each with its timer made once: no
 * allocation per request, O(1) by id. No answer within 2 s, no router, or
 * the table full: 503 with Retry-After (we could not route a call either). */
#ifndef SIP_OPTIONS_H
#define SIP_OPTIONS_H

#include <event2/event.h>
#include <osip2/osip.h>
#include "sip_txn.h"
#include "td_bus.h"

typedef struct sip_options sip_options_t;

sip_options_t *sip_options_new(struct event_base *base, td_bus_t *bus);
void sip_options_destroy(sip_options_t **self_p);

/* Ask about req's Request-URI in context for the caller in req's From. The
 * txn is answered now (503) or when the router replies. */
void sip_options_request(sip_options_t *self, sip_txn_t *txn, osip_message_t *req,
                         const char *context);

/* The router's answer. */
void sip_options_reply(sip_options_t *self, const Tandem__ExtenReply *msg);

/* Whether txn is one of ours (its owner), and drop it when it terminates. */
int sip_options_owns(const sip_options_t *self, const sip_txn_t *txn);
void sip_options_terminated(sip_options_t *self, sip_txn_t *txn);

/* The user part with %XX sequences decoded (chan_sip's ast_uri_decode):
 * an invalid sequence is copied as it is. Always NUL-terminated. */
void sip_options_uri_decode(const char *in, char *out, size_t len);

#endif
