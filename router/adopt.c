/* adopt - see adopt.h. */
#include "adopt.h"
#include "journal.h"
#include "strmap.h"
#include "td_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define S_HELD_MAX     8        /* messages held per call while the store answers */
#define S_CAUSE_NORMAL 16
#define S_SCAN_RETRY_S 1

/* A message held until the store answers. */
typedef struct {
    char peer[64];
    uint32_t leg, cause;
    adopt_event_t ev;
    const char *what;           /* a literal */
    int reply;
} s_held_t;

typedef struct {
    adopt_t *adopt;
    char *id;
    size_t n;
    s_held_t held[S_HELD_MAX];
} s_fetch_t;

/* An adopted call: what call:<id> said. */
typedef struct {
    char *text;                 /* owns every string below */
    const char *id, *owner, *worker;
    const char *sig[2];         /* signaling node of leg 0, of the callee ("" none) */
    uint32_t leg1;              /* the bridged callee's leg; 0: none */
    const char *f[JOURNAL_FIELDS];
} s_call_t;

struct adopt {
    adopt_env_t env;
    strmap_t *calls;            /* id (the call's own copy) -> s_call_t */
    strmap_t *fetching;         /* id (the fetch's copy) -> s_fetch_t */
    struct event *scan;         /* loads this identity's calls once the store is up */
    size_t held;
    int closed;
};

/* --- adopted calls ----------------------------------------------------------- */

static const char *s_value(size_t n, const char *const *fields, const char *const *values,
                           const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i], name) == 0)
            return values[i] ? values[i] : "";
    return "";
}

static s_call_t *s_call_new(const char *id, size_t n, const char *const *fields,
                            const char *const *values)
{
    enum { EXTRA = 5, N = EXTRA + JOURNAL_FIELDS };
    const char *src[N + 1];
    src[0] = id;
    src[1] = s_value(n, fields, values, CALL_SAVE_OWNER);
    src[2] = s_value(n, fields, values, CALL_SAVE_WORKER);
    src[3] = s_value(n, fields, values, CALL_SAVE_SIG0);
    src[4] = s_value(n, fields, values, CALL_SAVE_SIG1);
    for (int i = 0; i < JOURNAL_FIELDS; i++)
        src[EXTRA + i] = s_value(n, fields, values, journal_field_names[i]);
    size_t len = 0;
    for (int i = 0; i < N; i++)
        len += strlen(src[i]) + 1;
    s_call_t *c = calloc(1, sizeof *c);
    char *text = malloc(len);
    if (!c || !text) {
        free(c);
        free(text);
        return NULL;
    }
    c->text = text;
    const char *dst[N];
    for (int i = 0; i < N; i++) {
        size_t l = strlen(src[i]) + 1;
        memcpy(text, src[i], l);
        dst[i] = text;
        text += l;
    }
    c->id = dst[0];
    c->owner = dst[1];
    c->worker = dst[2];
    c->sig[0] = dst[3];
    c->sig[1] = dst[4];
    for (int i = 0; i < JOURNAL_FIELDS; i++)
        c->f[i] = dst[EXTRA + i];
    c->leg1 = (uint32_t)strtoul(s_value(n, fields, values, CALL_SAVE_LEG1), NULL, 10);
    return c;
}

static void s_call_free(s_call_t *c)
{
    if (c) {
        free(c->text);
        free(c);
    }
}

static void s_hangup(adopt_t *self, const s_call_t *c, const char *sig, uint32_t leg,
                     uint32_t cause)
{
    if (!*sig)
        return;
    Tandem__Hangup m = TANDEM__HANGUP__INIT;
    m.cause = cause;
    td_bus_send_hangup(self->env.bus, sig, c->id, leg, &m);
}

static call_disp_t s_disp(const char *name)
{
    for (int d = 0; d < CALL_DISP_COUNT; d++)
        if (strcmp(call_disp_name((call_disp_t)d), name) == 0)
            return (call_disp_t)d;
    return CALL_DISP_ANSWERED;
}

/* The end: the other leg(s) hung up, the session released, the CDR line
 * written, the key deleted. from: the leg that hung up, or UINT32_MAX when
 * the media ended (both legs go, with cause). */
static void s_end(adopt_t *self, s_call_t *c, uint32_t from, uint32_t cause)
{
    td_log_set_context(c->id);
    if (from != 0)
        s_hangup(self, c, c->sig[0], 0, from == UINT32_MAX ? cause : S_CAUSE_NORMAL);
    if (from != c->leg1 && c->leg1)
        s_hangup(self, c, c->sig[1], c->leg1, from == UINT32_MAX ? cause : S_CAUSE_NORMAL);
    if (*c->worker) {
        Tandem__MediaRelease m = TANDEM__MEDIA_RELEASE__INIT;
        td_bus_send_media_release(self->env.bus, c->worker, c->id, 0, &m);
    }
    cdr_record_t rec;
    journal_record(c->f, &rec);
    gettimeofday(&rec.end, NULL);
    self->env.counts->ended[s_disp(rec.disposition)]++;
    if (self->env.cdr) {
        if (cdr_write(self->env.cdr, &rec) == 0)
            self->env.counts->cdrs_written++;
        else
            self->env.counts->cdr_failures++;
    }
    char key[CALL_SAVE_KEY_MAX];
    snprintf(key, sizeof key, "call:%s", c->id);
    td_store_del(self->env.store, key);
    char why[32];
    if (from == UINT32_MAX)
        snprintf(why, sizeof why, "both legs hung up");
    else
        snprintf(why, sizeof why, "leg %u hung up", from);
    td_log(LOG_NOTICE, "Adopted call '%s'%s%s ended (%s, cause %u): CDR written (%s)",
           rec.channel, *rec.dstchannel ? " with " : "", rec.dstchannel, why, cause,
           rec.disposition);
    td_log_set_context(NULL);
    strmap_remove(self->calls, c->id);
    s_call_free(c);
}

/* A message for an adopted call. */
static void s_handle(adopt_t *self, s_call_t *c, const td_bus_hdr_t *hdr, adopt_event_t ev,
                     uint32_t cause)
{
    switch (ev) {
    case ADOPT_HANGUP:
        if (hdr->leg != 0 && hdr->leg != c->leg1) {
            td_log(LOG_DEBUG, "Hangup of leg %u, not one of the adopted call's: ignored", hdr->leg);
            return;
        }
        s_end(self, c, hdr->leg, cause ? cause : S_CAUSE_NORMAL);
        return;
    case ADOPT_MEDIA_END:
        if (strcmp(hdr->peer, c->worker) != 0) {
            td_log(LOG_DEBUG, "Media end from %s, which does not serve the adopted call: "
                   "ignored", hdr->peer);
            return;
        }
        s_end(self, c, UINT32_MAX, cause ? cause : 41);
        return;
    case ADOPT_REINVITE: {
        /* Nobody here can move the media: the session stays as it is. */
        td_log(LOG_NOTICE, "re-INVITE on leg %u of an adopted call: 488, the session stays",
               hdr->leg);
        Tandem__ReinviteAnswer a = TANDEM__REINVITE_ANSWER__INIT;
        a.status = 488;
        a.sdp = "";
        td_bus_send_reinvite_answer(self->env.bus, hdr->peer, c->id, hdr->leg, &a);
        return;
    }
    case ADOPT_TRANSFER: {
        td_log(LOG_NOTICE, "Transfer from leg %u of an adopted call: refused (503)", hdr->leg);
        Tandem__TransferResult m = TANDEM__TRANSFER_RESULT__INIT;
        m.status = 503;
        m.exten = "";
        m.context = "";
        td_bus_send_transfer_result(self->env.bus, hdr->peer, c->id, hdr->leg, &m);
        return;
    }
    case ADOPT_OTHER:
        return;
    }
}

/* --- asking the store ---------------------------------------------------------- */

static void s_fetch_free(s_fetch_t *f)
{
    if (f) {
        f->adopt->held -= f->n;
        free(f->id);
        free(f);
    }
}

static void s_replay(adopt_t *self, const char *id, const s_held_t *h)
{
    td_bus_hdr_t hdr = { h->peer, id, h->leg };
    s_call_t *c = strmap_get(self->calls, id);
    td_log_set_context(id);
    if (c)
        s_handle(self, c, &hdr, h->ev, h->cause);
    else if (self->env.live(self->env.arg, id))
        td_log(LOG_DEBUG, "%s from %s: the call started here meanwhile; dropped", h->what,
               h->peer);
    else
        self->env.unknown(self->env.arg, &hdr, h->what, h->reply);
    td_log_set_context(NULL);
}

static void s_adopt(adopt_t *self, const char *id, size_t n, const char *const *fields,
                    const char *const *values, int scanned)
{
    if (strmap_get(self->calls, id) || self->env.live(self->env.arg, id))
        return;
    s_call_t *c = s_call_new(id, n, fields, values);
    if (!c || strmap_put(self->calls, c->id, c) < 0) {
        td_log(LOG_ERR, "adopt: out of memory: call %s not adopted", id);
        s_call_free(c);
        return;
    }
    td_log_set_context(id);
    if (strcmp(c->owner, self->env.identity) != 0) {
        const char *f[] = { CALL_SAVE_OWNER };
        const char *v[] = { self->env.identity };
        char key[CALL_SAVE_KEY_MAX];
        snprintf(key, sizeof key, "call:%s", id);
        td_store_hupdate(self->env.store, key, 1, f, v);
    }
    td_log(scanned ? LOG_INFO : LOG_NOTICE, "Adopted call '%s' -> '%s' (owner was %s; media %s): "
           "it ends when a leg hangs up", c->f[9], c->f[10], c->owner, *c->worker ? c->worker
           : "none");
    td_log_set_context(NULL);
}

static void s_on_fetched(void *arg, int ok, const char *key, size_t n, const char *const *fields,
                         const char *const *values)
{
    (void)key;
    s_fetch_t *f = arg;
    adopt_t *self = f->adopt;
    strmap_remove(self->fetching, f->id);
    if (self->closed) {
        s_fetch_free(f);
        return;
    }
    if (!ok)
        td_log_limited(LOG_WARNING, 1, "adopt: the cluster store is away: messages for calls "
                       "this router does not know are answered as unknown");
    else if (n > 0)
        s_adopt(self, f->id, n, fields, values, 0);
    for (size_t i = 0; i < f->n; i++)
        s_replay(self, f->id, &f->held[i]);
    s_fetch_free(f);
}

void adopt_on_message(adopt_t *self, const td_bus_hdr_t *hdr, adopt_event_t ev, uint32_t cause,
                      const char *what, int reply)
{
    s_call_t *c = strmap_get(self->calls, hdr->call_id);
    if (c) {
        s_handle(self, c, hdr, ev, cause);
        return;
    }
    s_fetch_t *f = strmap_get(self->fetching, hdr->call_id);
    int fresh = !f;
    if (!f) {
        char key[CALL_SAVE_KEY_MAX];
        int kl = snprintf(key, sizeof key, "call:%s", hdr->call_id);
        f = calloc(1, sizeof *f);
        if (f)
            f->id = strdup(hdr->call_id);
        if (kl <= 0 || kl >= (int)sizeof key || !f || !f->id
            || strmap_put(self->fetching, f->id, f) < 0) {
            if (f)
                free(f->id);
            free(f);
            self->env.unknown(self->env.arg, hdr, what, reply);
            return;
        }
        f->adopt = self;
    }
    if (f->n == S_HELD_MAX) {
        td_log(LOG_WARNING, "%s from %s while the store is asked about the call: too many "
               "held, dropped", what, hdr->peer);
        return;
    }
    s_held_t *h = &f->held[f->n++];
    self->held++;
    snprintf(h->peer, sizeof h->peer, "%s", hdr->peer);
    h->leg = hdr->leg;
    h->cause = cause;
    h->ev = ev;
    h->what = what;
    h->reply = reply;
    if (fresh) {
        td_log(LOG_DEBUG, "%s from %s for a call not run here: asking the store", what,
               hdr->peer);
        char key[CALL_SAVE_KEY_MAX];
        snprintf(key, sizeof key, "call:%s", hdr->call_id);
        /* It may answer at once (store away): f is gone then. */
        if (td_store_hgetall(self->env.store, key, s_on_fetched, f) < 0
            && strmap_get(self->fetching, hdr->call_id) == f)
            s_on_fetched(f, 0, key, 0, NULL, NULL);
    }
}

/* --- this identity's calls, at start ------------------------------------------ */

static void s_on_scanned(void *arg, int ok, const char *key, size_t n, const char *const *fields,
                         const char *const *values)
{
    adopt_t *self = arg;
    if (self->closed || !ok || n == 0 || strncmp(key, "call:", 5) != 0)
        return;
    if (strcmp(s_value(n, fields, values, CALL_SAVE_OWNER), self->env.identity) != 0)
        return;                 /* another router's: it, or whoever adopts it, ends it */
    s_adopt(self, key + 5, n, fields, values, 1);
}

static void s_on_scan_done(void *arg, int ok)
{
    adopt_t *self = arg;
    if (self->closed)
        return;
    if (!ok) {
        struct timeval tv = { S_SCAN_RETRY_S, 0 };
        event_add(self->scan, &tv);
        return;
    }
    if (strmap_size(self->calls))
        td_log(LOG_NOTICE, "adopt: %zu call(s) answered by this router's previous run are up: "
               "each ends when a leg hangs up", strmap_size(self->calls));
}

static void s_on_scan(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    adopt_t *self = arg;
    if (!td_store_up(self->env.store)
        || td_store_scan(self->env.store, "call:*", s_on_scanned, NULL, s_on_scan_done,
                         self) < 0) {
        struct timeval tv = { S_SCAN_RETRY_S, 0 };
        event_add(self->scan, &tv);
    }
}

/* --- lifecycle ------------------------------------------------------------------ */

adopt_t *adopt_new(const adopt_env_t *env)
{
    adopt_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->env = *env;
    self->calls = strmap_new(64);
    self->fetching = strmap_new(64);
    self->scan = env->base ? evtimer_new(env->base, s_on_scan, self) : NULL;
    if (!self->calls || !self->fetching || (env->base && !self->scan)) {
        adopt_destroy(&self);
        return NULL;
    }
    if (self->scan) {
        struct timeval now = { 0, 0 };
        event_add(self->scan, &now);
    }
    return self;
}

void adopt_close(adopt_t *self)
{
    if (self) {
        self->closed = 1;
        if (self->scan)
            event_del(self->scan);
    }
}

static void s_free_call(void *arg, const char *key, void *value)
{
    (void)arg;
    (void)key;
    s_call_free(value);
}

static void s_free_fetch(void *arg, const char *key, void *value)
{
    (void)arg;
    (void)key;
    s_fetch_free(value);
}

void adopt_destroy(adopt_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    adopt_t *self = *self_p;
    if (self->calls) {
        strmap_foreach(self->calls, s_free_call, NULL);
        strmap_destroy(&self->calls);
    }
    if (self->fetching) {
        strmap_foreach(self->fetching, s_free_fetch, NULL);
        strmap_destroy(&self->fetching);
    }
    if (self->scan)
        event_free(self->scan);
    free(self);
    *self_p = NULL;
}

typedef struct {
    s_call_t **list;
    size_t n, cap;
    time_t before;
} s_old_t;

static void s_old_one(void *arg, const char *key, void *value)
{
    (void)key;
    s_old_t *o = arg;
    s_call_t *c = value;
    if (strtoll(c->f[1], NULL, 10) >= (long long)o->before)
        return;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        s_call_t **l = realloc(o->list, cap * sizeof *l);
        if (!l)
            return;
        o->list = l;
        o->cap = cap;
    }
    o->list[o->n++] = c;
}

size_t adopt_expire(adopt_t *self, uint32_t seconds)
{
    if (!self || !seconds)
        return 0;
    s_old_t o = { NULL, 0, 0, time(NULL) - (time_t)seconds };
    strmap_foreach(self->calls, s_old_one, &o);   /* collected: s_end changes the map */
    for (size_t i = 0; i < o.n; i++) {
        td_log_set_context(o.list[i]->id);
        td_log(LOG_NOTICE, "Adopted call up for more than [router] max_call_duration (%u s): "
               "hanging up", seconds);
        td_log_set_context(NULL);
        s_end(self, o.list[i], UINT32_MAX, S_CAUSE_NORMAL);
    }
    free(o.list);
    return o.n;
}

static void s_store_one(void *arg, const char *key, void *value)
{
    (void)key;
    adopt_t *self = arg;
    const s_call_t *c = value;
    enum { EXTRA = 5, N = EXTRA + JOURNAL_FIELDS };
    const char *names[N], *values[N];
    char leg1[16] = "", k[CALL_SAVE_KEY_MAX];
    if (c->leg1)
        snprintf(leg1, sizeof leg1, "%u", c->leg1);
    names[0] = CALL_SAVE_OWNER;  values[0] = self->env.identity;
    names[1] = CALL_SAVE_SIG0;   values[1] = c->sig[0];
    names[2] = CALL_SAVE_SIG1;   values[2] = c->sig[1];
    names[3] = CALL_SAVE_LEG1;   values[3] = leg1;
    names[4] = CALL_SAVE_WORKER; values[4] = c->worker;
    for (int i = 0; i < JOURNAL_FIELDS; i++) {
        names[EXTRA + i] = journal_field_names[i];
        values[EXTRA + i] = c->f[i];
    }
    int kl = snprintf(k, sizeof k, "call:%s", c->id);
    if (kl > 0 && kl < (int)sizeof k)
        td_store_hset(self->env.store, k, 12 * 3600, N, names, values);
}

size_t adopt_store_all(adopt_t *self)
{
    if (!self || !self->env.store)
        return 0;
    strmap_foreach(self->calls, s_store_one, self);
    return strmap_size(self->calls);
}

typedef struct {
    size_t calls, channels;
} s_count_t;

static void s_count_one(void *arg, const char *key, void *value)
{
    (void)key;
    s_count_t *n = arg;
    const s_call_t *c = value;
    n->calls++;
    n->channels += c->leg1 ? 2 : 1;
}

size_t adopt_count(const adopt_t *self, size_t *channels)
{
    s_count_t n = { 0, 0 };
    if (self)
        strmap_foreach(self->calls, s_count_one, &n);
    if (channels)
        *channels = n.channels;
    return n.calls;
}

size_t adopt_waiting(const adopt_t *self)
{
    return self ? self->held : 0;
}
