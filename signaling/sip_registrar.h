/* sip_registrar - the location table: AOR user -> up to
 * SIP_REGISTRAR_MAX_CONTACTS contacts, each with the address requests for it
 * go to and an absolute expiry. A hash table keyed by the AOR user keeps
 * lookups O(1); each AOR is one allocation made when it first registers and
 * freed when its last binding goes. Time is passed in (seconds), so tests
 * drive expiry without a clock. A registration is an ephemeral value in the
 * Clone sense: later, shards replicate these with a TTL.
 *
 * A second index answers "who is registered at this address": every binding
 * is hashed by its dest (ip:port), and bindings of peers with insecure=port
 * also by dest's IP alone. This is chan_sip's peers_by_ip for dynamic peers
 * (parse_register_contact links peer->addr, the Contact unless NAT, on every
 * REGISTER and expire_register unlinks it); the caller identification in
 * sip_ident uses it. Both follow every update, removal and expiry. */
#ifndef SIP_REGISTRAR_H
#define SIP_REGISTRAR_H

#include <stddef.h>
#include <netinet/in.h>

#define SIP_REGISTRAR_MAX_CONTACTS 4

typedef struct {
    char uri[256];                  /* the Contact URI, as registered */
    struct sockaddr_in dest;        /* where requests for it go: the Contact, or the
                                       REGISTER's source when the phone is behind NAT */
    long expires_at;                /* absolute, seconds */
    long updated_at;                /* last add or refresh */
    char call_id[128];              /* RFC 3261 10.3 step 7: ordering of refreshes */
    char path[512];                 /* RFC 3327 Path values in order, comma-joined name-addrs
                                       ("" none): the route set to reach the contact */
    unsigned cseq;
    int transport;                  /* the sip_tp_t its REGISTER came over (0: UDP): a
                                       TCP/TLS phone is reached on its own connection */
    char useragent[128];            /* the REGISTER's User-Agent ("" none) */
} sip_binding_t;

typedef struct sip_registrar sip_registrar_t;

sip_registrar_t *sip_registrar_new(void);
void sip_registrar_destroy(sip_registrar_t **self_p);

/* Add, refresh (expires > 0) or remove (expires == 0) aor's binding for
 * contact. A refresh with the same Call-ID and a CSeq not above the stored
 * one is stale and ignored (returns 1). When aor already has the maximum,
 * a new contact replaces the one that expires first. any_port: the peer says
 * insecure=port, so the binding is also found by dest's IP alone. Returns 0,
 * 1, or -1 (too long a string, out of memory). */
int sip_registrar_update(sip_registrar_t *self, const char *aor, const char *contact,
                         const struct sockaddr_in *dest, int expires, long now,
                         const char *call_id, unsigned cseq, int any_port);

/* Set (path "" or NULL: clear) the Path of aor's binding for contact, after
 * sip_registrar_update. 0, or -1 when there is no such binding or the path
 * is too long (the binding then keeps no path). */
int sip_registrar_set_path(sip_registrar_t *self, const char *aor, const char *contact,
                           const char *path);

/* aor's binding for contact, to set what the table does not index
 * (transport, useragent); NULL when there is none. Borrowed until the next
 * update, remove or expire. */
sip_binding_t *sip_registrar_find(sip_registrar_t *self, const char *aor, const char *contact);

/* Remove every binding of aor (Contact: *). */
void sip_registrar_remove_all(sip_registrar_t *self, const char *aor);

/* Copy pointers to aor's live bindings into out (at most max); the count.
 * Borrowed until the next update, remove or expire. */
size_t sip_registrar_bindings(sip_registrar_t *self, const char *aor, long now,
                              const sip_binding_t **out, size_t max);

/* The binding to call: the most recently refreshed live one, or NULL. */
const sip_binding_t *sip_registrar_lookup(sip_registrar_t *self, const char *aor, long now);

/* Drop every binding whose expiry is at or before now; the number dropped.
 * The once-a-second housekeeping tick calls this. */
size_t sip_registrar_expire(sip_registrar_t *self, long now);

/* The AORs with a live binding whose dest is src: exactly (ip and port), or
 * with ip_only its IP alone among bindings made with any_port. Up to max AOR
 * names go to out, in the order chan_sip's peers_by_ip container would give
 * them: the binding (re)registered longest ago first, since every REGISTER
 * moves it to the end. Returns the count; the names are borrowed until the
 * next update, remove or expire. */
size_t sip_registrar_at(sip_registrar_t *self, const struct sockaddr_in *src, int ip_only,
                        long now, const char **out, size_t max);

/* Drop every binding of each AOR for which keep() returns 0 (sip reload:
 * the peers gone from sip.conf); the number of bindings dropped. */
size_t sip_registrar_prune(sip_registrar_t *self, int (*keep)(void *arg, const char *aor),
                           void *arg);

/* Bindings and AORs in the table. */
size_t sip_registrar_count(const sip_registrar_t *self);
size_t sip_registrar_aors(const sip_registrar_t *self);

#endif
