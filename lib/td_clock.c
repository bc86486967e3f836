/* td_clock - see td_clock.h. */
#include "td_clock.h"

#include <stdlib.h>
#include <time.h>
#include <event2/event.h>

#define S_COMMON_MAX 16

struct td_clock {
    struct event_base *base;       /* NULL: the fake */
    uint64_t now;                  /* the fake's time */
    uint64_t seq;                  /* the fake's start order, for equal due times */
    size_t timers;                 /* alive */
    td_timer_t *list;              /* the fake's timers (all, pending or not) */
    struct {
        uint32_t ms;
        const struct timeval *tv;
    } common[S_COMMON_MAX];
    size_t ncommon;
};

struct td_timer {
    td_clock_t *clock;
    td_timer_fn *cb;
    void *arg;
    struct event *ev;              /* the real clock's */
    td_timer_t *prev, *next;       /* the fake's list */
    int pending;                   /* the fake's */
    uint64_t due, seq;             /* the fake's */
};

td_clock_t *td_clock_new(struct event_base *base)
{
    if (!base)
        return NULL;
    td_clock_t *self = calloc(1, sizeof *self);
    if (self)
        self->base = base;
    return self;
}

td_clock_t *td_clock_new_fake(void)
{
    return calloc(1, sizeof(td_clock_t));
}

void td_clock_destroy(td_clock_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

uint64_t td_clock_now_ms(td_clock_t *self)
{
    if (!self->base)
        return self->now;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int td_clock_common(td_clock_t *self, uint32_t ms)
{
    if (!self->base)
        return 0;
    for (size_t i = 0; i < self->ncommon; i++)
        if (self->common[i].ms == ms)
            return 0;
    if (self->ncommon == S_COMMON_MAX)
        return -1;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    const struct timeval *c = event_base_init_common_timeout(self->base, &tv);
    if (!c)
        return -1;
    self->common[self->ncommon].ms = ms;
    self->common[self->ncommon].tv = c;
    self->ncommon++;
    return 0;
}

static void s_on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    td_timer_t *t = arg;
    t->cb(t->arg);
}

td_timer_t *td_timer_new(td_clock_t *clock, td_timer_fn *cb, void *arg)
{
    if (!clock || !cb)
        return NULL;
    td_timer_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->clock = clock;
    t->cb = cb;
    t->arg = arg;
    if (clock->base) {
        t->ev = event_new(clock->base, -1, 0, s_on_event, t);
        if (!t->ev) {
            free(t);
            return NULL;
        }
    } else {
        t->next = clock->list;
        if (clock->list)
            clock->list->prev = t;
        clock->list = t;
    }
    clock->timers++;
    return t;
}

void td_timer_destroy(td_timer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    td_timer_t *t = *self_p;
    td_clock_t *clock = t->clock;
    if (t->ev)
        event_free(t->ev);
    else {
        if (t->prev)
            t->prev->next = t->next;
        else
            clock->list = t->next;
        if (t->next)
            t->next->prev = t->prev;
    }
    clock->timers--;
    free(t);
    *self_p = NULL;
}

void td_timer_start(td_timer_t *self, uint32_t ms)
{
    td_clock_t *clock = self->clock;
    if (self->ev) {
        for (size_t i = 0; i < clock->ncommon; i++)
            if (clock->common[i].ms == ms) {
                event_add(self->ev, clock->common[i].tv);
                return;
            }
        struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
        event_add(self->ev, &tv);
        return;
    }
    self->pending = 1;
    self->due = clock->now + ms;
    self->seq = ++clock->seq;
}

void td_timer_stop(td_timer_t *self)
{
    if (self->ev)
        event_del(self->ev);
    else
        self->pending = 0;
}

int td_timer_pending(td_timer_t *self)
{
    if (self->ev)
        return event_pending(self->ev, EV_TIMEOUT, NULL) != 0;
    return self->pending;
}

/* The fake's next timer due by `until`, or NULL. */
static td_timer_t *s_next(td_clock_t *self, uint64_t until)
{
    td_timer_t *best = NULL;
    for (td_timer_t *t = self->list; t; t = t->next)
        if (t->pending && t->due <= until
            && (!best || t->due < best->due || (t->due == best->due && t->seq < best->seq)))
            best = t;
    return best;
}

size_t td_clock_advance(td_clock_t *self, uint64_t ms)
{
    if (self->base)
        return 0;
    uint64_t until = self->now + ms;
    size_t fired = 0;
    td_timer_t *t;
    while ((t = s_next(self, until))) {
        if (t->due > self->now)
            self->now = t->due;
        t->pending = 0;
        fired++;
        t->cb(t->arg);          /* may start, stop or destroy timers, t included */
    }
    self->now = until;
    return fired;
}

int td_clock_next_due(td_clock_t *self, uint64_t *due)
{
    td_timer_t *t = self->base ? NULL : s_next(self, UINT64_MAX);
    if (!t)
        return -1;
    *due = t->due;
    return 0;
}

size_t td_clock_timers(td_clock_t *self)
{
    return self->timers;
}
