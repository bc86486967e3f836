/* sip_outreg - outbound registrations: one per `register =>` line of
 * sip.conf's [general], registering Tandem's contact at a carrier or another
 * switch, as chan_sip's sip_registry does (transmit_register,
 * handle_response_register, sip_reg_timeout).
 *
 * Each registration keeps one Call-ID and counts CSeq up. A 401/407 is
 * answered with digest (sip_auth_remote_*) and the challenge kept, so a
 * refresh carries credentials for the same nonce (nc counted up) as chan_sip
 * does. After a 200 the next REGISTER goes out before the granted expiry
 * (chan_sip's guard: 15 s before, or 20% (at least 0.5 s) for expiries of 30 s
 * and less). A REGISTER unanswered for registertimeout seconds is sent again,
 * for ever (registerattempts=0) or until that many attempts (then Failed).
 * 403 stops at "No Authentication", 404 and 400/414/479/493 at "Rejected",
 * 423 retries with the Min-Expires asked. Every state change is logged.
 *
 * One libevent timer per registration, made once. The transactions it starts
 * carry the registration as owner; the core hands their events here when
 * sip_outreg_owns() says so. */
#ifndef SIP_OUTREG_H
#define SIP_OUTREG_H

#include <stddef.h>
#include <time.h>
#include <event2/event.h>
#include "sip_conf.h"
#include "sip_txn.h"

typedef enum {
    SIP_OUTREG_UNREGISTERED,
    SIP_OUTREG_REGSENT,         /* "Request Sent" */
    SIP_OUTREG_AUTHSENT,        /* "Auth. Sent" */
    SIP_OUTREG_REGISTERED,
    SIP_OUTREG_REJECTED,
    SIP_OUTREG_NOAUTH,          /* "No Authentication": a 403 */
    SIP_OUTREG_FAILED           /* registerattempts used up */
} sip_outreg_state_t;

typedef struct sip_outreg sip_outreg_t;

typedef struct {
    struct event_base *base;
    sip_txn_layer_t *layer;
    const sip_conf_t *conf;
    /* Our own address as seen from `to` (for the Contact). */
    void (*local_addr)(void *arg, const struct sockaddr_in *to, struct sockaddr_in *out);
    void *arg;
} sip_outreg_env_t;

/* One registration per register => line of env->conf (none: an empty set).
 * Nothing is sent until sip_outreg_start. NULL on failure. */
sip_outreg_t *sip_outreg_new(const sip_outreg_env_t *env);
/* Frees everything without sending anything. */
void sip_outreg_destroy(sip_outreg_t **self_p);

/* Send the first REGISTER of every registration. */
void sip_outreg_start(sip_outreg_t *self);
/* Clean shutdown: a REGISTER with Expires: 0 for every registration that is
 * Registered (sent once, not waited for). Returns how many were sent. */
size_t sip_outreg_unregister(sip_outreg_t *self);

/* Whether a transaction owner is one of ours. */
int sip_outreg_owns(const sip_outreg_t *self, const void *owner);
/* Transaction events for transactions whose owner is ours. */
void sip_outreg_response(sip_outreg_t *self, sip_txn_t *txn, osip_message_t *resp);
void sip_outreg_timeout(sip_outreg_t *self, sip_txn_t *txn);
void sip_outreg_terminated(sip_outreg_t *self, sip_txn_t *txn);

/* chan_sip's `sip show registry`: one line per registration at LOG_INFO. */
void sip_outreg_log(const sip_outreg_t *self);

size_t sip_outreg_count(const sip_outreg_t *self);
sip_outreg_state_t sip_outreg_state(const sip_outreg_t *self, size_t i);
/* The register => line of registration i (borrowed from env->conf), or NULL. */
const sip_register_t *sip_outreg_conf(const sip_outreg_t *self, size_t i);
/* When registration i last got a 200 (0: never). */
time_t sip_outreg_regtime(const sip_outreg_t *self, size_t i);
/* Seconds between a 200 and the next REGISTER (chan_sip's refresh). */
int sip_outreg_refresh(const sip_outreg_t *self, size_t i);
/* chan_sip's regstate2str wording. */
const char *sip_outreg_state_str(sip_outreg_state_t state);

/* The delay in ms from a 200 granting `expires` seconds to the refresh:
 * chan_sip's EXPIRY_GUARD rules. */
long sip_outreg_refresh_ms(int expires);

#endif
