/* td_settings - tandem.conf, and the command line every Tandem process takes:
 *
 *   tandem-<process> [-c CONFDIR] [-i IDENTITY] [-l LEVEL] [-b ENDPOINT]
 *                    [-s ADDR[:PORT]] [-a ADDR|auto] [-m ADDR:PORT|off]
 *
 * CONFDIR (default "etc") holds sip.conf, extensions.conf, rtp.conf and the
 * optional tandem.conf. -i overrides the process's identity on the bus (so
 * several media workers can share one config), -l the log level.
 *
 * What a container (or any host other than the one the files were written
 * for) needs beyond the operator's files, so the files stay unchanged:
 *   -b ENDPOINT       the bus endpoint ([bus] endpoint; signaling and media:
 *                     a comma list of routers; a router binds the first)
 *   -s ADDR[:PORT]    signaling's SIP bind, over sip.conf's udpbindaddr /
 *                     bindaddr / bindport (no PORT: keep sip.conf's port)
 *   -a ADDR|auto      media's address in SDP ([media] address); auto = as if
 *                     tandem.conf named none (td_settings_local_ip)
 *   -m ADDR:PORT|off  where this process serves /metrics and /healthz
 *                     ([<process>] metrics; port 0: any free one; off: none)
 * Each has an environment variable, TANDEM_BUS, TANDEM_SIP_BIND,
 * TANDEM_MEDIA_ADDRESS, TANDEM_METRICS, TANDEM_IDENTITY, TANDEM_LOGLEVEL
 * (and TANDEM_DISCOVER for [bus] discover). Precedence: flag,
 * then environment, then the files, then the defaults. An identity's "%h"
 * becomes the host name (so `-i media-%h` names each container apart), "%%"
 * a '%'.
 *
 * TANDEM_BUS_KEYFILE=PATH names this process's bus keypair file ([bus]
 * curve_keyfile=), TANDEM_BUS_INSECURE=yes|no is [bus] insecure=.
 *
 * TANDEM_REDIS=host:port (no flag) names the cluster's Redis over [cluster]
 * redis=, and turns cluster mode on even without a [cluster] section. */
#ifndef TD_SETTINGS_H
#define TD_SETTINGS_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "td_bus_curve.h"
#include "td_log.h"
#include "td_store.h"

typedef struct {
    char confdir[512];
    char identity[64];        /* this process's bus identity */
    char endpoint[512];       /* [bus] endpoint: tcp://127.0.0.1:5570; signaling and media:
                               * a comma list of routers (a router and tandemctl keep the
                               * first); "" when only discover= names them */
    int has_endpoint;         /* endpoint given ([bus] endpoint, -b, TANDEM_BUS) */
    char discover[256];       /* [bus] discover: tcp://NAME:PORT, routers by DNS ("" none) */
    td_bus_keys_t bus_keys;   /* [bus] curve_* and insecure= (td_bus_curve.h); a process's
                               * own section may hold its curve_secret/_public/_keyfile;
                               * TANDEM_BUS_KEYFILE, TANDEM_BUS_INSECURE over the files */
    int loglevel;             /* LOG_*: [general] loglevel, [logging] level, -l */
    int sublevels[TD_LOG_SUBSYS_COUNT]; /* [logging] sip=debug ...; -1 = loglevel */
    char logfile[512];        /* [general] logfile, or the process's section's: "" = stderr,
                               * "-" or "stdout" = stdout, else a file (reopened on SIGHUP) */
    char cdrdir[512];         /* [router] cdrdir: var/cdr-csv */
    char media_address[64];   /* [media] address put in SDP; "" = detect */
    uint32_t capacity;        /* [media]/[signaling] capacity */
    char sounds_dir[512];     /* [media] sounds; "" = search (media/sound_dir.h) */
    char moh_dir[512];        /* [media] moh; "" = search (media/sound_dir.h) */
    char recordings_dir[512]; /* [media] recordings: var/recordings */
    char astdb[512];          /* [router] astdb: var/astdb (DB() store) */
    uint32_t sig_grace_s;     /* [router] signaling_grace: seconds answered calls wait for
                               * a silent signaling process (30) */
    uint32_t max_call_s;      /* [router] max_call_duration: seconds a call may last
                               * (43200, Kamailio's dialog default; 0: no limit) */
    uint32_t overload_lag_ms; /* [signaling] overload_lag_ms: load above which new calls are
                               * shed with 503 (20; 0: never by load; sip_load.h) */
    uint32_t max_cps;         /* [signaling] max_cps: new calls a second at most (0: none) */
    uint32_t max_ringing;     /* [signaling] max_ringing: calls being set up at most
                               * (0: 2 x capacity); capacity counts answered calls */
    uint32_t max_sdp;         /* [security] max_sdp: bytes of an SDP (a request's body,
                               * a response's) signaling takes (16384; issue 12) */
    uint32_t max_transactions; /* [security] max_transactions: live SIP transactions
                                * before new requests get 503 (200000; 0: no cap) */
    int has_sip_bind;         /* -s / TANDEM_SIP_BIND given: override sip.conf */
    struct in_addr sip_bind_addr;
    uint16_t sip_bind_port;   /* host order; 0 = keep sip.conf's port */
    int has_metrics;          /* [<process>] metrics= / -m / TANDEM_METRICS: serve HTTP; 0: off
                               * (the default when none names an address) */
    char metrics_addr[64];    /* IPv4 address to listen on */
    uint16_t metrics_port;    /* host order; 0 = any free port */
    td_store_conf_t cluster;  /* [cluster] redis=host:port, password=, db= (or TANDEM_REDIS):
                               * state in Redis (td_store.h); enabled = 0 without it */
    uint32_t nonce_lifetime_s; /* [security] nonce_lifetime: seconds a digest nonce stays
                                * current (30) */
    /* [security] bans and scanners (signaling/sip_ban.h) */
    uint32_t ban_threshold;   /* failed authentications from one source that ban it (20;
                               * 0: never ban) */
    uint32_t ban_window_s;    /* ... within this many seconds (60) */
    uint32_t ban_time_s;      /* seconds a ban lasts (600) */
    int ban_drop;             /* ban_action=drop (1) | reject (0: 403) */
    char ban_exempt[512];     /* addresses never banned: CIDR list ("127.0.0.0/8") */
    int drop_scanners;        /* drop requests with a scanner's User-Agent (1) */
    char scanner_useragents[1024]; /* their User-Agent substrings ("": sip_ban.h's list) */
} td_settings_t;

/* Parse argv and CONFDIR/tandem.conf for `process` ("signaling", "router",
 * "media"). On error prints "file:line: reason" (or usage) to stderr and
 * returns -1; the caller exits 1. */
int td_settings_load(td_settings_t *out, const char *process, int argc, char **argv);

/* Start logging as configured: td_log_init(process, loglevel), the
 * per-subsystem levels, the log file. On error prints the reason to stderr
 * and returns -1; the caller exits 1. */
int td_settings_log_init(const td_settings_t *self, const char *process);

/* Apply -s / TANDEM_SIP_BIND (if given) to a bind address read from
 * sip.conf. */
void td_settings_sip_bind(const td_settings_t *self, struct sockaddr_in *bind);

/* This host's address for `-a auto`, in buf: the non-loopback address it
 * reaches the bus endpoint `toward` from (tcp://HOST:PORT; NULL skips it),
 * else the default route's source address, else the first non-loopback
 * interface that is up, else "127.0.0.1". With host networking on a Docker
 * host this is the LAN address, not docker0's. */
char *td_settings_local_ip(char *buf, size_t len, const char *toward);

#endif
