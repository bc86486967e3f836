/* sip_conf - reads chan_sip's sip.conf: [general] and one section per
 * user/peer/friend. td_conf does the syntax (templates included); this class
 * knows what each key means, checks values, and answers the lookups the
 * signaling core makes per request: by section name, by authentication user
 * name, and by source address for peers with a static host (exact host:port,
 * and IP alone for insecure=port; see sip_ident for the order). All are
 * hash lookups. Errors are "file:line: reason"; keys chan_sip knows but
 * Tandem does not act on are accepted and logged once each; unknown keys are
 * warnings, as in Asterisk. */
#ifndef SIP_CONF_H
#define SIP_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define SIP_CODEC_ULAW 0x1u
#define SIP_CODEC_ALAW 0x2u
#define SIP_CODEC_ALL  (SIP_CODEC_ULAW | SIP_CODEC_ALAW)

/* The codecs a section allows as RTP payload types (0 PCMU, 8 PCMA) in the
 * order its allow= lines name them: Asterisk's preference order (a codec
 * allowed again keeps its place, disallow= takes it out; "all" appends
 * ulaw then alaw, as Asterisk's format list has them). Always the same set
 * as the SIP_CODEC_* mask beside it. */
typedef struct {
    uint8_t pt[2];
    uint8_t n;
} sip_codec_order_t;

typedef enum { SIP_PEER_FRIEND, SIP_PEER_USER, SIP_PEER_PEER } sip_peer_type_t;

/* transport= values, a mask (chan_sip's AST_TRANSPORT_*). */
#define SIP_TRANSPORT_UDP 0x1u
#define SIP_TRANSPORT_TCP 0x2u
#define SIP_TRANSPORT_TLS 0x4u

/* nat=: where requests to a phone go. AUTO (auto_force_rport, Asterisk 13's
 * default): to its Contact, unless its top Via does not name the address the
 * packet came from, then to that source. NO: always the Contact. FORCE
 * (force_rport, yes): always the source. */
typedef enum { SIP_NAT_AUTO, SIP_NAT_NO, SIP_NAT_FORCE } sip_nat_t;

/* nat='s media half: where the media worker sends a leg's RTP. NO: to the
 * address its SDP names. YES (comedia): to where its RTP comes from
 * (symmetric RTP, chan_sip's SIP_PAGE2_SYMMETRICRTP). AUTO (auto_comedia):
 * YES when the leg's top Via does not name the packet's source. */
typedef enum { SIP_COMEDIA_NO, SIP_COMEDIA_YES, SIP_COMEDIA_AUTO } sip_comedia_t;

#define SIP_LOCALNET_MAX 16

typedef struct sip_peer {
    char name[80];              /* the section name */
    sip_peer_type_t type;
    char defaultuser[80];       /* defaultuser= (or username=): the user part of the
                                 * Request-URI when Tandem calls a peer that has no
                                 * registration; "" for none. Not the digest user name:
                                 * chan_sip authenticates a device by its section name
                                 * (check_peer_ok and register_verify pass peer->name to
                                 * check_auth). */
    int has_secret;             /* 0: no secret set, accepted unchallenged (as chan_sip) */
    char ha1[33];               /* MD5(name:realm:secret), or md5secret */
    char ha1_sha256[65];        /* SHA-256(name:realm:secret); "" with md5secret only */
    int dynamic;                /* host=dynamic (or unset): calls go to the registration */
    char host[256];             /* as written */
    struct sockaddr_in addr;    /* static host:port, resolved at load */
    char context[80];
    int insecure_port;          /* match the source by address, any port */
    int insecure_invite;        /* no challenge for INVITE from that source */
    sip_nat_t nat;
    int encryption;             /* encryption=yes: SRTP (SDES) only, as chan_sip: offers to
                                 * it are RTP/SAVP with a=crypto, and its offers and answers
                                 * without a usable a=crypto are refused (488, or BYE with
                                 * cause 58). Per peer only: chan_sip's build_peer reads it,
                                 * its [general] does not (the sample sip.conf lists it there) */
    int srtp_taglen;            /* encryption_taglen=: 32, else 80 (the default) */
    sip_comedia_t comedia;
    int supportpath;            /* supportpath=yes: a REGISTER's Path (RFC 3327) is kept with
                                 * the binding and calls to it go through that path; no (the
                                 * default, as chan_sip): Path is ignored */
    char cid_num[80];
    char cid_name[80];
    int allowtransfer;          /* allowtransfer=: REFER from this peer's calls (else 603) */
    unsigned codecs;            /* SIP_CODEC_* */
    sip_codec_order_t codec_order;
    char fromuser[80];
    char fromdomain[128];
    char secret[80];            /* secret= as written: our answer to a challenge from the
                                 * peer (chan_sip's do_proxy_auth uses it, or remotesecret=
                                 * when set); "" for none */
    char remotesecret[80];
    int maxms;                  /* qualify=: 0 no; yes 2000 (or [general]'s qualify=); or ms */
    int call_limit;             /* call-limit=: calls in and out at once (0: no limit);
                                 * chan_sip's update_call_counter */
    int qualifyfreq;            /* seconds between OPTIONS to a reachable peer (60) */
    int rtptimeout;             /* rtptimeout= seconds without RTP that end an answered call
                                 * (0: never; [general]'s by default) */
    int rtpholdtimeout;         /* rtpholdtimeout=: the same while the peer holds the call */
    int has_proxy;              /* outboundproxy= given: requests to the peer go there */
    struct sockaddr_in proxy;   /* outboundproxy host:port (5060), resolved at load */
    unsigned transports;        /* transport=udp,tcp,tls: SIP_TRANSPORT_* the peer may use */
    unsigned transport;         /* the first one listed: what requests to it go over */
    const struct sip_acl *acl;  /* permit=/deny=/acl= (sip_acl.h); NULL: none. Owned by
                                 * sip_conf_t */
    const char *file;           /* where the section starts; owned by sip_conf_t */
    int line;
} sip_peer_t;

typedef struct {
    struct sockaddr_in bind;    /* udpbindaddr, or bindaddr:bindport; 0.0.0.0:5060 */
    char realm[128];            /* "tandem" */
    char context[80];           /* "default" */
    int allowguest;             /* 1 */
    int allowtransfer;          /* 1: the default for peers and guests */
    int alwaysauthreject;       /* 1 */
    int match_auth_username;    /* 0; 1: look the caller up by its digest user, not the From user */
    int auth_options_requests;  /* 0; 1: identify and challenge an out-of-dialog OPTIONS as an INVITE */
    unsigned char auth_algs[3]; /* auth_algorithms_uas: the digest algorithms challenged
                                 * with, preferred first, 0-terminated SIP_AUTH_* ids
                                 * (sip_auth.h); default MD5 alone, as chan_sip */
    unsigned codecs;            /* ulaw|alaw */
    sip_codec_order_t codec_order;  /* ulaw, alaw */
    sip_nat_t nat;              /* auto: the default for peers */
    sip_comedia_t comedia;      /* no: the default for peers */
    /* externaddr= (or externip=) host[:port], or externhost= (resolved at load
     * and again every externrefresh seconds): the address Via, Contact and SDP
     * name toward peers outside every localnet= (chan_sip's
     * ast_sip_ouraddrfor). sin_addr 0: none. Port 0: the bound port. */
    struct sockaddr_in externaddr;
    char externhost[256];       /* "" unless externhost= */
    int externrefresh;          /* 10 */
    struct {
        struct in_addr net, mask;   /* network byte order, net already masked */
    } localnet[SIP_LOCALNET_MAX];
    int nlocalnet;
    int supportpath;            /* 0: the default for peers' supportpath= */
    int defaultexpiry;          /* 120 */
    int minexpiry;              /* 60 */
    int maxexpiry;              /* 3600 */
    int registertimeout;        /* 20: seconds before an unanswered REGISTER is sent again */
    int registerattempts;       /* 0: retry forever; else give up (Failed) after that many */
    int qualify;                /* qualify= here (0): every peer's default maxms, and what
                                 * a peer's qualify=yes means (2000 when this is 0) */
    int qualifyfreq;            /* 60 */
    int rtptimeout;             /* 0: every peer's default */
    int rtpholdtimeout;         /* 0 */
    /* RFC 4028 session timers (chan_sip's session-* options in [general]) */
    int session_timers;         /* session-timers: 1 accept (default), 0 refuse,
                                 * 2 originate (we ask callees for them) */
    int session_refresher_uas;  /* session-refresher: 1 uas (default: we refresh when
                                 * a caller leaves it open), 0 uac */
    int session_expires;        /* session-expires: 1800 (DEFAULT_MAX_SE) */
    int session_minse;          /* session-minse: 90 (DEFAULT_MIN_SE) */
    /* TCP and TLS, as chan_sip reads them ([general]) */
    unsigned transports;        /* transport=: peers' default (udp) */
    unsigned transport;         /* its first value: peers' default outgoing transport */
    int tcpenable;              /* 0 */
    struct sockaddr_in tcpbind; /* tcpbindaddr; unset (port 0): the UDP bind address */
    int tcpauthtimeout;         /* 30: seconds a new connection has to send a whole message */
    int tlsenable;              /* 0 */
    struct sockaddr_in tlsbind; /* tlsbindaddr; unset: the UDP bind's address, port 5061 */
    char tlscertfile[256];      /* PEM certificate (chain); the key too when no tlsprivatekey */
    char tlsprivatekey[256];
    char tlscafile[256];
    char tlscapath[256];
    char tlscipher[256];        /* OpenSSL cipher list; "" for its default */
    int tlsverifyclient;        /* 0: ask TLS clients for no certificate */
    int tlsdontverifyserver;    /* 0: check the certificate of servers we connect to */
    const struct sip_acl *acl;  /* [general] permit=/deny=/acl=: chan_sip reads none of these
                                 * in [general] (only contactpermit etc., which stay
                                 * ignored); Tandem applies them to every new request from
                                 * any source (403), so a line the operator wrote is never
                                 * silently ignored. NULL: none. Owned by sip_conf_t */
} sip_general_t;

/* One `register =>` line of [general] (chan_sip's sip_register):
 *   [peer?][transport://]user[@domain][:secret[:authuser]]@host[:port][/extension][~expiry]
 * Strings are "" when not given. */
typedef struct {
    char peer[80];              /* peer?: the section whose secret= fills a missing secret */
    char user[80];              /* the AOR user (From/To) */
    char domain[128];           /* user@domain: the AOR host; "" means host */
    char secret[80];
    char authuser[80];          /* the digest user name; "" means user */
    char host[128];             /* where REGISTER goes */
    int port;                   /* 0: 5060 */
    char extension[80];         /* Contact user; "" means "s", as chan_sip */
    int expiry;                 /* ~expiry; 0 means [general] defaultexpiry */
    struct sockaddr_in addr;    /* host:port resolved at load */
    unsigned transport;         /* tcp:// or tls://: SIP_TRANSPORT_TCP/TLS; else UDP */
    const char *file;           /* owned by sip_conf_t */
    int line;
} sip_register_t;

/* Parse the value of a `register =>` line into out (cleared first; addr,
 * file and line stay zero). 0, or -1 with the reason in why. No DNS. */
int sip_conf_parse_register(const char *value, sip_register_t *out, char *why, size_t len);

typedef struct sip_conf sip_conf_t;

/* Read path. NULL on error with "file:line: reason" (or "file: reason") in err.
 * A value chan_sip loads past with a warning (a bad yes/no, number, codec,
 * nat or insecure word, qualify, localnet, externaddr, a too long value, an
 * unresolvable host= that drops its peer, an unknown type= that drops its
 * section) is logged as "file:line: reason: fallback" and the load goes on.
 * A section name given twice is one peer: the second section is applied
 * on top of the first, as chan_sip's build_peer does. What chan_sip cannot
 * load past either (a template not defined, a bind address that does not
 * parse) fails the load. */
sip_conf_t *sip_conf_load(const char *path, char *err, size_t errlen);
/* How many values were loaded past with a fallback (tandem-signaling --check). */
int sip_conf_warnings(const sip_conf_t *self);
void sip_conf_destroy(sip_conf_t **self_p);

const sip_general_t *sip_conf_general(const sip_conf_t *self);
size_t sip_conf_peer_count(const sip_conf_t *self);
/* The i-th peer in file order (templates excluded), or NULL. */
const sip_peer_t *sip_conf_peer_at(const sip_conf_t *self, size_t i);

/* The register => lines that parsed and resolved, in file order. */
size_t sip_conf_register_count(const sip_conf_t *self);
const sip_register_t *sip_conf_register_at(const sip_conf_t *self, size_t i);

/* Lookups; every result is borrowed until sip_conf_destroy. */
const sip_peer_t *sip_conf_peer(const sip_conf_t *self, const char *name);
/* A peer or friend with a static host whose host:port is src (the first in
 * file order). Registered addresses are the registrar's (sip_registrar_at);
 * sip_ident puts both together in chan_sip's order. */
const sip_peer_t *sip_conf_peer_by_addr(const sip_conf_t *self, const struct sockaddr_in *src);
/* A peer or friend with a static host and insecure=port whose host is src's
 * IP, whatever the port (the first in file order). */
const sip_peer_t *sip_conf_peer_by_ip(const sip_conf_t *self, const struct sockaddr_in *src);
/* A peer or friend with a static host whose host is src's IP and whose
 * transport= includes `transport` (SIP_TRANSPORT_TCP or _TLS), whatever the
 * port: chan_sip's second pass for a request over TCP/TLS, whose source
 * port is the connection's own (the first in file order). */
const sip_peer_t *sip_conf_peer_by_stream_ip(const sip_conf_t *self, const struct sockaddr_in *src,
                                             unsigned transport);

#endif
