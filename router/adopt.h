/* adopt - cluster mode: finishing calls another router process answered.
 *
 * Every answered call keeps a call:<id> hash in the cluster store (call_save:
 * its owner, each leg's signaling node, the bridged callee's leg number, the
 * media worker, and the CDR so far in journal.h's fields). When that router
 * dies, signaling and media keep the call up; the router that gets the
 * call's next message (the same identity restarted, or the live router
 * signaling picks) does not know the call, asks the store (HGETALL, the
 * message kept until the answer) and, if the hash is there, adopts it: a
 * minimal call that can only end. On a leg's Hangup it hangs up the other
 * leg at that leg's signaling node, releases the media session, writes the
 * CDR line (Master.csv and the CDR backend, PostgreSQL if configured) once
 * and deletes the key. A media timeout or error ends both legs the same way.
 * A re-INVITE is refused (488: the session stays as it is, RFC 3261 14.1), a
 * transfer too (503, as a call in no two-party bridge). Other messages are
 * ignored. No hash: the message gets today's answer (adopt_env_t.unknown).
 *
 * At start (once the store is up) the hashes this identity owns are loaded
 * at once, so `core show channels` counts the calls a restart left before
 * any of them ends; calls another router owned are adopted on their first
 * message.
 *
 * Single host (no store): nothing of this runs. */
#ifndef ADOPT_H
#define ADOPT_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

#include "call.h"
#include "cdr.h"
#include "td_bus.h"
#include "td_store.h"

typedef struct adopt adopt_t;

typedef struct {
    struct event_base *base;
    td_bus_t *bus;
    td_store_t *store;
    cdr_t *cdr;                 /* NULL: no CDRs */
    call_counts_t *counts;      /* bumped as adopted calls end */
    const char *identity;       /* this router's (borrowed for adopt's life) */
    /* A message for a call the store does not have either (or while it is
     * away): what the router does for an unknown call today. */
    void (*unknown)(void *arg, const td_bus_hdr_t *hdr, const char *what, int reply);
    /* Does this router run the call itself (a live call_t)? */
    int (*live)(void *arg, const char *call_id);
    void *arg;
} adopt_env_t;

/* What the message about a call this router does not run is. */
typedef enum {
    ADOPT_HANGUP,               /* a leg hung up (Hangup; cause) */
    ADOPT_MEDIA_END,            /* the worker ended the session (MediaTimeout 44, MediaError) */
    ADOPT_REINVITE,             /* a leg's re-INVITE waits for an answer */
    ADOPT_TRANSFER,             /* a leg's REFER waits for a TransferResult */
    ADOPT_OTHER                 /* anything else: nothing to do for an adopted call */
} adopt_event_t;

adopt_t *adopt_new(const adopt_env_t *env);
/* Forget everything (sends nothing; the store must be destroyed before, its
 * late answers find adopt closed: adopt_close). */
void adopt_destroy(adopt_t **self_p);
/* The router stops: answers the store still owes are dropped. */
void adopt_close(adopt_t *self);

/* A message for a call this router does not run (hdr borrowed): handled
 * now for an adopted call, else once the store answers. what and reply: as
 * the router's unknown-call answer takes them. */
void adopt_on_message(adopt_t *self, const td_bus_hdr_t *hdr, adopt_event_t ev, uint32_t cause,
                      const char *what, int reply);

/* The max_call_duration backstop for adopted calls: those that started
 * more than seconds ago end (both legs hung up with cause 16, CDR line).
 * Returns how many. */
size_t adopt_expire(adopt_t *self, uint32_t seconds);

/* Write every adopted call's call:<id> again, this router its owner (the
 * store lost it: a Redis that restarted empty). Returns how many. */
size_t adopt_store_all(adopt_t *self);

/* Adopted calls not ended yet, and their channels (1 or 2 each). */
size_t adopt_count(const adopt_t *self, size_t *channels);
/* Messages held for a store answer (tests). */
size_t adopt_waiting(const adopt_t *self);

#endif
