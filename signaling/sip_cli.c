/* sip_cli - see sip_cli.h. */
#include "sip_cli.h"
#include "sip_ban.h"

#include <arpa/inet.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "td_strbuf.h"

typedef td_strbuf_t s_out_t;      /* the reply's text */
#define s_printf td_strbuf_printf

static const char *s_yesno(int v)
{
    return v ? "Yes" : "No";        /* AST_CLI_YESNO */
}

/* chan_sip's force_rport_string: nat=auto_force_rport shows "Auto (No)"
 * until a request proves the peer is behind NAT; Tandem decides that per
 * request and keeps no such flag on the peer, so Auto stays "(No)". */
static const char *s_force_rport(sip_nat_t nat)
{
    return nat == SIP_NAT_AUTO ? "Auto (No)" : s_yesno(nat == SIP_NAT_FORCE);
}

static const char *s_comedia(sip_comedia_t c)
{
    return c == SIP_COMEDIA_AUTO ? "Auto (No)" : s_yesno(c == SIP_COMEDIA_YES);
}

/* Where the peer is: its registration's address (dynamic), else its static
 * host; 0 when neither (chan_sip's peer->addr is null). */
static int s_peer_addr(const sip_cli_env_t *env, const sip_peer_t *p, struct sockaddr_in *out,
                       const sip_binding_t **binding)
{
    *binding = NULL;
    if (!p->dynamic) {
        *out = p->addr;
        return p->addr.sin_addr.s_addr != 0 || p->addr.sin_port != 0;
    }
    const sip_binding_t *b = env->registrar
                             ? sip_registrar_lookup(env->registrar, p->name, env->now) : NULL;
    if (!b)
        return 0;
    *binding = b;
    *out = b->dest;
    return 1;
}

/* chan_sip's peer_status: 1 monitored and online, 0 monitored and offline,
 * -1 unmonitored. */
static int s_status(const sip_cli_env_t *env, const sip_peer_t *p, char *out, size_t len)
{
    if (p->maxms <= 0) {
        snprintf(out, len, "Unmonitored");
        return -1;
    }
    int lastms = env->lastms ? env->lastms(env->arg, p) : 0;
    if (lastms < 0) {
        snprintf(out, len, "UNREACHABLE");
        return 0;
    }
    if (lastms > p->maxms) {
        snprintf(out, len, "LAGGED (%d ms)", lastms);
        return 1;
    }
    if (lastms) {
        snprintf(out, len, "OK (%d ms)", lastms);
        return 1;
    }
    snprintf(out, len, "UNKNOWN");
    return 0;
}

/* "like <pattern>" after the command's n_fixed words; -1 bad usage. */
static int s_pattern(char **w, int n, int n_fixed, regex_t *re, int *have)
{
    *have = 0;
    if (n == n_fixed)
        return 0;
    if (n != n_fixed + 2 || strcasecmp(w[n_fixed], "like") != 0)
        return -1;
    if (regcomp(re, w[n_fixed + 1], REG_EXTENDED | REG_NOSUB) != 0)
        return -1;
    *have = 1;
    return 0;
}

static int s_by_name(const void *a, const void *b)
{
    const sip_peer_t *x = *(const sip_peer_t *const *)a, *y = *(const sip_peer_t *const *)b;
    return strcmp(x->name, y->name);            /* peercomparefunc */
}

/* --- sip show peers ------------------------------------------------------------ */

#define PEERS_FORMAT "%-25.25s %-39.39s %-3.3s %-10.10s %-10.10s %-3.3s %-8s %-11s %-32.32s %s\n"

static int s_show_peers(const sip_cli_env_t *env, s_out_t *o, char **w, int n)
{
    regex_t re;
    int have;
    if (s_pattern(w, n, 3, &re, &have) < 0)
        return SIP_CLI_USAGE;
    size_t total = sip_conf_peer_count(env->conf), k = 0;
    const sip_peer_t **list = calloc(total ? total : 1, sizeof *list);
    if (!list) {
        if (have)
            regfree(&re);
        return SIP_CLI_FAILED;
    }
    for (size_t i = 0; i < total; i++) {
        const sip_peer_t *p = sip_conf_peer_at(env->conf, i);
        if (p->type == SIP_PEER_USER || (have && regexec(&re, p->name, 0, NULL, 0) != 0))
            continue;
        list[k++] = p;
    }
    qsort(list, k, sizeof *list, s_by_name);
    s_printf(o, PEERS_FORMAT, "Name/username", "Host", "Dyn", "Forcerport", "Comedia", "ACL",
             "Port", "Status", "Description", "");
    int mon_on = 0, mon_off = 0, unmon_on = 0, unmon_off = 0;
    for (size_t i = 0; i < k; i++) {
        const sip_peer_t *p = list[i];
        char name[200], host[INET_ADDRSTRLEN] = "(Unspecified)", port[8] = "0", status[32];
        struct sockaddr_in a;
        const sip_binding_t *b;
        int known = s_peer_addr(env, p, &a, &b);
        if (known) {
            inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
            snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
        }
        if (p->defaultuser[0])
            snprintf(name, sizeof name, "%s/%s", p->name, p->defaultuser);
        else
            snprintf(name, sizeof name, "%s", p->name);
        int st = s_status(env, p, status, sizeof status);
        if (st == 1)
            mon_on++;
        else if (st == 0)
            mon_off++;
        else if (!known || !a.sin_port)
            unmon_off++;
        else
            unmon_on++;
        s_printf(o, PEERS_FORMAT, name, host, p->dynamic ? " D " : "   ",
                 s_force_rport(p->nat), s_comedia(p->comedia), "   ", port, status, "", "");
    }
    s_printf(o, "%zu sip peers [Monitored: %d online, %d offline Unmonitored: %d online, "
             "%d offline]\n", k, mon_on, mon_off, unmon_on, unmon_off);
    free(list);
    if (have)
        regfree(&re);
    return SIP_CLI_OK;
}

/* --- sip show peer <name> ------------------------------------------------------- */

static const char *s_transport_name(unsigned t)
{
    return t == SIP_TRANSPORT_TLS ? "TLS" : t == SIP_TRANSPORT_TCP ? "TCP" : "UDP";
}

static void s_transports(unsigned mask, char *out, size_t len)
{
    static const unsigned all[] = { SIP_TRANSPORT_UDP, SIP_TRANSPORT_TCP, SIP_TRANSPORT_TLS };
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < 3; i++)
        if (mask & all[i]) {
            int w = snprintf(out + n, len - n, "%s%s", n ? "," : "", s_transport_name(all[i]));
            if (w > 0 && (size_t)w < len - n)
                n += (size_t)w;
        }
    if (!n)
        snprintf(out, len, "UNKNOWN");
}

/* ast_format_cap_get_names: "(ulaw|alaw)", preference order. */
static void s_codecs(const sip_peer_t *p, char *out, size_t len)
{
    size_t n = snprintf(out, len, "(");
    for (size_t i = 0; i < p->codec_order.n && n < len; i++)
        n += snprintf(out + n, len - n, "%s%s", i ? "|" : "",
                      p->codec_order.pt[i] == 0 ? "ulaw" : "alaw");
    if (n < len)
        snprintf(out + n, len - n, "%s)", p->codec_order.n ? "" : "nothing");
}

static void s_addr(const struct sockaddr_in *a, int known, char *out, size_t len)
{
    char ip[INET_ADDRSTRLEN];
    if (!known) {
        snprintf(out, len, "(null)");   /* ast_sockaddr_stringify of a null address */
        return;
    }
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(out, len, "%s:%d", ip, ntohs(a->sin_port));
}

static int s_show_peer(const sip_cli_env_t *env, s_out_t *o, const char *name)
{
    const sip_peer_t *p = sip_conf_peer(env->conf, name);
    if (!p || p->type == SIP_PEER_USER) {
        /* chan_sip says so and returns CLI_SUCCESS; Tandem's CLI calls an
         * unknown object a failure (as `channel request hangup`) */
        s_printf(o, "Peer %s not found.\n\n", name);
        return SIP_CLI_FAILED;
    }
    struct sockaddr_in a;
    const sip_binding_t *b;
    int known = s_peer_addr(env, p, &a, &b);
    char buf[300], cid[200], status[32];
    s_printf(o, "\n\n");
    s_printf(o, "  * Name       : %s\n", p->name);
    s_printf(o, "  Description  : %s\n", "");
    s_printf(o, "  Secret       : %s\n", p->secret[0] ? "<Set>" : "<Not set>");
    s_printf(o, "  MD5Secret    : %s\n", p->has_secret && !p->secret[0] ? "<Set>" : "<Not set>");
    s_printf(o, "  Remote Secret: %s\n", p->remotesecret[0] ? "<Set>" : "<Not set>");
    s_printf(o, "  Context      : %s\n", p->context);
    s_printf(o, "  Transfer mode: %s\n", p->allowtransfer ? "open" : "closed");
    if (p->fromuser[0])
        s_printf(o, "  FromUser     : %s\n", p->fromuser);
    if (p->fromdomain[0])
        s_printf(o, "  FromDomain   : %s Port %d\n", p->fromdomain, 5060);
    s_printf(o, "  Dynamic      : %s\n", s_yesno(p->dynamic));
    /* ast_callerid_merge */
    if (p->cid_name[0] && p->cid_num[0])
        snprintf(cid, sizeof cid, "\"%s\" <%s>", p->cid_name, p->cid_num);
    else
        snprintf(cid, sizeof cid, "%s", p->cid_name[0] ? p->cid_name
                                        : p->cid_num[0] ? p->cid_num : "<unspecified>");
    s_printf(o, "  Callerid     : %s\n", cid);
    s_printf(o, "  Expire       : %ld\n", b ? b->expires_at - env->now : -1L);
    s_printf(o, "  Insecure     : %s\n", p->insecure_port && p->insecure_invite ? "port,invite"
             : p->insecure_port ? "port" : p->insecure_invite ? "invite" : "no");
    s_printf(o, "  Force rport  : %s\n", s_force_rport(p->nat));
    s_printf(o, "  Symmetric RTP: %s\n", s_comedia(p->comedia));
    s_printf(o, "  ACL          : %s\n", "No");
    s_printf(o, "  Path support : %s\n", s_yesno(p->supportpath));
    if (b && b->path[0])
        s_printf(o, "  Path         : %s\n", b->path);
    if (p->has_proxy) {
        s_addr(&p->proxy, 1, buf, sizeof buf);
        s_printf(o, "  Outb. proxy  : %s %s\n", buf, "");
    }
    s_printf(o, "  ToHost       : %s\n", p->dynamic ? "" : p->host);
    s_addr(&a, known, buf, sizeof buf);
    s_printf(o, "  Addr->IP     : %s\n", buf);
    s_addr(&p->addr, !p->dynamic, buf, sizeof buf);
    s_printf(o, "  Defaddr->IP  : %s\n", buf);
    s_printf(o, "  Prim.Transp. : %s\n", s_transport_name(p->transport));
    s_transports(p->transports, buf, sizeof buf);
    s_printf(o, "  Allowed.Trsp : %s\n", buf);
    s_printf(o, "  Def. Username: %s\n", p->defaultuser);
    s_codecs(p, buf, sizeof buf);
    s_printf(o, "  Codecs       : %s\n", buf);
    s_status(env, p, status, sizeof status);
    s_printf(o, "  Status       : %s\n", status);
    s_printf(o, "  Reg. Contact : %s\n", b ? b->uri : "");
    s_printf(o, "  Qualify Freq : %d ms\n", p->qualifyfreq * 1000);
    s_printf(o, "  Encryption   : %s\n", s_yesno(p->encryption));
    s_printf(o, "\n");
    return SIP_CLI_OK;
}

/* --- sip show users ------------------------------------------------------------- */

#define USERS_FORMAT "%-25.25s  %-15.15s  %-15.15s  %-15.15s  %-5.5s%-10.10s\n"

static int s_show_users(const sip_cli_env_t *env, s_out_t *o, char **w, int n)
{
    regex_t re;
    int have;
    if (s_pattern(w, n, 3, &re, &have) < 0)
        return SIP_CLI_USAGE;
    s_printf(o, USERS_FORMAT, "Username", "Secret", "Accountcode", "Def.Context", "ACL",
             "Forcerport");
    /* chan_sip walks its peers container (hash order); file order here */
    for (size_t i = 0; i < sip_conf_peer_count(env->conf); i++) {
        const sip_peer_t *p = sip_conf_peer_at(env->conf, i);
        if (p->type == SIP_PEER_PEER || (have && regexec(&re, p->name, 0, NULL, 0) != 0))
            continue;
        /* chan_sip prints the secret itself, as here */
        s_printf(o, USERS_FORMAT, p->name, p->secret, "", p->context, "No",
                 s_yesno(p->nat == SIP_NAT_FORCE));
    }
    if (have)
        regfree(&re);
    return SIP_CLI_OK;
}

/* --- sip show registry ------------------------------------------------------------ */

#define REG_FORMAT2 "%-39.39s %-6.6s %-12.12s  %8.8s %-20.20s %-25.25s\n"
#define REG_FORMAT  "%-39.39s %-6.6s %-12.12s  %8d %-20.20s %-25.25s\n"

static int s_show_registry(const sip_cli_env_t *env, s_out_t *o)
{
    s_printf(o, REG_FORMAT2, "Host", "dnsmgr", "Username", "Refresh", "State", "Reg.Time");
    size_t n = env->outreg ? sip_outreg_count(env->outreg) : 0;
    for (size_t i = 0; i < n; i++) {
        const sip_register_t *c = sip_outreg_conf(env->outreg, i);
        if (!c)
            continue;
        char host[160], user[240], when[64] = "";
        snprintf(host, sizeof host, "%s:%d", c->host, c->port ? c->port : 5060);
        if (c->domain[0])
            snprintf(user, sizeof user, "%s@%s", c->user, c->domain);
        else
            snprintf(user, sizeof user, "%s", c->user);
        time_t t = sip_outreg_regtime(env->outreg, i);
        struct tm tm;
        if (t && localtime_r(&t, &tm))
            strftime(when, sizeof when, "%a, %d %b %Y %T", &tm);
        /* dnsmgr: chan_sip's "Y" when a DNS manager refreshes the host;
         * Tandem resolves it once, at load */
        s_printf(o, REG_FORMAT, host, "N", user, sip_outreg_refresh(env->outreg, i),
                 sip_outreg_state_str(sip_outreg_state(env->outreg, i)), when);
    }
    s_printf(o, "%zu SIP registrations.\n", n);
    return SIP_CLI_OK;
}

/* --- sip show bans ---------------------------------------------------------------- */

static int s_show_bans(const sip_cli_env_t *env, s_out_t *o)
{
    char list[4096];
    size_t n = sip_ban_list(env->ban, env->now, list, sizeof list);
    sip_ban_stats_t st;
    sip_ban_stats(env->ban, &st);
    s_printf(o, "%s%zu banned source(s); %lu failed authentication(s), %lu ban(s), %lu "
             "request(s) refused while banned, %lu from scanners, %lu evicted\n", list, n,
             st.failures, st.bans, st.dropped, st.scanners, st.evicted);
    return SIP_CLI_OK;
}

/* --- dispatch ------------------------------------------------------------------- */

static const char *const s_help =
    "sip show peers [like <re>]        peers: address, NAT, qualify status\n"
    "sip show peer <name>              one peer's settings and registration\n"
    "sip show users [like <re>]        users and friends: secret, context\n"
    "sip show registry                 outbound registrations (register =>) and state\n"
    "sip reload                        re-read sip.conf (calls in progress stay)\n"
    "sip show bans                     sources banned for failed authentications\n"
    "sip unban <address>|all           lift a ban (and forget the source's failures)\n";

int sip_cli_run(const sip_cli_env_t *env, const char *command, char **text)
{
    s_out_t o = { NULL, 0, 0 };
    char line[512], *w[8];
    int n = 0, rc = SIP_CLI_OK;
    snprintf(line, sizeof line, "%s", command);
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t && n < 8;
         t = strtok_r(NULL, " \t\r\n", &save))
        w[n++] = t;
#define IS(i, word) (n > (i) && strcasecmp(w[i], word) == 0)
    if (IS(0, "sip") && IS(1, "show") && IS(2, "peers")) {
        rc = s_show_peers(env, &o, w, n);
    } else if (IS(0, "sip") && IS(1, "show") && IS(2, "peer")) {
        rc = n == 4 ? s_show_peer(env, &o, w[3]) : SIP_CLI_USAGE;
    } else if (IS(0, "sip") && IS(1, "show") && IS(2, "users")) {
        rc = s_show_users(env, &o, w, n);
    } else if (IS(0, "sip") && IS(1, "show") && IS(2, "registry")) {
        rc = n == 3 ? s_show_registry(env, &o) : SIP_CLI_USAGE;
    } else if (IS(0, "sip") && IS(1, "reload") && n == 2) {
        char why[1024] = "no reload here";
        if (!env->reload || env->reload(env->arg, why, sizeof why) < 0) {
            s_printf(&o, "SIP reload failed: %s\nThe configuration in force stays.\n", why);
            rc = SIP_CLI_FAILED;
        } else {
            s_printf(&o, "%s\n", why);
        }
    } else if (IS(0, "sip") && IS(1, "show") && IS(2, "bans") && n == 3 && env->ban) {
        rc = s_show_bans(env, &o);
    } else if (IS(0, "sip") && IS(1, "unban") && n == 3 && env->ban) {
        struct in_addr a = { 0 };
        if (strcasecmp(w[2], "all") && inet_pton(AF_INET, w[2], &a) != 1) {
            rc = SIP_CLI_USAGE;
        } else {
            size_t k = sip_ban_clear(env->ban, a.s_addr);
            s_printf(&o, "%zu ban(s) lifted\n", k);
        }
    } else if (IS(0, "sip") && (n == 1 || IS(1, "help"))) {
        s_printf(&o, "%s", s_help);
    } else {
        s_printf(&o, "No such command '%s' (type 'help' for the commands)\n", command);
        rc = SIP_CLI_USAGE;
    }
#undef IS
    if (rc == SIP_CLI_USAGE && !o.len)
        s_printf(&o, "Usage:\n%s", s_help);
    if (!o.buf)
        s_printf(&o, "%s", "");
    *text = o.buf;
    return rc;
}
