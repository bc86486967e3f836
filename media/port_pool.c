/* port_pool - RTP/RTCP port pairs; see port_pool.h. */
#include "port_pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

struct port_pool {
    uint16_t first;       /* lowest RTP port (even) */
    uint32_t size;        /* pairs */
    uint16_t *ring;       /* free pairs, FIFO: ring[head], ring[head+1], ... */
    uint32_t head;
    uint32_t count;       /* free pairs in the ring */
    uint8_t *taken;       /* taken[i]: pair i is out of the ring */
};

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
    for (uint32_t i = 0; i < self->size; i++)
        self->ring[i] = (uint16_t)(first + 2 * i);
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

uint16_t port_pool_take(port_pool_t *self)
{
    if (self->count == 0)
        return 0;
    uint16_t port = self->ring[self->head];
    self->head = (self->head + 1) % self->size;
    self->count--;
    self->taken[(port - self->first) / 2] = 1;
    return port;
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
    /* Each free pair at most once: a pair that fails goes to the tail. */
    for (uint32_t tries = self->count; tries > 0; tries--) {
        uint16_t port = port_pool_take(self);
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
