/* sip_qualify - OPTIONS keepalives to peers with qualify= (chan_sip's
 * sip_poke_peer, handle_response_peerpoke, sip_poke_noanswer).
 *
 * Every peer or friend whose maxms is above 0 is poked: an OPTIONS to its
 * static host, or to its registered contact (a dynamic peer that is not
 * registered is skipped until the next round, its state unknown). Any final
 * response sets the round trip (lastms, at least 1 ms): within maxms it is
 * Reachable, above Lagged; none within 2*maxms makes it Unreachable (lastms
 * -1). A state change is logged in chan_sip's words. The next poke comes
 * qualifyfreq seconds later when reachable, else 10 s later
 * (DEFAULT_FREQ_NOTOK). First pokes are 100 ms apart (DEFAULT_QUALIFY_GAP).
 *
 * A Lagged or Unreachable qualified peer cannot be called
 * (sip_qualify_usable: chan_sip's create_addr_from_peer fails and Dial
 * sees cause 20, CHANUNAVAIL). One libevent timer per qualified peer, made
 * once; state lives in an array indexed like sip_conf's peers, so lookups
 * are O(1). */
#ifndef SIP_QUALIFY_H
#define SIP_QUALIFY_H

#include <stddef.h>
#include <event2/event.h>
#include "sip_conf.h"
#include "sip_registrar.h"
#include "sip_txn.h"

typedef struct sip_qualify sip_qualify_t;

typedef struct {
    struct event_base *base;
    sip_txn_layer_t *layer;
    const sip_conf_t *conf;
    sip_registrar_t *registrar;
    void (*local_addr)(void *arg, const struct sockaddr_in *to, struct sockaddr_in *out);
    void *arg;
} sip_qualify_env_t;

/* NULL on failure. Starts the first round of pokes. */
sip_qualify_t *sip_qualify_new(const sip_qualify_env_t *env);
void sip_qualify_destroy(sip_qualify_t **self_p);

/* The last round trip in ms: 0 unknown (or not qualified), -1 unreachable. */
int sip_qualify_lastms(const sip_qualify_t *self, const sip_peer_t *peer);
/* 0 when peer is qualified and Lagged or Unreachable; 1 otherwise. */
int sip_qualify_usable(const sip_qualify_t *self, const sip_peer_t *peer);

/* A dynamic peer registered: poke it at once if its state is unknown (its
 * first registration, or it had none at the last round), instead of at the
 * next round. */
void sip_qualify_registered(sip_qualify_t *self, const sip_peer_t *peer);

/* sip reload: self was made for the new sip.conf; take the last round trip
 * of every peer that old (made for the previous one) qualified too, so a
 * reload does not forget who is reachable (chan_sip keeps the peer objects
 * of the peers that remain). old is only read. */
void sip_qualify_adopt(sip_qualify_t *self, const sip_qualify_t *old);

int sip_qualify_owns(const sip_qualify_t *self, const void *owner);
void sip_qualify_response(sip_qualify_t *self, sip_txn_t *txn, osip_message_t *resp);
void sip_qualify_terminated(sip_qualify_t *self, sip_txn_t *txn);

/* chan_sip's `sip show peers` status column for every qualified peer, one
 * line each at LOG_INFO: "OK (n ms)", "LAGGED (n ms)", "UNREACHABLE",
 * "UNKNOWN". */
void sip_qualify_log(const sip_qualify_t *self);

#endif
