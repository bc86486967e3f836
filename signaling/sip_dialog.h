/* sip_dialog - the SIP side of a call leg (RFC 3261 section 12): Call-ID,
 * tags, URIs, remote target, route set and CSeq counters, and building the
 * requests that run inside it (the first INVITE of an outgoing leg, ACK for
 * a 2xx, BYE). Strings live in a small arena owned by whoever embeds the
 * dialog (a call leg), so a dialog costs no allocations of its own beyond
 * an occasional overflow chunk. */
#ifndef SIP_DIALOG_H
#define SIP_DIALOG_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include "sip_txn.h"
#include "sip_state.h"

/* ---- arena: bump allocation; chunks are freed together ------------------ */

typedef struct sip_arena_chunk sip_arena_chunk_t;

typedef struct {
    char *cur, *end;               /* free space in the current chunk */
    sip_arena_chunk_t *chunks;     /* overflow chunks, newest first */
    size_t heap;                   /* bytes of the overflow chunks */
} sip_arena_t;

/* Start an arena on caller-provided space (may be NULL/0: all heap). */
void sip_arena_init(sip_arena_t *a, char *space, size_t size);
/* A copy of s (NULL gives ""), or NULL when out of memory. */
char *sip_arena_strdup(sip_arena_t *a, const char *s);
char *sip_arena_strndup(sip_arena_t *a, const char *s, size_t n);
/* Free the overflow chunks. The arena is unusable until init again. */
void sip_arena_release(sip_arena_t *a);

/* ---- dialog ------------------------------------------------------------- */

#define SIP_DIALOG_MAX_ROUTES 8

typedef struct {
    const char *call_id;           /* "number@host" */
    const char *local_tag, *remote_tag;   /* remote_tag NULL: not yet known */
    const char *local_uri;         /* our name-addr, without the tag */
    const char *remote_uri;
    const char *remote_target;     /* Request-URI of requests we send */
    const char *routes[SIP_DIALOG_MAX_ROUTES];   /* Route values, in send order */
    int nroutes;
    uint32_t local_cseq;           /* last CSeq we used */
    uint32_t remote_cseq;          /* last CSeq the other side used */
    uint32_t invite_cseq;          /* CSeq of the INVITE that made it (our ACK's) */
    struct sockaddr_in peer;       /* where requests go: the source (UAS) or target (UAC),
                                    * or the first route's address once a route set is
                                    * learned (RFC 3261 12.2.1.1, 8.1.2) */
    int pinned;                    /* peer stays put whatever the route set (nat=force_rport:
                                    * chan_sip's reqprep sends to the received-from address) */
} sip_dialog_t;

/* A UAS dialog from a received INVITE: remote tag = From tag, remote target
 * = Contact, route set = Record-Route in order, peer = where our requests
 * go (see sip_msg_target). 0 or -1. */
int sip_dialog_uas(sip_dialog_t *d, sip_arena_t *a, const osip_message_t *invite,
                   const char *local_tag, const struct sockaddr_in *peer);

/* A UAC dialog before its INVITE: everything is given (strings copied). */
int sip_dialog_uac(sip_dialog_t *d, sip_arena_t *a, const char *call_id,
                   const char *local_tag, const char *local_uri, const char *remote_uri,
                   const char *target, const struct sockaddr_in *peer);

/* A UAC dialog learns the other side from a response with a To-tag
 * (a 1xx makes it early, a 2xx confirms it): remote tag, remote target
 * (Contact, if any) and route set (Record-Route reversed). 0 or -1. */
int sip_dialog_update_uac(sip_dialog_t *d, sip_arena_t *a, const osip_message_t *resp);

/* A target refresh (re-INVITE, UPDATE): new remote target from the Contact. */
int sip_dialog_refresh(sip_dialog_t *d, sip_arena_t *a, const osip_message_t *req);

/* The route set's first hop as an address: the first Route URI's host:port
 * (5060 when it has none), a numeric IPv4 address or a name (looked up once
 * a minute for the whole process, A records only). A loose router (;lr) and
 * a strict one are reached alike; they differ in the request's shape (see
 * sip_dialog_request). 0, or -1 when there is no usable first hop (the
 * dialog's peer then stays what it was). */
int sip_dialog_first_hop(const sip_dialog_t *d, struct sockaddr_in *out);

/* Pre-load a route set before the first request (RFC 3327: the Path of a
 * registered contact, sip_binding_t.path): `list` is name-addrs joined by
 * commas (a comma inside <> or quotes does not split), at most
 * SIP_DIALOG_MAX_ROUTES kept. peer becomes its first hop (see
 * sip_dialog_first_hop; unchanged when that cannot be resolved). 0 or -1. */
int sip_dialog_set_routes(sip_dialog_t *d, sip_arena_t *a, const char *list);

/* A request in the dialog: Request-URI = remote target, From/To with tags
 * (no To-tag while remote_tag is NULL), Call-ID, CSeq `cseq method`, Route
 * set (RFC 3261 12.2.1.1: when the first route is a strict router, no ;lr,
 * the Request-URI is that route's URI and the remote target goes last in
 * the Route headers), Max-Forwards 70, and a Via with a fresh branch whose sent-by the
 * transaction layer fills. Returns a message the caller owns, or NULL. */
osip_message_t *sip_dialog_request(const sip_dialog_t *d, const char *method, uint32_t cseq);

/* An ACK for a 2xx built from the response alone (for a retransmitted 2xx
 * whose leg is gone): Request-URI from its Contact, routes from its
 * Record-Route reversed. *to is the first route's address when there is a
 * route set, else the Contact's host:port, and must be a numeric IPv4
 * address (else the function fails). Caller owns it. */
osip_message_t *sip_dialog_ack_from_2xx(const osip_message_t *resp, struct sockaddr_in *to);

/* The dialog as fields of a dlg:* hash in the cluster store (sip_state.h):
 * call_id, local_tag, remote_tag, local_uri, remote_uri, remote_target,
 * routes (comma-joined, in send order), local_cseq, remote_cseq,
 * invite_cseq, dest (where requests go, ip:port), pinned. */
void sip_dialog_save(const sip_dialog_t *d, sip_state_hash_t *h);
/* The CSeqs and the remote target alone: what changes during a dialog. */
void sip_dialog_save_changes(const sip_dialog_t *d, sip_state_hash_t *h);
/* A confirmed dialog back from such a hash, its strings in the arena.
 * 0, or -1 when a field it needs is missing or unreadable. */
int sip_dialog_load(sip_dialog_t *d, sip_arena_t *a, size_t n, const char *const *fields,
                    const char *const *values);

/* The header value of h without its tag parameter, into the arena. */
const char *sip_dialog_strip_tag(sip_arena_t *a, const osip_from_t *h);

#endif
