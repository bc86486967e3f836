/* sip_ident - who sent an out-of-dialog request: chan_sip's device matching
 * (Asterisk 20 channels/chan_sip.c: check_user_full -> check_peer_ok ->
 * sip_find_peer_full / peer_ipcmp_cb_full), in the same order:
 *
 *   SUBSCRIBE: only the device named by `name`, of any type.
 *   Any other request:
 *     1. a type=user or type=friend section named `name` (chan_sip's
 *        FINDUSERS: a type=peer is never found by its name);
 *     2. else by the packet's source ip:port exactly: a static peer's
 *        host:port, then a registered contact's address (the Contact URI's
 *        host:port, or the REGISTER's source when nat= says so), the one
 *        registered longest ago first;
 *     3. else by the source IP alone among peers with insecure=port (static
 *        first, then registered), as chan_sip's second pass does for UDP;
 *        over TCP/TLS (sip_ident_find_on) also among static peers whose
 *        transport= has that transport, insecure=port or not, as that pass
 *        does for a stream (its source port is the connection's).
 *   No device: the caller applies allowguest / alwaysauthreject.
 *
 * Every step is a hash lookup (sip_conf's and the registrar's indexes). What
 * to do with the device found (challenge unless insecure=invite or it has no
 * secret, its context and callerid) is the signaling core's business. */
#ifndef SIP_IDENT_H
#define SIP_IDENT_H

#include <stddef.h>
#include <netinet/in.h>
#include <osipparser2/osip_message.h>

#include "sip_conf.h"
#include "sip_registrar.h"

typedef enum {
    SIP_IDENT_NONE,        /* no device */
    SIP_IDENT_NAME,        /* named by the From user (or the digest user) */
    SIP_IDENT_ADDR,        /* the source ip:port: static host:port or a registration */
    SIP_IDENT_IP,          /* the source IP, insecure=port */
} sip_ident_how_t;

/* The device that sent a request with this name from src, or NULL (how says
 * which step found it; how may be NULL). subscribe: the request is a
 * SUBSCRIBE. Borrowed from conf. */
const sip_peer_t *sip_ident_find(const sip_conf_t *conf, sip_registrar_t *registrar,
                                 int subscribe, const char *name,
                                 const struct sockaddr_in *src, long now,
                                 sip_ident_how_t *how);

/* The same for a request that came over `transport` (SIP_TRANSPORT_*):
 * over TCP or TLS, step 3 also finds a static peer by IP alone. */
const sip_peer_t *sip_ident_find_on(const sip_conf_t *conf, sip_registrar_t *registrar,
                                    int subscribe, const char *name,
                                    const struct sockaddr_in *src, unsigned transport, long now,
                                    sip_ident_how_t *how);

/* The name chan_sip looks devices up by: the From URI's user, URI-decoded
 * (pedantic=yes, chan_sip's default), or its host when it has no user; with
 * match_auth_username, the user name of the request's Authorization (else
 * Proxy-Authorization) header when it has one. Into buf; returns buf. */
char *sip_ident_name(const osip_message_t *req, int match_auth_username, char *buf, size_t len);

/* "name", "address", "ip", "none": for log lines. */
const char *sip_ident_how_str(sip_ident_how_t how);

#endif
