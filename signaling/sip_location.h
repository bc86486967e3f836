/* sip_location - tells the routers which peers are registered through this
 * signaling node (issue 10, several signaling nodes), so that a Dial to a
 * peer goes out through the node that holds its binding (its NAT flow, its
 * TCP/TLS connection). One bus message, Location, carries up to
 * SIP_LOCATION_BATCH entries (peer, this node, seconds left; 0 = gone):
 *   - after each REGISTER that adds, refreshes or removes a binding,
 *   - when an AOR's last binding expires or a sip reload drops its peer,
 *   - the whole list (reset first) when a router comes up or restarts.
 * A peer's expiry is the latest of its contacts'. No allocation per
 * message: the batch lives in the object. */
#ifndef SIP_LOCATION_H
#define SIP_LOCATION_H

#include "sip_registrar.h"
#include "td_bus.h"

#define SIP_LOCATION_BATCH 128      /* entries per Location message */

typedef struct sip_location sip_location_t;

/* bus, registrar and identity are borrowed for the object's life. Sets the
 * registrar's on_gone callback (sip_registrar_set_on_gone). NULL on ENOMEM. */
sip_location_t *sip_location_new(td_bus_t *bus, sip_registrar_t *registrar,
                                 const char *identity);
void sip_location_destroy(sip_location_t **self_p);

/* A REGISTER changed peer's bindings: tell the routers its expiry now. */
void sip_location_changed(sip_location_t *self, const char *peer, long now);
/* Send what expiries and prunes queued (after sip_registrar_expire/prune). */
void sip_location_flush(sip_location_t *self);
/* Router `router` came up: every registration this node holds, to it alone
 * (NULL: to every router), reset first. */
void sip_location_send_all(sip_location_t *self, const char *router, long now);

#endif
