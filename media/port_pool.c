/* port_pool - RTP/RTCP port pairs; see port_pool.h. */
#include "port_pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/socket.h>

struct port_pool {
    uint16_t first;       /* lowest RTP port (even) */
    uint32_t size;        /* pairs */
    uint16_t *ring;       /* free pairs, FIFO: ring[head], ring[head+1], ... */
    uint32_t head;
    uint32_t count;       /* free pairs in the ring */
    uint8_t *taken;       /* taken[i]: pair i is out of the ring */
    uint64_t rng;         /* xorshift64* state; never 0 */
};

/* The next number of the pool's generator (xorshift64*: not a CSPRNG, but
 * seeded from the kernel's and only ever seen through the port it picks). */
static uint64_t s_next(port_pool_t *self)
{
    uint64_t x = self->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    self->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* A number in [0, n), n >= 1 (multiply-shift: no modulo bias worth the name
 * for n < 2^32). */
static uint32_t s_below(port_pool_t *self, uint32_t n)
{
    return (uint32_t)(((s_next(self) >> 32) * (uint64_t)n) >> 32);
}

static void s_seed(port_pool_t *self)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
        struct timespec ts;    /* no entropy yet (early boot): still differs per run */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
    }
    self->rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

port_pool_t *port_pool_new(uint16_t start, uint16_t end)
{
    uint32_t first = ((uint32_t)start + 1) & ~1u;
    if (first + 1 > end)
        return NULL;
    port_pool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->first = (uint16_t)first;
    self->size = ((uint32_t)end - first + 1) / 2;
    self->ring = malloc(self->size * sizeof *self->ring);
    self->taken = calloc(self->size, 1);
    if (!self->ring || !self->taken) {
        port_pool_destroy(&self);
        return NULL;
    }
    s_seed(self);
    /* Fisher-Yates: the first calls' ports are no guess either */
    for (uint32_t i = 0; i < self->size; i++) {
        uint32_t j = s_below(self, i + 1);
        if (j != i)
            self->ring[i] = self->ring[j];
        self->ring[j] = (uint16_t)(first + 2 * i);
    }
    self->head = 0;
    self->count = self->size;
    return self;
}

void port_pool_destroy(port_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    port_pool_t *self = *self_p;
    free(self->taken);
    free(self->ring);
    free(self);
    *self_p = NULL;
}

uint32_t port_pool_size(const port_pool_t *self)
{
    return self->size;
}

uint32_t port_pool_free_count(const port_pool_t *self)
{
    return self->count;
}

/* Take the pair at the head, after swapping into the head a random one of
 * the older half of the free pairs when `random`. */
static uint16_t s_take(port_pool_t *self, int random)
{
    if (self->count == 0)
        return 0;
    if (random) {
        uint32_t pick = (self->head + s_below(self, (self->count + 1) / 2)) % self->size;
        uint16_t swap = self->ring[pick];
        self->ring[pick] = self->ring[self->head];
        self->ring[self->head] = swap;
    }
    uint16_t port = self->ring[self->head];
    self->head = (self->head + 1) % self->size;
    self->count--;
    self->taken[(port - self->first) / 2] = 1;
    return port;
}

uint16_t port_pool_take(port_pool_t *self)
{
    return s_take(self, 1);
}

int port_pool_put(port_pool_t *self, uint16_t rtp_port)
{
    if (rtp_port < self->first || (rtp_port & 1))
        return -1;
    uint32_t i = (uint32_t)(rtp_port - self->first) / 2;
    if (i >= self->size || !self->taken[i])
        return -1;
    self->taken[i] = 0;
    self->ring[(self->head + self->count) % self->size] = rtp_port;
    self->count++;
    return 0;
}

/* A non-blocking UDP socket bound to addr:port; fd, or -errno. */
static int s_bind(const struct in_addr *addr, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr = *addr;
    sin.sin_port = htons(port);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int port_pool_open(port_pool_t *self, const struct in_addr *addr, int fds[2])
{
    fds[0] = fds[1] = -1;
    /* A random pair first; if it cannot be bound, the others in ring order,
     * each at most once: a pair that fails goes to the tail. */
    uint32_t free_pairs = self->count;
    for (uint32_t i = 0; i < free_pairs; i++) {
        uint16_t port = s_take(self, i == 0);
        int rtp = s_bind(addr, port);
        if (rtp >= 0) {
            int rtcp = s_bind(addr, (uint16_t)(port + 1));
            if (rtcp >= 0) {
                fds[0] = rtp;
                fds[1] = rtcp;
                return port;
            }
            close(rtp);
            rtp = rtcp;
        }
        port_pool_put(self, port);
        if (rtp != -EADDRINUSE && rtp != -EACCES)
            return rtp;   /* not about this pair: the next would fail too */
    }
    return -ENOSPC;
}

void port_pool_close(port_pool_t *self, uint16_t rtp_port, int fds[2])
{
    for (int i = 0; i < 2; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        fds[i] = -1;
    }
    port_pool_put(self, rtp_port);
}
