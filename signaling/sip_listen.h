/* sip_listen - sip.conf's stream transports put to work: the TCP and TLS
 * listeners ([general] tcpenable/tcpbindaddr, tlsenable/tlsbindaddr and the
 * tls* keys, as chan_sip reads them), the connection timeouts, and peers'
 * transport= as the transport chosen for requests to a static peer. */
#ifndef SIP_LISTEN_H
#define SIP_LISTEN_H

#include <netinet/in.h>
#include "sip_conf.h"
#include "sip_transport.h"

/* Set up tp from conf (borrowed for tp's life). udp is the UDP socket's
 * bound address: chan_sip's default for tcpbindaddr (same address and
 * port) and tlsbindaddr (same address, port 5061). 0, or -1 with the reason
 * logged (a listener that cannot bind, an unreadable certificate). */
int sip_listen_streams(sip_transport_t *tp, const sip_conf_t *conf, const struct sockaddr_in *udp);

/* The stream counters for the core's stats line (nothing when no TCP or TLS
 * connection was ever made). */
void sip_listen_log(sip_transport_t *tp);

/* The transport a peer's transport= names first, for requests to `to`
 * (a static peer's host:port); UDP for anything else. arg is the conf. */
sip_tp_t sip_listen_preferred(void *conf, const struct sockaddr_in *to);

#endif
