/* sip_core - the signaling process's transaction user: it owns the
 * transaction layer, the bus connection, digest auth, the location table and
 * the call legs, and routes every request the layer hands up: checks that
 * apply to all requests (version, URI scheme, Max-Forwards, Require,
 * Content-Length, Content-Type), then REGISTER and OPTIONS here, INVITE after
 * identifying the caller, and dialog requests to sip_legs. One housekeeping
 * tick a second expires registrations and reports load and counters. */
#ifndef SIP_CORE_H
#define SIP_CORE_H

#include <stdint.h>
#include <event2/event.h>
#include "sip_conf.h"
#include "sip_outreg.h"
#include "sip_ban.h"
#include "sip_registrar.h"
#include "sip_txn.h"
#include "td_bus_curve.h"
#include "td_store.h"

typedef struct sip_core sip_core_t;

typedef struct {
    const char *identity;      /* bus identity ("sig-1"); call ids start with it */
    const char *endpoint;      /* the routers' bus endpoints: a comma list ("" none) */
    const char *discover;      /* tcp://NAME:PORT: routers found by DNS too (NULL, "": none) */
    const td_bus_keys_t *bus_keys;   /* the bus's CURVE keys (NULL: none; td_bus_curve.h) */
    uint32_t capacity;         /* answered calls before new INVITEs get 503 */
    uint32_t max_ringing;      /* calls being set up before new INVITEs get 503 (0: 2 x capacity) */
    uint32_t overload_lag_ms;  /* admission control (sip_load.h): 0 never sheds by load */
    uint32_t max_cps;          /* ... and a fixed limit of new calls a second (0: none) */
    uint32_t nonce_lifetime;   /* seconds a digest nonce stays current ([security]
                                * nonce_lifetime; 0: SIP_AUTH_NONCE_TTL, 30) */
    uint32_t max_sdp;          /* [security]: bytes of SDP taken (0: 16384); a request
                                * with a longer body gets 413 */
    uint32_t max_transactions; /* [security]: live transactions before 503 (0: no cap) */
    const char *conf_path;     /* sip.conf, re-read by sip_core_reload (NULL: none) */
    const td_store_conf_t *cluster;   /* [cluster] of tandem.conf; NULL or not enabled: a
                                       * single host, state in memory only (sip_state.h);
                                       * enabled: a router that restarts keeps the answered
                                       * calls (adopted from the store), s_on_peer_restart */
    const sip_ban_opts_t *ban;        /* tandem.conf [security] bans and scanners (sip_ban.h);
                                       * NULL: the defaults */
} sip_core_opts_t;

/* Create the core on an already-bound, non-blocking UDP socket (not closed
 * by the core). conf is borrowed for the core's life (a reload makes the
 * core use a conf of its own from then on; conf stays the caller's). NULL
 * on failure. */
sip_core_t *sip_core_new(struct event_base *base, const sip_conf_t *conf, int fd,
                         const sip_core_opts_t *opts);
void sip_core_destroy(sip_core_t **self_p);

/* Housekeeping, once a second from the core's own timer (exposed for tests):
 * expire registrations, report load on the bus, log counters now and then. */
void sip_core_tick(sip_core_t *self, long now);

/* Clean shutdown: REGISTER with Expires: 0 for every registration that
 * is Registered (sent at once, not waited for). Returns how many. */
size_t sip_core_unregister(sip_core_t *self);
/* SIGTERM: refuse new calls (503 with Retry-After) and end every leg
 * properly (sip_legs_shutdown). Returns the legs ended. */
size_t sip_core_shutdown(sip_core_t *self);
/* `sip reload` and SIGHUP: read opts.conf_path again and put it in force,
 * as chan_sip's reload: peers and users as the file now says (a changed
 * secret counts from the next REGISTER or INVITE, new peers can register,
 * removed peers' registrations are dropped, the registrations of peers that
 * remain stay), qualify goes on with what it knew of each remaining peer,
 * outbound registrations are made again from the register => lines (chan_sip
 * drops and re-sends them too), externaddr/localnet/realm and the [general]
 * call settings take effect; calls in progress go on. Bind addresses and
 * the TCP/TLS listeners need a restart (a warning says so). A file that
 * does not load changes nothing: -1 with "file:line: reason" in why (also
 * logged). 0 with a one-line summary in why. */
int sip_core_reload(sip_core_t *self, char *why, size_t len);
/* The conf in force (borrowed until the next reload). */
const sip_conf_t *sip_core_conf(sip_core_t *self);

/* Bans and scanners (sip_ban.h), borrowed for the core's life. */
sip_ban_t *sip_core_ban(sip_core_t *self);

struct sip_legs;
struct sip_legs *sip_core_legs(sip_core_t *self);


/* Borrowed parts, for tests and stats. */
sip_outreg_t *sip_core_outreg(sip_core_t *self);
sip_txn_layer_t *sip_core_layer(sip_core_t *self);
sip_registrar_t *sip_core_registrar(sip_core_t *self);
struct td_bus *sip_core_bus(sip_core_t *self);

#endif
