/* sip_acl - address filters: sip.conf permit= / deny= / acl= and acl.conf,
 * with Asterisk 20's semantics (main/acl.c, main/named_acl.c):
 *
 * - An ACL is a list of parts. permit= and deny= lines add rules to the
 *   first, unnamed part (ast_append_acl's "baseline"); each name of an
 *   acl=NAME[,NAME...] line adds that acl.conf section as a part of its own.
 * - A rule is ADDR[/MASK] (MASK as a prefix length or dotted quad; none is
 *   /32), several comma-separated on one line; a leading '!' inverts it.
 *   ADDR is masked when the rule is read (ast_append_ha_with_port).
 * - Within a part the last rule that matches wins, and an address no rule
 *   matches is allowed (ast_apply_ha). An address passes the ACL only if
 *   every part allows it (ast_apply_acl_internal).
 * - acl=NAME that acl.conf does not define makes a part that denies every
 *   address ("will automatically fail if applied", named_acl.c).
 * - IPv6 rules never match an IPv4 address (ast_apply_ha skips them);
 *   Tandem is IPv4 only, so they are read, warned about, and skipped.
 * A NULL ACL (no lines) allows everyone. */
#ifndef SIP_ACL_H
#define SIP_ACL_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

typedef struct {
    uint32_t addr;      /* network order, already masked */
    uint32_t mask;      /* network order */
    int allow;          /* 1 permit, 0 deny */
} sip_acl_rule_t;

typedef struct sip_acl sip_acl_t;

/* Parse one line's value ("10.0.0.0/8,!10.1.2.3") for sense allow (1:
 * permit, 0: deny) into out (room for max rules); *n gets the count.
 * Returns 0, or -1 with the reason in err (an address or mask that does not
 * parse, or more than max rules). IPv6 rules are skipped (counted in
 * *skipped when not NULL). */
int sip_acl_rules_parse(const char *value, int allow, sip_acl_rule_t *out, size_t max,
                        size_t *n, size_t *skipped, char *err, size_t errlen);

/* Whether addr (network order) matches one of rules (ban_exempt=). */
int sip_acl_rules_match(const sip_acl_rule_t *rules, size_t n, uint32_t addr);

sip_acl_t *sip_acl_new(void);
void sip_acl_destroy(sip_acl_t **self_p);

/* Append one sip.conf (or acl.conf) line: key "permit", "deny" or "acl"
 * (ast_append_acl's sense), value its value. For "acl" each name is looked
 * up in named (acl.conf's sections; NULL: none), and a name it lacks gives a
 * part that denies everything (and *missing is set when not NULL). 0, or -1
 * with the reason in err (a rule that does not parse, or out of memory). */
int sip_acl_append(sip_acl_t *self, const char *key, const char *value,
                   const sip_acl_t *named, int *missing, char *err, size_t errlen);

/* Whether addr passes: 1 allowed, 0 denied; *part (when not NULL) gets the
 * name of the part that denied it ("" for the permit/deny lines). self NULL
 * allows. */
int sip_acl_allows(const sip_acl_t *self, struct in_addr addr, const char **part);

/* Rules and parts, for tests and `sip show peer`. */
size_t sip_acl_parts(const sip_acl_t *self);
int sip_acl_empty(const sip_acl_t *self);

/* acl.conf: one part per section, named as the section, its permit=/deny=
 * lines as rules (named_acl.c). A file that does not exist gives an empty
 * set (0). -1 with "file:line: reason" in err on a bad line. *out is a new
 * sip_acl_t the caller destroys. */
int sip_acl_named_load(const char *path, sip_acl_t **out, char *err, size_t errlen);

/* The part named name in a set from sip_acl_named_load, or -1. */
int sip_acl_named_find(const sip_acl_t *named, const char *name);

#endif
