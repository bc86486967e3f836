/* location - which signaling node holds each SIP peer's registration
 * (issue 10, several signaling nodes). Each node tells the router on the bus
 * (Location) when a peer registers through it, refreshes, unregisters or
 * expires, and sends its whole list when the router comes up; Dial sends an
 * outgoing leg (Originate) to the node that holds the callee's binding, which
 * holds its NAT flow or its TCP/TLS connection.
 *
 * One entry per peer (chan_sip keeps one contact per peer; a phone that
 * moves to another node moves its entry), in a hash keyed by peer name:
 * O(1) lookups. An entry expires on its own at its expiry; a node that dies
 * or restarts keeps its entries until it sends its list again (a restarted
 * node in cluster mode restores its registrations from the store). Time is
 * passed in (seconds), so tests drive expiry without a clock. */
#ifndef LOCATION_H
#define LOCATION_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct location location_t;

location_t *location_new(void);
void location_destroy(location_t **self_p);

/* peer is registered through node for expires more seconds (from now);
 * expires 0: node no longer holds it (an entry of another node stays: the
 * phone moved there). 0, or -1 (name too long, out of memory; logged). */
int location_update(location_t *self, const char *peer, const char *node, uint32_t expires,
                    time_t now);
/* Forget every entry of node (it is about to send its whole list). The
 * number forgotten. */
size_t location_reset(location_t *self, const char *node);
/* The node holding peer's live registration, or NULL (none, or expired: the
 * entry is dropped). Borrowed until the next update, reset or lookup. */
const char *location_node(location_t *self, const char *peer, time_t now);

/* Every entry (expired ones included), in no order. The table must not
 * change meanwhile. */
typedef void location_fn(void *arg, const char *peer, const char *node, time_t expires_at);
void location_foreach(const location_t *self, location_fn *fn, void *arg);
size_t location_count(const location_t *self);

#endif
