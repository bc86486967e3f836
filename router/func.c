/* func - see func.h. One reader (and writer) per function, found through
 * one table (here); the helpers every function file shares (func_int.h). */
#define TD_LOG_SUBSYS TD_LOG_DIALPLAN   /* td_log() here: [logging] dialplan= */
#include "expr.h"
#include "func_int.h"
#include "td_log.h"
#include "td_regex.h"
#include "td_str.h"

#include <ctype.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define S_NAME_MAX 32

/* --- helpers ---------------------------------------------------------- */

int func_args(char *s, char sep, int remove, char **argv, int max)
{
    for (int i = 0; i < max; i++)
        argv[i] = NULL;
    if (!s || max <= 0)
        return 0;
    int argc = 0, paren = 0, bracket = 0, quote = 0;
    char *scan = s, *wasdelim = NULL;
    for (; *scan && argc < max - 1; argc++) {
        argv[argc] = scan;
        for (; *scan; scan++) {
            if (*scan == '(') {
                paren++;
            } else if (*scan == ')') {
                if (paren)
                    paren--;
            } else if (*scan == '[') {
                bracket++;
            } else if (*scan == ']') {
                if (bracket)
                    bracket--;
            } else if (*scan == '"' && sep != '"') {
                quote = !quote;
                if (remove) {
                    memmove(scan, scan + 1, strlen(scan));
                    scan--;
                }
            } else if (*scan == '\\') {
                if (remove)
                    memmove(scan, scan + 1, strlen(scan));   /* the next one is literal */
                else if (scan[1])
                    scan++;
            } else if (*scan == sep && !paren && !quote && !bracket) {
                wasdelim = scan;
                *scan++ = '\0';
                break;
            }
        }
    }
    /* What is left is the last field; a trailing separator makes an empty one. */
    if (*scan || (scan > s && scan - 1 == wasdelim))
        argv[argc++] = scan;
    return argc;
}

static int s_hex(char c)
{
    return c <= '9' ? c - '0' : c <= 'F' ? c - 'A' + 10 : c - 'a' + 10;
}

int func_encoded_char(const char *s, char *c, size_t *used)
{
    *used = 1;
    *c = 0;
    if (!s || !*s) {
        *used = 0;
        return -1;
    }
    if (*s != '\\') {
        *c = *s;
        return 0;
    }
    *used = 2;
    switch (s[1]) {
    case 'n': *c = '\n'; break;
    case 'r': *c = '\r'; break;
    case 't': *c = '\t'; break;
    case 'x':
        if (!s[2] || !strchr("0123456789ABCDEFabcdef", s[2])) {
            td_log(LOG_ERR, "Illegal character '%c' in hexadecimal string", s[2]);
            return -1;
        }
        *used = 3;
        *c = (char)s_hex(s[2]);
        if (s[3] && strchr("0123456789ABCDEFabcdef", s[3])) {
            *used = 4;
            *c = (char)((*c << 4) + s_hex(s[3]));
        }
        break;
    case '0':
        for (size_t i = 2; s[i] && strchr("01234567", s[i]); i++) {
            (*used)++;
            /* as unsigned: the low 8 bits Asterisk's char arithmetic gives on
             * x86, without shifting a negative value (found by fuzz/router_expr) */
            *c = (char)(((unsigned)(unsigned char)*c << 3) + (unsigned)(s[i] - '0'));
        }
        break;
    default:
        *c = s[1];   /* a lone trailing backslash gives 0, as Asterisk's */
    }
    return 0;
}

void func_encoded_str(const char *s, char *out, size_t len)
{
    char *cur = out;
    size_t used;
    while (cur < out + len - 1 && func_encoded_char(s, cur, &used) == 0) {
        cur++;
        s += used;
    }
    *cur = '\0';
}

const char *func_var(func_env_t *env, const char *name, char *buf, size_t len)
{
    if (len)
        buf[0] = '\0';
    const char *v = NULL;
    if (env->lookup) {
        /* "${name}" through the substitution, so "X:1:2" takes a substring
         * as ast_str_substitute_variables does. */
        char ref[VARS_MAX];
        snprintf(ref, sizeof ref, "${%s}", name);
        vars_substitute(ref, buf, len, env->lookup, env->lookup_arg);
        v = buf;
    } else if (func_is_call(name)) {
        v = func_read(env, name, buf, len);
    } else {
        v = chanvars_get(env->vars, name);
        if (!v)
            v = func_global(env, name);
    }
    return v && *v ? v : NULL;
}

unsigned func_timeout_ms(const unsigned *ms, unsigned set, int which)
{
    if (ms && (set & (1u << which)))
        return ms[which];
    return which == FUNC_TIMEOUT_DIGIT ? 5000 : 10000;
}


/* "NAME(args)" -> name (into nbuf) and args (into abuf). */
static int s_parse(const char *call, char *nbuf, size_t nlen, char *abuf, size_t alen)
{
    const char *open = strchr(call, '(');
    size_t n = strlen(call);
    if (!open || n < 2 || call[n - 1] != ')')
        return -1;
    size_t fl = (size_t)(open - call);
    if (fl == 0 || fl >= nlen)
        return -1;
    for (size_t i = 0; i < fl; i++)
        nbuf[i] = call[i];   /* as written: ast_custom_function_find uses strcmp */
    nbuf[fl] = '\0';
    snprintf(abuf, alen, "%.*s", (int)(n - fl - 2), open + 1);
    return 0;
}

/* Split s at the first sep outside quotes and parentheses (Asterisk's
 * non-standard argument split: quotes are kept). *rest = NULL if none. */
static char *s_split2(char *s, char sep, char **rest)
{
    int quoted = 0, parens = 0;
    *rest = NULL;
    for (char *p = s; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
        } else if (*p == '"') {
            quoted = !quoted;
        } else if (!quoted && *p == '(') {
            parens++;
        } else if (!quoted && *p == ')' && parens > 0) {
            parens--;
        } else if (!quoted && !parens && *p == sep) {
            *p = '\0';
            *rest = p + 1;
            break;
        }
    }
    return s;
}

/* See func_int.h. */
char *func_strip_quoted(char *s)
{
    s = td_str_trim(s);
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s[n - 1] = '\0';
        s++;
    }
    return s;
}

/* pbx_checkcondition(): "" false, a leading integer its value, else true. */
int func_true(const char *s)
{
    int v;
    if (!s || !*s)
        return 0;
    if (sscanf(s, "%30d", &v) == 1)
        return v != 0;
    return 1;
}

/* "family/key" -> the two halves; warns as func_db.c when one is missing. */
static int s_db_args(const char *fn, char *args, char **family, char **key)
{
    char *slash = strchr(args, '/');
    if (!slash || slash == args || !slash[1]) {
        td_log(LOG_WARNING, "%s requires an argument, %s(<family>/<key>)", fn, fn);
        return -1;
    }
    *slash = '\0';
    *family = args;
    *key = slash + 1;
    return 0;
}

const char *func_global(func_env_t *env, const char *name)
{
    const char *v = chanvars_get(env->globals, name);
    if (!v && env->dialplan_global)
        v = env->dialplan_global(env->dialplan, name);
    return v;
}

/* --- readers ---------------------------------------------------------- */

static const char *s_len(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    snprintf(buf, len, "%zu", strlen(args));
    return buf;
}

static const char *s_isnull(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    return func_out(buf, len, *args ? "0" : "1");
}

static const char *s_exists(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    return func_out(buf, len, *args ? "1" : "0");
}

/* IF(expr?[true][:false]) */
static const char *s_if(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    char *rest, *iffalse;
    char *cond = td_str_trim(s_split2(args, '?', &rest));
    if (!*cond || !rest) {
        td_log(LOG_WARNING, "Syntax IF(<expr>?[<true>][:<false>])  (expr must be non-null, "
               "and either <true> or <false> must be non-null)");
        return NULL;
    }
    char *iftrue = s_split2(rest, ':', &iffalse);
    const char *v = func_true(cond) ? func_strip_quoted(iftrue) : iffalse ? func_strip_quoted(iffalse) : "";
    return func_out(buf, len, v);
}

/* CUT(varname,delimiter,fields): fields "2", "2-4", "2-", "-2", joined by &. */
static const char *s_cut(func_env_t *env, char *args, char *buf, size_t len)
{
    char *argv[3] = { NULL, NULL, NULL };
    int argc = vars_split_args(args, ',', argv, 3);
    if (argc < 1 || !*argv[0]) {
        td_log(LOG_ERR, "Syntax: CUT(<varname>,<char-delim>,<range-spec>) - missing argument!");
        return NULL;
    }
    char d = '-';
    if (argc > 1 && *argv[1])
        d = argv[1][0] == '\\' && argv[1][1] ? argv[1][1] : argv[1][0];
    char vbuf[VARS_MAX];
    vbuf[0] = '\0';
    const char *v = env->lookup ? env->lookup(env->lookup_arg, argv[0], vbuf, sizeof vbuf) : NULL;
    if (!v)
        v = "";
    /* Fields of v: start offsets, 1-based count. */
    const char *field[256];
    size_t flen[256];
    int nf = 0;
    for (const char *p = v; nf < 256;) {
        const char *e = strchr(p, d);
        field[nf] = p;
        flen[nf] = e ? (size_t)(e - p) : strlen(p);
        nf++;
        if (!e)
            break;
        p = e + 1;
    }
    size_t n = 0;
    buf[0] = '\0';
    int first = 1;
    char spec[256];
    snprintf(spec, sizeof spec, "%s", argc > 2 ? argv[2] : "1");
    char *save = NULL;
    for (char *r = strtok_r(spec, "&", &save); r; r = strtok_r(NULL, "&", &save)) {
        int from = 1, to;
        char *dash = strchr(r, '-');
        if (dash) {
            *dash = '\0';
            from = *r ? atoi(r) : 1;
            to = dash[1] ? atoi(dash + 1) : INT_MAX;
        } else {
            from = to = atoi(r);
        }
        if (from < 1) {
            td_log(LOG_WARNING, "CUT: field numbers start at 1");
            return NULL;
        }
        for (int i = from; i <= to && i <= nf; i++) {
            int k = snprintf(buf + n, len - n, "%s%.*s", first ? "" : (char[]){ d, 0 },
                             (int)flen[i - 1], field[i - 1]);
            if (k < 0 || (size_t)k >= len - n)
                return buf;
            n += (size_t)k;
            first = 0;
        }
    }
    return buf;
}

/* REGEX("regex" string): "1" if string matches (POSIX ERE), else "0".
 * Split at the quotes as AST_NONSTANDARD_APP_ARGS(.., '"') does, which also
 * takes a backslash as "the next character is literal": REGEX("a\.b" x)
 * compiles "a.b", and "a\\.b" compiles "a\.b". */
static const char *s_regex(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    char *argv[3];
    char whole[VARS_MAX];
    snprintf(whole, sizeof whole, "%s", args);
    if (func_args(args, '"', 1, argv, 3) != 3) {
        td_log(LOG_ERR, "Unexpected arguments: should have been in the form '\"<regex>\" <string>'");
        return NULL;
    }
    char *str = argv[2];
    if (*str == ' ' || *str == '\t')
        str++;
    regex_t re;
    int rc = td_regcomp(&re, argv[1], REG_EXTENDED | REG_NOSUB);
    if (rc) {
        char err[128];
        regerror(rc, &re, err, sizeof err);
        td_log(LOG_WARNING, "Malformed input REGEX(%s): %s", whole, err);
        return NULL;
    }
    rc = regexec(&re, str, 0, NULL, 0);
    regfree(&re);
    return func_out(buf, len, rc ? "0" : "1");
}

/* RAND([min][,max]): an integer in [min, max], 0 and RAND_MAX by default. */
static const char *s_rand(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    char *argv[2] = { NULL, NULL };
    int argc = vars_split_args(args, ',', argv, 2);
    long lo = 0, hi = RAND_MAX;
    if (argc > 0 && *argv[0] && sscanf(argv[0], "%ld", &lo) != 1)
        lo = 0;
    if (argc > 1 && *argv[1] && sscanf(argv[1], "%ld", &hi) != 1)
        hi = RAND_MAX;
    if (lo > hi) {
        long t = lo;
        lo = hi;
        hi = t;
    }
    static int seeded;          /* once per process, as ast_random's pool */
    if (!seeded) {
        srandom((unsigned)time(NULL) ^ (unsigned)getpid());
        seeded = 1;
    }
    unsigned long span = (unsigned long)(hi - lo) + 1;
    long r = lo + (long)((unsigned long)random() % (span ? span : 1));
    snprintf(buf, len, "%ld", r);
    return buf;
}

static const char *s_global(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)buf;
    (void)len;
    return func_global(env, td_str_trim(args));
}

/* SET(name=value): sets, and reads as the value. */
static const char *s_set(func_env_t *env, char *args, char *buf, size_t len)
{
    char *value;
    char *name = td_str_trim(s_split2(args, '=', &value));
    if (!*name || !value) {
        td_log(LOG_WARNING, "SET requires an argument, SET(<varname>=[<value>])");
        return NULL;
    }
    func_set(env, name, value);
    return func_out(buf, len, value);
}

/* See func_int.h. */
void func_callerid_split(const char *value, char *name, size_t nlen, char *num, size_t mlen)
{
    char v[256];
    snprintf(v, sizeof v, "%s", value);
    name[0] = num[0] = '\0';
    char *lt = strchr(v, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt) {
        *gt = '\0';
        snprintf(num, mlen, "%s", lt + 1);
        *lt = '\0';
    } else {
        char *t = td_str_trim(v);
        if (*t && strspn(t, "0123456789*#+-() .") == strlen(t)) {
            snprintf(num, mlen, "%s", t);
            return;
        }
    }
    snprintf(name, nlen, "%s", func_strip_quoted(v));
}

/* CALLERID(item[,cid]) as func_callerid.c reads it. With cid, the item
 * (all, name, num...) of that caller ID string. Else from the call: all,
 * name, num[ber] (any "num..."), ani (ani-num: the number as the call
 * arrived; ani-name ""), dnid (dnid-num: the extension dialled), rdnis
 * (""), ani2 and ton ("0"), pres ("allowed_not_screened"), tag (""). */
static const char *s_callerid(func_env_t *env, char *args, char *buf, size_t len)
{
    char whole[256];
    snprintf(whole, sizeof whole, "%s", args);
    char *argv[2], *sub[8];
    int argc = func_args(args, ',', 1, argv, 2);
    if (argc == 0)
        return NULL;
    int n = func_args(argv[0], '-', 1, sub, 8);
    if (n == 0 || n >= 8)
        return NULL;
    char name_buf[128], num_buf[128];
    const char *num = env->caller_num && *env->caller_num ? *env->caller_num : "";
    const char *name = env->caller_name && *env->caller_name ? *env->caller_name : "";
    if (argc == 2) {
        func_callerid_split(argv[1], name_buf, sizeof name_buf, num_buf, sizeof num_buf);
        if (n == 1 && strcasecmp(sub[0], "all") == 0) {
            snprintf(buf, len, "\"%s\" <%s>", name_buf, num_buf);
            return buf;
        }
        if (n == 1 && strcasecmp(sub[0], "name") == 0)
            return func_out(buf, len, name_buf);
        if (n == 1 && strncasecmp(sub[0], "num", 3) == 0)
            return func_out(buf, len, num_buf);
        td_log(LOG_ERR, "Unknown callerid data type '%s'.", whole);
        return buf;
    }
    if (!strcasecmp(sub[0], "ani") && (n == 1 || (n == 2 && !strncasecmp(sub[1], "num", 3))))
        return func_out(buf, len, env->ani ? env->ani : num);
    if (!strcasecmp(sub[0], "ani") && n == 2 && !strcasecmp(sub[1], "name"))
        return buf;
    if (!strcasecmp(sub[0], "dnid") && (n == 1 || (n == 2 && !strncasecmp(sub[1], "num", 3))))
        return func_out(buf, len, env->dnid);
    if (n == 1 && (!strcasecmp(sub[0], "rdnis") || !strcasecmp(sub[0], "tag")))
        return buf;
    if (n == 1 && (!strcasecmp(sub[0], "ani2") || !strcasecmp(sub[0], "ton")))
        return func_out(buf, len, "0");
    if (n == 1 && !strcasecmp(sub[0], "pres"))
        return func_out(buf, len, "allowed_not_screened");
    if (n == 1 && strncasecmp(sub[0], "num", 3) == 0)
        return num;
    if (n == 1 && strcasecmp(sub[0], "name") == 0)
        return name;
    if (n == 1 && strcasecmp(sub[0], "all") == 0) {
        /* "Name" <num>, as ast_callerid_merge writes it. */
        if (*name && *num)
            snprintf(buf, len, "\"%s\" <%s>", name, num);
        else
            snprintf(buf, len, "%s", *name ? name : num);
        return buf;
    }
    td_log(LOG_ERR, "Unknown callerid data type '%s'.", whole);
    return buf;
}

static const char *s_db(func_env_t *env, char *args, char *buf, size_t len)
{
    char *family, *key;
    if (s_db_args("DB", args, &family, &key) < 0)
        return NULL;
    const char *v = astdb_get(env->db, family, key);
    if (v)
        chanvars_set(env->vars, "DB_RESULT", v);
    return v ? func_out(buf, len, v) : NULL;
}

static const char *s_db_exists(func_env_t *env, char *args, char *buf, size_t len)
{
    char *family, *key;
    if (s_db_args("DB_EXISTS", args, &family, &key) < 0)
        return NULL;
    const char *v = astdb_get(env->db, family, key);
    if (v)
        chanvars_set(env->vars, "DB_RESULT", v);
    return func_out(buf, len, v ? "1" : "0");
}

/* DB_DELETE(family/key): reads the value and deletes the key. */
static const char *s_db_delete(func_env_t *env, char *args, char *buf, size_t len)
{
    char *family, *key;
    if (s_db_args("DB_DELETE", args, &family, &key) < 0)
        return NULL;
    const char *v = astdb_get(env->db, family, key);
    func_out(buf, len, v ? v : "");
    if (v)
        astdb_del(env->db, family, key);
    chanvars_set(env->vars, "DB_RESULT", buf);
    return buf;
}

static const char *s_local(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)buf;
    (void)len;
    return chanvars_get_local(env->vars, td_str_trim(args));
}

/* --- writers ---------------------------------------------------------- */

static int s_global_w(func_env_t *env, char *args, const char *value)
{
    if (!env->globals)
        return -1;
    const char *name = td_str_trim(args);
    if (chanvars_put(env->globals, name, value ? value : "") < 0)
        return -1;
    if (env->global_changed)
        env->global_changed(env->global_arg, name, value ? value : "");
    return 0;
}

static int s_callerid_w(func_env_t *env, char *args, const char *value)
{
    if (!env->caller_num || !env->caller_name || !env->arena)
        return -1;
    char *what = td_str_trim(args);
    char v[256];
    snprintf(v, sizeof v, "%s", value ? value : "");
    if (strcasecmp(what, "num") == 0 || strcasecmp(what, "number") == 0) {
        const char *c = arena_strdup(env->arena, v);
        if (!c)
            return -1;
        *env->caller_num = c;
        return 0;
    }
    if (strcasecmp(what, "name") == 0) {
        const char *c = arena_strdup(env->arena, v);
        if (!c)
            return -1;
        *env->caller_name = c;
        return 0;
    }
    if (strcasecmp(what, "all") == 0) {
        /* "Name" <num>, Name <num>, or a lone number or name. */
        char *lt = strchr(v, '<'), *gt = lt ? strchr(lt, '>') : NULL;
        const char *num = "", *name = "";
        if (lt && gt) {
            *lt = '\0';
            *gt = '\0';
            num = td_str_trim(lt + 1);
            name = func_strip_quoted(v);
        } else {
            char *t = func_strip_quoted(v);
            if (strspn(t, "0123456789+*#") == strlen(t))
                num = t;
            else
                name = t;
        }
        const char *cn = arena_strdup(env->arena, num), *cm = arena_strdup(env->arena, name);
        if (!cn || !cm)
            return -1;
        *env->caller_num = cn;
        *env->caller_name = cm;
        return 0;
    }
    td_log(LOG_ERR, "Unknown callerid data type '%s'.", what);
    return -1;
}

static int s_db_w(func_env_t *env, char *args, const char *value)
{
    char *family, *key;
    if (s_db_args("DB", args, &family, &key) < 0)
        return -1;
    if (!env->db) {
        td_log(LOG_WARNING, "DB: no database open");
        return -1;
    }
    return astdb_put(env->db, family, key, value ? value : "");
}

static int s_local_w(func_env_t *env, char *args, const char *value)
{
    char *name = td_str_trim(args);
    if (chanvars_set_local(env->vars, name, value) < 0) {
        td_log(LOG_ERR, "Tried to set LOCAL(%s), but we aren't within a Gosub routine",
               name);
        return -1;
    }
    return 0;
}

static const struct {
    const char *name;
    func_read_fn read;
    func_write_fn write;
} s_funcs[] = {
    { "LEN", s_len, NULL },
    { "ISNULL", s_isnull, NULL },
    { "EXISTS", s_exists, NULL },
    { "IF", s_if, NULL },
    { "CUT", s_cut, NULL },
    { "REGEX", s_regex, NULL },
    { "RAND", s_rand, NULL },
    { "GLOBAL", s_global, s_global_w },
    { "SET", s_set, NULL },
    { "CALLERID", s_callerid, s_callerid_w },
    { "DB", s_db, s_db_w },
    { "DB_EXISTS", s_db_exists, NULL },
    { "DB_DELETE", s_db_delete, NULL },
    { "LOCAL", s_local, s_local_w },
    /* func_str.c */
    { "TOUPPER", func_str_toupper, NULL },
    { "TOLOWER", func_str_tolower, NULL },
    { "FIELDQTY", func_str_fieldqty, NULL },
    { "FIELDNUM", func_str_fieldnum, NULL },
    { "REPLACE", func_str_replace, NULL },
    { "FILTER", func_str_filter, NULL },
    { "SHIFT", func_str_shift, NULL },
    { "POP", func_str_pop, NULL },
    { "PUSH", NULL, func_str_push_w },
    { "UNSHIFT", NULL, func_str_unshift_w },
    { "SPRINTF", func_str_sprintf, NULL },
    { "MATH", func_str_math, NULL },
    { "HASH", func_str_hash, func_str_hash_w },
    { "HASHKEYS", func_str_hashkeys, NULL },
    { "ARRAY", NULL, func_str_array_w },
    { "TRIM", func_str_trim, NULL },
    { "LTRIM", func_str_ltrim, NULL },
    { "RTRIM", func_str_rtrim, NULL },
    { "STRREPLACE", func_str_strreplace, NULL },
    { "STRBETWEEN", func_str_strbetween, NULL },
    { "LISTFILTER", func_str_listfilter, NULL },
    { "QUOTE", func_str_quote, NULL },
    { "CSV_QUOTE", func_str_csv_quote, NULL },
    { "EVAL", func_str_eval, NULL },
    { "KEYPADHASH", func_str_keypadhash, NULL },
    { "PASSTHRU", func_str_passthru, NULL },
    { "URIENCODE", func_str_uriencode, NULL },
    { "URIDECODE", func_str_uridecode, NULL },
    { "BASE64_ENCODE", func_str_base64_encode, NULL },
    { "BASE64_DECODE", func_str_base64_decode, NULL },
    /* func_num.c */
    { "INC", func_num_inc, NULL },
    { "DEC", func_num_dec, NULL },
    { "MIN", func_num_min, NULL },
    { "MAX", func_num_max, NULL },
    { "ABS", func_num_abs, NULL },
    { "SORT", func_num_sort, NULL },
    /* func_time.c */
    { "STRFTIME", func_time_strftime, NULL },
    { "STRPTIME", func_time_strptime, NULL },
    /* func_group.c */
    { "GROUP", func_group_read, func_group_write },
    { "GROUP_COUNT", func_group_count, NULL },
    { "GROUP_MATCH_COUNT", func_group_match_count, NULL },
    { "GROUP_LIST", func_group_list, NULL },
    /* func_chan.c */
    { "CHANNEL", func_chan_channel, func_chan_channel_w },
    { "CDR", func_chan_cdr, func_chan_cdr_w },
    { "TIMEOUT", func_chan_timeout, func_chan_timeout_w },
    { "DIALPLAN_EXISTS", func_chan_dialplan_exists, NULL },
    { "DB_KEYS", func_chan_db_keys, NULL },
    { "SIPPEER", func_chan_sippeer, NULL },
    { "VALID_EXTEN", func_chan_valid_exten, NULL },
    { "IFTIME", func_chan_iftime, NULL },
    { "ENV", func_chan_env, NULL },
};

static int s_find(const char *name)
{
    for (size_t i = 0; i < sizeof s_funcs / sizeof s_funcs[0]; i++)
        if (strcmp(name, s_funcs[i].name) == 0)
            return (int)i;
    return -1;
}

/* --- API -------------------------------------------------------------- */

int func_is_call(const char *name)
{
    size_t n = strlen(name);
    const char *open = strchr(name, '(');
    return open && open > name && n && name[n - 1] == ')';
}

const char *func_read(func_env_t *env, const char *call, char *buf, size_t len)
{
    char name[S_NAME_MAX], args[VARS_MAX];
    if (s_parse(call, name, sizeof name, args, sizeof args) < 0)
        return NULL;
    int i = s_find(name);
    if (i < 0) {  /* a dialplan loop may read it often: rate-limited */
        td_log_limited(LOG_ERR, 5, "Function %s not registered", name);
        return NULL;
    }
    if (!s_funcs[i].read) {   /* PUSH, UNSHIFT */
        td_log(LOG_ERR, "Function %s cannot be read", name);
        return NULL;
    }
    if (len)
        buf[0] = '\0';
    return s_funcs[i].read(env, args, buf, len);
}

int func_write(func_env_t *env, const char *call, const char *value)
{
    char name[S_NAME_MAX], args[VARS_MAX];
    if (s_parse(call, name, sizeof name, args, sizeof args) < 0)
        return -1;
    int i = s_find(name);
    if (i < 0) {
        td_log(LOG_ERR, "Function %s not registered", name);
        return -1;
    }
    if (!s_funcs[i].write) {
        td_log(LOG_ERR, "Function %s cannot be written to", name);
        return -1;
    }
    return s_funcs[i].write(env, args, value);
}

int func_set(func_env_t *env, const char *name, const char *value)
{
    if (func_is_call(name))
        return func_write(env, name, value);
    /* pbx_builtin_setvar_helper keeps an empty value: it hides a global of
     * the same name. */
    if (!env->vars || chanvars_put(env->vars, name, value ? value : "") < 0) {
        td_log(LOG_WARNING, "Set(%s=...): cannot set the variable", name);
        return -1;
    }
    return 0;
}
