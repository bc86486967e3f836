/* td_bus - the only code that speaks ZeroMQ and packs/unpacks protobuf.
 *
 * The router binds a ROUTER socket; signaling and media processes connect a
 * DEALER with a stable identity ("sig-1", "media-3"). Every frame is one
 * tandem.Envelope (proto/tandem.proto). Every process sends a Hello every
 * TD_BUS_HEARTBEAT_MS; a peer not heard from for TD_BUS_DEAD_MS is declared
 * dead (on_peer_down). The router answers each peer's Hello with its own, so
 * a DEALER also knows whether the router is alive. Processes may start in any
 * order; ZeroMQ reconnects and the next Hello announces the peer again.
 *
 * Several routers (shards): a connecting process opens one DEALER per router
 * endpoint (a comma list, and/or td_bus_discover()) and learns each router's
 * identity from its Hello. Hellos (with the load) go to every router; each
 * router is a peer of its own, with its own up/down/restart. A send names
 * the router (its identity) or NULL for any live one; td_bus_pick_router()
 * gives a call's owner by rendezvous hashing (td_hrw.h). With one router
 * everything works as with a single DEALER.
 *
 * Business code sends typed messages with td_bus_send_<name>() and receives
 * them in typed handlers. A handler's message is borrowed until it returns. */
#ifndef TD_BUS_H
#define TD_BUS_H

#include <stdint.h>
#include <event2/event.h>
#include "tandem.pb-c.h"
#include "td_bus_curve.h"

#define TD_BUS_HEARTBEAT_MS 250
#define TD_BUS_DEAD_MS      1000
/* Peers a bus remembers (a cluster has a few dozen processes; a flood of
 * made-up identities must not grow the table). Past it, a bound bus
 * forgets the peer down longest to make room, and refuses a new peer's
 * Hello while all are alive. */
#define TD_BUS_PEER_MAX     1024
#define TD_BUS_DISCOVER_MS  2000

/* X(name, Type, CASE): one line per business message in the Envelope.
 * Hello is not here: the bus handles it. */
#define TD_BUS_MESSAGES(X) \
    X(channel_new,    ChannelNew,    CHANNEL_NEW) \
    X(originate,      Originate,     ORIGINATE) \
    X(progress,       Progress,      PROGRESS) \
    X(answer,         Answer,        ANSWER) \
    X(hangup,         Hangup,        HANGUP) \
    X(media_offer,    MediaOffer,    MEDIA_OFFER) \
    X(media_offered,  MediaOffered,  MEDIA_OFFERED) \
    X(media_answer,   MediaAnswer,   MEDIA_ANSWER) \
    X(media_answered, MediaAnswered, MEDIA_ANSWERED) \
    X(media_echo,     MediaEcho,     MEDIA_ECHO) \
    X(media_release,  MediaRelease,  MEDIA_RELEASE) \
    X(media_error,    MediaError,    MEDIA_ERROR) \
    X(media_play,     MediaPlay,     MEDIA_PLAY) \
    X(media_played,   MediaPlayed,   MEDIA_PLAYED) \
    X(media_stop,     MediaStop,     MEDIA_STOP) \
    X(media_dtmf,     MediaDtmf,     MEDIA_DTMF) \
    X(media_record,   MediaRecord,   MEDIA_RECORD) \
    X(media_recorded, MediaRecorded, MEDIA_RECORDED) \
    X(reinvite,       Reinvite,      REINVITE) \
    X(reinvite_answer, ReinviteAnswer, REINVITE_ANSWER) \
    X(media_reoffer,  MediaReoffer,  MEDIA_REOFFER) \
    X(media_reoffered, MediaReoffered, MEDIA_REOFFERED) \
    X(media_reanswer, MediaReanswer, MEDIA_REANSWER) \
    X(media_reanswered, MediaReanswered, MEDIA_REANSWERED) \
    X(media_adopt,    MediaAdopt,    MEDIA_ADOPT) \
    X(media_adopted,  MediaAdopted,  MEDIA_ADOPTED) \
    X(media_drain,    MediaDrain,    MEDIA_DRAIN) \
    X(media_timeouts, MediaTimeouts, MEDIA_TIMEOUTS) \
    X(media_timeout,  MediaTimeout,  MEDIA_TIMEOUT) \
    X(media_forget,   MediaForget,   MEDIA_FORGET) \
    X(transfer,       Transfer,      TRANSFER) \
    X(transfer_result, TransferResult, TRANSFER_RESULT) \
    X(cli_request,    CliRequest,    CLI_REQUEST) \
    X(cli_reply,      CliReply,      CLI_REPLY) \
    X(exten_query,    ExtenQuery,    EXTEN_QUERY) \
    X(exten_reply,    ExtenReply,    EXTEN_REPLY) \
    X(media_stats_request, MediaStatsRequest, MEDIA_STATS_REQUEST) \
    X(media_stats,    MediaStats,    MEDIA_STATS) \
    X(dialog_restored, DialogRestored, DIALOG_RESTORED) \
    X(location,       Location,      LOCATION)

typedef struct td_bus td_bus_t;

/* Who sent a message, and for which call. Borrowed until the handler returns. */
typedef struct {
    const char *peer;      /* sender's identity ("sig-1", "media-2", "router"; on CONNECT
                            * the router's, from its Hello) */
    const char *call_id;   /* "" when none */
    uint32_t leg;
} td_bus_hdr_t;

typedef struct {
#define TD_BUS_X_HANDLER(name, Type, CASE) \
    void (*on_##name)(void *arg, const td_bus_hdr_t *hdr, const Tandem__##Type *msg);
    TD_BUS_MESSAGES(TD_BUS_X_HANDLER)
#undef TD_BUS_X_HANDLER
    /* A peer said Hello for the first time (or again after being dead). */
    void (*on_peer_up)(void *arg, const char *peer, const char *role, uint32_t capacity);
    /* A peer fell silent for TD_BUS_DEAD_MS. */
    void (*on_peer_down)(void *arg, const char *peer, const char *role);
    /* A peer said Hello from a new process (its boot changed: it restarted,
     * faster than TD_BUS_DEAD_MS or after being declared down, and knows
     * nothing it had); instead of on_peer_up. NULL: on_peer_down (if it was
     * alive), then on_peer_up. */
    void (*on_peer_restart)(void *arg, const char *peer, const char *role, uint32_t capacity);
} td_bus_handlers_t;

typedef enum { TD_BUS_BIND, TD_BUS_CONNECT } td_bus_mode_t;

/* Create the bus. BIND: a ROUTER bound to endpoint (the router process);
 * CONNECT: a DEALER with this identity connected to each router endpoint of
 * a comma list ("tcp://10.0.0.1:5570,tcp://10.0.0.2:5570"; "" for none yet,
 * then td_bus_discover()). role and
 * capacity go into every Hello. handlers is copied; NULL members ignore that
 * message (it is counted and logged at debug). Returns NULL on failure
 * (logged). */
td_bus_t *td_bus_new(struct event_base *base, td_bus_mode_t mode, const char *endpoint,
                     const char *identity, const char *role, uint32_t capacity,
                     const td_bus_handlers_t *handlers, void *arg);
/* The same with CURVE keys (td_bus_curve.h; copied): BIND serves them as a
 * CURVE server and admits only keys->clients, each under its own name;
 * CONNECT authenticates to the routers' keys->server. NULL or no secret: a
 * plain bus, which a router binds on loopback only unless keys->insecure. */
td_bus_t *td_bus_new_keyed(struct event_base *base, td_bus_mode_t mode, const char *endpoint,
                           const char *identity, const char *role, uint32_t capacity,
                           const td_bus_handlers_t *handlers, void *arg,
                           const td_bus_keys_t *keys);
void td_bus_destroy(td_bus_t **self_p);

/* The load reported in the next Hello (calls in progress). */
void td_bus_set_load(td_bus_t *self, uint32_t load);
/* Run the heartbeat (a Hello every TD_BUS_HEARTBEAT_MS, a peer silent for
 * more than TD_BUS_DEAD_MS declared down) on clock instead of the loop's
 * real time: a test's fake clock (td_clock.h) then decides when each tick
 * comes. NULL goes back to the real clock. Every known peer's silence
 * counts from the switch. */
struct td_clock;
void td_bus_set_clock(td_bus_t *self, struct td_clock *clock);

/* CONNECT: find routers by DNS as well: spec is tcp://NAME:PORT; NAME's A
 * records are resolved now and every TD_BUS_DISCOVER_MS (libevent's evdns:
 * the loop never blocks), each new address gets a DEALER, and a discovered
 * address gone from the answer is closed once its router is dead (a router
 * still alive stays until it falls silent). A failed lookup changes
 * nothing. Returns 0, or -1 (bad spec, logged). */
int td_bus_discover(td_bus_t *self, const char *spec);

/* Is this peer alive? BIND: that process. CONNECT: that router, or (NULL)
 * any router; with one router, any name asks about it. */
int td_bus_peer_alive(td_bus_t *self, const char *peer);

/* CONNECT: the live routers' identities into ids[0..max-1], in endpoint
 * order; returns how many. The strings are the bus's own, valid until
 * td_bus_destroy (a router once heard is never forgotten), so callers may
 * keep the pointers (a call's owner) and compare them. BIND: 0. */
size_t td_bus_routers(td_bus_t *self, const char **ids, size_t max);
/* CONNECT: the owner of key (a call id) among the live routers, by
 * rendezvous hashing (td_hrw_pick over td_bus_routers): every process
 * picks the same one from the same set. NULL when no router is alive. The
 * string is valid until td_bus_destroy. */
const char *td_bus_pick_router(td_bus_t *self, const char *key);
/* The bus's own copy of a peer's identity (e.g. hdr->peer, to keep as a
 * call's router), valid until td_bus_destroy; NULL if never heard. */
const char *td_bus_peer_name(td_bus_t *self, const char *peer);

/* Every peer heard (BIND: each process; CONNECT: the routers), alive or not,
 * in no particular order. */
typedef void td_bus_peer_fn(void *arg, const char *identity, const char *role, int alive,
                            uint32_t capacity, uint32_t load, uint64_t silent_ms);
void td_bus_peers_foreach(td_bus_t *self, td_bus_peer_fn *fn, void *arg);

/* Typed sends. peer: BIND, the identity to send to; CONNECT, the router
 * (its identity; NULL: any live router, the first in endpoint order; an
 * unknown name with a single endpoint: that one). The message is borrowed.
 * Return 0, or -1 if the frame could not be queued (unknown/dead peer,
 * full queue): logged once. */
#define TD_BUS_X_SEND(name, Type, CASE) \
    int td_bus_send_##name(td_bus_t *self, const char *peer, const char *call_id, \
                           uint32_t leg, const Tandem__##Type *msg);
TD_BUS_MESSAGES(TD_BUS_X_SEND)
#undef TD_BUS_X_SEND

/* Message counters, for logs and stats: frames received/sent per case. */
const char *td_bus_msg_name(int body_case);

/* Frames counted since start, for metrics (lib/td_bus_metrics.c): by
 * envelope case (Hello included), frames that could not be sent, frames that
 * could not be decoded, Hellos of new peers refused because TD_BUS_PEER_MAX
 * peers were alive. Borrowed for the bus's life. */
#define TD_BUS_MAX_CASE 128
typedef struct {
    uint64_t rx[TD_BUS_MAX_CASE], tx[TD_BUS_MAX_CASE];
    uint64_t tx_failed, rx_bad, peers_refused;
} td_bus_counts_t;
const td_bus_counts_t *td_bus_counts(const td_bus_t *self);

#endif
