/* sip_state - see sip_state.h. */
#define TD_LOG_SUBSYS TD_LOG_SIP   /* td_log() here: [logging] sip= */
#include "sip_state.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "td_log.h"

/* One loaded hash: the strings follow the struct in the same allocation. */
typedef struct s_rec {
    struct s_rec *next;
    const char *key;
    size_t n;
    const char **fields, **values;
} s_rec_t;

struct sip_state {
    td_store_t *store;
    char node[64];
    s_rec_t *head, **tail;
    size_t loaded, skipped;
    int up;                        /* the store has come up once */
    int scans;                     /* scans still running */
    int failed;                    /* a scan answered ok = 0 */
};

sip_state_t *sip_state_new(struct event_base *base, const td_store_conf_t *conf,
                           const char *identity)
{
    sip_state_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->node, sizeof self->node, "%s", identity ? identity : "");
    self->tail = &self->head;
    self->store = td_store_new(base, conf, self->node);
    if (!self->store) {
        free(self);
        return NULL;
    }
    return self;
}

void sip_state_destroy(sip_state_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sip_state_t *self = *self_p;
    sip_state_forget(self);
    td_store_destroy(&self->store);
    free(self);
    *self_p = NULL;
}

td_store_t *sip_state_store(sip_state_t *self)
{
    return self ? self->store : NULL;
}

const char *sip_state_node(const sip_state_t *self)
{
    return self ? self->node : "";
}

const char *sip_state_field(size_t n, const char *const *fields, const char *const *values,
                            const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (fields[i] && strcmp(fields[i], name) == 0)
            return values[i] ? values[i] : "";
    return NULL;
}

int sip_state_addr(const char *s, struct sockaddr_in *out)
{
    char ip[INET_ADDRSTRLEN];
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon || (size_t)(colon - s) >= sizeof ip)
        return -1;
    memcpy(ip, s, (size_t)(colon - s));
    ip[colon - s] = '\0';
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535 || inet_pton(AF_INET, ip, &out->sin_addr) != 1)
        return -1;
    out->sin_port = htons((uint16_t)port);
    return 0;
}

/* ---- loading ------------------------------------------------------------------ */

static void s_on_up(void *arg)
{
    sip_state_t *self = arg;
    self->up = 1;                  /* later comebacks need nothing: writes were kept */
}

static void s_on_hash(void *arg, int ok, const char *key, size_t n, const char *const *fields,
                      const char *const *values)
{
    sip_state_t *self = arg;
    if (!ok || !key || !n)
        return;
    const char *node = sip_state_field(n, fields, values, "node");
    if (!node || strcmp(node, self->node) != 0) {
        self->skipped++;           /* another node's */
        return;
    }
    size_t size = sizeof(s_rec_t) + 2 * n * sizeof(char *) + strlen(key) + 1;
    for (size_t i = 0; i < n; i++)
        size += strlen(fields[i] ? fields[i] : "") + strlen(values[i] ? values[i] : "") + 2;
    s_rec_t *r = malloc(size);
    if (!r) {
        td_log(LOG_ERR, "out of memory loading %s", key);
        return;
    }
    r->next = NULL;
    r->n = n;
    r->fields = (const char **)(r + 1);
    r->values = r->fields + n;
    char *p = (char *)(r->values + n);
    size_t len = strlen(key) + 1;
    memcpy(p, key, len);
    r->key = p;
    p += len;
    for (size_t i = 0; i < n; i++) {
        const char *f = fields[i] ? fields[i] : "", *v = values[i] ? values[i] : "";
        len = strlen(f) + 1;
        memcpy(p, f, len);
        r->fields[i] = p;
        p += len;
        len = strlen(v) + 1;
        memcpy(p, v, len);
        r->values[i] = p;
        p += len;
    }
    *self->tail = r;
    self->tail = &r->next;
    self->loaded++;
}

static void s_on_done(void *arg, int ok)
{
    sip_state_t *self = arg;
    if (!ok)
        self->failed = 1;
    self->scans--;
}

static void s_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;                     /* only wakes the loop up */
}

int sip_state_load(sip_state_t *self, struct event_base *base, int timeout_ms)
{
    if (!self)
        return -1;
    struct timeval start, now;
    evutil_gettimeofday(&start, NULL);
    /* A timer that fires every 50 ms, so the nested loop never sleeps past
     * the deadline whatever the store does. */
    struct event *tick = event_new(base, -1, EV_PERSIST, s_on_deadline, NULL);
    struct timeval every = { 0, 50000 };
    if (!tick || event_add(tick, &every) != 0) {
        if (tick)
            event_free(tick);
        return -1;
    }
    td_store_on_up(self->store, s_on_up, self);
    int started = 0, rc = -1;
    for (;;) {
        if (self->up && !started) {
            started = 1;
            self->scans = 2;
            if (td_store_scan(self->store, "reg:*", s_on_hash, NULL, s_on_done, self) != 0)
                self->scans--, self->failed = 1;
            if (td_store_scan(self->store, "dlg:*", s_on_hash, NULL, s_on_done, self) != 0)
                self->scans--, self->failed = 1;
        }
        if (started && self->scans <= 0) {
            rc = self->failed ? -1 : 0;
            break;
        }
        evutil_gettimeofday(&now, NULL);
        long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_usec - start.tv_usec) / 1000;
        if (ms >= timeout_ms)
            break;
        event_base_loop(base, EVLOOP_ONCE);
    }
    event_free(tick);
    if (rc == 0)
        td_log(LOG_NOTICE, "cluster store: %zu registration(s) and dialog(s) of %s to restore "
               "(%zu of other nodes left alone)", self->loaded, self->node, self->skipped);
    else
        td_log(LOG_WARNING, "cluster store: %s within %d ms: starting with %zu registration(s) "
               "and dialog(s) restored", !self->up ? "not reachable" : "not read whole",
               timeout_ms, self->loaded);
    return rc;
}

size_t sip_state_each(sip_state_t *self, const char *prefix, sip_state_each_fn *fn, void *arg)
{
    size_t n = 0, plen = prefix ? strlen(prefix) : 0;
    for (s_rec_t *r = self ? self->head : NULL; r; r = r->next) {
        if (plen && strncmp(r->key, prefix, plen) != 0)
            continue;
        fn(arg, r->key, r->n, r->fields, r->values);
        n++;
    }
    return n;
}

void sip_state_forget(sip_state_t *self)
{
    if (!self)
        return;
    while (self->head) {
        s_rec_t *r = self->head;
        self->head = r->next;
        free(r);
    }
    self->tail = &self->head;
}

/* ---- writing ------------------------------------------------------------------ */

void sip_state_hash_init(sip_state_hash_t *h)
{
    h->n = 0;
    h->used = 0;
    h->overflow = 0;
}

static int s_add(sip_state_hash_t *h, const char *name, const char *value)
{
    size_t len = strlen(value ? value : "") + 1;
    if (h->n == SIP_STATE_MAX_FIELDS || h->used + len > sizeof h->space)
        return -1;
    char *p = h->space + h->used;
    memcpy(p, value ? value : "", len);
    h->used += len;
    h->fields[h->n] = name;
    h->values[h->n++] = p;
    return 0;
}

void sip_state_hash_add(sip_state_hash_t *h, const char *name, const char *value)
{
    if (s_add(h, name, value) != 0)
        h->overflow = 1;
}

void sip_state_hash_add_opt(sip_state_hash_t *h, const char *name, const char *value)
{
    (void)s_add(h, name, value);
}

void sip_state_hash_addf(sip_state_hash_t *h, const char *name, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof buf)
        h->overflow = 1;
    else
        sip_state_hash_add(h, name, buf);
}
