/* sip_ident - see sip_ident.h. */
#include "sip_ident.h"

#include <stdio.h>
#include <string.h>
#include <osipparser2/osip_parser.h>

#include "sip_auth.h"

#define S_AT_MAX 8              /* registrations looked at per address */

/* The first registration at src (exactly, or by IP among insecure=port
 * ones) whose section still exists as a peer or friend (a reload may have
 * removed or retyped it; the binding stays until it expires). */
static const sip_peer_t *s_registered(const sip_conf_t *conf, sip_registrar_t *registrar,
                                      const struct sockaddr_in *src, int ip_only, long now)
{
    const char *aors[S_AT_MAX];
    size_t n = sip_registrar_at(registrar, src, ip_only, now, aors, S_AT_MAX);
    for (size_t i = 0; i < n; i++) {
        const sip_peer_t *p = sip_conf_peer(conf, aors[i]);
        if (p && p->type != SIP_PEER_USER && p->dynamic && (!ip_only || p->insecure_port))
            return p;
    }
    return NULL;
}

const sip_peer_t *sip_ident_find(const sip_conf_t *conf, sip_registrar_t *registrar,
                                 int subscribe, const char *name,
                                 const struct sockaddr_in *src, long now,
                                 sip_ident_how_t *how)
{
    /* Source over docs. sip.conf.sample (Asterisk 20, "matching order")
     * lists three steps: the From user among type=user, the From "address"
     * among type=peer, then the source address among type=peer; and says a
     * type=user is "matched by their authorization information". The code
     * (check_peer_ok) has no second step (a type=peer is never found by a
     * name), finds a type=user by the From user (the digest user only with
     * match_auth_username), and its address steps also find friends, static
     * and registered. We follow the code. */
    sip_ident_how_t dummy;
    if (!how)
        how = &dummy;
    *how = SIP_IDENT_NONE;
    const sip_peer_t *p = name && *name ? sip_conf_peer(conf, name) : NULL;
    if (subscribe) {
        /* chan_sip: "For subscribes, match on device name only" (any type) */
        if (p)
            *how = SIP_IDENT_NAME;
        return p;
    }
    /* First by name, "avoid all type=peer's". chan_sip compares the name
     * case-sensitively (find_by_name: "Usernames in SIP uri's are case
     * sensitive"), as sip_conf_peer does. */
    if (p && p->type != SIP_PEER_PEER) {
        *how = SIP_IDENT_NAME;
        return p;
    }
    if (!src)
        return NULL;
    /* Then by address. chan_sip first tries peers whose callbackextension
     * equals the Request-URI user (sip_find_peer_by_ip_and_exten); Tandem
     * reads no callbackextension (nor register => lines), so no peer has
     * one and that lookup always falls through to this one.
     * Pass 1, ip:port. chan_sip walks one peers_by_ip bucket in link order:
     * static peers (linked at load) before registrations (linked on each
     * REGISTER, at the end). */
    p = sip_conf_peer_by_addr(conf, src);
    if (!p)
        p = s_registered(conf, registrar, src, 0, now);
    if (p) {
        *how = SIP_IDENT_ADDR;
        return p;
    }
    /* Pass 2, the IP alone, for peers with insecure=port (peer_ipcmp_cb_full
     * for UDP, the only transport Tandem has; for TCP/TLS chan_sip would
     * match any static host here). */
    p = sip_conf_peer_by_ip(conf, src);
    if (!p)
        p = s_registered(conf, registrar, src, 1, now);
    if (p)
        *how = SIP_IDENT_IP;
    return p;
}

const sip_peer_t *sip_ident_find_on(const sip_conf_t *conf, sip_registrar_t *registrar,
                                    int subscribe, const char *name,
                                    const struct sockaddr_in *src, unsigned transport, long now,
                                    sip_ident_how_t *how)
{
    sip_ident_how_t dummy;
    if (!how)
        how = &dummy;
    const sip_peer_t *p = sip_ident_find(conf, registrar, subscribe, name, src, now, how);
    if (p || subscribe || !src || transport == SIP_TRANSPORT_UDP)
        return p;
    /* peer_ipcmp_cb_full's second pass for non-UDP: "the source port won't
     * typically be controlled", so a static (not dynamic) peer matches on
     * its IP when the transports overlap. */
    p = sip_conf_peer_by_stream_ip(conf, src, transport);
    if (p)
        *how = SIP_IDENT_IP;
    return p;
}

char *sip_ident_name(const osip_message_t *req, int match_auth_username, char *buf, size_t len)
{
    if (!len)
        return buf;
    buf[0] = '\0';
    if (match_auth_username) {
        /* chan_sip: the username="..." of Authorization, else of
         * Proxy-Authorization, when there is one ("experimental"). */
        osip_authorization_t *a = NULL;
        osip_message_get_authorization((osip_message_t *)req, 0, &a);
        if (!a)
            osip_message_get_proxy_authorization((osip_message_t *)req, 0, &a);
        if (a && a->username) {
            sip_auth_unquote(a->username, buf, len);
            if (buf[0])
                return buf;
        }
    }
    const osip_uri_t *u = req->from ? req->from->url : NULL;
    if (!u)
        return buf;
    if (u->username && *u->username) {
        snprintf(buf, len, "%s", u->username);
        __osip_uri_unescape(buf);
    } else if (u->host) {
        /* "<sip:[EMPTY][@]hostport>. Asterisk 1.4 and 1.6 have always
         * treated that as a username" (check_user_full) */
        snprintf(buf, len, "%s", u->host);
    }
    return buf;
}

const char *sip_ident_how_str(sip_ident_how_t how)
{
    switch (how) {
    case SIP_IDENT_NAME:
        return "name";
    case SIP_IDENT_ADDR:
        return "address";
    case SIP_IDENT_IP:
        return "ip";
    default:
        return "none";
    }
}
