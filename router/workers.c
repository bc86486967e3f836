/* workers - see workers.h. A handful of workers at most: a linear scan is
 * the fastest structure here. */
#include "workers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct worker_ref {
    char identity[64];
    uint32_t capacity;     /* 0: no limit */
    uint32_t assigned;     /* calls given and not released */
    int alive;
    int draining;          /* said MediaDrain: no new calls */
};

struct workers {
    worker_ref_t **list;
    size_t n, cap;
};

workers_t *workers_new(void)
{
    return calloc(1, sizeof(workers_t));
}

void workers_destroy(workers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    workers_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        free(self->list[i]);
    free(self->list);
    free(self);
    *self_p = NULL;
}

worker_ref_t *workers_find(workers_t *self, const char *identity)
{
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->list[i]->identity, identity) == 0)
            return self->list[i];
    return NULL;
}

worker_ref_t *workers_up(workers_t *self, const char *identity, uint32_t capacity)
{
    worker_ref_t *w = workers_find(self, identity);
    if (!w) {
        if (self->n == self->cap) {
            size_t cap = self->cap ? self->cap * 2 : 4;
            worker_ref_t **list = realloc(self->list, cap * sizeof *list);
            if (!list)
                return NULL;
            self->list = list;
            self->cap = cap;
        }
        if (!(w = calloc(1, sizeof *w)))
            return NULL;
        snprintf(w->identity, sizeof w->identity, "%s", identity);
        self->list[self->n++] = w;
    }
    w->capacity = capacity;
    if (!w->alive)
        w->draining = 0;   /* a new process under the same name */
    w->alive = 1;
    return w;
}

worker_ref_t *workers_down(workers_t *self, const char *identity)
{
    worker_ref_t *w = workers_find(self, identity);
    if (w)
        w->alive = 0;
    return w;
}

worker_ref_t *workers_choose(workers_t *self)
{
    worker_ref_t *best = NULL;
    for (size_t i = 0; i < self->n; i++) {
        worker_ref_t *w = self->list[i];
        if (!w->alive || w->draining || (w->capacity && w->assigned >= w->capacity))
            continue;
        if (!best || w->assigned < best->assigned)
            best = w;
    }
    if (best)
        best->assigned++;
    return best;
}

void workers_hold(workers_t *self, worker_ref_t *w)
{
    (void)self;
    if (w)
        w->assigned++;
}

void workers_release(workers_t *self, worker_ref_t *w)
{
    (void)self;
    if (w && w->assigned)
        w->assigned--;
}

void workers_foreach(workers_t *self, void (*fn)(void *arg, const worker_ref_t *w), void *arg)
{
    for (size_t i = 0; i < self->n; i++)
        fn(arg, self->list[i]);
}

uint32_t worker_ref_capacity(const worker_ref_t *w)
{
    return w->capacity;
}

const char *worker_ref_identity(const worker_ref_t *w)
{
    return w->identity;
}

int worker_ref_alive(const worker_ref_t *w)
{
    return w->alive;
}

int worker_ref_draining(const worker_ref_t *w)
{
    return w->draining;
}

void worker_ref_set_draining(worker_ref_t *w)
{
    w->draining = 1;
}

uint32_t worker_ref_assigned(const worker_ref_t *w)
{
    return w->assigned;
}
