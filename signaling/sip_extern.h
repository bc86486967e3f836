/* sip_extern - the address a switch behind NAT advertises (chan_sip's
 * externaddr / externhost / externrefresh / localnet, ast_sip_ouraddrfor).
 *
 * Toward a peer outside every localnet= network, when externaddr (or
 * externhost) is set, our Via and Contact name externaddr (its port, or the
 * bound port) and the SDP we send names it in c=, o= and a=rtcp: in place of a media
 * address that lies inside a localnet; toward peers inside a localnet (and
 * always when no localnet= is given, as chan_sip: remapping needs both) the
 * real address stays. externhost is resolved at load and again, on use,
 * once externrefresh seconds have passed (a blocking lookup, as chan_sip's). */
#ifndef SIP_EXTERN_H
#define SIP_EXTERN_H

#include <stddef.h>
#include <netinet/in.h>
#include "sip_conf.h"

typedef struct sip_extern sip_extern_t;

/* Copies what it needs from g. NULL when out of memory. */
sip_extern_t *sip_extern_new(const sip_general_t *g);
void sip_extern_destroy(sip_extern_t **self_p);

/* 1 if a lies inside one of the localnet= networks. */
int sip_extern_is_local(const sip_extern_t *self, struct in_addr a);

/* Our address toward them: replaces *us with externaddr (port: externaddr's,
 * else us's own) and returns 1 when them is outside every localnet and
 * externaddr is set; else leaves *us and returns 0. */
int sip_extern_remap(sip_extern_t *self, const struct sockaddr_in *them, struct sockaddr_in *us);

/* The SDP to send to them: sdp itself, or (when sip_extern_remap would remap)
 * a copy whose c= and o= addresses inside a localnet name externaddr. The
 * copy lives in self until the next call. */
const char *sip_extern_sdp(sip_extern_t *self, const struct sockaddr_in *them, const char *sdp);

#endif
