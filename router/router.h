/* router - the router process object: the bus (bound ROUTER socket), the
 * dialplan, the table of calls in flight (by call id), the media worker
 * registry and the CDR file. It turns bus messages into call events:
 * ChannelNew starts a call, every other message goes to the call its
 * envelope names, and a message for a call it does not know is answered so
 * the sender can clean up (Hangup to signaling, MediaRelease to media).
 * Finished calls are taken out of the table at once and freed from a reaper
 * event, never inside the handler that finished them. */
#ifndef ROUTER_H
#define ROUTER_H

#include <stddef.h>
#include <event2/event.h>

#include "call.h"
#include "dialplan.h"
#include "td_bus.h"
#include "td_store.h"
#include "workers.h"

typedef struct router router_t;

/* Bind the bus at endpoint as identity and open cdrdir/Master.csv. Takes
 * the dialplan (nulls *dialplan_p), also on failure. NULL on failure (logged). */
router_t *router_new(struct event_base *base, const char *endpoint, const char *identity,
                     dialplan_t **dialplan_p, const char *cdrdir);
/* The same with the bus's CURVE keys (td_bus_new_keyed; NULL: none). */
router_t *router_new_keyed(struct event_base *base, const char *endpoint, const char *identity,
                           dialplan_t **dialplan_p, const char *cdrdir,
                           const td_bus_keys_t *bus_keys);
/* The media worker's directories as this router's tandem.conf names them
 * ([media] sounds=, recordings=; "" unknown): Playback and Record refuse a
 * file name with ".." and an absolute one outside them, with a warning, as
 * the worker would (td_path.h). Copied; for the whole process. */
void router_set_media_dirs(const char *sounds, const char *recordings);

/* End every call still up (cause 16, CDRs written), then free everything.
 * In cluster mode answered calls whose hash is in the store are left up
 * instead (not ended, no CDR here): the router that adopts them ends them. */
void router_destroy(router_t **self_p);

/* Load path as the new dialplan: new calls start on it, calls in flight
 * finish on the plan they started with (each holds a reference). A plan
 * with errors is refused (logged with file:line) and the old one stays.
 * 0 or -1. */
int router_reload(router_t *self, const char *path);

/* Open the DB() store at path (closing one already open); calls started
 * later read and write it. 0, or -1 (logged: DB() then reads empty). */
int router_open_astdb(router_t *self, const char *path);
/* Cluster mode ([cluster] of tandem.conf): connect to Redis (conf) and keep
 * DB() and GLOBAL() there, read from memory and shared with the other
 * routers (dbsync.h); replaces any DB() file opened before. identity names
 * this router. 0, or -1 (logged). The store is the router's, shared by the
 * other classes that keep state in Redis: router_store. Answered calls
 * keep their call:<id> hash there too (call_save), and messages for calls
 * this router does not run go to adopt (adopt.h): calls another router
 * process (this identity's previous run included) answered are finished
 * from the store. Call before router_open_journal (whose recovery leaves
 * answered calls to the adopter then). */
int router_open_cluster(router_t *self, const td_store_conf_t *conf, const char *identity);
/* The Redis store of cluster mode, or NULL (single host). Borrowed. */
td_store_t *router_store(router_t *self);
/* The longest a call may last (seconds; 0: no limit): a backstop for calls
 * nothing else ends (a phone gone without BYE, no rtptimeout). Checked every
 * ROUTER_MAX_CALL_CHECK_S; such a call ends with cause 16 and its CDR. */
#define ROUTER_MAX_CALL_CHECK_S 5
void router_set_max_call(router_t *self, uint32_t seconds);
/* How long answered calls wait for a signaling process that fell silent
 * (seconds, 30 by default): it may only be stalled, and their RTP still
 * flows. Calls still being set up end at once (cause 38); a signaling that
 * restarted (a new boot in its Hello) ends all of its calls at once. */
void router_set_signaling_grace(router_t *self, uint32_t seconds);
/* [cluster]: a signaling process that restarts restores its established
 * dialogs from the store (signaling/sip_state.h), so its answered calls go
 * on as after a stall (its calls still being set up end, as before). 0 (the
 * default, a single host): a restarted signaling's calls all end. */
void router_set_signaling_restores(router_t *self, int on);
/* CDR options from cdr.conf at path (cdr_configure); 0 without CDRs. */
int router_cdr_options(router_t *self, const char *path);
/* CDRs also to PostgreSQL when cdr_pgsql.conf at conf_path has [global]
 * (and cdr.conf did not turn CDRs off), spooled at spool_path while the
 * database is away. Call after router_cdr_options. 0 (also when off), or -1
 * (logged; Master.csv goes on). */
int router_cdr_pgsql(router_t *self, const char *conf_path, const char *spool_path);
/* The PostgreSQL backend, or NULL. */
struct cdr_pgsql *router_pgsql(router_t *self);
/* Calls adopted from the store and not ended yet, and their channels. */
size_t router_adopted(router_t *self, size_t *channels);
/* Open cdrdir/calls.journal (journal.h), after router_cdr_options: write a
 * CDR for each call the previous run left live (it was killed), then
 * journal this run's live calls. 0, or -1 without CDRs or on failure. */
int router_open_journal(router_t *self, const char *cdrdir);

td_bus_t *router_bus(router_t *self);
/* This router's identity on the bus (several routers: each its own). */
const char *router_identity(router_t *self);
workers_t *router_workers(router_t *self);
/* The DB() store (the cache of Redis in cluster mode), or NULL. Borrowed. */
struct astdb *router_astdb(router_t *self);
/* peer -> signaling node of its registration (location.h); borrowed. */
struct location *router_locations(router_t *self);
/* The live call with this id, or NULL. Borrowed until it ends. */
call_t *router_call(router_t *self, const char *call_id);
size_t router_call_count(router_t *self);
/* Every call in flight, in no order; fn must not end calls. */
void router_calls_foreach(router_t *self, void (*fn)(void *arg, call_t *call), void *arg);
/* Calls taken since start; seconds since start and since the last reload
 * (-1: never reloaded); the extensions.conf path reloads read. */
unsigned long router_calls_processed(router_t *self);
/* For metrics: how calls ended and CDRs went (borrowed for the router's
 * life), and dialplan reloads done and refused. */
const call_counts_t *router_call_counts(router_t *self);
void router_reload_counts(router_t *self, uint64_t *done, uint64_t *refused);
long router_uptime_s(router_t *self);
long router_reload_age_s(router_t *self);
void router_set_plan_path(router_t *self, const char *path);
const char *router_plan_path(router_t *self);
/* The plan new calls start on. Borrowed until the next reload. */
const dialplan_t *router_dialplan(router_t *self);
/* A `tandemctl` command (cli.c): the reply's text, malloc'd, in *text;
 * returns the CliReply status. */
int router_cli(router_t *self, const char *command, char **text);

#endif
