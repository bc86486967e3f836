/* sip_ban - failures per source, and bans (sip_ban.h). */
#define TD_LOG_SUBSYS TD_LOG_SIP
#include "sip_ban.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <osipparser2/osip_parser.h>

#include "td_log.h"

typedef struct {
    uint32_t addr;             /* network order; 0 with used 0: free */
    uint32_t failures;         /* within the window that began at since */
    long since;                /* the window's first failure */
    long last;                 /* the latest failure (eviction picks the oldest) */
    long until;                /* banned until (0: not banned) */
    long banned_at;
    int used;
} s_entry_t;

struct sip_ban {
    sip_ban_opts_t opts;
    s_entry_t *slots;          /* SIP_BAN_SLOTS, in buckets of SIP_BAN_WAYS */
    uint64_t seed;
    sip_acl_rule_t exempt[SIP_BAN_EXEMPT_MAX];
    size_t nexempt;
    char scanner_buf[1024];
    const char *scanners[SIP_BAN_SCANNERS_MAX];
    size_t nscanners;
    sip_ban_stats_t st;
};

void sip_ban_opts_default(sip_ban_opts_t *out)
{
    *out = (sip_ban_opts_t){ .threshold = 20, .window_s = 60, .ban_s = 600, .drop = 1,
                             .exempt = "", .drop_scanners = 1, .scanners = NULL };
}

sip_ban_t *sip_ban_new(const sip_ban_opts_t *opts, char *err, size_t errlen)
{
    sip_ban_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->slots = calloc(SIP_BAN_SLOTS, sizeof *self->slots);
    if (!self->slots) {
        snprintf(err, errlen, "out of memory");
        sip_ban_destroy(&self);
        return NULL;
    }
    self->opts = *opts;
    if (getrandom(&self->seed, sizeof self->seed, 0) != (ssize_t)sizeof self->seed)
        self->seed = (uint64_t)(uintptr_t)self ^ 0x9e3779b97f4a7c15ull;
    char why[160];
    if (opts->exempt && *opts->exempt
        && sip_acl_rules_parse(opts->exempt, 1, self->exempt, SIP_BAN_EXEMPT_MAX,
                               &self->nexempt, NULL, why, sizeof why) != 0) {
        snprintf(err, errlen, "ban_exempt: %s", why);
        sip_ban_destroy(&self);
        return NULL;
    }
    snprintf(self->scanner_buf, sizeof self->scanner_buf, "%s",
             opts->scanners ? opts->scanners : SIP_BAN_SCANNERS);
    char *save = NULL;
    for (char *t = strtok_r(self->scanner_buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t')
            t++;
        size_t n = strlen(t);
        while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
            t[--n] = '\0';
        if (!n)
            continue;
        if (self->nscanners == SIP_BAN_SCANNERS_MAX) {
            snprintf(err, errlen, "scanner_useragents: more than %d names",
                     SIP_BAN_SCANNERS_MAX);
            sip_ban_destroy(&self);
            return NULL;
        }
        self->scanners[self->nscanners++] = t;
    }
    self->opts.exempt = NULL;                 /* not kept: parsed above */
    self->opts.scanners = NULL;
    return self;
}

void sip_ban_destroy(sip_ban_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

/* The bucket of addr: a seeded mix (splitmix64's finaliser), so no one can
 * choose addresses that share a bucket without knowing the seed. */
static s_entry_t *s_bucket(sip_ban_t *self, uint32_t addr)
{
    uint64_t x = (uint64_t)addr ^ self->seed;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    return &self->slots[(x % (SIP_BAN_SLOTS / SIP_BAN_WAYS)) * SIP_BAN_WAYS];
}

static s_entry_t *s_find(sip_ban_t *self, uint32_t addr)
{
    s_entry_t *b = s_bucket(self, addr);
    for (int i = 0; i < SIP_BAN_WAYS; i++)
        if (b[i].used && b[i].addr == addr)
            return &b[i];
    return NULL;
}

static const char *s_ip(uint32_t addr, char *buf)
{
    struct in_addr a = { addr };
    inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
    return buf;
}

static void s_unban(sip_ban_t *self, s_entry_t *e, const char *why)
{
    char ip[INET_ADDRSTRLEN];
    td_log(LOG_NOTICE, "sip_ban: Host %s ban lifted (%s)", s_ip(e->addr, ip), why);
    e->until = 0;
    e->failures = 0;
    if (self->st.banned_now)
        self->st.banned_now--;
}

int sip_ban_banned(sip_ban_t *self, uint32_t addr, long now)
{
    s_entry_t *e = s_find(self, addr);
    if (!e || !e->until)
        return 0;
    if (now >= e->until) {
        s_unban(self, e, "its time is over");
        return 0;
    }
    return 1;
}

int sip_ban_drops(const sip_ban_t *self)
{
    return self->opts.drop;
}

void sip_ban_count_drop(sip_ban_t *self)
{
    self->st.dropped++;
}

/* A slot for addr in its full bucket: the oldest entry that is not banned,
 * else the ban that ends first. */
static s_entry_t *s_evict(sip_ban_t *self, s_entry_t *b)
{
    s_entry_t *pick = NULL;
    for (int i = 0; i < SIP_BAN_WAYS; i++)
        if (!b[i].until && (!pick || b[i].last < pick->last))
            pick = &b[i];
    if (!pick)
        for (int i = 0; i < SIP_BAN_WAYS; i++)
            if (!pick || b[i].until < pick->until)
                pick = &b[i];
    if (pick->until && self->st.banned_now)
        self->st.banned_now--;
    self->st.evicted++;
    self->st.tracked--;
    pick->used = 0;
    return pick;
}

static void s_ban(sip_ban_t *self, s_entry_t *e, long now, const char *why);
static s_entry_t *s_entry(sip_ban_t *self, uint32_t addr, long now);

int sip_ban_fail(sip_ban_t *self, uint32_t addr, long now)
{
    if (sip_acl_rules_match(self->exempt, self->nexempt, addr))
        return 0;
    self->st.failures++;
    s_entry_t *e = s_entry(self, addr, now);
    if (e->until)                            /* already banned (reject mode) */
        return 0;
    if (now - e->since >= (long)self->opts.window_s) {
        e->since = now;
        e->failures = 0;
    }
    e->failures++;
    if (!self->opts.threshold || e->failures < self->opts.threshold)
        return 0;
    s_ban(self, e, now, NULL);
    return 1;
}

int sip_ban_now(sip_ban_t *self, uint32_t addr, long now, const char *why)
{
    if (sip_acl_rules_match(self->exempt, self->nexempt, addr) || !self->opts.threshold)
        return 0;
    self->st.failures++;
    s_entry_t *e = s_entry(self, addr, now);
    e->failures++;
    if (e->until)
        return 0;
    s_ban(self, e, now, why);
    return 1;
}

/* addr's entry, made (in a free way of its bucket, or by eviction) if new. */
static s_entry_t *s_entry(sip_ban_t *self, uint32_t addr, long now)
{
    s_entry_t *e = s_find(self, addr);
    if (!e) {
        s_entry_t *b = s_bucket(self, addr);
        for (int i = 0; i < SIP_BAN_WAYS && !e; i++)
            if (!b[i].used)
                e = &b[i];
        if (!e)
            e = s_evict(self, b);
        *e = (s_entry_t){ .addr = addr, .since = now, .used = 1 };
        self->st.tracked++;
    }
    e->last = now;
    return e;
}

/* Ban e from now, and say so (why NULL: the failures counted). */
static void s_ban(sip_ban_t *self, s_entry_t *e, long now, const char *why)
{
    e->until = now + (long)self->opts.ban_s;
    e->banned_at = now;
    self->st.bans++;
    self->st.banned_now++;
    char ip[INET_ADDRSTRLEN];
    /* fail2ban's asterisk filter reads "Host <HOST> failed to authenticate"; a
     * remote party's Call-ID in the context could hide it (sip_ban.h) */
    td_log_set_context(NULL);
    if (why)
        td_log(LOG_NOTICE, "sip_ban: Host %s failed to authenticate: %s: banned for %u s "
               "(ban_action=%s)", s_ip(e->addr, ip), why, self->opts.ban_s,
               self->opts.drop ? "drop" : "reject");
    else
        td_log(LOG_NOTICE, "sip_ban: Host %s failed to authenticate %u times in %ld s: banned "
               "for %u s (ban_action=%s)", s_ip(e->addr, ip), e->failures, now - e->since,
               self->opts.ban_s, self->opts.drop ? "drop" : "reject");
}

int sip_ban_scanner(const sip_ban_t *self, const char *ua)
{
    if (!self->opts.drop_scanners || !ua || !*ua)
        return 0;
    for (size_t i = 0; i < self->nscanners; i++)
        if (strcasestr(ua, self->scanners[i]))
            return 1;
    return 0;
}

void sip_ban_sweep(sip_ban_t *self, long now)
{
    if (!self->st.banned_now)
        return;
    for (size_t i = 0; i < SIP_BAN_SLOTS; i++)
        if (self->slots[i].used && self->slots[i].until && now >= self->slots[i].until)
            s_unban(self, &self->slots[i], "its time is over");
}

size_t sip_ban_clear(sip_ban_t *self, uint32_t addr)
{
    size_t n = 0;
    for (size_t i = 0; i < SIP_BAN_SLOTS; i++) {
        s_entry_t *e = &self->slots[i];
        if (!e->used || (addr && e->addr != addr))
            continue;
        if (e->until) {
            s_unban(self, e, "cleared by the operator");
            n++;
        }
        e->failures = 0;
    }
    return n;
}

void sip_ban_stats(const sip_ban_t *self, sip_ban_stats_t *out)
{
    *out = self->st;
}

size_t sip_ban_list(const sip_ban_t *self, long now, char *buf, size_t len)
{
    size_t n = 0, off = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < SIP_BAN_SLOTS; i++) {
        const s_entry_t *e = &self->slots[i];
        if (!e->used || !e->until || now >= e->until)
            continue;
        char ip[INET_ADDRSTRLEN];
        if (off < len) {
            int k = snprintf(buf + off, len - off, "%-15s %6ld s left %6u failures\n",
                             s_ip(e->addr, ip), e->until - now, e->failures);
            if (k > 0)
                off += (size_t)k < len - off ? (size_t)k : len - off - 1;
        }
        n++;
    }
    return n;
}

/* ---- what the SIP core asks ------------------------------------------------- */

/* text with ' ( ) replaced by '?' (the delimiters of fail2ban's patterns). */
static const char *s_tame(const char *text, char *buf, size_t len)
{
    snprintf(buf, len, "%s", text ? text : "");
    for (char *p = buf; *p; p++)
        if (*p == '\'' || *p == '(' || *p == ')')
            *p = '?';
    return buf;
}

/* "<sip:user@host>" of a From or To header, tamed. */
static const char *s_uri(const osip_from_t *h, char *buf, size_t len)
{
    char raw[256];
    const osip_uri_t *u = h ? h->url : NULL;
    snprintf(raw, sizeof raw, "<%s:%s%s%s%s%s>", u && u->scheme ? u->scheme : "sip",
             u && u->username ? u->username : "", u && u->username ? "@" : "",
             u && u->host ? u->host : "", u && u->port ? ":" : "", u && u->port ? u->port : "");
    return s_tame(raw, buf, len);
}

void sip_ban_auth_failed(sip_ban_t *self, const osip_message_t *req,
                         const struct sockaddr_in *from, const char *reason)
{
    char who[300], ip[INET_ADDRSTRLEN], id[200];
    const char *m = req && req->sip_method ? req->sip_method : "";
    const char *cid = req && req->call_id ? req->call_id->number : NULL;
    s_ip(from->sin_addr.s_addr, ip);
    td_log_set_context(NULL);
    if (!strcmp(m, "REGISTER"))
        td_logs_limited(TD_LOG_SIP, LOG_NOTICE, 50, "sip_ban: Registration from '%s' failed "
                        "for '%s:%u' - %s", s_uri(req->to, who, sizeof who), ip,
                        ntohs(from->sin_port), reason);
    else
        td_logs_limited(TD_LOG_SIP, LOG_NOTICE, 50, "sip_ban: Request '%s' from '%s' failed "
                        "for '%s:%u' (callid: %s) - %s", s_tame(m, who + 200, 100),
                        s_uri(req ? req->from : NULL, who, 200), ip, ntohs(from->sin_port),
                        s_tame(cid, id, sizeof id), reason);
    sip_ban_fail(self, from->sin_addr.s_addr, (long)time(NULL));
    td_log_set_context(cid);
}

int sip_ban_screen_source(sip_ban_t *self, const struct sockaddr_in *from, long now)
{
    if (!self->opts.drop || !sip_ban_banned(self, from->sin_addr.s_addr, now))
        return 0;
    self->st.dropped++;
    return 1;
}

int sip_ban_screen_request(sip_ban_t *self, const sip_acl_t *acl, const osip_message_t *req,
                           const struct sockaddr_in *from, long now)
{
    if (sip_ban_banned(self, from->sin_addr.s_addr, now)) {
        self->st.dropped++;
        return self->opts.drop ? -1 : 403;
    }
    const char *ua = NULL;
    if (self->opts.drop_scanners) {
        osip_header_t *h = NULL;
        if (osip_message_header_get_byname(req, "user-agent", 0, &h) >= 0 && h)
            ua = h->hvalue;
    }
    if (ua && sip_ban_scanner(self, ua)) {
        char ip[INET_ADDRSTRLEN], tame[128];
        self->st.scanners++;
        td_log_set_context(NULL);       /* the layer sets it again for the next message */
        td_logs_limited(TD_LOG_SIP, LOG_NOTICE, 5, "sip_ban: %s from %s dropped: User-Agent "
                        "'%s' is a scanner's", req->sip_method, s_ip(from->sin_addr.s_addr, ip),
                        s_tame(ua, tame, sizeof tame));
        char why[160];
        snprintf(why, sizeof why, "a scanner (User-Agent '%s')", tame);
        sip_ban_now(self, from->sin_addr.s_addr, now, why);
        return -1;
    }
    const char *part = NULL;
    if (acl && !sip_acl_allows(acl, from->sin_addr, &part)) {
        sip_ban_auth_failed(self, req, from, !strcmp(req->sip_method, "REGISTER")
                            ? "Device does not match ACL" : "Not match Endpoint ACL");
        return 403;
    }
    return 0;
}
