/* sip_ban - failed authentications counted per source address, and bans.
 *
 * Asterisk has no bans of its own (operators run fail2ban on its log); this
 * is what fail2ban's asterisk jail does, inside the process: a source with
 * `threshold` failures within `window` seconds is banned for `ban_time`
 * seconds. A failure is a 403 to credentials (wrong password, unknown user
 * under alwaysauthreject) or an ACL refusal; a request from a known
 * scanner bans its source at once. Counting is per source address, never per user: locking a user
 * out everywhere would hand an attacker a denial of service against the
 * user's real phone.
 *
 * The table is fixed (SIP_BAN_SLOTS entries, set-associative: an address
 * hashes with a per-process random seed to one bucket of SIP_BAN_WAYS
 * entries), so a lookup is O(1) and memory never grows; when a bucket is
 * full the entry that matters least gives way (one that is not banned, the
 * oldest first), and evictions are counted.
 *
 * Each ban and each unban is logged (LOG_NOTICE) in a form fail2ban's
 * asterisk filter also reads: "Host 1.2.3.4 failed to authenticate ...". */
#ifndef SIP_BAN_H
#define SIP_BAN_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include <osipparser2/osip_message.h>

#include "sip_acl.h"

#define SIP_BAN_SLOTS 8192
#define SIP_BAN_WAYS 8
#define SIP_BAN_EXEMPT_MAX 64
#define SIP_BAN_SCANNERS_MAX 32

typedef struct {
    unsigned threshold;        /* ban_threshold: failures that ban (20; 0: never ban) */
    unsigned window_s;         /* ban_window: seconds they must fall within (60) */
    unsigned ban_s;            /* ban_time: seconds a ban lasts (600) */
    int drop;                  /* ban_action=drop (1, the default) or reject (0: 403) */
    const char *exempt;        /* ban_exempt: CIDR list never banned ("" none; the processes
                                * pass tandem.conf's, 127.0.0.0/8 by default: td_settings) */
    int drop_scanners;         /* drop_scanners (1) */
    const char *scanners;      /* scanner_useragents: comma list of User-Agent substrings,
                                * case-insensitive (NULL: SIP_BAN_SCANNERS) */
} sip_ban_opts_t;

/* Scanners only: not sipsak (a monitoring tool) nor softphones some lists
 * carry (CSipSimple). */
#define SIP_BAN_SCANNERS "friendly-scanner,sipvicious,sipcli,VaxSIPUserAgent,sip-scan," \
                         "sundayddr,iWar,SIVuS,pplsip"

/* The defaults above into out (exempt "", scanners NULL). */
void sip_ban_opts_default(sip_ban_opts_t *out);

typedef struct sip_ban sip_ban_t;

/* NULL on failure with the reason in err (a ban_exempt entry that does not
 * parse, too many scanner names). Strings are copied. */
sip_ban_t *sip_ban_new(const sip_ban_opts_t *opts, char *err, size_t errlen);
void sip_ban_destroy(sip_ban_t **self_p);

/* Whether addr (network order) is banned at `now` (seconds). O(1). */
int sip_ban_banned(sip_ban_t *self, uint32_t addr, long now);
/* ban_action=drop. */
int sip_ban_drops(const sip_ban_t *self);

/* One failed authentication (or ACL refusal, or scanner request) from addr:
 * returns 1 if this one banned it (and logged so, with the log context
 * cleared: td_log_set_context(NULL)), else 0. An exempt address is never
 * counted. */
int sip_ban_fail(sip_ban_t *self, uint32_t addr, long now);

/* Ban addr at once (a known scanner: its first request is proof enough,
 * and svwar sends no second one to a switch that does not answer), logged
 * as "Host ADDR failed to authenticate: WHY: banned for N s". 1 if banned
 * now; 0 if exempt, already banned, or ban_threshold=0. */
int sip_ban_now(sip_ban_t *self, uint32_t addr, long now, const char *why);

/* Whether User-Agent ua is a known scanner's and drop_scanners is on. */
int sip_ban_scanner(const sip_ban_t *self, const char *ua);

/* A failed authentication of req from `from`: first the NOTICE line
 * Asterisk writes for it, which fail2ban's asterisk filter reads (for
 * REGISTER chan_sip's "Registration from '<To>' failed for 'ADDR:PORT' -
 * REASON"; for other methods chan_sip's line names no address, so
 * chan_pjsip's "Request 'METHOD' from '<From>' failed for 'ADDR:PORT'
 * (callid: ID) - REASON"), written without the Call-ID context (a ':' in an
 * attacker's Call-ID would hide the line from fail2ban's prefix) and with
 * quotes and parentheses of the remote party's text replaced by '?'; then
 * sip_ban_fail. reason is Asterisk's text ("Wrong password", "No matching
 * peer found", "Device does not match ACL", "Failed to authenticate",
 * ...). At most 50 such lines a second are written; all are counted. */
void sip_ban_auth_failed(sip_ban_t *self, const osip_message_t *req,
                         const struct sockaddr_in *from, const char *reason);

/* The screens of sip_txn_screen_t. source: 1 drops a datagram from a
 * banned source under ban_action=drop. request (a new request): a banned
 * source gets -1 (drop) or 403 (reject); a scanner's User-Agent -1, and its
 * source is banned (sip_ban_now); an address the [general] ACL acl denies (NULL: none) 403,
 * counted as a failure; else 0. */
int sip_ban_screen_source(sip_ban_t *self, const struct sockaddr_in *from, long now);
int sip_ban_screen_request(sip_ban_t *self, const sip_acl_t *acl, const osip_message_t *req,
                           const struct sockaddr_in *from, long now);

/* End the bans that are over (logging each); call once a second. */
void sip_ban_sweep(sip_ban_t *self, long now);

/* Lift the ban of addr (0: every ban) and forget its failures; the number
 * lifted. */
size_t sip_ban_clear(sip_ban_t *self, uint32_t addr);

typedef struct {
    unsigned long failures;    /* counted */
    unsigned long bans;        /* bans started */
    unsigned long dropped;     /* requests refused while banned (sip_ban_banned said yes) */
    unsigned long scanners;    /* requests from scanners */
    unsigned long evicted;     /* entries that gave way in a full bucket */
    unsigned long banned_now;  /* bans in force */
    unsigned long tracked;     /* entries in use */
} sip_ban_stats_t;
void sip_ban_stats(const sip_ban_t *self, sip_ban_stats_t *out);
/* Count a request refused because its source is banned. */
void sip_ban_count_drop(sip_ban_t *self);

/* The bans in force, one "ADDR  SECONDS-LEFT  FAILURES" line each, into buf
 * (NUL-terminated, cut at len); the number listed. */
size_t sip_ban_list(const sip_ban_t *self, long now, char *buf, size_t len);

#endif
