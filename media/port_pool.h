/* port_pool - RTP/RTCP port pairs from rtp.conf's rtpstart..rtpend.
 *
 * A pair is an even RTP port p and the RTCP port p+1, both inside the range
 * (Asterisk's convention). Free pairs wait in a ring, shuffled at start; a
 * pair is taken at random from the older half of the free ones, with a
 * generator seeded per pool from getrandom(2). So the next call's ports
 * cannot be guessed from the last one's (RTP Bleed: an attacker spraying
 * ports in order), and a released pair, put back at the tail, is still not
 * reused before about half the free pairs have been handed out (stray
 * packets of a finished call do not land in a new one). take/put are O(1);
 * a pair is out of the ring while taken, so it is never handed out twice.
 *
 * port_pool_open() also binds the two UDP sockets: a pair whose ports some
 * other program holds is skipped (put back at the tail) and the next ones
 * are tried in ring order, each at most once. */
#ifndef PORT_POOL_H
#define PORT_POOL_H

#include <stdint.h>
#include <netinet/in.h>

typedef struct port_pool port_pool_t;

/* Pairs inside [start, end]. Returns NULL if the range holds no pair
 * (start > end, or end - start < 1 around an even port). */
port_pool_t *port_pool_new(uint16_t start, uint16_t end);
void port_pool_destroy(port_pool_t **self_p);

/* Pairs in the pool, and pairs free now. */
uint32_t port_pool_size(const port_pool_t *self);
uint32_t port_pool_free_count(const port_pool_t *self);

/* Take a free pair (at random among the older half): its RTP port (even),
 * or 0 when none is free. */
uint16_t port_pool_take(port_pool_t *self);
/* Give a taken pair back (its RTP port). Returns 0, or -1 if the port is
 * not a taken pair of this pool (nothing changes). */
int port_pool_put(port_pool_t *self, uint16_t rtp_port);

/* Take a pair and bind two non-blocking UDP sockets to addr:port and
 * addr:port+1; fds[0] is RTP, fds[1] RTCP. Returns the RTP port, or
 * -ENOSPC when no free pair could be bound, or another negative errno when
 * socket() itself fails. */
int port_pool_open(port_pool_t *self, const struct in_addr *addr, int fds[2]);
/* Close both sockets (fds set to -1) and give the pair back. */
void port_pool_close(port_pool_t *self, uint16_t rtp_port, int fds[2]);

#endif
