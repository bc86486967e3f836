/* sip_listen - see sip_listen.h. */
#define TD_LOG_SUBSYS TD_LOG_SIP   /* td_log() here: [logging] sip= */
#include "sip_listen.h"

#include <string.h>
#include <arpa/inet.h>

#include "td_log.h"

sip_tp_t sip_listen_preferred(void *conf, const struct sockaddr_in *to)
{
    const sip_peer_t *p = sip_conf_peer_by_addr(conf, to);
    if (!p) {
        /* a register => tcp:// or tls:// line's registrar (its first
         * REGISTER's Contact needs that listener's port): the lines are a
         * handful of trunks, walked in order */
        for (size_t i = 0; i < sip_conf_register_count(conf); i++) {
            const sip_register_t *r = sip_conf_register_at(conf, i);
            if (r->transport != SIP_TRANSPORT_UDP && r->addr.sin_port == to->sin_port
                && r->addr.sin_addr.s_addr == to->sin_addr.s_addr)
                return r->transport == SIP_TRANSPORT_TCP ? SIP_TP_TCP : SIP_TP_TLS;
        }
        return SIP_TP_UDP;
    }
    return p->transport == SIP_TRANSPORT_TCP ? SIP_TP_TCP
         : p->transport == SIP_TRANSPORT_TLS ? SIP_TP_TLS : SIP_TP_UDP;
}

void sip_listen_log(sip_transport_t *tp)
{
    sip_transport_stats_t st;
    sip_transport_stats(tp, &st);
    if (st.accepted || st.connected)
        td_log(LOG_INFO, "stats: tcp/tls connections open %lu (accepted %lu, connected %lu, "
               "closed %lu), messages out %lu, framing errors %lu", st.conns, st.accepted,
               st.connected, st.closed, st.stream_tx, st.framing_errors);
}

int sip_listen_streams(sip_transport_t *tp, const sip_conf_t *conf, const struct sockaddr_in *udp)
{
    const sip_general_t *g = sip_conf_general(conf);
    /* chan_sip closes a TCP/TLS connection that has not authenticated within
     * tcpauthtimeout; Tandem closes one that has not sent a whole message by
     * then, and any that stays silent past the longest registration. */
    sip_transport_set_timeouts(tp, g->tcpauthtimeout, g->maxexpiry + 60);
    sip_transport_set_preferred(tp, sip_listen_preferred, (void *)conf);
    sip_tls_opts_t tls = {
        .certfile = g->tlscertfile, .privatekey = g->tlsprivatekey, .cafile = g->tlscafile,
        .capath = g->tlscapath, .cipher = g->tlscipher, .verifyclient = g->tlsverifyclient,
        .dontverifyserver = g->tlsdontverifyserver,
    };
    if (g->tcpenable) {
        struct sockaddr_in a = g->tcpbind.sin_family ? g->tcpbind : *udp;
        if (sip_transport_listen(tp, SIP_TP_TCP, &a, NULL) != 0)
            return -1;
    }
    if (g->tlsenable) {
        struct sockaddr_in a = *udp;
        a.sin_port = htons(5061);
        if (g->tlsbind.sin_family)
            a = g->tlsbind;
        if (sip_transport_listen(tp, SIP_TP_TLS, &a, &tls) != 0)
            return -1;
    } else if (sip_transport_tls_client(tp, &tls) != 0)
        td_log(LOG_WARNING, "sip_listen: outgoing TLS is not available");
    return 0;
}
