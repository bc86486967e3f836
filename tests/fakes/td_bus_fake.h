/* The bus fake: a link-time replacement for lib/td_bus.c in unit tests.
 * It records every typed send and lets a test deliver messages to the
 * handlers given to td_bus_new(), as if a peer had sent them. */
#ifndef TD_BUS_FAKE_H
#define TD_BUS_FAKE_H

#include "td_bus.h"

/* A recorded send. env is an unpacked copy owned by the fake. */
typedef struct {
    char peer[64];
    Tandem__Envelope *env;
} td_bus_fake_sent_t;

/* Number of sends recorded since the last reset. */
size_t td_bus_fake_count(void);
/* The i-th recorded send (0 = oldest), or NULL. */
const td_bus_fake_sent_t *td_bus_fake_get(size_t i);
/* The most recent send whose body case is body_case, or NULL. */
const td_bus_fake_sent_t *td_bus_fake_last(int body_case);
/* As td_bus_fake_last, but a send that never came fails the test with a
 * message naming the message ("expected a media_played on the bus, none was
 * sent"), never a NULL dereference. */
const td_bus_fake_sent_t *td_bus_fake_expect(int body_case);
/* Forget every recorded send (and the peers td_bus_fake_add_peer listed). */
void td_bus_fake_reset(void);

/* Deliver env (borrowed) to the bus's handlers as if `peer` had sent it. */
void td_bus_fake_deliver(td_bus_t *bus, const char *peer, const Tandem__Envelope *env);
/* Fire on_peer_up / on_peer_down; td_bus_peer_alive(peer) answers 0 from
 * the down until the next up (or restart) of that peer. */
void td_bus_fake_peer_up(td_bus_t *bus, const char *peer, const char *role, uint32_t capacity);
void td_bus_fake_peer_down(td_bus_t *bus, const char *peer, const char *role);
/* List a peer in td_bus_peers_foreach (until td_bus_fake_reset). */
void td_bus_fake_add_peer(const char *identity, const char *role, int alive);
/* Fire on_peer_restart (the peer's Hello came from a new process), or
 * on_peer_down then on_peer_up when the handler is NULL, as the bus does. */
void td_bus_fake_peer_restart(td_bus_t *bus, const char *peer, const char *role,
                              uint32_t capacity);
/* Several routers: ids (copied) are the routers td_bus_routers() lists,
 * all alive; td_bus_pick_router() picks among the live ones with td_hrw,
 * td_bus_peer_name() knows them. n = 0: none (the default: callers send to
 * NULL, "any router"). Not undone by td_bus_fake_reset. */
void td_bus_fake_set_routers(const char *const *ids, size_t n);
/* One of them is alive or dead (td_bus_peer_alive, td_bus_routers). */
void td_bus_fake_router_alive(const char *identity, int alive);
/* Make td_bus_peer_alive() answer `alive` for every peer (default 1). */
void td_bus_fake_set_alive(int alive);
/* Play the router for out-of-dialog OPTIONS: an ExtenQuery sent is answered
 * at once with ExtenReply exists=`exists` (default 1: every extension
 * exists); -1 records it and leaves it unanswered. */
void td_bus_fake_set_exten_answer(int exists);
/* Make the next sends fail (-1) while fail is set. */
void td_bus_fake_set_fail(int fail);

#endif
