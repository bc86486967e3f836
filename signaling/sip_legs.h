/* sip_legs - the B2BUA's table of legs: one leg per SIP dialog, tied to the router's call
 * by (call id, leg number). Leg 0 is the caller's INVITE (a UAS dialog);
 * legs 1..n are the INVITEs the router asks for with Originate (UAC
 * dialogs). This class turns SIP events on a leg into bus messages for the
 * router (ChannelNew, Progress, Answer, Hangup) and the router's messages
 * into SIP (18x, 200, final responses, INVITE, CANCEL, BYE).
 *
 * Legs live in two hash tables: by (call id, leg) for the bus and by
 * (Call-ID, local tag) for SIP, so both directions find a leg in O(1).
 * A leg's strings live in its own arena. A leg is freed by one reaper event
 * once its dialog is over and no transaction it cares about is alive;
 * transactions it no longer needs are detached (owner NULL) at once.
 *
 * The signaling core authenticates and validates; everything it hands over
 * here is a well-formed request from an accepted caller. */
#ifndef SIP_LEGS_H
#define SIP_LEGS_H

#include <stddef.h>
#include "sip_conf.h"
#include "sip_registrar.h"
#include "sip_txn.h"
#include "td_bus.h"
#include "td_store.h"

typedef struct sip_legs sip_legs_t;

typedef struct {
    struct event_base *base;
    sip_txn_layer_t *layer;
    td_bus_t *bus;
    const sip_conf_t *conf;
    sip_registrar_t *registrar;
    const char *identity;          /* this process on the bus: call ids start with it */
    /* Our own address as seen from `to` (for Contact and From). */
    void (*local_addr)(void *arg, const struct sockaddr_in *to, struct sockaddr_in *out);
    /* Whether a peer may be called now (qualify= keeps Lagged and
     * Unreachable peers out, as chan_sip's create_addr_from_peer); NULL:
     * always. */
    int (*usable)(void *arg, const sip_peer_t *peer);
    /* The SDP to send toward `to` (externaddr for a peer outside localnet):
     * sdp itself or a copy valid until the next call; NULL: sdp as is. */
    const char *(*sdp_for)(void *arg, const struct sockaddr_in *to, const char *sdp);
    void *arg;
    /* [cluster] (sip_state.h): each confirmed leg's dialog is kept in
     * dlg:<call id>:<leg> until it ends; NULL: single host, nothing kept. */
    td_store_t *store;
    /* [cluster]: a Hangup that cannot reach the router (none is up) is kept
     * and sent again once one is (sip_legs_resend_hangups): the router that
     * adopts the call hangs up its other leg. */
    int cluster;
    /* [security] max_sdp: an SDP longer than this in a response or an ACK is
     * taken as no SDP at all (counted, logged once a minute); 0: 16384.
     * Early SDPs (1xx) are passed on and never kept, so a callee looping
     * 183s does not grow the leg (issue 12). */
    uint32_t max_sdp;
} sip_legs_env_t;

/* env is copied; the objects it points to must outlive the call table. */
sip_legs_t *sip_legs_new(const sip_legs_env_t *env);
/* sip reload: look peers up in conf from now on (legs keep peer names, not
 * pointers, so calls in progress carry on). */
void sip_legs_set_conf(sip_legs_t *self, const sip_conf_t *conf);
/* A leg read back from the cluster store at start (dlg:<call id>:<leg>, the
 * hash s_store_put wrote): an established leg again, so a BYE from its phone
 * gets 200 and a Hangup to the router, and the router's Hangup sends a BYE
 * with the next CSeq along its route set; its session timer (RFC 4028)
 * starts again from the restore. What it does not bring back: a
 * transaction in progress (a re-INVITE or REFER in flight at the crash), and
 * a TCP/TLS connection (a request to the phone opens a new one). 0, or -1
 * when the hash is unusable (the caller deletes it). */
int sip_legs_restore(sip_legs_t *self, const char *key, size_t n, const char *const *fields,
                     const char *const *values);
/* Tell the router about every leg restored since the last call
 * (DialogRestored), once it is up: it answers Hangup for a call it ended
 * while we were away, and the leg's phone gets its BYE. Returns how many. */
size_t sip_legs_announce_restored(sip_legs_t *self);
/* Write the dlg: hash of every established leg again (the cluster store
 * came back after an outage: a Redis that restarted empty lost them).
 * Returns how many. */
size_t sip_legs_store_all(sip_legs_t *self);
/* Frees every leg without sending anything. */
void sip_legs_destroy(sip_legs_t **self_p);

/* ---- from SIP (the core's transaction-user callbacks) ---------------------- */

/* A new INVITE from an accepted caller (peer NULL: a guest). Creates leg 0
 * and sends ChannelNew; or answers the INVITE itself on failure. */
void sip_legs_incoming(sip_legs_t *self, sip_txn_t *txn, osip_message_t *invite,
                       const struct sockaddr_in *from, const sip_peer_t *peer);
/* A request with a To-tag (BYE, re-INVITE, INFO, ...), or an ACK (txn NULL). */
void sip_legs_in_dialog(sip_legs_t *self, sip_txn_t *txn, osip_message_t *req);
/* A CANCEL (the layer created txn for it and has not answered). */
void sip_legs_cancel(sip_legs_t *self, sip_txn_t *txn, osip_message_t *cancel);
/* Client transaction events for the transactions this class started. */
void sip_legs_response(sip_legs_t *self, sip_txn_t *txn, osip_message_t *resp);
void sip_legs_timeout(sip_legs_t *self, sip_txn_t *txn);
void sip_legs_ack_timeout(sip_legs_t *self, sip_txn_t *txn);
void sip_legs_terminated(sip_legs_t *self, sip_txn_t *txn);

/* ---- from the router (bus handlers) --------------------------------------- */

void sip_legs_on_originate(sip_legs_t *self, const td_bus_hdr_t *hdr, const Tandem__Originate *msg);
void sip_legs_on_progress(sip_legs_t *self, const td_bus_hdr_t *hdr, const Tandem__Progress *msg);
void sip_legs_on_answer(sip_legs_t *self, const td_bus_hdr_t *hdr, const Tandem__Answer *msg);
void sip_legs_on_hangup(sip_legs_t *self, const td_bus_hdr_t *hdr, const Tandem__Hangup *msg);
/* The router's in-dialog offers: re-INVITE this leg with msg->sdp (its
 * outcome goes back as ReinviteAnswer), and the answer to a phone's
 * re-INVITE that signaling passed on as Reinvite. */
void sip_legs_on_reinvite(sip_legs_t *self, const td_bus_hdr_t *hdr, const Tandem__Reinvite *msg);
void sip_legs_on_reinvite_answer(sip_legs_t *self, const td_bus_hdr_t *hdr,
                                 const Tandem__ReinviteAnswer *msg);
/* Transfer (REFER, sip_refer.h): the router's answer to a leg's Transfer. */
void sip_legs_on_transfer_result(sip_legs_t *self, const td_bus_hdr_t *hdr,
                                 const Tandem__TransferResult *msg);
/* A REFER without a To-tag: no call to transfer (chan_sip: 603 Declined (No
 * dialog)). A REFER with an unknown To-tag gets 481 like any request. */
void sip_legs_refer_outside(sip_legs_t *self, sip_txn_t *txn);
/* Any other message for a call: answered with Hangup if the leg is unknown. */
void sip_legs_on_other(sip_legs_t *self, const td_bus_hdr_t *hdr);

/* A router has been silent for a while: nothing will answer, bridge or
 * hang up the calls it owns that are still being set up, so end them (503
 * to callers, CANCEL to callees): the legs whose router is not alive (with
 * one router, every leg being set up). Calls already up keep their media;
 * they end when a phone hangs up. */
void sip_legs_router_down(sip_legs_t *self);
/* Cluster mode: router restarted. The answered calls it ran are adopted (a
 * live router, or its restart, ends them from the store), so the legs that
 * are up stay as they are; its legs still being set up end now (a caller
 * gets 503 with why as its reason phrase, a callee a CANCEL; each is logged;
 * the router is not told, it knows none of them). Returns how many. */
size_t sip_legs_router_lost(sip_legs_t *self, const char *router, const char *why);
/* Cluster mode: a router is up (again): send the Hangups kept while none
 * was (at most SIP_LEGS_UNSENT_MAX, the oldest dropped past it). Returns how
 * many went. */
#define SIP_LEGS_UNSENT_MAX 20000
size_t sip_legs_resend_hangups(sip_legs_t *self);
/* Signaling is stopping (SIGTERM): end every leg the way SIP ends it - a
 * caller still ringing gets 503, a callee still ringing a CANCEL, a leg
 * that is up a BYE - and tell the router each leg is gone, so it ends its
 * calls and writes their CDRs. Returns how many legs it ended. */
size_t sip_legs_shutdown(sip_legs_t *self);
/* Router `router` restarted (a new process, its boot changed): it knows
 * none of its calls, so nothing would bridge, move or end them. End every
 * leg it owns (with one router: every leg; NULL: every leg) as
 * sip_legs_shutdown does (BYE, CANCEL, 503), so each phone hears its call
 * end instead of keeping a dialog nobody will close. Returns how many. */
size_t sip_legs_router_restarted(sip_legs_t *self, const char *router);

/* ---- counters ------------------------------------------------------------- */

typedef struct {
    size_t legs;           /* legs alive (including ended ones awaiting reaping) */
    size_t calls;          /* incoming legs not ended: the load reported on the bus */
    size_t calls_up;       /* ... of them answered; calls - calls_up are being set up
                            * (ringing), which [signaling] capacity does not count */
    unsigned long calls_in, legs_out, hangups_in, hangups_out;
    unsigned long sdp_capped;   /* SDPs over max_sdp, refused or ignored */
    unsigned long session_capped; /* offers refused: the call's leg kept SIP_LEG_HEAP_MAX */
} sip_legs_stats_t;

/* What one leg may keep of what its phone sends in the dialog (each new
 * SDP, Contact, route): a call's re-INVITEs and UPDATEs are each kept until
 * it ends, so past this a new one is refused (500; RFC 3261 14.1: the
 * session stays as it was). A refresh repeating the last SDP keeps nothing
 * more. */
#define SIP_LEG_HEAP_MAX (1024 * 1024)

void sip_legs_stats(const sip_legs_t *self, sip_legs_stats_t *out);
/* 1 when a body of len bytes is over max_sdp: counted in stats.sdp_capped
 * and logged at most once a minute (what: "INVITE from 1.2.3.4"); else 0. */
int sip_legs_sdp_capped(sip_legs_t *self, size_t len, const char *what);
/* Calls in and out of sip.conf section `peer` counted against its call-limit. */
int sip_legs_inuse(sip_legs_t *self, const char *peer);

#endif
