/* td_settings - see td_settings.h. */
#include "td_settings.h"
#include "td_conf.h"
#include "td_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void s_usage(const char *process)
{
    fprintf(stderr, "usage: tandem-%s [-c CONFDIR] [-i IDENTITY] [-l LEVEL] [-b ENDPOINT]\n"
                    "                 [-s ADDR[:PORT]] [-a ADDR|auto] [-m ADDR:PORT|off]\n"
                    "  -c CONFDIR      folder with sip.conf, extensions.conf, rtp.conf, tandem.conf (default etc)\n"
                    "  -i IDENTITY     this process's name on the bus (default from tandem.conf; %%h = host name)\n"
                    "  -l LEVEL        error, warning, notice, info or debug\n"
                    "  -b ENDPOINT     the bus, e.g. tcp://router:5570 (over tandem.conf's [bus] endpoint);\n"
                    "                  signaling and media: a comma list of routers; a router binds the first\n"
                    "  -s ADDR[:PORT]  SIP over UDP binds here (over sip.conf's udpbindaddr/bindaddr)\n"
                    "  -a ADDR|auto    media address put in SDP (over tandem.conf's [media] address)\n"
                    "  -m ADDR:PORT|off  serve /metrics and /healthz there (port 0: any; over metrics=)\n"
                    "environment: TANDEM_IDENTITY, TANDEM_LOGLEVEL, TANDEM_BUS, TANDEM_SIP_BIND,\n"
                    "TANDEM_MEDIA_ADDRESS, TANDEM_METRICS, TANDEM_DISCOVER, TANDEM_REDIS (HOST:PORT,\n"
                    "cluster mode), TANDEM_BUS_KEYFILE (the bus's CURVE keypair file),\n"
                    "TANDEM_BUS_INSECURE (yes: a plain bus beyond loopback); a flag wins over its\n"
                    "variable, a variable over the files\n",
            process);
}

static int s_parse_metrics(td_settings_t *out, const char *text);

/* host:port (a name or an IPv4 address; port 1-65535) into a store conf;
 * -1 if malformed. */
static int s_parse_redis(td_store_conf_t *out, const char *text)
{
    const char *colon = strrchr(text, ':');
    size_t n = colon ? (size_t)(colon - text) : strlen(text);
    long port = 6379;
    if (n == 0 || n >= sizeof out->host || (colon && td_conf_int(colon + 1, 1, 65535, &port) < 0))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!(text[i] == '.' || text[i] == '-' || text[i] == '_'
              || (text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'z')
              || (text[i] >= 'A' && text[i] <= 'Z')))
            return -1;
    memcpy(out->host, text, n);
    out->host[n] = '\0';
    out->port = (uint16_t)port;
    return 0;
}

/* "ADDR[/BITS|/MASK],..." of IPv4 addresses (sip_acl's rules): 0 or -1. */
static int s_cidr_list_ok(const char *value)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", value);
    char *save = NULL;
    for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
        char *slash = strchr(t, '/');
        if (slash)
            *slash++ = '\0';
        struct in_addr a;
        if (inet_pton(AF_INET, t, &a) != 1)
            return -1;
        if (slash && !(strchr(slash, '.') ? inet_pton(AF_INET, slash, &a) == 1
                       : (*slash && strspn(slash, "0123456789") == strlen(slash)
                          && atoi(slash) <= 32)))
            return -1;
    }
    return 0;
}

static int s_copy(char *dst, size_t len, const td_conf_var_t *v, const char *what)
{
    if (strlen(v->value) >= len) {
        fprintf(stderr, "%s:%d: %s is too long\n", v->file, v->line, what);
        return -1;
    }
    snprintf(dst, len, "%s", v->value);
    return 0;
}

/* Read CONFDIR/tandem.conf if it exists; unknown keys are errors, since
 * this file is ours and a typo would otherwise pass silently. */
static int s_read_file(td_settings_t *out, const char *process)
{
    char path[600];
    td_conf_path(path, sizeof path, out->confdir, "tandem.conf");
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    char err[700];
    td_conf_t *conf = td_conf_load(path, err, sizeof err);
    if (!conf) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    int rc = 0, own_logfile = 0;
    td_bus_keys_t *own = calloc(1, sizeof *own);   /* the process section's keypair */
    if (!own)
        return -1;
    /* tandem.conf is Tandem's own file: what config.c would only warn
     * about is an error here, as an unknown setting is. */
    for (const td_conf_warning_t *w = td_conf_warnings(conf); w; w = w->next) {
        fprintf(stderr, "%s:%d: %s\n", w->file, w->line, w->text);
        rc = -1;
    }
    for (td_conf_section_t *sec = td_conf_first(conf); sec && rc == 0; sec = sec->next) {
        if (!strcmp(sec->name, "cluster"))
            out->cluster.enabled = 1;
        for (td_conf_var_t *v = sec->vars; v && rc == 0; v = v->next) {
            const char *s = sec->name, *k = v->name;
            long n;
            if (!strcmp(s, "general") && !strcasecmp(k, "loglevel")) {
                int level = td_log_level_parse(v->value);
                if (level < 0) {
                    fprintf(stderr, "%s:%d: unknown loglevel '%s'\n", v->file, v->line, v->value);
                    rc = -1;
                } else
                    out->loglevel = level;
            } else if (!strcmp(s, "logging") && !strcasecmp(k, "level")) {
                int level = td_log_level_parse(v->value);
                if (level < 0) {
                    fprintf(stderr, "%s:%d: unknown level '%s'\n", v->file, v->line, v->value);
                    rc = -1;
                } else
                    out->loglevel = level;
            } else if (!strcmp(s, "logging") && td_log_subsys_parse(k) >= 0) {
                int level = td_log_level_parse(v->value);
                if (level < 0) {
                    fprintf(stderr, "%s:%d: unknown level '%s' for %s\n", v->file, v->line,
                            v->value, k);
                    rc = -1;
                } else
                    out->sublevels[td_log_subsys_parse(k)] = level;
            } else if ((!strcmp(s, "general") || !strcmp(s, "media") || !strcmp(s, "signaling")
                        || !strcmp(s, "router")) && !strcasecmp(k, "logfile")) {
                /* the process's own section wins over [general], in any order */
                if (!strcmp(s, process)) {
                    rc = s_copy(out->logfile, sizeof out->logfile, v, "logfile");
                    own_logfile = 1;
                } else if (!strcmp(s, "general") && !own_logfile)
                    rc = s_copy(out->logfile, sizeof out->logfile, v, "logfile");
            } else if ((!strcmp(s, "bus") && !strncasecmp(k, "curve_", 6))
                       || (!strcmp(s, "bus") && !strcasecmp(k, "insecure"))
                       || ((!strcmp(s, "media") || !strcmp(s, "signaling")
                            || !strcmp(s, "router") || !strcmp(s, "ctl"))
                           && (!strcasecmp(k, "curve_secret") || !strcasecmp(k, "curve_public")
                               || !strcasecmp(k, "curve_keyfile")))) {
                /* a process's own section wins over [bus], in any order */
                char err[700];
                td_bus_keys_t *into = strcmp(s, "bus") ? own : &out->bus_keys;
                int r = 0;
                if (!strcmp(s, "bus") || !strcmp(s, process))
                    r = td_bus_keys_set(into, out->confdir, k, v->value, err, sizeof err);
                if (r < 0 || (r == 0 && !strcmp(s, "bus"))) {
                    if (r == 0)
                        snprintf(err, sizeof err, "unknown setting '%s' in [bus]", k);
                    fprintf(stderr, "%s:%d: %s\n", v->file, v->line, err);
                    rc = -1;
                }
            } else if (!strcmp(s, "bus") && !strcasecmp(k, "endpoint")) {
                rc = s_copy(out->endpoint, sizeof out->endpoint, v, "endpoint");
                out->has_endpoint = 1;
            } else if (!strcmp(s, "bus") && !strcasecmp(k, "discover")) {
                if (strncmp(v->value, "tcp://", 6) != 0 || !strchr(v->value + 6, ':')) {
                    fprintf(stderr, "%s:%d: discover must be tcp://NAME:PORT\n", v->file,
                            v->line);
                    rc = -1;
                } else
                    rc = s_copy(out->discover, sizeof out->discover, v, "discover");
            } else if (!strcmp(s, "router") && !strcasecmp(k, "cdrdir")) {
                rc = s_copy(out->cdrdir, sizeof out->cdrdir, v, "cdrdir");
            } else if (!strcmp(s, "media") && !strcasecmp(k, "sounds")) {
                rc = s_copy(out->sounds_dir, sizeof out->sounds_dir, v, "sounds");
            } else if (!strcmp(s, "media") && !strcasecmp(k, "moh")) {
                rc = s_copy(out->moh_dir, sizeof out->moh_dir, v, "moh");
            } else if (!strcmp(s, "media") && !strcasecmp(k, "recordings")) {
                rc = s_copy(out->recordings_dir, sizeof out->recordings_dir, v, "recordings");
            } else if (!strcmp(s, "router") && !strcasecmp(k, "signaling_grace")) {
                if (td_conf_int(v->value, 0, 3600, &n) < 0) {
                    fprintf(stderr, "%s:%d: signaling_grace must be a number of seconds "
                            "from 0 to 3600\n", v->file, v->line);
                    rc = -1;
                } else
                    out->sig_grace_s = (uint32_t)n;
            } else if (!strcmp(s, "router") && !strcasecmp(k, "max_call_duration")) {
                if (td_conf_int(v->value, 0, 86400 * 365, &n) < 0) {
                    fprintf(stderr, "%s:%d: max_call_duration must be a number of seconds "
                            "from 0 (no limit) to 31536000\n", v->file, v->line);
                    rc = -1;
                } else
                    out->max_call_s = (uint32_t)n;
            } else if (!strcmp(s, "router") && !strcasecmp(k, "astdb")) {
                rc = s_copy(out->astdb, sizeof out->astdb, v, "astdb");
            } else if (!strcmp(s, "media") && !strcasecmp(k, "address")) {
                struct in_addr a;
                if (inet_pton(AF_INET, v->value, &a) != 1) {
                    fprintf(stderr, "%s:%d: address '%s' is not an IPv4 address\n",
                            v->file, v->line, v->value);
                    rc = -1;
                } else
                    rc = s_copy(out->media_address, sizeof out->media_address, v, "address");
            } else if ((!strcmp(s, "media") || !strcmp(s, "signaling")) && !strcasecmp(k, "capacity")) {
                if (td_conf_int(v->value, 1, 1000000, &n) < 0) {
                    fprintf(stderr, "%s:%d: capacity must be a number from 1 to 1000000\n",
                            v->file, v->line);
                    rc = -1;
                } else if (!strcmp(s, process))
                    out->capacity = (uint32_t)n;
            } else if (!strcmp(s, "signaling") && (!strcasecmp(k, "overload_lag_ms")
                                                   || !strcasecmp(k, "max_cps")
                                                   || !strcasecmp(k, "max_ringing"))) {
                if (td_conf_int(v->value, 0, 1000000, &n) < 0) {
                    fprintf(stderr, "%s:%d: %s must be a number from 0 to 1000000\n",
                            v->file, v->line, k);
                    rc = -1;
                } else if (!strcasecmp(k, "overload_lag_ms"))
                    out->overload_lag_ms = (uint32_t)n;
                else if (!strcasecmp(k, "max_cps"))
                    out->max_cps = (uint32_t)n;
                else
                    out->max_ringing = (uint32_t)n;
            } else if (!strcmp(s, "security") && (!strcasecmp(k, "max_sdp")
                                                  || !strcasecmp(k, "max_transactions"))) {
                int sdp = !strcasecmp(k, "max_sdp");
                if (td_conf_int(v->value, sdp ? 1024 : 0, sdp ? 1048576 : 10000000, &n) < 0) {
                    fprintf(stderr, "%s:%d: %s must be a number from %s\n", v->file, v->line,
                            k, sdp ? "1024 to 1048576 (bytes)" : "0 (no cap) to 10000000");
                    rc = -1;
                } else if (sdp)
                    out->max_sdp = (uint32_t)n;
                else
                    out->max_transactions = (uint32_t)n;
            } else if ((!strcmp(s, "media") || !strcmp(s, "signaling") || !strcmp(s, "router"))
                       && !strcasecmp(k, "metrics")) {
                td_settings_t tmp = *out;
                if (s_parse_metrics(&tmp, v->value) < 0) {
                    fprintf(stderr, "%s:%d: metrics must be ADDR:PORT (IPv4, port 0 for any "
                            "free one) or off\n", v->file, v->line);
                    rc = -1;
                } else if (!strcmp(s, process))
                    *out = tmp;
            } else if (!strcmp(s, "cluster") && !strcasecmp(k, "redis")) {
                if (s_parse_redis(&out->cluster, v->value) < 0) {
                    fprintf(stderr, "%s:%d: redis must be HOST:PORT (e.g. 127.0.0.1:6379)\n",
                            v->file, v->line);
                    rc = -1;
                }
            } else if (!strcmp(s, "cluster") && !strcasecmp(k, "password")) {
                rc = s_copy(out->cluster.password, sizeof out->cluster.password, v, "password");
            } else if (!strcmp(s, "cluster") && !strcasecmp(k, "db")) {
                if (td_conf_int(v->value, 0, 1000, &n) < 0) {
                    fprintf(stderr, "%s:%d: db must be a Redis database number from 0 to 1000\n",
                            v->file, v->line);
                    rc = -1;
                } else
                    out->cluster.db = (int)n;
            } else if (!strcmp(s, "security") && !strcasecmp(k, "nonce_lifetime")) {
                if (td_conf_int(v->value, 1, 3600, &n) < 0) {
                    fprintf(stderr, "%s:%d: nonce_lifetime must be a number of seconds "
                            "from 1 to 3600\n", v->file, v->line);
                    rc = -1;
                } else
                    out->nonce_lifetime_s = (uint32_t)n;
            } else if ((!strcmp(s, "media") || !strcmp(s, "signaling") || !strcmp(s, "router"))
                       && !strcasecmp(k, "identity")) {
                if (!strcmp(s, process))
                    rc = s_copy(out->identity, sizeof out->identity, v, "identity");
            } else if (!strcmp(s, "security") && (!strcasecmp(k, "ban_threshold")
                                                  || !strcasecmp(k, "ban_window")
                                                  || !strcasecmp(k, "ban_time"))) {
                if (td_conf_int(v->value, !strcasecmp(k, "ban_threshold") ? 0 : 1,
                                86400 * 365, &n) < 0) {
                    fprintf(stderr, "%s:%d: %s must be a number from %d to 31536000\n",
                            v->file, v->line, k, !strcasecmp(k, "ban_threshold") ? 0 : 1);
                    rc = -1;
                } else if (!strcasecmp(k, "ban_threshold"))
                    out->ban_threshold = (uint32_t)n;
                else if (!strcasecmp(k, "ban_window"))
                    out->ban_window_s = (uint32_t)n;
                else
                    out->ban_time_s = (uint32_t)n;
            } else if (!strcmp(s, "security") && !strcasecmp(k, "ban_action")) {
                if (strcasecmp(v->value, "drop") && strcasecmp(v->value, "reject")) {
                    fprintf(stderr, "%s:%d: ban_action must be drop or reject\n", v->file,
                            v->line);
                    rc = -1;
                } else
                    out->ban_drop = !strcasecmp(v->value, "drop");
            } else if (!strcmp(s, "security") && !strcasecmp(k, "ban_exempt")) {
                if (s_cidr_list_ok(v->value) < 0) {
                    fprintf(stderr, "%s:%d: ban_exempt must be a comma list of IPv4 "
                            "ADDR[/BITS|/MASK]\n", v->file, v->line);
                    rc = -1;
                } else
                    rc = s_copy(out->ban_exempt, sizeof out->ban_exempt, v, "ban_exempt");
            } else if (!strcmp(s, "security") && !strcasecmp(k, "drop_scanners")) {
                int yes = td_conf_bool(v->value);
                if (yes < 0) {
                    fprintf(stderr, "%s:%d: drop_scanners must be yes or no\n", v->file,
                            v->line);
                    rc = -1;
                } else
                    out->drop_scanners = yes;
            } else if (!strcmp(s, "security") && !strcasecmp(k, "scanner_useragents")) {
                rc = s_copy(out->scanner_useragents, sizeof out->scanner_useragents, v,
                            "scanner_useragents");
            } else {
                fprintf(stderr, "%s:%d: unknown setting '%s' in [%s]\n", v->file, v->line, k, s);
                rc = -1;
            }
        }
    }
    td_conf_destroy(&conf);
    if (own->secret[0]) {
        memcpy(out->bus_keys.secret, own->secret, sizeof own->secret);
        memcpy(out->bus_keys.public_key, own->public_key, sizeof own->public_key);
    }
    free(own);
    return rc;
}

/* ADDR[:PORT] (IPv4) into addr and port (0 if absent); -1 if malformed. */
static int s_parse_hostport(const char *text, struct in_addr *addr, uint16_t *port)
{
    char host[64];
    const char *colon = strchr(text, ':');
    size_t n = colon ? (size_t)(colon - text) : strlen(text);
    if (n == 0 || n >= sizeof host)
        return -1;
    memcpy(host, text, n);
    host[n] = '\0';
    if (inet_pton(AF_INET, host, addr) != 1)
        return -1;
    *port = 0;
    if (colon) {
        long p;
        if (td_conf_int(colon + 1, 1, 65535, &p) < 0)
            return -1;
        *port = (uint16_t)p;
    }
    return 0;
}

/* A metrics address: "off", "no" or "" (none), or IPv4:PORT with PORT
 * 0..65535 (0: any free port). 0, or -1 if malformed. */
static int s_parse_metrics(td_settings_t *out, const char *text)
{
    if (!*text || !strcasecmp(text, "off") || !strcasecmp(text, "no")) {
        out->has_metrics = 0;
        return 0;
    }
    const char *colon = strrchr(text, ':');
    struct in_addr a;
    long port;
    size_t n = colon ? (size_t)(colon - text) : 0;
    if (!colon || n == 0 || n >= sizeof out->metrics_addr)
        return -1;
    char host[sizeof out->metrics_addr];
    memcpy(host, text, n);
    host[n] = '\0';
    if (inet_pton(AF_INET, host, &a) != 1 || td_conf_int(colon + 1, 0, 65535, &port) < 0)
        return -1;
    snprintf(out->metrics_addr, sizeof out->metrics_addr, "%s", host);
    out->metrics_port = (uint16_t)port;
    out->has_metrics = 1;
    return 0;
}

/* The identity with "%h" replaced by the host name and "%%" by '%'; -1 if
 * the result is empty or too long, or another '%' sequence is used. */
static int s_expand_identity(char *out, size_t len, const char *in)
{
    char host[256];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    size_t o = 0;
    for (const char *p = in; *p; p++) {
        const char *piece = p;
        size_t n = 1;
        if (*p == '%') {
            if (p[1] == 'h') {
                piece = host;
                n = strlen(host);
            } else if (p[1] != '%')
                return -1;
            p++;
        }
        if (o + n >= len)
            return -1;
        memcpy(out + o, piece, n);
        o += n;
    }
    out[o] = '\0';
    return o ? 0 : -1;
}

/* A flag's value if given, else the environment's (NULL or "" = unset);
 * *from says which, for error messages. */
static const char *s_pick(const char *flag, const char *env, const char **from)
{
    if (flag) {
        *from = "flag";
        return flag;
    }
    const char *v = getenv(env);
    *from = env;
    return v && *v ? v : NULL;
}

int td_settings_load(td_settings_t *out, const char *process, int argc, char **argv)
{
    memset(out, 0, sizeof *out);
    snprintf(out->confdir, sizeof out->confdir, "etc");
    snprintf(out->endpoint, sizeof out->endpoint, "tcp://127.0.0.1:5570");
    snprintf(out->cdrdir, sizeof out->cdrdir, "var/cdr-csv");
    /* sounds_dir and moh_dir stay "" unless set: the media worker then
     * searches where Debian and Asterisk put them (media/sound_dir.h). */
    snprintf(out->recordings_dir, sizeof out->recordings_dir, "var/recordings");
    snprintf(out->astdb, sizeof out->astdb, "var/astdb");
    out->max_call_s = 43200;
    out->sig_grace_s = 30;
    out->nonce_lifetime_s = 30;
    out->loglevel = LOG_INFO;
    for (int i = 0; i < TD_LOG_SUBSYS_COUNT; i++)
        out->sublevels[i] = -1;
    out->capacity = 2000;
    out->overload_lag_ms = 20;
    out->max_sdp = 16384;
    out->max_transactions = 200000;
    out->ban_threshold = 20;
    out->ban_window_s = 60;
    out->ban_time_s = 600;
    out->ban_drop = 1;
    /* this host never bans itself, as fail2ban's ignoreip (127.0.0.1/8):
     * no one outside can send from loopback, and local tools, monitors and
     * test suites sharing 127.0.0.1 with a phone's wrong password would
     * otherwise lose the switch for ban_time. `ban_exempt=` clears it. */
    snprintf(out->ban_exempt, sizeof out->ban_exempt, "127.0.0.0/8");
    out->drop_scanners = 1;
    snprintf(out->cluster.host, sizeof out->cluster.host, "127.0.0.1");
    out->cluster.port = 6379;
    if (!strcmp(process, "router"))
        snprintf(out->identity, sizeof out->identity, "router");
    else
        snprintf(out->identity, sizeof out->identity, "%s-1",
                 !strcmp(process, "signaling") ? "sig" : process);

    const char *opt_identity = NULL, *opt_level = NULL, *opt_bus = NULL, *opt_sip = NULL,
               *opt_addr = NULL, *opt_metrics = NULL;
    int c;
    optind = 1;
    while ((c = getopt(argc, argv, "c:i:l:b:s:a:m:h")) != -1) {
        switch (c) {
        case 'c':
            if (strlen(optarg) >= sizeof out->confdir) {
                fprintf(stderr, "tandem-%s: config path too long\n", process);
                return -1;
            }
            snprintf(out->confdir, sizeof out->confdir, "%s", optarg);
            break;
        case 'i': opt_identity = optarg; break;
        case 'l': opt_level = optarg; break;
        case 'b': opt_bus = optarg; break;
        case 's': opt_sip = optarg; break;
        case 'a': opt_addr = optarg; break;
        case 'm': opt_metrics = optarg; break;
        default:
            s_usage(process);
            return -1;
        }
    }
    if (optind < argc) {
        s_usage(process);
        return -1;
    }
    struct stat st;
    if (stat(out->confdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "tandem-%s: config directory '%s' not found\n", process, out->confdir);
        return -1;
    }
    if (s_read_file(out, process) < 0)
        return -1;

    const char *from, *v;
    int bus_over = 0, discover_env = 0;   /* TANDEM_BUS / -b given; TANDEM_DISCOVER given */
    if ((v = s_pick(opt_identity, "TANDEM_IDENTITY", &from))) {
        if (!*v || strlen(v) >= sizeof out->identity) {
            fprintf(stderr, "tandem-%s: bad identity '%s' (%s)\n", process, v, from);
            return -1;
        }
        snprintf(out->identity, sizeof out->identity, "%s", v);
    }
    char expanded[sizeof out->identity];
    if (s_expand_identity(expanded, sizeof expanded, out->identity) < 0) {
        fprintf(stderr, "tandem-%s: bad identity '%s' (%%h is the host name, %%%% a '%%')\n",
                process, out->identity);
        return -1;
    }
    snprintf(out->identity, sizeof out->identity, "%s", expanded);
    if ((v = s_pick(opt_level, "TANDEM_LOGLEVEL", &from))) {
        int level = td_log_level_parse(v);
        if (level < 0) {
            fprintf(stderr, "tandem-%s: unknown log level '%s' (%s)\n", process, v, from);
            return -1;
        }
        out->loglevel = level;
    }
    if ((v = s_pick(opt_bus, "TANDEM_BUS", &from))) {
        if (strlen(v) >= sizeof out->endpoint || !strstr(v, "://")) {
            fprintf(stderr, "tandem-%s: bad bus endpoint '%s' (%s): want e.g. tcp://host:5570\n",
                    process, v, from);
            return -1;
        }
        snprintf(out->endpoint, sizeof out->endpoint, "%s", v);
        out->has_endpoint = 1;
        bus_over = 1;
    }
    if ((v = s_pick(NULL, "TANDEM_DISCOVER", &from))) {
        discover_env = 1;
        if (strlen(v) >= sizeof out->discover
            || (*v && (strncmp(v, "tcp://", 6) != 0 || !strchr(v + 6, ':')))) {
            fprintf(stderr, "tandem-%s: bad discover '%s' (%s): want tcp://NAME:PORT\n",
                    process, v, from);
            return -1;
        }
        snprintf(out->discover, sizeof out->discover, "%s", v);
    }
    if (!strcmp(process, "router") || !strcmp(process, "ctl")) {
        /* One router: a router binds the first endpoint of the list (its
         * own, or -b), and tandemctl talks to that one (or -b's). */
        out->endpoint[strcspn(out->endpoint, ",")] = '\0';
    } else if (out->discover[0] && (!out->has_endpoint || (discover_env && !bus_over))) {
        /* routers found by DNS only: not the default endpoint, nor the
         * file's when TANDEM_DISCOVER (over the files) names them */
        out->endpoint[0] = '\0';
    }
    if ((v = s_pick(opt_sip, "TANDEM_SIP_BIND", &from))) {
        if (s_parse_hostport(v, &out->sip_bind_addr, &out->sip_bind_port) < 0) {
            fprintf(stderr, "tandem-%s: bad SIP bind address '%s' (%s): want IPv4[:PORT]\n",
                    process, v, from);
            return -1;
        }
        out->has_sip_bind = 1;
    }
    if ((v = s_pick(opt_addr, "TANDEM_MEDIA_ADDRESS", &from))) {
        struct in_addr a;
        if (!strcasecmp(v, "auto"))
            out->media_address[0] = '\0';
        else if (inet_pton(AF_INET, v, &a) != 1) {
            fprintf(stderr, "tandem-%s: media address '%s' (%s) is not an IPv4 address\n",
                    process, v, from);
            return -1;
        } else
            snprintf(out->media_address, sizeof out->media_address, "%s", v);
    }
    if ((v = s_pick(NULL, "TANDEM_REDIS", &from))) {
        if (s_parse_redis(&out->cluster, v) < 0) {
            fprintf(stderr, "tandem-%s: bad Redis address '%s' (TANDEM_REDIS): want HOST:PORT\n",
                    process, v);
            return -1;
        }
        out->cluster.enabled = 1;
    }
    if ((v = s_pick(opt_metrics, "TANDEM_METRICS", &from)) && s_parse_metrics(out, v) < 0) {
        fprintf(stderr, "tandem-%s: bad metrics address '%s' (%s): want IPv4:PORT (port 0: "
                "any free one) or off\n", process, v, from);
        return -1;
    }
    char err[700];
    if (((v = s_pick(NULL, "TANDEM_BUS_KEYFILE", &from)) && *v
         && td_bus_keys_set(&out->bus_keys, out->confdir, "curve_keyfile", v, err, sizeof err) < 0)
        || ((v = s_pick(NULL, "TANDEM_BUS_INSECURE", &from)) && *v
            && td_bus_keys_set(&out->bus_keys, NULL, "insecure", v, err, sizeof err) < 0)) {
        fprintf(stderr, "tandem-%s: %s (%s)\n", process, err, from);
        return -1;
    }
    if (td_bus_keys_check(&out->bus_keys, process, err, sizeof err) < 0) {
        fprintf(stderr, "tandem-%s: %s\n", process, err);
        return -1;
    }
    return 0;
}

int td_settings_log_init(const td_settings_t *self, const char *process)
{
    td_log_init(process, self->loglevel);
    for (int i = 0; i < TD_LOG_SUBSYS_COUNT; i++)
        if (self->sublevels[i] >= 0)
            td_log_set_level(i, self->sublevels[i]);
    if (self->logfile[0] && td_log_open(self->logfile) < 0) {
        fprintf(stderr, "tandem-%s: cannot open the log file %s: %s\n", process, self->logfile,
                strerror(errno));
        return -1;
    }
    return 0;
}

void td_settings_sip_bind(const td_settings_t *self, struct sockaddr_in *bind)
{
    if (!self->has_sip_bind)
        return;
    bind->sin_family = AF_INET;
    bind->sin_addr = self->sip_bind_addr;
    if (self->sip_bind_port)
        bind->sin_port = htons(self->sip_bind_port);
}

/* The local address the kernel picks to reach host:port (a UDP connect()
 * sends nothing), if it is not a loopback one. */
static int s_route_source(const char *host, const char *port, char *buf, size_t len)
{
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM }, *res = NULL;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        return -1;
    int rc = -1, fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in me;
    socklen_t mlen = sizeof me;
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0
        && getsockname(fd, (struct sockaddr *)&me, &mlen) == 0
        && (ntohl(me.sin_addr.s_addr) >> 24) != 127 && me.sin_addr.s_addr != htonl(INADDR_ANY)) {
        inet_ntop(AF_INET, &me.sin_addr, buf, (socklen_t)len);
        rc = 0;
    }
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return rc;
}

char *td_settings_local_ip(char *buf, size_t len, const char *toward)
{
    snprintf(buf, len, "127.0.0.1");
    /* 1. the address this host reaches the router from (tcp://HOST:PORT) */
    const char *h = toward ? strstr(toward, "://") : NULL;
    if (h && strncmp(toward, "tcp", 3) == 0) {
        char host[256];
        h += 3;
        size_t end = strcspn(h, ",");        /* a list of routers: the first */
        const char *colon = memrchr(h, ':', end);
        size_t n = colon ? (size_t)(colon - h) : end;
        if (n > 0 && n < sizeof host && strcmp(h, "*") != 0) {
            memcpy(host, h, n);
            host[n] = '\0';
            if (s_route_source(host, colon ? colon + 1 : "5570", buf, len) == 0)
                return buf;
        }
    }
    /* 2. the address of the default route (192.0.2.1 is TEST-NET-1: only a
     * route lookup, no packet) */
    if (s_route_source("192.0.2.1", "9", buf, len) == 0)
        return buf;
    /* 3. the first non-loopback interface that is up */
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0)
        return buf;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK)
            || !(i->ifa_flags & IFF_UP))
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, (socklen_t)len);
        break;
    }
    freeifaddrs(ifs);
    return buf;
}
