/* cli - the commands tandemctl sends the router (CliRequest), in Asterisk's
 * words so that `asterisk -rx` habits carry over; see router.h. Not a hot
 * path: the reply is built in a malloc'd buffer. */
#define TD_LOG_SUBSYS TD_LOG_CLI   /* td_log() here: [logging] cli= */
#include "router.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astdb.h"
#include "call.h"
#include "cdr_pgsql.h"
#include "td_bus.h"
#include "td_log.h"
#include "td_strbuf.h"
#include "workers.h"

enum { CLI_OK = 0, CLI_USAGE = 1, CLI_FAILED = 2 };

typedef td_strbuf_t s_out_t;      /* the reply's text */
#define s_printf td_strbuf_printf

/* "1 week, 2 days, 3 hours, 4 minutes, 5 seconds", as Asterisk's
 * ast_cli_print_timestr_fromseconds. */
static void s_duration(s_out_t *o, long secs)
{
    static const struct { long len; const char *name; } units[] = {
        { 365L * 86400, "year" }, { 7L * 86400, "week" }, { 86400, "day" },
        { 3600, "hour" }, { 60, "minute" },
    };
    int any = 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        long n = secs / units[i].len;
        if (!n)
            continue;
        secs -= n * units[i].len;
        s_printf(o, "%s%ld %s%s", any ? ", " : "", n, units[i].name, n == 1 ? "" : "s");
        any = 1;
    }
    if (secs || !any)
        s_printf(o, "%s%ld second%s", any ? ", " : "", secs, secs == 1 ? "" : "s");
}

/* --- core show channels ------------------------------------------------------------ */

typedef struct {
    s_out_t *o;
    int verbose;
    int channels, calls;
} s_chan_t;

static void s_chan_one(void *arg, call_t *call)
{
    s_chan_t *c = arg;
    if (call_state(call) == CALL_DONE)
        return;
    call_desc_t d;
    call_describe(call, &d);
    char loc[160], app[320];
    snprintf(loc, sizeof loc, "%s@%s:%d", d.exten, d.context, d.priority);
    snprintf(app, sizeof app, "%s(%s)", *d.app ? d.app : "(None)", d.data);
    const char *state = d.answered ? "Up" : "Ring";
    if (c->verbose) {
        char dur[16], prio[8];
        snprintf(dur, sizeof dur, "%02u:%02u:%02u", d.seconds / 3600, d.seconds / 60 % 60,
                 d.seconds % 60);
        snprintf(prio, sizeof prio, "%d", d.priority);
        s_printf(c->o, "%-20.20s %-20.20s %-20.20s %-4.4s %-7.7s %-12.12s %-25.25s %-15.15s "
                 "%8.8s %-12.12s\n", d.channel, d.context, d.exten, prio, state,
                 *d.app ? d.app : "(None)", d.data, d.caller_num, dur, d.worker);
        if (*d.callee)
            s_printf(c->o, "%-20.20s %-20.20s %-20.20s %-4.4s %-7.7s %-12.12s %-25.25s %-15.15s "
                     "%8.8s %-12.12s\n", d.callee, "(None)", "s", "1", "Up", "AppDial",
                     "(Outgoing Line)", "", dur, d.worker);
        for (size_t i = 0; i < d.ndialing; i++)
            s_printf(c->o, "%-20.20s %-20.20s %-20.20s %-4.4s %-7.7s %-12.12s %-25.25s %-15.15s "
                     "%8.8s %-12.12s\n", d.dialing[i], "(None)", "s", "1", d.dialing_state[i],
                     "AppDial", "(Outgoing Line)", "", dur, d.worker);
    } else {
        s_printf(c->o, "%-20.20s %-20.20s %-7.7s %-30.30s\n", d.channel, loc, state, app);
        if (*d.callee)
            s_printf(c->o, "%-20.20s %-20.20s %-7.7s %-30.30s\n", d.callee, "(None)", "Up",
                     "AppDial((Outgoing Line))");
        /* Dial's outgoing channels while they ring, as Asterisk lists them */
        for (size_t i = 0; i < d.ndialing; i++)
            s_printf(c->o, "%-20.20s %-20.20s %-7.7s %-30.30s\n", d.dialing[i], "(None)",
                     d.dialing_state[i], "AppDial((Outgoing Line))");
    }
    c->channels += 1 + (*d.callee != '\0') + d.ndialing;
    c->calls++;
}

static int s_show_channels(router_t *self, s_out_t *o, int verbose)
{
    s_chan_t c = { o, verbose, 0, 0 };
    if (verbose)
        s_printf(o, "%-20.20s %-20.20s %-20.20s %-4.4s %-7.7s %-12.12s %-25.25s %-15.15s %8.8s "
                 "%-12.12s\n", "Channel", "Context", "Extension", "Prio", "State", "Application",
                 "Data", "CallerID", "Duration", "MediaWorker");
    else
        s_printf(o, "%-20.20s %-20.20s %-7.7s %-30.30s\n", "Channel", "Location", "State",
                 "Application(Data)");
    router_calls_foreach(self, s_chan_one, &c);
    unsigned long done = router_calls_processed(self);
    s_printf(o, "%d active channel%s\n%d active call%s\n%lu call%s processed\n", c.channels,
             c.channels == 1 ? "" : "s", c.calls, c.calls == 1 ? "" : "s", done,
             done == 1 ? "" : "s");
    return CLI_OK;
}

/* --- channel request hangup -------------------------------------------------------- */

typedef struct {
    const char *channel;        /* NULL: all */
    call_t **list;
    size_t n, cap;
} s_find_t;

static void s_find_one(void *arg, call_t *call)
{
    s_find_t *f = arg;
    if (call_state(call) == CALL_DONE || (f->channel && !call_has_channel(call, f->channel)))
        return;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        call_t **l = realloc(f->list, cap * sizeof *l);
        if (!l)
            return;
        f->list = l;
        f->cap = cap;
    }
    f->list[f->n++] = call;
}

static int s_hangup(router_t *self, s_out_t *o, const char *what)
{
    s_find_t f = { strcmp(what, "all") == 0 ? NULL : what, NULL, 0, 0 };
    router_calls_foreach(self, s_find_one, &f);
    if (!f.n && f.channel) {
        s_printf(o, "%s is not a known channel\n", what);
        return CLI_FAILED;
    }
    for (size_t i = 0; i < f.n; i++) {
        call_desc_t d;
        call_describe(f.list[i], &d);
        s_printf(o, "Requested Hangup on channel '%s'\n", f.channel ? f.channel : d.channel);
        td_log_set_context(call_id(f.list[i]));
        td_log(LOG_NOTICE, "Hangup of '%s' requested from the CLI", d.channel);
        call_shutdown(f.list[i], 16);
        td_log_set_context(NULL);
    }
    free(f.list);
    return CLI_OK;
}

/* --- the cluster ------------------------------------------------------------------- */

/* Calls: what the router gave the worker; Sessions: what the worker itself
 * holds, from its latest Hello (they differ while a call is set up or
 * moved, and a session the router forgot shows here). */
typedef struct {
    s_out_t *o;
    td_bus_t *bus;
    const char *identity;       /* s_load_one: the worker looked for */
    long load;                  /* its Hello's load, -1: not heard */
} s_workers_t;

static void s_load_one(void *arg, const char *identity, const char *role, int alive,
                       uint32_t capacity, uint32_t load, uint64_t silent_ms)
{
    (void)role; (void)alive; (void)capacity; (void)silent_ms;
    s_workers_t *ws = arg;
    if (strcmp(identity, ws->identity) == 0)
        ws->load = load;
}

static void s_worker_one(void *arg, const worker_ref_t *w)
{
    s_workers_t *ws = arg;
    const char *state = !worker_ref_alive(w) ? "down" : worker_ref_draining(w) ? "draining" : "up";
    char cap[16], sessions[24] = "-";
    snprintf(cap, sizeof cap, "%u", worker_ref_capacity(w));
    ws->identity = worker_ref_identity(w);
    ws->load = -1;
    td_bus_peers_foreach(ws->bus, s_load_one, ws);
    if (ws->load >= 0)
        snprintf(sessions, sizeof sessions, "%ld", ws->load);
    s_printf(ws->o, "%-24.24s %-9s %6u %9s %8s\n", worker_ref_identity(w), state,
             worker_ref_assigned(w), worker_ref_capacity(w) ? cap : "-", sessions);
}

static void s_process_one(void *arg, const char *identity, const char *role, int alive,
                          uint32_t capacity, uint32_t load, uint64_t silent_ms)
{
    s_out_t *o = arg;
    if (strcmp(role, "ctl") == 0)
        return;
    s_printf(o, "%-24.24s %-10s %-5s %6u %9u %8llu ms\n", identity, role, alive ? "up" : "down",
             load, capacity, (unsigned long long)silent_ms);
}

static int s_drain(router_t *self, s_out_t *o, const char *id)
{
    worker_ref_t *w = workers_find(router_workers(self), id);
    if (!w || !worker_ref_alive(w)) {
        s_printf(o, "No live media worker '%s'\n", id);
        return CLI_FAILED;
    }
    Tandem__MediaDrain m = TANDEM__MEDIA_DRAIN__INIT;
    if (td_bus_send_media_drain(router_bus(self), id, "", 0, &m) < 0) {
        s_printf(o, "Cannot reach media worker '%s'\n", id);
        return CLI_FAILED;
    }
    s_printf(o, "Media worker %s drains: it takes no new calls, its %u call(s) move to other "
             "workers, then it exits\n", id, worker_ref_assigned(w));
    return CLI_OK;
}

/* --- dialplan show ----------------------------------------------------------------- */

/* `dialplan show [[exten@]context]`, split as Asterisk's handle_show_dialplan
 * does: at the first '@', an empty part meaning "any". */
static int s_dialplan_show(router_t *self, s_out_t *o, const char *arg)
{
    char spec[256];
    const char *context = NULL, *exten = NULL;
    if (arg) {
        snprintf(spec, sizeof spec, "%s", arg);
        char *at = strchr(spec, '@');
        if (at) {
            *at = '\0';
            exten = *spec ? spec : NULL;
            context = at + 1;
        } else {
            context = spec;
        }
        if (context && !*context)
            context = NULL;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        s_printf(o, "Out of memory\n");
        return CLI_FAILED;
    }
    int rc = dialplan_show(router_dialplan(self), context, exten, f);
    fclose(f);
    s_printf(o, "%s", text ? text : "");
    free(text);
    return rc < 0 ? CLI_FAILED : CLI_OK;
}

/* --- database show|get|put|del (main/db.c's commands) ------------------------------ */

typedef struct {
    const char *prefix;           /* "family[/keytree]", or "" for all */
    size_t plen;
    char **keys;                  /* "family/key\0value" copies, for sorting */
    size_t n, cap;
} s_dbshow_t;

static void s_db_one(void *arg, const char *key, const char *value)
{
    s_dbshow_t *d = arg;
    /* as db.c's gettree: the prefix is whole path components */
    if (d->plen && (strncmp(key, d->prefix, d->plen) || (key[d->plen] && key[d->plen] != '/')))
        return;
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 64;
        char **k = realloc(d->keys, cap * sizeof *k);
        if (!k)
            return;
        d->keys = k;
        d->cap = cap;
    }
    size_t kl = strlen(key), vl = strlen(value);
    char *c = malloc(kl + vl + 2);
    if (!c)
        return;
    memcpy(c, key, kl + 1);
    memcpy(c + kl + 1, value, vl + 1);
    d->keys[d->n++] = c;
}

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int s_database(router_t *self, s_out_t *o, char **w, int n)
{
    astdb_t *db = router_astdb(self);
#define IS(i, word) (n > (i) && strcasecmp(w[i], word) == 0)
    if (IS(1, "show") && n <= 4) {
        char prefix[512] = "";
        if (n == 4)
            snprintf(prefix, sizeof prefix, "%s/%s", w[2], w[3]);
        else if (n == 3)
            snprintf(prefix, sizeof prefix, "%s", w[2]);
        s_dbshow_t d = { prefix, strlen(prefix), NULL, 0, 0 };
        astdb_foreach(db, s_db_one, &d);
        if (d.n)
            qsort(d.keys, d.n, sizeof *d.keys, s_cmp_str);
        for (size_t i = 0; i < d.n; i++) {
            char k[600];
            snprintf(k, sizeof k, "/%s", d.keys[i]);
            s_printf(o, "%-50s: %-25s\n", k, d.keys[i] + strlen(d.keys[i]) + 1);
            free(d.keys[i]);
        }
        free(d.keys);
        s_printf(o, "%zu results found.\n", d.n);
        return CLI_OK;
    }
    if (IS(1, "get") && n == 4) {
        const char *v = astdb_get(db, w[2], w[3]);
        if (v)
            s_printf(o, "Value: %s\n", v);
        else
            s_printf(o, "Database entry not found.\n");
        return CLI_OK;
    }
    if (IS(1, "put") && n == 5) {
        s_printf(o, astdb_put(db, w[2], w[3], w[4]) == 0 ? "Updated database successfully\n"
                                                         : "Failed to update entry\n");
        return CLI_OK;
    }
    if (IS(1, "del") && n == 4) {
        s_printf(o, astdb_del(db, w[2], w[3]) == 0 ? "Database entry removed.\n"
                                                   : "Database entry could not be removed.\n");
        return CLI_OK;
    }
#undef IS
    s_printf(o, "Usage: database show [family [keytree]] | database get <family> <key> |\n"
                "       database put <family> <key> <value> | database del <family> <key>\n");
    return CLI_USAGE;
}

/* --- dispatch -------------------------------------------------------------------- */

static const char *const s_help =
    "core show channels [verbose]      calls in progress (channel, place, state, application)\n"
    "core show uptime                  how long the router has run, and its last reload\n"
    "core show processes               signaling, media and router processes on the bus\n"
    "channel request hangup <chan|all> hang up a call by channel name\n"
    "dialplan show [[exten@]context]   the dialplan, or one context, or what exten dials there\n"
    "dialplan reload                   re-read extensions.conf\n"
    "sip show channelstats             RTP of each call's phones: packets, loss, jitter\n"
    "media show workers                media workers: state, calls, capacity, sessions\n"
    "media drain <worker>              move a worker's calls elsewhere, then it exits\n"
    "sip show peers|users|registry     SIP peers, users, outbound registrations (signaling)\n"
    "sip show peer <name>              one SIP peer's settings and registration (signaling)\n"
    "sip reload                        re-read sip.conf in every signaling process\n"
    "cdr show pgsql status             the PostgreSQL CDR backend: connection, backlog\n"
    "database show [family [keytree]]  DB() values (get/put/del <family> <key> [value])\n"
    "help                              this list\n";

int router_cli(router_t *self, const char *command, char **text)
{
    s_out_t o = { NULL, 0, 0 };
    char line[512], *w[8];
    int n = 0, rc = CLI_OK;
    snprintf(line, sizeof line, "%s", command);
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t && n < 8; t = strtok_r(NULL, " \t\r\n", &save))
        w[n++] = t;
#define IS(i, word) (n > (i) && strcasecmp(w[i], word) == 0)
    if (n == 0) {
        ;
    } else if (IS(0, "help") || IS(0, "?")) {
        s_printf(&o, "%s", s_help);
    } else if (IS(0, "core") && IS(1, "show") && IS(2, "channels") && n <= 4) {
        rc = n == 4 && !IS(3, "verbose") ? CLI_USAGE : s_show_channels(self, &o, n == 4);
    } else if (IS(0, "core") && IS(1, "show") && IS(2, "uptime") && n == 3) {
        s_printf(&o, "System uptime: ");
        s_duration(&o, router_uptime_s(self));
        s_printf(&o, "\n");
        long r = router_reload_age_s(self);
        if (r >= 0) {
            s_printf(&o, "Last reload: ");
            s_duration(&o, r);
            s_printf(&o, "\n");
        }
    } else if (IS(0, "core") && IS(1, "show") && IS(2, "processes") && n == 3) {
        s_printf(&o, "%-24.24s %-10s %-5s %6s %9s %11s\n", "Process", "Role", "State", "Load",
                 "Capacity", "Last heard");
        char me[96];
        snprintf(me, sizeof me, "%s (this one)", router_identity(self));
        s_printf(&o, "%-24.24s %-10s %-5s %6zu %9s %8d ms\n", me, "router", "up",
                 router_call_count(self), "-", 0);
        td_bus_peers_foreach(router_bus(self), s_process_one, &o);
    } else if (IS(0, "channel") && IS(1, "request") && IS(2, "hangup") && n == 4) {
        rc = s_hangup(self, &o, w[3]);
    } else if (IS(0, "dialplan") && IS(1, "reload") && n == 2) {
        if (!*router_plan_path(self) || router_reload(self, router_plan_path(self)) < 0) {
            s_printf(&o, "Dialplan reload failed: the plan in force stays (see the log)\n");
            rc = CLI_FAILED;
        } else {
            s_printf(&o, "Dialplan reloaded.\n");
        }
    } else if (IS(0, "dialplan") && IS(1, "show")) {
        if (n > 3) {
            s_printf(&o, "Usage: dialplan show [[exten@]context]\n       Show dialplan\n");
            rc = CLI_USAGE;
        } else {
            rc = s_dialplan_show(self, &o, n == 3 ? w[2] : NULL);
        }
    } else if (IS(0, "media") && IS(1, "show") && IS(2, "workers") && n == 3) {
        s_printf(&o, "%-24.24s %-9s %6s %9s %8s\n", "Worker", "State", "Calls", "Capacity",
                 "Sessions");
        s_workers_t ws = { &o, router_bus(self), NULL, -1 };
        workers_foreach(router_workers(self), s_worker_one, &ws);
    } else if (IS(0, "media") && IS(1, "drain") && n == 3) {
        rc = s_drain(self, &o, w[2]);
    } else if (IS(0, "database") && n >= 2) {
        rc = s_database(self, &o, w, n);
    } else if (IS(0, "cdr") && IS(1, "show") && IS(2, "pgsql") && IS(3, "status") && n == 4) {
        char buf[2048];
        if (router_pgsql(self))
            cdr_pgsql_status(router_pgsql(self), buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "cdr_pgsql is not loaded (no cdr_pgsql.conf [global])\n");
        s_printf(&o, "%s", buf);
    } else {
        s_printf(&o, "No such command '%s' (type 'help' for the commands)\n", command);
        rc = CLI_USAGE;
    }
#undef IS
    if (!o.buf)
        s_printf(&o, "%s", "");
    *text = o.buf;
    return rc;
}
