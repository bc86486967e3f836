/* sip_acl - permit= / deny= / acl= and acl.conf (sip_acl.h). */
#define TD_LOG_SUBSYS TD_LOG_SIP
#include "sip_acl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "td_conf.h"
#include "td_log.h"

typedef struct {
    char name[80];             /* "" : the permit/deny lines */
    int invalid;               /* acl= named an ACL acl.conf lacks: deny everything */
    sip_acl_rule_t *rules;
    size_t n, cap;
} s_part_t;

struct sip_acl {
    s_part_t *parts;
    size_t n, cap;
};

#define RULES_PER_LINE 64

/* ---- rules ---------------------------------------------------------------- */

static char *s_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* A prefix length ("24") or a dotted quad ("255.255.255.0") into *mask. */
static int s_mask(const char *text, uint32_t *mask)
{
    if (strchr(text, '.')) {
        struct in_addr a;
        if (inet_pton(AF_INET, text, &a) != 1)
            return -1;
        *mask = a.s_addr;
        return 0;
    }
    if (!*text || strspn(text, "0123456789") != strlen(text) || strlen(text) > 2)
        return -1;
    int bits = atoi(text);
    if (bits > 32)
        return -1;
    *mask = bits == 0 ? 0 : htonl(0xffffffffu << (32 - bits));
    return 0;
}

int sip_acl_rules_parse(const char *value, int allow, sip_acl_rule_t *out, size_t max,
                        size_t *n, size_t *skipped, char *err, size_t errlen)
{
    char buf[1024];
    *n = 0;
    if (strlen(value) >= sizeof buf) {
        snprintf(err, errlen, "too long");
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", value);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *t = s_trim(item);
        if (!*t)
            continue;
        int sense = allow;
        if (*t == '!') {                        /* ast_append_ha_with_port: inverted */
            sense = !allow;
            t = s_trim(t + 1);
        }
        char *slash = strchr(t, '/');
        if (slash)
            *slash = '\0';
        char *addr = s_trim(t), *mask = slash ? s_trim(slash + 1) : NULL;
        if (strchr(addr, ':')) {                /* IPv6: never matches an IPv4 source */
            if (skipped)
                (*skipped)++;
            continue;
        }
        struct in_addr a;
        if (inet_pton(AF_INET, addr, &a) != 1) {
            snprintf(err, errlen, "invalid IP address '%s'", addr);
            return -1;
        }
        uint32_t m = 0xffffffffu;
        if (mask && s_mask(mask, &m) != 0) {
            snprintf(err, errlen, "invalid netmask '%s'", mask);
            return -1;
        }
        if (*n >= max) {
            snprintf(err, errlen, "more than %zu addresses on one line", max);
            return -1;
        }
        out[*n] = (sip_acl_rule_t){ a.s_addr & m, m, sense };
        (*n)++;
    }
    return 0;
}

int sip_acl_rules_match(const sip_acl_rule_t *rules, size_t n, uint32_t addr)
{
    for (size_t i = 0; i < n; i++)
        if ((addr & rules[i].mask) == rules[i].addr)
            return 1;
    return 0;
}

/* ---- the ACL ---------------------------------------------------------------- */

sip_acl_t *sip_acl_new(void)
{
    return calloc(1, sizeof(sip_acl_t));
}

void sip_acl_destroy(sip_acl_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sip_acl_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        free(self->parts[i].rules);
    free(self->parts);
    free(self);
    *self_p = NULL;
}

static s_part_t *s_part_add(sip_acl_t *self, const char *name)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 2;
        s_part_t *p = realloc(self->parts, cap * sizeof *p);
        if (!p)
            return NULL;
        self->parts = p;
        self->cap = cap;
    }
    s_part_t *p = &self->parts[self->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    return p;
}

static int s_rules_add(s_part_t *p, const sip_acl_rule_t *r, size_t n)
{
    if (p->n + n > p->cap) {
        size_t cap = p->cap ? p->cap : 4;
        while (cap < p->n + n)
            cap *= 2;
        sip_acl_rule_t *nr = realloc(p->rules, cap * sizeof *nr);
        if (!nr)
            return -1;
        p->rules = nr;
        p->cap = cap;
    }
    memcpy(p->rules + p->n, r, n * sizeof *r);
    p->n += n;
    return 0;
}

int sip_acl_append(sip_acl_t *self, const char *key, const char *value,
                   const sip_acl_t *named, int *missing, char *err, size_t errlen)
{
    if (!strcasecmp(key, "acl")) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", value);
        char *save = NULL;
        for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            char *name = s_trim(item);
            if (!*name)
                continue;
            int i = named ? sip_acl_named_find(named, name) : -1;
            s_part_t *p = s_part_add(self, name);
            if (!p) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            if (i < 0) {
                p->invalid = 1;
                if (missing)
                    *missing = 1;
            } else if (s_rules_add(p, named->parts[i].rules, named->parts[i].n) != 0) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        }
        return 0;
    }
    sip_acl_rule_t r[RULES_PER_LINE];
    size_t n = 0;
    if (sip_acl_rules_parse(value, strncasecmp(key, "p", 1) == 0, r, RULES_PER_LINE, &n, NULL,
                            err, errlen) != 0)
        return -1;
    /* the permit/deny lines share the first, unnamed part */
    s_part_t *p = self->n && !self->parts[0].name[0] ? &self->parts[0] : NULL;
    if (!p) {
        if (!s_part_add(self, "")) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        /* keep the baseline first: move it before the named parts */
        s_part_t base = self->parts[self->n - 1];
        memmove(self->parts + 1, self->parts, (self->n - 1) * sizeof *self->parts);
        self->parts[0] = base;
        p = &self->parts[0];
    }
    if (s_rules_add(p, r, n) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int sip_acl_allows(const sip_acl_t *self, struct in_addr addr, const char **part)
{
    if (!self)
        return 1;
    for (size_t i = 0; i < self->n; i++) {
        const s_part_t *p = &self->parts[i];
        int allow = !p->invalid;
        for (size_t k = 0; k < p->n && !p->invalid; k++)
            if ((addr.s_addr & p->rules[k].mask) == p->rules[k].addr)
                allow = p->rules[k].allow;      /* the last match wins */
        if (!allow) {
            if (part)
                *part = p->name;
            return 0;
        }
    }
    return 1;
}

size_t sip_acl_parts(const sip_acl_t *self)
{
    return self ? self->n : 0;
}

int sip_acl_empty(const sip_acl_t *self)
{
    return !self || self->n == 0;
}

/* ---- acl.conf --------------------------------------------------------------- */

int sip_acl_named_find(const sip_acl_t *named, const char *name)
{
    for (size_t i = 0; named && i < named->n; i++)
        if (!strcmp(named->parts[i].name, name))
            return (int)i;
    return -1;
}

int sip_acl_named_load(const char *path, sip_acl_t **out, char *err, size_t errlen)
{
    *out = sip_acl_new();
    if (!*out) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT)
        return 0;
    td_conf_t *conf = td_conf_load(path, err, errlen);
    if (!conf) {
        sip_acl_destroy(out);
        return -1;
    }
    td_conf_log_warnings(conf);
    int rc = 0;
    for (td_conf_section_t *sec = td_conf_first(conf); sec && rc == 0; sec = sec->next) {
        if (sec->is_template || !*sec->name)
            continue;
        if (sip_acl_named_find(*out, sec->name) >= 0) {
            td_log(LOG_WARNING, "%s:%d: ACL '%s' defined twice: the first one is used",
                   sec->file, sec->line, sec->name);
            continue;
        }
        s_part_t *p = s_part_add(*out, sec->name);
        if (!p) {
            snprintf(err, errlen, "%s: out of memory", path);
            rc = -1;
            break;
        }
        for (td_conf_var_t *v = sec->vars; v; v = v->next) {
            if (strcasecmp(v->name, "permit") && strcasecmp(v->name, "deny")) {
                td_log(LOG_WARNING, "%s:%d: '%s' in an ACL is not permit or deny, ignored",
                       v->file, v->line, v->name);
                continue;
            }
            sip_acl_rule_t r[RULES_PER_LINE];
            size_t n = 0, skipped = 0;
            char why[160];
            if (sip_acl_rules_parse(v->value, strncasecmp(v->name, "p", 1) == 0, r,
                                    RULES_PER_LINE, &n, &skipped, why, sizeof why) != 0) {
                td_conf_error(err, errlen, v->file, v->line, "%s: %s", v->name, why);
                rc = -1;
                break;
            }
            if (skipped)
                td_log(LOG_WARNING, "%s:%d: IPv6 rules are skipped (Tandem is IPv4 only)",
                       v->file, v->line);
            if (s_rules_add(&(*out)->parts[(*out)->n - 1], r, n) != 0) {
                snprintf(err, errlen, "%s: out of memory", path);
                rc = -1;
                break;
            }
        }
    }
    td_conf_destroy(&conf);
    if (rc != 0)
        sip_acl_destroy(out);
    return rc;
}
