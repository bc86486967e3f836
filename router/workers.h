/* workers - the media workers the router knows, and the choice of one for a
 * new call: the live worker with the fewest calls assigned and not yet
 * released (ties: the one heard from first), skipping workers at capacity.
 *
 * A worker appears when the bus reports its first Hello (workers_up), dies
 * when the bus reports it silent (workers_down) and comes back with its next
 * Hello; one that drains (MediaDrain) gets no new calls. Worker records
 * live until the registry is destroyed, so a call may
 * keep a pointer to its worker for its whole life. */
#ifndef WORKERS_H
#define WORKERS_H

#include <stdint.h>

typedef struct workers workers_t;
/* worker_ref_t: the router's record of one media worker process (the process
 * itself is media/worker.c's worker_t). */
typedef struct worker_ref worker_ref_t;

workers_t *workers_new(void);
void workers_destroy(workers_t **self_p);

/* A worker said Hello: add it, or revive it with this capacity (0: no limit).
 * Returns the worker, or NULL on ENOMEM. */
worker_ref_t *workers_up(workers_t *self, const char *identity, uint32_t capacity);
/* The worker fell silent: it gets no new calls. Returns it, or NULL if unknown. */
worker_ref_t *workers_down(workers_t *self, const char *identity);
/* The worker called identity, or NULL. */
worker_ref_t *workers_find(workers_t *self, const char *identity);

/* Choose a worker for a new call and count the call against it; NULL if no
 * live worker has room. */
worker_ref_t *workers_choose(workers_t *self);
/* The call chosen for w is over. */
void workers_release(workers_t *self, worker_ref_t *w);
/* Count a call against w again (a move to another worker was undone). */
void workers_hold(workers_t *self, worker_ref_t *w);

/* Every worker known, in the order first heard. */
void workers_foreach(workers_t *self, void (*fn)(void *arg, const worker_ref_t *w), void *arg);
uint32_t worker_ref_capacity(const worker_ref_t *w);

const char *worker_ref_identity(const worker_ref_t *w);
int worker_ref_alive(const worker_ref_t *w);
/* A draining worker (MediaDrain) is chosen for no new call; it stops
 * draining when it comes back after being down (a new process). */
int worker_ref_draining(const worker_ref_t *w);
void worker_ref_set_draining(worker_ref_t *w);
uint32_t worker_ref_assigned(const worker_ref_t *w);

#endif
