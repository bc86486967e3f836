/* sip_state - what a signaling node keeps in the cluster store (td_store.h,
 * only with [cluster] in tandem.conf), so that a restarted node forgets
 * nothing:
 *
 *   reg:<peer>              one phone's registration (a hash; Redis TTL = the
 *                           binding's remaining expiry), written on every
 *                           REGISTER 200, deleted on unregister (sip_core);
 *   dlg:<call id>:<leg>     an established leg's dialog (a hash, keyed by the
 *                           router's call id and the leg number), written
 *                           when the leg is confirmed and when its CSeq or
 *                           target change, deleted when it ends (sip_legs).
 *
 * Each hash carries `node`, the signaling identity that wrote it. At start
 * (sip_state_load) the node reads back every reg:* and dlg:* whose node is
 * its own identity, before it serves anything: the loop runs nested in
 * sip_core_new, before the SIP socket and the bus are watched, so no request
 * can meet a half-restored node. What it read is kept here (sip_state_each)
 * until the core has put it back (sip_state_forget).
 *
 * This class owns the store; writers reach it through sip_state_store(). */
#ifndef SIP_STATE_H
#define SIP_STATE_H

#include <stddef.h>
#include <event2/event.h>
#include "td_store.h"

#define SIP_STATE_LOAD_MS 3000     /* the longest a start waits for the store */
#define SIP_STATE_DLG_TTL 43200    /* dlg:* safety net: max_call_duration's default */

typedef struct sip_state sip_state_t;

/* Connect to the store conf names (conf->enabled must be set). identity is
 * this node's (copied). NULL on failure (logged). */
sip_state_t *sip_state_new(struct event_base *base, const td_store_conf_t *conf,
                           const char *identity);
void sip_state_destroy(sip_state_t **self_p);

/* The store, for writes (borrowed for this object's life). */
td_store_t *sip_state_store(sip_state_t *self);
/* This node's identity, the `node` field of every hash it writes. */
const char *sip_state_node(const sip_state_t *self);

/* Read back this node's reg:* and dlg:* (node == identity), running base's
 * loop (nested, before anything else is watched) for at most timeout_ms.
 * 0 when both scans finished; -1 when the store did not answer in time
 * (logged once: the node starts with what it got, maybe nothing). */
int sip_state_load(sip_state_t *self, struct event_base *base, int timeout_ms);

/* Each loaded hash whose key starts with prefix ("reg:", "dlg:"), in the
 * order read; key is given whole ("reg:1001"). Borrowed until
 * sip_state_forget. */
typedef void sip_state_each_fn(void *arg, const char *key, size_t n, const char *const *fields,
                               const char *const *values);
size_t sip_state_each(sip_state_t *self, const char *prefix, sip_state_each_fn *fn, void *arg);
/* Drop what sip_state_load read. */
void sip_state_forget(sip_state_t *self);

/* The value of field name in a loaded hash, or NULL. */
const char *sip_state_field(size_t n, const char *const *fields, const char *const *values,
                            const char *name);

/* "a.b.c.d:port" into *out (the form sip_msg_addr writes); 0 or -1. */
struct sockaddr_in;
int sip_state_addr(const char *s, struct sockaddr_in *out);

/* A hash being written: up to SIP_STATE_MAX_FIELDS pairs, the values copied
 * into its own buffer (no allocation). Built on the stack per write. */
#define SIP_STATE_MAX_FIELDS 48
#define SIP_STATE_SPACE 16384
typedef struct {
    size_t n;
    const char *fields[SIP_STATE_MAX_FIELDS];
    const char *values[SIP_STATE_MAX_FIELDS];
    size_t used;
    int overflow;                 /* a value did not fit: do not write this hash */
    char space[SIP_STATE_SPACE];
} sip_state_hash_t;

void sip_state_hash_init(sip_state_hash_t *h);
/* Add name = value (value NULL: ""); name must outlive the hash (a literal). */
void sip_state_hash_add(sip_state_hash_t *h, const char *name, const char *value);
/* The same for a value the hash can do without (an SDP): when it does not
 * fit it is left out, and the hash is still written. */
void sip_state_hash_add_opt(sip_state_hash_t *h, const char *name, const char *value);
void sip_state_hash_addf(sip_state_hash_t *h, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
