/* func_chan - the functions about the call and its surroundings: CHANNEL()
 * (func_channel.c), CDR() (func_cdr.c, main/cdr.c), TIMEOUT()
 * (func_timeout.c), DIALPLAN_EXISTS() (func_dialplan.c), DB_KEYS()
 * (func_db.c) and SIPPEER() (chan_sip.c's function_sippeer, from sip.conf). */
#define TD_LOG_SUBSYS TD_LOG_DIALPLAN   /* td_log() here: [logging] dialplan= */
#include "cdr.h"
#include "dialplan.h"
#include "func_int.h"
#include "td_conf.h"
#include "td_log.h"
#include "timing.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define S_DB_KEYS_MAX 1024   /* DB_KEYS lists this many keys at most */

/* --- CHANNEL ------------------------------------------------------------ */

/* CHANNEL(item): the items the router knows. Asterisk's channel has more
 * (formats, groups, tonezone, ...): those warn and read empty, as an item
 * unknown to Asterisk does. */
const char *func_chan_channel(func_env_t *env, char *args, char *buf, size_t len)
{
    const char *item = args;
    if (!env->chan_name) {
        td_log(LOG_WARNING, "No channel was provided to CHANNEL function.");
        return NULL;
    }
    if (!strcasecmp(item, "name") || !strcasecmp(item, "channame"))
        return func_out(buf, len, env->chan_name);
    if (!strcasecmp(item, "uniqueid") || !strcasecmp(item, "linkedid"))
        return func_out(buf, len, env->uniqueid);
    if (!strcasecmp(item, "context"))
        return func_out(buf, len, env->context);
    if (!strcasecmp(item, "exten"))
        return func_out(buf, len, env->exten);
    if (!strcasecmp(item, "state"))           /* ast_state2str */
        return func_out(buf, len, env->answered ? "Up" : "Ring");
    if (!strcasecmp(item, "channeltype"))
        return func_out(buf, len, "SIP");
    if (!strcasecmp(item, "language"))        /* Asterisk's default; Tandem has no other */
        return func_out(buf, len, "en");
    if (!strcasecmp(item, "musicclass") || !strcasecmp(item, "parkinglot")
        || !strcasecmp(item, "hangupsource") || !strcasecmp(item, "peeraccount")
        || !strcasecmp(item, "userfield"))    /* the channel's own, not the CDR's */
        return func_out(buf, len, "");
    if (!strcasecmp(item, "accountcode"))
        return func_out(buf, len, env->accountcode);
    if (!strcasecmp(item, "checkhangup"))
        return func_out(buf, len, "0");
    if (!strcasecmp(item, "amaflags"))        /* AST_AMA_DOCUMENTATION */
        return func_out(buf, len, "3");
    if (!strcasecmp(item, "appname"))
        return func_out(buf, len, env->lastapp);
    if (!strcasecmp(item, "appdata"))
        return func_out(buf, len, env->lastdata);
    if (!strcasecmp(item, "peer"))
        return func_out(buf, len, env->peer);
    if (!strcasecmp(item, "max_forwards"))
        return func_out(buf, len, "70");
    td_log(LOG_WARNING, "Unknown or unavailable item requested: '%s'", item);
    return NULL;
}

/* Set(CHANNEL(item)=value): accountcode (the one the CDR takes). The
 * other writable items of func_channel.c (language, musicclass, amaflags,
 * ...) change nothing Tandem uses: warned and ignored. */
int func_chan_channel_w(func_env_t *env, char *args, const char *value)
{
    if (!env->chan_name)
        return -1;
    if (!strcasecmp(args, "accountcode")) {
        if (!env->accountcode)
            return -1;
        snprintf(env->accountcode, env->accountcode_len, "%s", value ? value : "");
        return 0;
    }
    td_log(LOG_WARNING, "CHANNEL(%s)=%s: not supported by Tandem; ignored", args,
           value ? value : "");
    return 0;
}

/* --- CDR ---------------------------------------------------------------- */

/* CDR variables other than the fields: channel variables under a name no
 * ${} can reach by accident ("~CDR~" + the lower-cased name: main/cdr.c
 * compares them case-insensitively). */
static void s_cdr_var(char *out, size_t len, const char *name)
{
    size_t n = (size_t)snprintf(out, len, "~CDR~");
    for (; *name && n + 1 < len; name++)
        out[n++] = (char)tolower((unsigned char)*name);
    out[n] = '\0';
}

static const char *s_cdr_time(const struct timeval *tv, int raw, char *buf, size_t len)
{
    if (raw) {
        snprintf(buf, len, "%ld.%06ld", tv ? (long)tv->tv_sec : 0L, tv ? (long)tv->tv_usec : 0L);
        return buf;
    }
    buf[0] = '\0';
    if (tv && tv->tv_sec) {
        struct tm tm;
        localtime_r(&tv->tv_sec, &tm);
        strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    }
    return buf;
}

/* Seconds from a to now: whole ("%ld"), or with option f "%lf". */
static const char *s_cdr_span(const struct timeval *a, int fraction, char *buf, size_t len)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    if (!a || !a->tv_sec) {
        return fraction ? func_out(buf, len, "0.000000") : func_out(buf, len, "0");
    }
    long long us = (long long)(now.tv_sec - a->tv_sec) * 1000000 + (now.tv_usec - a->tv_usec);
    if (fraction)
        snprintf(buf, len, "%lf", (double)us / 1000000.0);
    else
        snprintf(buf, len, "%lld", us / 1000000);
    return buf;
}

/* CDR(field[,options]): the call's record as it stands (options u: times
 * as epoch.usec and disposition/amaflags as numbers; f: duration and
 * billsec with a fraction). The record is open while the dialplan runs:
 * end is empty, disposition "NO ANSWER" (main/cdr.c decides it at the end). */
const char *func_chan_cdr(func_env_t *env, char *args, char *buf, size_t len)
{
    char *argv[2];
    func_args(args, ',', 1, argv, 2);
    const char *field = argv[0] ? argv[0] : "";
    const char *opts = argv[1] ? argv[1] : "";
    int raw = strchr(opts, 'u') != NULL, fraction = strchr(opts, 'f') != NULL;
    if (!*field) {
        td_log(LOG_WARNING, "CDR requires a variable (CDR(variable[,option]))");
        return NULL;
    }
    if (!env->chan_name) {
        td_log(LOG_WARNING, "No channel was provided to CDR function.");
        return NULL;
    }
    const char *num = env->caller_num && *env->caller_num ? *env->caller_num : "";
    const char *name = env->caller_name && *env->caller_name ? *env->caller_name : "";
    if (!strcasecmp(field, "clid"))
        return cdr_clid(name, num, buf, len);
    if (!strcasecmp(field, "src"))
        return func_out(buf, len, num);
    if (!strcasecmp(field, "dst"))
        return func_out(buf, len, env->exten);
    if (!strcasecmp(field, "dcontext"))
        return func_out(buf, len, env->context);
    if (!strcasecmp(field, "channel"))
        return func_out(buf, len, env->chan_name);
    if (!strcasecmp(field, "dstchannel"))
        return func_out(buf, len, env->peer);
    if (!strcasecmp(field, "lastapp"))
        return func_out(buf, len, env->lastapp);
    if (!strcasecmp(field, "lastdata"))
        return func_out(buf, len, env->lastdata);
    if (!strcasecmp(field, "start"))
        return s_cdr_time(env->start, raw, buf, len);
    if (!strcasecmp(field, "answer"))
        return s_cdr_time(env->answer, raw, buf, len);
    if (!strcasecmp(field, "end"))
        return s_cdr_time(NULL, raw, buf, len);
    if (!strcasecmp(field, "duration"))
        return s_cdr_span(env->start, fraction, buf, len);
    if (!strcasecmp(field, "billsec"))
        return s_cdr_span(env->answer, fraction, buf, len);
    if (!strcasecmp(field, "disposition"))   /* AST_CDR_NULL */
        return func_out(buf, len, raw ? "1" : "NO ANSWER");
    if (!strcasecmp(field, "amaflags"))      /* AST_AMA_DOCUMENTATION */
        return func_out(buf, len, raw ? "3" : "DOCUMENTATION");
    if (!strcasecmp(field, "accountcode"))
        return func_out(buf, len, env->accountcode);
    if (!strcasecmp(field, "peeraccount"))
        return func_out(buf, len, "");
    if (!strcasecmp(field, "uniqueid") || !strcasecmp(field, "linkedid"))
        return func_out(buf, len, env->uniqueid);
    if (!strcasecmp(field, "userfield"))
        return func_out(buf, len, env->userfield);
    char var[128];
    s_cdr_var(var, sizeof var, field);
    return func_out(buf, len, chanvars_get(env->vars, var));
}

/* Set(CDR(name)=value): userfield; accountcode (deprecated in Asterisk,
 * which sets the channel's accountcode, the one the record takes); any
 * other name not a read-only field is a CDR variable. */
int func_chan_cdr_w(func_env_t *env, char *args, const char *value)
{
    static const char *const readonly[] = {
        "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata",
        "start", "answer", "end", "duration", "billsec", "disposition", "uniqueid",
        "linkedid", "sequence",
    };
    char *argv[2];
    func_args(args, ',', 1, argv, 2);
    const char *field = argv[0] ? argv[0] : "";
    if (!env->chan_name) {
        td_log(LOG_WARNING, "No channel was provided to CDR function.");
        return -1;
    }
    if (!*field) {
        td_log(LOG_WARNING, "CDR requires a variable (CDR(variable)=value)");
        return -1;
    }
    if (!value) {
        td_log(LOG_WARNING, "CDR requires a value (CDR(variable)=value)");
        return -1;
    }
    if (!strcasecmp(field, "accountcode")) {
        td_log(LOG_WARNING, "Using the CDR function to set 'accountcode' is deprecated. "
               "Please use the CHANNEL function instead.");
        if (!env->accountcode)
            return -1;
        snprintf(env->accountcode, env->accountcode_len, "%s", value);
        return 0;
    }
    if (!strcasecmp(field, "amaflags")) {
        td_log(LOG_WARNING, "Using the CDR function to set 'amaflags' is deprecated. "
               "Please use the CHANNEL function instead.");
        return 0;   /* Tandem writes DOCUMENTATION always */
    }
    if (!strcasecmp(field, "peeraccount")) {
        td_log(LOG_WARNING, "The 'peeraccount' setting is not supported. Please set the "
               "'accountcode' on the appropriate channel using the CHANNEL function.");
        return 0;
    }
    if (!strcasecmp(field, "userfield")) {
        if (!env->userfield)
            return -1;
        snprintf(env->userfield, env->userfield_len, "%s", value);
        return 0;
    }
    for (size_t i = 0; i < sizeof readonly / sizeof readonly[0]; i++) {
        if (!strcasecmp(field, readonly[i])) {
            td_log(LOG_ERR, "Attempt to set the '%s' read-only variable!", field);
            return 0;   /* logged, the write is still "done" for Asterisk */
        }
    }
    char var[128];
    s_cdr_var(var, sizeof var, field);
    return chanvars_put(env->vars, var, value);
}

/* --- TIMEOUT ------------------------------------------------------------ */

static int s_timeout_which(const char *args)
{
    switch (*args) {
    case 'd': case 'D': return FUNC_TIMEOUT_DIGIT;
    case 'r': case 'R': return FUNC_TIMEOUT_RESPONSE;
    case 'a': case 'A': return 2;
    default: return -1;
    }
}

/* TIMEOUT(digit|response|absolute): seconds, "%.3f". Absolute (a hangup
 * timer) is never set in Tandem: "0". */
const char *func_chan_timeout(func_env_t *env, char *args, char *buf, size_t len)
{
    if (!env->chan_name)
        return NULL;
    int which = s_timeout_which(args);
    if (which < 0) {
        td_log(LOG_ERR, "Unknown timeout type specified.");
        return NULL;
    }
    if (which == 2)
        return func_out(buf, len, "0");
    unsigned set = env->timeout_set ? *env->timeout_set : 0;
    snprintf(buf, len, "%.3f", func_timeout_ms(env->timeout_ms, set, which) / 1000.0);
    return buf;
}

/* Set(TIMEOUT(digit|response)=seconds): seconds may have a fraction; a
 * negative or unreadable value is 0 (sscanf "%ld%lf" as func_timeout.c). */
int func_chan_timeout_w(func_env_t *env, char *args, const char *value)
{
    if (!env->chan_name || !value)
        return -1;
    int which = s_timeout_which(args);
    if (which < 0) {
        td_log(LOG_ERR, "Unknown timeout type specified.");
        return 0;
    }
    if (which == 2) {
        td_log(LOG_WARNING, "TIMEOUT(absolute) is not supported by Tandem; ignored");
        return 0;
    }
    long sec = 0;
    double frac = 0;
    int n = sscanf(value, "%30ld%30lf", &sec, &frac);
    unsigned long ms = 0;
    if (n >= 1 && sec >= 0) {
        ms = (unsigned long)sec * 1000;
        if (n == 2 && frac >= 0 && frac < 1e9)   /* "5.5e300": not a fraction, ignored */
            ms += (unsigned long)(long)(frac * 1000000) / 1000;
    }
    if (ms > UINT_MAX)
        ms = UINT_MAX;
    if (!env->timeout_ms || !env->timeout_set)
        return -1;
    env->timeout_ms[which] = (unsigned)ms;
    *env->timeout_set |= 1u << which;
    td_log(LOG_INFO, "%s timeout set to %.3f", which == FUNC_TIMEOUT_DIGIT ? "Digit" : "Response",
           (double)ms / 1000.0);
    return 0;
}

/* --- DIALPLAN_EXISTS ------------------------------------------------------- */

/* DIALPLAN_EXISTS(context[,extension[,priority]]): "1" or "0". A priority
 * that is not a number is a label. The caller's number takes part in the
 * match, as ast_exists_extension's callerid. */
const char *func_chan_dialplan_exists(func_env_t *env, char *args, char *buf, size_t len)
{
    func_out(buf, len, "0");
    if (!*args) {
        td_log(LOG_ERR, "DIALPLAN_EXISTS() requires an argument");
        return NULL;
    }
    const dialplan_t *plan = env->exten_plan ? env->exten_plan : env->dialplan;
    char *argv[3];
    func_args(args, ',', 1, argv, 3);
    const char *cid = env->caller_num && *env->caller_num ? *env->caller_num : NULL;
    const char *context = argv[0] ? argv[0] : "";
    if (argv[2] && *argv[2]) {
        int n;
        if (sscanf(argv[2], "%30d", &n) == 1 && n > 0) {
            if (plan && dialplan_find_prio(plan, context, argv[1], cid, n, NULL))
                func_out(buf, len, "1");
        } else if (plan && dialplan_find_prio(plan, context, argv[1], cid, 0, argv[2])) {
            func_out(buf, len, "1");
        }
    } else if (argv[1] && *argv[1]) {
        if (plan && dialplan_find_prio(plan, context, argv[1], cid, 1, NULL))
            func_out(buf, len, "1");
    } else if (*context) {
        if (plan && dialplan_has_context(plan, context))
            func_out(buf, len, "1");
    } else {
        td_log(LOG_ERR, "Invalid arguments provided to DIALPLAN_EXISTS");
        return NULL;
    }
    return buf;
}

/* --- DB_KEYS ------------------------------------------------------------- */

typedef struct {
    const char *prefix;          /* "family/" ("" for the top) */
    size_t plen;
    const char *keys[S_DB_KEYS_MAX];
    size_t n;
} s_db_keys_t;

static void s_on_db_key(void *arg, const char *key, const char *value)
{
    (void)value;
    s_db_keys_t *k = arg;
    /* ast_db_gettree's LIKE: the prefix compares case-insensitively. */
    if (k->n < S_DB_KEYS_MAX && strncasecmp(key, k->prefix, k->plen) == 0)
        k->keys[k->n++] = key;
}

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* DB_KEYS([prefix]): the next component of every key under prefix, sorted,
 * each once, joined by commas (a comma or backslash in a key escaped with
 * a backslash). */
const char *func_chan_db_keys(func_env_t *env, char *args, char *buf, size_t len)
{
    while (*args == '/')
        args++;
    size_t al = strlen(args);
    while (al && args[al - 1] == '/')
        args[--al] = '\0';
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s%s", args, al ? "/" : "");
    s_db_keys_t k = { .prefix = prefix, .plen = strlen(prefix) };
    astdb_foreach(env->db, s_on_db_key, &k);
    qsort(k.keys, k.n, sizeof k.keys[0], s_cmp_str);
    size_t n = 0;
    buf[0] = '\0';
    const char *last = "";
    size_t lastlen = 0;
    for (size_t i = 0; i < k.n; i++) {
        const char *cur = k.keys[i] + k.plen;
        size_t cl = strcspn(cur, "/");
        if (cl == lastlen && strncasecmp(cur, last, cl) == 0)
            continue;
        last = cur;
        lastlen = cl;
        if (i && n + 1 < len)
            buf[n++] = ',';
        for (size_t j = 0; j < cl && n + 2 < len; j++) {
            if (cur[j] == ',' || cur[j] == '\\')
                buf[n++] = '\\';
            buf[n++] = cur[j];
        }
        buf[n] = '\0';
    }
    return buf;
}

/* --- SIPPEER -------------------------------------------------------------- */

static char s_confdir[512];
static struct {
    td_conf_t *conf;
    char path[600];
    struct timespec mtime;
    off_t size;
} s_sip;

void func_set_confdir(const char *dir)
{
    snprintf(s_confdir, sizeof s_confdir, "%s", dir ? dir : "");
    td_conf_destroy(&s_sip.conf);
}

/* sip.conf, read again when it changed on disk (signaling re-reads it on
 * its own reload; the router has no other copy). NULL if unreadable. */
static td_conf_t *s_sip_conf(void)
{
    if (!*s_confdir)
        return NULL;
    char path[600];
    td_conf_path(path, sizeof path, s_confdir, "sip.conf");
    struct stat st;
    if (stat(path, &st) < 0) {
        td_conf_destroy(&s_sip.conf);
        return NULL;
    }
    if (s_sip.conf && strcmp(path, s_sip.path) == 0 && st.st_size == s_sip.size
        && st.st_mtim.tv_sec == s_sip.mtime.tv_sec && st.st_mtim.tv_nsec == s_sip.mtime.tv_nsec)
        return s_sip.conf;
    td_conf_destroy(&s_sip.conf);
    char err[512];
    s_sip.conf = td_conf_load(path, err, sizeof err);
    if (!s_sip.conf) {
        td_log(LOG_WARNING, "SIPPEER: %s", err);
        return NULL;
    }
    snprintf(s_sip.path, sizeof s_sip.path, "%s", path);
    s_sip.mtime = st.st_mtim;
    s_sip.size = st.st_size;
    return s_sip.conf;
}

/* SIPPEER(peer[,item]): a type=peer or type=friend section of sip.conf
 * (templates applied). Items from the file: ip and port (of a static
 * host; "" and "0" for a dynamic one), context, callerid_name,
 * callerid_num, language, regexten, accountcode, limit, maxforwards,
 * dynamic, encryption, chanvar[NAME]. Items that need chan_sip's live
 * state (status, useragent, curcalls, busylevel, expire, codecs, codec[n],
 * mailbox, the groups) are not supported and read empty. */
const char *func_chan_sippeer(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    char *item = strchr(args, ',');
    if (item)
        *item++ = '\0';
    else
        item = "ip";
    td_conf_t *conf = s_sip_conf();
    td_conf_section_t *sec = NULL, *general = NULL;
    for (td_conf_section_t *s = conf ? td_conf_first(conf) : NULL; s; s = s->next) {
        if (s->is_template)
            continue;
        if (!strcasecmp(s->name, "general") && !general)
            general = s;
        const char *type = td_conf_get(s, "type");
        if (!sec && strcasecmp(s->name, args) == 0 && type
            && (!strcasecmp(type, "peer") || !strcasecmp(type, "friend"))
            && strcasecmp(s->name, "general") && strcasecmp(s->name, "authentication"))
            sec = s;
    }
    if (!sec)
        return NULL;
    const char *host = td_conf_get(sec, "host");
    int dynamic = host && !strcasecmp(host, "dynamic");
    if (!strcasecmp(item, "ip")) {
        unsigned char a[16];
        if (host && !dynamic && (inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1))
            return func_out(buf, len, host);
        return func_out(buf, len, "");
    }
    if (!strcasecmp(item, "port")) {
        const char *port = td_conf_get(sec, "port");
        if (dynamic || !host)
            return func_out(buf, len, "0");
        return func_out(buf, len, port ? port : "5060");
    }
    if (!strcasecmp(item, "context")) {
        const char *v = td_conf_get(sec, "context");
        if (!v && general)
            v = td_conf_get(general, "context");
        return func_out(buf, len, v ? v : "default");
    }
    if (!strcasecmp(item, "callerid_name") || !strcasecmp(item, "callerid_num")) {
        char name[128] = "", num[128] = "";
        /* In file order, as build_peer: callerid sets both, fullname the
         * name, cid_number the number, trunkname clears the name. */
        for (td_conf_var_t *v = sec->vars; v; v = v->next) {
            if (!strcasecmp(v->name, "callerid"))
                func_callerid_split(v->value, name, sizeof name, num, sizeof num);
            else if (!strcasecmp(v->name, "fullname"))
                snprintf(name, sizeof name, "%s", v->value);
            else if (!strcasecmp(v->name, "trunkname"))
                name[0] = '\0';
            else if (!strcasecmp(v->name, "cid_number"))
                snprintf(num, sizeof num, "%s", v->value);
        }
        return func_out(buf, len, !strcasecmp(item, "callerid_name") ? name : num);
    }
    if (!strcasecmp(item, "language")) {
        const char *v = td_conf_get(sec, "language");
        if (!v && general)
            v = td_conf_get(general, "language");
        return func_out(buf, len, v);
    }
    if (!strcasecmp(item, "regexten") || !strcasecmp(item, "accountcode"))
        return func_out(buf, len, td_conf_get(sec, item));
    if (!strcasecmp(item, "limit")) {
        long limit = INT_MAX;
        for (td_conf_var_t *v = sec->vars; v; v = v->next) {
            if (!strcasecmp(v->name, "call-limit")) {
                limit = atoi(v->value);
                if (limit < 0)
                    limit = 0;
            } else if (!strcasecmp(v->name, "callcounter")) {
                limit = td_conf_bool(v->value) == 1 ? INT_MAX : 0;
            }
        }
        snprintf(buf, len, "%ld", limit);
        return buf;
    }
    if (!strcasecmp(item, "maxforwards")) {
        const char *v = td_conf_get(sec, "maxforwards");
        if (!v && general)
            v = td_conf_get(general, "maxforwards");
        snprintf(buf, len, "%d", v ? atoi(v) : 70);
        return buf;
    }
    if (!strcasecmp(item, "dynamic"))
        return func_out(buf, len, dynamic ? "yes" : "no");
    if (!strcasecmp(item, "encryption")) {
        const char *v = td_conf_get(sec, "encryption");
        return func_out(buf, len, v && td_conf_bool(v) == 1 ? "1" : "0");
    }
    if (!strncasecmp(item, "chanvar[", 8)) {
        char want[128];
        snprintf(want, sizeof want, "%s", item + 8);
        want[strcspn(want, "]")] = '\0';
        buf[0] = '\0';
        for (td_conf_var_t *v = sec->vars; v; v = v->next) {
            if (strcasecmp(v->name, "setvar") != 0)
                continue;
            const char *eq = strchr(v->value, '=');
            if (!eq)
                continue;
            size_t nl = (size_t)(eq - v->value);
            if (nl == strlen(want) && strncasecmp(v->value, want, nl) == 0)
                func_out(buf, len, eq + 1);
        }
        return buf;
    }
    td_log_limited(LOG_WARNING, 5, "SIPPEER(%s,%s): not supported by Tandem (needs chan_sip's "
                   "live peer state); read as empty", args, item);
    return func_out(buf, len, "");
}

/* --- VALID_EXTEN, IFTIME, ENV ------------------------------------------------ */

/* VALID_EXTEN([context],extension[,priority]): "1" if it dials something
 * (the call's context by default, priority 1 by default). */
const char *func_chan_valid_exten(func_env_t *env, char *args, char *buf, size_t len)
{
    if (!env->chan_name) {
        td_log(LOG_WARNING, "No channel was provided to VALID_EXTEN function.");
        return NULL;
    }
    char *argv[3];
    func_args(args, ',', 1, argv, 3);
    const char *context = argv[0] && *argv[0] ? argv[0] : env->context;
    if (!argv[1] || !*argv[1]) {
        td_log(LOG_WARNING, "Syntax: VALID_EXTEN([<context>],<extension>[,<priority>]) - "
               "missing argument <extension>!");
        return NULL;
    }
    int prio = argv[2] && *argv[2] ? atoi(argv[2]) : 1;
    const char *cid = env->caller_num && *env->caller_num ? *env->caller_num : NULL;
    const dialplan_t *plan = env->exten_plan ? env->exten_plan : env->dialplan;
    int found = plan && prio > 0 && dialplan_find_prio(plan, context, argv[1], cid, prio, NULL);
    return func_out(buf, len, found ? "1" : "0");
}

/* IFTIME(times,weekdays,mdays,months[,timezone]?[true][:false]): as
 * GotoIfTime's condition (timing.h, ast_build_timing). */
const char *func_chan_iftime(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    char *data = func_strip_quoted(args);
    char *spec = strsep(&data, "?");
    char *iftrue = data ? strsep(&data, ":") : NULL;
    char *iffalse = data;
    if (!spec || !*spec || !(iftrue || iffalse)) {
        td_log(LOG_WARNING, "Syntax IFTIME(<timespec>?[<true>][:<false>])");
        return NULL;
    }
    timing_t t;
    char warn[256];
    if (!timing_parse(&t, spec, warn, sizeof warn)) {
        td_log(LOG_WARNING, "Invalid Time Spec.");
        return NULL;
    }
    if (*warn)
        td_log(LOG_WARNING, "IFTIME: %s", warn);   /* a bad item matches nothing */
    int match = timing_check(&t, time(NULL));
    const char *v = match ? (iftrue ? func_strip_quoted(iftrue) : "")
                          : (iffalse ? func_strip_quoted(iffalse) : "");
    return func_out(buf, len, v);
}

/* ENV(name): the router process's environment variable. */
const char *func_chan_env(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    return func_out(buf, len, getenv(args));
}
