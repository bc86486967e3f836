/* func_str - the string functions of Asterisk's funcs/func_strings.c,
 * func_sprintf.c and func_math.c (see func.h for the list). Each follows
 * its Asterisk reader: a read that fails there (returns -1) returns NULL
 * here, which expands to "". */
#define TD_LOG_SUBSYS TD_LOG_DIALPLAN   /* td_log() here: [logging] dialplan= */
#include "func_int.h"
#include "td_log.h"
#include "vars.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_HASH_KEYS_MAX 256   /* HASHKEYS lists this many keys at most */

/* --- TOUPPER, TOLOWER ------------------------------------------------- */

const char *func_str_toupper(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    size_t i = 0;
    for (; args[i] && i + 1 < len; i++)
        buf[i] = (char)toupper((unsigned char)args[i]);
    buf[i] = '\0';
    return buf;
}

const char *func_str_tolower(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    size_t i = 0;
    for (; args[i] && i + 1 < len; i++)
        buf[i] = (char)tolower((unsigned char)args[i]);
    buf[i] = '\0';
    return buf;
}

/* --- FIELDQTY, FIELDNUM ------------------------------------------------ */

/* FIELDQTY(varname,delim): how many delim-separated fields ${varname} has
 * (0 if it is empty; 1 without a delimiter argument). */
const char *func_str_fieldqty(func_env_t *env, char *args, char *buf, size_t len)
{
    char *argv[2];
    func_args(args, ',', 1, argv, 2);
    int count = 1;
    if (argv[1]) {
        char delim[2] = "";
        size_t used;
        func_encoded_char(argv[1], delim, &used);
        char vbuf[VARS_MAX];
        const char *v = func_var(env, argv[0] ? argv[0] : "", vbuf, sizeof vbuf);
        count = 0;
        if (v) {
            count = 1;
            for (const char *p = v; *delim && (p = strchr(p, delim[0])); p++)
                count++;
        }
    }
    snprintf(buf, len, "%d", count);
    return buf;
}

/* FIELDNUM(varname,delim,value): the 1-based position of the first field
 * equal to value (case-insensitive), 0 if none. */
const char *func_str_fieldnum(func_env_t *env, char *args, char *buf, size_t len)
{
    char *argv[3];
    if (func_args(args, ',', 1, argv, 3) < 3) {
        td_log(LOG_ERR, "Usage: FIELDNUM(<listname>,<delimiter>,<fieldvalue>)");
        return NULL;
    }
    char vbuf[VARS_MAX];
    const char *v = func_var(env, argv[0], vbuf, sizeof vbuf);
    int index = 0;
    if (v && *argv[1]) {
        char delim[2] = "";
        size_t used;
        if (func_encoded_char(argv[1], delim, &used) < 0)
            return NULL;
        char list[VARS_MAX];
        snprintf(list, sizeof list, "%s", v);
        char *rest = list, *field;
        int found = 0;
        while ((field = strsep(&rest, delim))) {
            index++;
            if (strcasecmp(field, argv[2]) == 0) {
                found = 1;
                break;
            }
        }
        if (!found)
            index = 0;
    }
    snprintf(buf, len, "%d", index);
    return buf;
}

/* --- REPLACE, FILTER --------------------------------------------------- */

/* REPLACE(varname,find-chars[,replace-char]): ${varname} with every
 * character of find-chars replaced (or removed without replace-char). */
const char *func_str_replace(func_env_t *env, char *args, char *buf, size_t len)
{
    char *argv[3];
    if (func_args(args, ',', 1, argv, 3) < 2) {
        td_log(LOG_ERR, "Usage: REPLACE(<varname>,<search-chars>[,<replace-char>])");
        return NULL;
    }
    char find[256], with[2] = "";
    size_t used;
    func_encoded_str(argv[1], find, sizeof find);
    func_encoded_char(argv[2], with, &used);
    if (!*find || !*argv[0]) {
        td_log(LOG_ERR, "The characters to search for and the variable name must not be empty.");
        return NULL;
    }
    char vbuf[VARS_MAX];
    const char *v = func_var(env, argv[0], vbuf, sizeof vbuf);
    if (!v)
        return NULL;              /* blank: nothing to replace */
    size_t n = 0;
    for (; *v && n + 1 < len; v++) {
        if (!strchr(find, *v))
            buf[n++] = *v;
        else if (*with)
            buf[n++] = with[0];
    }
    buf[n] = '\0';
    return buf;
}

/* FILTER(allowed-chars,string): string without the characters not allowed.
 * allowed-chars takes ranges (a-z) and escapes (\x41, \n); its arguments
 * are split raw, so quotes stay. */
const char *func_str_filter(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    char *argv[2];
    func_args(args, ',', 0, argv, 2);
    if (!argv[1]) {
        td_log(LOG_ERR, "Usage: FILTER(<allowed-chars>,<string>)");
        return NULL;
    }
    if (argv[0][0] == '"')
        td_log(LOG_WARNING, "FILTER allowed characters includes the quote (\") character.  "
               "This may not be what you want.");
    unsigned char allowed[256] = { 0 };
    for (const char *a = argv[0]; *a;) {
        char c1 = 0, c2 = 0;
        size_t used = 0;
        if (func_encoded_char(a, &c1, &used) < 0)
            return NULL;
        a += used;
        if (*a == '-') {
            if (func_encoded_char(a + 1, &c2, &used) < 0) {
                c2 = c1;
                used = 0;
            }
            a += used + 1;
            unsigned char ac = (unsigned char)c1;
            for (; ac != (unsigned char)c2; ac++)   /* wraps past 255, as Asterisk */
                allowed[ac] = 1;
            allowed[ac] = 1;
        } else {
            allowed[(unsigned char)c1] = 1;
        }
    }
    allowed[0] = 0;
    size_t n = 0;
    for (const char *p = argv[1]; *p && n + 1 < len; p++)
        if (allowed[(unsigned char)*p])
            buf[n++] = *p;
    buf[n] = '\0';
    return buf;
}

/* --- SHIFT, POP, PUSH, UNSHIFT ------------------------------------------ */

/* SHIFT(var[,delim]) / POP(var[,delim]): take the first / last item off
 * ${var} (',' by default), store what is left in var, read as the item. */
static const char *s_shift_pop(func_env_t *env, const char *fn, int first, char *args,
                               char *buf, size_t len)
{
    char *argv[2];
    int argc = func_args(args, ',', 1, argv, 2);
    if (!argv[0] || !*argv[0]) {
        td_log(LOG_WARNING, "%s requires a variable name", fn);
        return NULL;
    }
    char delim[2] = ",";
    size_t used;
    if (argc > 1 && *argv[1])
        func_encoded_char(argv[1], delim, &used);
    char vbuf[VARS_MAX], list[VARS_MAX];
    const char *v = func_var(env, argv[0], vbuf, sizeof vbuf);
    if (!v)
        return NULL;              /* nothing to take */
    snprintf(list, sizeof list, "%s", v);
    char *after = first ? strchr(list, delim[0]) : strrchr(list, delim[0]);
    if (!after) {
        func_out(buf, len, list);
        func_set(env, argv[0], "");
        return buf;
    }
    *after++ = '\0';
    func_out(buf, len, first ? list : after);
    func_set(env, argv[0], first ? after : list);
    return buf;
}

const char *func_str_shift(func_env_t *env, char *args, char *buf, size_t len)
{
    return s_shift_pop(env, "SHIFT", 1, args, buf, len);
}

const char *func_str_pop(func_env_t *env, char *args, char *buf, size_t len)
{
    return s_shift_pop(env, "POP", 0, args, buf, len);
}

/* Set(PUSH(var[,delim])=value) / Set(UNSHIFT(var[,delim])=value): add
 * value at the end / the start of ${var}. */
static int s_push_unshift(func_env_t *env, const char *fn, int first, char *args,
                          const char *value)
{
    char *argv[2];
    int argc = func_args(args, ',', 1, argv, 2);
    if (!argv[0] || !*argv[0]) {
        td_log(LOG_WARNING, "%s requires a variable name", fn);
        return -1;
    }
    char delim[2] = ",";
    size_t used;
    if (argc > 1 && *argv[1])
        func_encoded_char(argv[1], delim, &used);
    /* Up to two leading underscores say "inherit", not the name. */
    const char *bare = argv[0];
    for (int i = 0; i < 2 && *bare == '_'; i++)
        bare++;
    char vbuf[VARS_MAX], out[VARS_MAX];
    const char *old = func_var(env, bare, vbuf, sizeof vbuf);
    if (!value)
        value = "";
    if (!old)
        snprintf(out, sizeof out, "%s", value);
    else
        snprintf(out, sizeof out, "%s%c%s", first ? value : old, delim[0], first ? old : value);
    return func_set(env, argv[0], out);
}

int func_str_push_w(func_env_t *env, char *args, const char *value)
{
    return s_push_unshift(env, "PUSH", 0, args, value);
}

int func_str_unshift_w(func_env_t *env, char *args, const char *value)
{
    return s_push_unshift(env, "UNSHIFT", 1, args, value);
}

/* --- SPRINTF ------------------------------------------------------------ */

/* A width or precision past what buf can show changes nothing visible
 * (snprintf truncates at the buffer's end), but glibc still produces every
 * character: over two billion for %2120102010d, seconds of the router's
 * loop. Both are clamped to cap (the space left plus room for the value),
 * which leaves the visible text the same. spec: "%" flags width .precision
 * conversion. */
static void s_clamp_spec(char *spec, size_t size, unsigned long long cap)
{
    char out[96];
    size_t o = 0;
    const char *p = spec;
    out[o++] = *p++;                            /* '%' */
    while (*p && strchr("#0- +'I", *p) && o + 1 < sizeof out)
        out[o++] = *p++;
    for (int part = 0; part < 2; part++) {
        if (part == 1) {
            if (*p != '.')
                break;
            out[o++] = *p++;
        }
        unsigned long long v = 0;
        const char *digits = p;
        while (isdigit((unsigned char)*p)) {
            if (v <= cap)
                v = v * 10 + (unsigned)(*p - '0');
            p++;
        }
        if (p > digits)
            o += (size_t)snprintf(out + o, sizeof out - o, "%llu", v > cap ? cap : v);
    }
    snprintf(out + o, sizeof out - o, "%s", p);
    snprintf(spec, size, "%s", out);
}

/* SPRINTF(format,arg1,...): printf's conversions d i o u x X c (the
 * argument read as an int), e E f F g G a A (a double) and s. Anything else,
 * a missing or non-numeric argument fail the whole read. */
const char *func_str_sprintf(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    enum { FLAG, WIDTH, PRECISION, LENGTH, CONVERSION, TEXT } state = TEXT;
    char *argv[101];
    func_args(args, ',', 1, argv, 101);
    const char *format = argv[0] ? argv[0] : "";
    char **arg = argv + 1;
    const char *start = NULL;
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; format[i]; i++) {
        char c = format[i];
        switch (state) {
        case FLAG:
            if (strchr("#0- +'I", c))
                break;
            state = WIDTH;
            /* fall through */
        case WIDTH:
            if (isdigit((unsigned char)c))
                break;
            if (c == '.') {
                state = PRECISION;
            } else {
                state = LENGTH;
                i--;
            }
            break;
        case PRECISION:
            if (isdigit((unsigned char)c))
                break;
            state = LENGTH;
            /* fall through */
        case LENGTH:
            if (strchr("hl", c)) {
                if (format[i + 1] == c)
                    i++;
                state = CONVERSION;
                break;
            }
            if (strchr("Lqjzt", c)) {
                state = CONVERSION;
                break;
            }
            state = CONVERSION;
            /* fall through */
        case CONVERSION: {
            /* This conversion alone, without length modifiers (the value
             * is always an int or a double). */
            char spec[64];
            size_t k = 0;
            for (const char *p = start; p < format + i && k + 2 < sizeof spec; p++)
                if (!strchr("hlLqjzt", *p))
                    spec[k++] = *p;
            spec[k++] = c;
            spec[k] = '\0';
            s_clamp_spec(spec, sizeof spec, (unsigned long long)(len - n) + 512);
            if (strchr("diouxXc", c)) {
                int v;
                if (!*arg) {
                    td_log(LOG_ERR, "SPRINTF() has more format specifiers than arguments!");
                    return NULL;
                }
                if (sscanf(*arg, "%30d", &v) != 1) {
                    td_log(LOG_ERR, "Argument '%s' is not an integer number for format '%s'",
                           *arg, spec);
                    return NULL;
                }
                arg++;
                snprintf(buf + n, len - n, spec, v);
            } else if (strchr("eEfFgGaA", c)) {
                double v;
                if (!*arg) {
                    td_log(LOG_ERR, "SPRINTF() has more format specifiers than arguments!");
                    return NULL;
                }
                if (sscanf(*arg, "%30lf", &v) != 1) {
                    td_log(LOG_ERR, "Argument '%s' is not a floating point number for format '%s'",
                           *arg, spec);
                    return NULL;
                }
                arg++;
                snprintf(buf + n, len - n, spec, v);
            } else if (c == 's') {
                /* A missing argument prints as glibc prints NULL. */
                snprintf(buf + n, len - n, spec, *arg ? *arg : "(null)");
                if (*arg)
                    arg++;
            } else if (c == '%') {
                if (n + 1 < len)
                    buf[n + 1] = '\0', buf[n] = '%';
            } else {
                td_log(LOG_ERR, "Format type not supported: '%s' with argument '%s'", spec,
                       *arg ? *arg : "(null)");
                return NULL;
            }
            n = strlen(buf);
            state = TEXT;
            break;
        }
        case TEXT:
            if (c == '%') {
                state = FLAG;
                start = format + i;
            } else if (n + 1 < len) {
                buf[n++] = c;
                buf[n] = '\0';
            }
            break;
        }
    }
    return buf;
}

/* --- MATH --------------------------------------------------------------- */

/* Asterisk's func_math converts its doubles with C casts, undefined when
 * the value does not fit; this is what x86 gives for them (the "integer
 * indefinite" value: INT_MIN, LLONG_MIN), without the undefined behaviour. */
static int s_math_int(double d)
{
    return d > (double)INT_MIN - 1.0 && d < (double)INT_MAX + 1.0 ? (int)d : INT_MIN;
}

static long long s_math_ll(double d)
{
    return d >= -0x1p63 && d < 0x1p63 ? (long long)d : LLONG_MIN;
}

enum { M_ADD, M_DIV, M_MUL, M_SUB, M_MOD, M_POW, M_SHL, M_SHR, M_AND, M_XOR, M_OR,
       M_GT, M_LT, M_GE, M_LE, M_EQ };

/* MATH(<n1><op><n2>[,type]): op one of * / % ^ AND XOR OR > >= >> < <= << ==
 * + - (looked for in that order); type f(loat) "%f", i(nt), h(ex), c(har).
 * Comparisons read TRUE or FALSE. n/0 and n%0 are 0 (func_math.c). */
const char *func_str_math(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    char *argv[2];
    if (!*args || func_args(args, ',', 1, argv, 2) < 1) {
        td_log(LOG_WARNING, "Syntax: MATH(<number1><op><number 2>[,<type_of_result>]) - "
               "missing argument!");
        return NULL;
    }
    char *v1 = argv[0], *op = NULL, *v2 = NULL;
    int action = -1, neg = 0;
    if (*v1 == '-') {
        neg = 1;
        v1++;
    }
    if ((op = strchr(v1, '*'))) {
        action = M_MUL;
    } else if ((op = strchr(v1, '/'))) {
        action = M_DIV;
    } else if ((op = strchr(v1, '%'))) {
        action = M_MOD;
    } else if ((op = strchr(v1, '^'))) {
        action = M_POW;
    } else if ((op = strstr(v1, "AND"))) {
        action = M_AND;
        *op = '\0';
        op += 2;
    } else if ((op = strstr(v1, "XOR"))) {
        action = M_XOR;
        *op = '\0';
        op += 2;
    } else if ((op = strstr(v1, "OR"))) {
        action = M_OR;
        *op = '\0';
        op++;
    } else if ((op = strchr(v1, '>'))) {
        action = M_GT;
        *op = '\0';
        if (op[1] == '=' || op[1] == '>') {
            action = op[1] == '=' ? M_GE : M_SHR;
            op++;
        }
    } else if ((op = strchr(v1, '<'))) {
        action = M_LT;
        *op = '\0';
        if (op[1] == '=' || op[1] == '<') {
            action = op[1] == '=' ? M_LE : M_SHL;
            op++;
        }
    } else if ((op = strchr(v1, '='))) {
        *op = '\0';
        if (op[1] == '=') {
            action = M_EQ;
            op++;
        } else {
            op = NULL;
        }
    } else if ((op = strchr(v1, '+'))) {
        action = M_ADD;
    } else if ((op = strchr(v1, '-'))) {   /* last: the second number may be negative */
        action = M_SUB;
    }
    if (op) {
        *op = '\0';   /* (already done for the words and comparisons) */
        v2 = op + 1;
    }
    char type = 'f';
    if (argv[1]) {
        const char *t = argv[1];
        if (!strcasecmp(t, "float") || !strcasecmp(t, "f")) {
            type = 'f';
        } else if (!strcasecmp(t, "int") || !strcasecmp(t, "i")) {
            type = 'i';
        } else if (!strcasecmp(t, "hex") || !strcasecmp(t, "h")) {
            type = 'h';
        } else if (!strcasecmp(t, "char") || !strcasecmp(t, "c")) {
            type = 'c';
        } else {
            td_log(LOG_WARNING, "Unknown type of result requested '%s'.", t);
            return NULL;
        }
    }
    if (!v2) {
        td_log(LOG_WARNING, "Supply all the parameters - just this once, please");
        return NULL;
    }
    double a, b, r = 0;
    if (sscanf(v1, "%30lf", &a) != 1) {
        td_log(LOG_WARNING, "'%s' is not a valid number", v1);
        return NULL;
    }
    if (sscanf(v2, "%30lf", &b) != 1) {
        td_log(LOG_WARNING, "'%s' is not a valid number", v2);
        return NULL;
    }
    if (neg)
        a = -a;
    int ia = s_math_int(a), ib = s_math_int(b);
    switch (action) {
    case M_ADD: r = a + b; break;
    case M_DIV: r = b <= 0 ? 0 : a / b; break;   /* sic: any divisor <= 0 gives 0 */
    case M_MUL: r = a * b; break;
    case M_SUB: r = a - b; break;
    /* INT_MIN % -1 traps on x86 (SIGFPE, in Asterisk too): it is 0. */
    case M_MOD: r = ib == 0 || ib == -1 ? 0 : ia % ib; break;
    case M_POW: r = pow(a, b); break;
    /* Shifts as x86 makes them of Asterisk's int << int: the count taken
     * modulo 32, the bits shifted out of an unsigned word. */
    case M_SHL: r = (double)(int)((unsigned)ia << (ib & 31)); break;
    case M_SHR: r = ia >> (ib & 31); break;
    case M_AND: r = ia & ib; break;
    case M_XOR: r = ia ^ ib; break;
    case M_OR:  r = ia | ib; break;
    case M_GT: return func_out(buf, len, a > b ? "TRUE" : "FALSE");
    case M_LT: return func_out(buf, len, a < b ? "TRUE" : "FALSE");
    case M_GE: return func_out(buf, len, a >= b ? "TRUE" : "FALSE");
    case M_LE: return func_out(buf, len, a <= b ? "TRUE" : "FALSE");
    case M_EQ: return func_out(buf, len, a == b ? "TRUE" : "FALSE");
    default:
        td_log(LOG_WARNING, "Something happened that neither of us should be proud of %d",
               action);
        return NULL;
    }
    if (type == 'f')
        snprintf(buf, len, "%f", r);
    else if (type == 'i')
        snprintf(buf, len, "%i", s_math_int(r));
    else if (type == 'h')
        snprintf(buf, len, "%x", (unsigned int)s_math_ll(r));
    else
        snprintf(buf, len, "%c", (unsigned char)s_math_int(r));
    return buf;
}

/* --- HASH, HASHKEYS ----------------------------------------------------- */

/* A hash is channel variables named "~HASH~<hash>~<key>~" (leading
 * underscores of the hash name go in front, for inheritance). */
static void s_hash_var(char *out, size_t len, const char *hash, const char *key)
{
    int under = hash[0] == '_' ? (hash[1] == '_' ? 2 : 1) : 0;
    snprintf(out, len, "%.*s~HASH~%s~%s~", under, "__", hash + under, key);
}

typedef struct {
    const char *prefix;
    size_t plen;
    const char *keys[S_HASH_KEYS_MAX];
    size_t n;
} s_keys_t;

static void s_on_var(void *arg, const char *name, const char *value)
{
    (void)value;
    s_keys_t *k = arg;
    if (name[0] == '_')             /* ast_var_name: the bare name */
        name += name[1] == '_' ? 2 : 1;
    size_t nl = strlen(name);
    if (nl > k->plen + 1 && name[nl - 1] == '~' && strncmp(name, k->prefix, k->plen) == 0
        && k->n < S_HASH_KEYS_MAX)
        k->keys[k->n++] = name + k->plen;
}

/* HASHKEYS(hash): its keys, newest first (Asterisk's list order), joined by
 * commas. */
const char *func_str_hashkeys(func_env_t *env, char *args, char *buf, size_t len)
{
    if (!env->vars) {
        td_log(LOG_WARNING, "No channel was provided to HASHKEYS function.");
        return NULL;
    }
    char prefix[256];
    snprintf(prefix, sizeof prefix, "~HASH~%s~", args);
    s_keys_t k = { .prefix = prefix, .plen = strlen(prefix) };
    chanvars_foreach(env->vars, s_on_var, &k);
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = k.n; i > 0; i--) {
        const char *key = k.keys[i - 1];
        int w = snprintf(buf + n, len - n, "%s%.*s", n ? "," : "", (int)(strlen(key) - 1), key);
        if (w < 0 || (size_t)w >= len - n)
            break;
        n += (size_t)w;
    }
    return buf;
}

/* HASH(hash,key): one value. HASH(hash): every value, in HASHKEYS order
 * (and ~ODBCFIELDS~ set to the keys, as Asterisk does). */
const char *func_str_hash(func_env_t *env, char *args, char *buf, size_t len)
{
    char *argv[2];
    int argc = func_args(args, ',', 1, argv, 2);
    char name[512];
    if (argc == 2) {
        snprintf(name, sizeof name, "~HASH~%s~%s~", argv[0], argv[1]);
        const char *v = chanvars_get(env->vars, name);
        if (!v)
            v = func_global(env, name);
        return func_out(buf, len, v ? v : "");
    }
    if (argc != 1)
        return buf;
    if (!env->vars) {
        td_log(LOG_WARNING, "No channel and only 1 parameter was provided to HASH function.");
        return NULL;
    }
    char keys[VARS_MAX];
    func_str_hashkeys(env, argv[0], keys, sizeof keys);
    func_set(env, "~ODBCFIELDS~", keys);
    char *kv[100];
    int nk = func_args(keys, ',', 1, kv, 100);
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < nk; i++) {
        snprintf(name, sizeof name, "~HASH~%s~%s~", argv[0], kv[i]);
        const char *v = chanvars_get(env->vars, name);
        if (!v)
            v = func_global(env, name);
        int w = snprintf(buf + n, len - n, "%s%s", i ? "," : "", v ? v : "");
        if (w < 0 || (size_t)w >= len - n)
            break;
        n += (size_t)w;
    }
    return buf;
}

/* Set(HASH(hash,key)=value); Set(HASH(hash)=v1,v2,...) fills the keys
 * named by ${~ODBCFIELDS~} in order (Asterisk's array()). */
int func_str_hash_w(func_env_t *env, char *args, const char *value)
{
    char name[512];
    if (!value)
        value = "";
    if (!strchr(args, ',')) {
        const char *fields = chanvars_get(env->vars, "~ODBCFIELDS~");
        if (!fields)
            return -1;
        char kbuf[VARS_MAX], vbuf[VARS_MAX];
        snprintf(kbuf, sizeof kbuf, "%s", fields);
        snprintf(vbuf, sizeof vbuf, "%s", value);
        char *kv[100], *vv[100];
        int nk = func_args(kbuf, ',', 1, kv, 100), nv = func_args(vbuf, ',', 1, vv, 100);
        for (int i = 0; i < nk; i++) {
            s_hash_var(name, sizeof name, args, kv[i]);
            func_set(env, name, i < nv ? vv[i] : "");
        }
        return 0;
    }
    char *argv[2];
    func_args(args, ',', 1, argv, 2);
    s_hash_var(name, sizeof name, argv[0], argv[1] ? argv[1] : "");
    return func_set(env, name, value);
}

/* Set(ARRAY(var1,var2,...)=val1,val2,...): each variable its value, ""
 * for those past the last value (Asterisk's array()). */
int func_str_array_w(func_env_t *env, char *args, const char *value)
{
    char vals[VARS_MAX];
    snprintf(vals, sizeof vals, "%s", value ? value : "");
    char *names[100], *vv[100];
    int nn = func_args(args, ',', 1, names, 100), nv = func_args(vals, ',', 1, vv, 100);
    for (int i = 0; i < nn; i++)
        func_set(env, names[i], i < nv ? vv[i] : "");
    return 0;
}

/* --- TRIM, LTRIM, RTRIM, STRREPLACE, STRBETWEEN, LISTFILTER ---------------- */

/* rtrim as func_strings.c's macro: it stops one short on a string of only
 * blanks, so RTRIM("   ") leaves one. */
static void s_rtrim(char *s)
{
    char *back = s + strlen(s);
    while (back != s && isspace((unsigned char)*--back))
        ;
    if (*s)
        back[1] = '\0';
}

const char *func_str_trim(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    if (!*args)
        return NULL;
    while (isspace((unsigned char)*args))
        args++;
    s_rtrim(args);
    return func_out(buf, len, args);
}

const char *func_str_ltrim(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    if (!*args)
        return NULL;
    while (isspace((unsigned char)*args))
        args++;
    return func_out(buf, len, args);
}

const char *func_str_rtrim(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    if (!*args)
        return NULL;
    s_rtrim(args);
    return func_out(buf, len, args);
}

/* STRREPLACE(var,find[,replace[,max]]): ${var} with find replaced (max
 * times; <= 0 or none: all). */
const char *func_str_strreplace(func_env_t *env, char *args, char *buf, size_t len)
{
    char *argv[5];
    int argc = func_args(args, ',', 1, argv, 5);
    buf[0] = '\0';
    if (argc < 2) {
        td_log(LOG_ERR, "Usage: STRREPLACE(<varname>,<find-string>[,<replace-string>,"
               "[<max-replacements>]])");
        return NULL;
    }
    if (!*argv[0])
        return NULL;
    if (!*argv[1]) {
        td_log(LOG_ERR, "No <find-string> specified");
        return NULL;
    }
    char vbuf[VARS_MAX];
    const char *v = func_var(env, argv[0], vbuf, sizeof vbuf);
    if (!v)
        v = "";
    int max = argv[3] ? atoi(argv[3]) : 0;
    size_t fl = strlen(argv[1]), n = 0;
    for (int count = 0; max <= 0 || count < max; count++) {
        const char *hit = strstr(v, argv[1]);
        if (!hit)
            break;
        n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%.*s%s", (int)(hit - v), v,
                              argv[2] ? argv[2] : "");
        if (n >= len)
            return buf;
        v = hit + fl;
    }
    snprintf(buf + n, len - n, "%s", v);
    return buf;
}

/* STRBETWEEN(var,insert): insert between every two characters of ${var}. */
const char *func_str_strbetween(func_env_t *env, char *args, char *buf, size_t len)
{
    char *argv[3];
    int argc = func_args(args, ',', 1, argv, 3);
    buf[0] = '\0';
    if (argc != 2 || !*argv[0]) {
        td_log(LOG_ERR, "Usage: STRBETWEEN(<varname>,<insert-string>)");
        return NULL;
    }
    char vbuf[VARS_MAX];
    const char *v = func_var(env, argv[0], vbuf, sizeof vbuf);
    size_t n = 0;
    for (size_t i = 0; v && v[i] && n + 1 < len; i++) {
        n += (size_t)snprintf(buf + n, len - n, "%c%s", v[i], v[i + 1] ? argv[1] : "");
        if (n >= len)
            break;
    }
    return buf;
}

/* LISTFILTER(var,delimiter,value): ${var} without the items equal to value
 * (the delimiter may be several characters). */
const char *func_str_listfilter(func_env_t *env, char *args, char *buf, size_t len)
{
    char *argv[3];
    if (func_args(args, ',', 1, argv, 3) < 3) {
        td_log(LOG_ERR, "Usage: LISTFILTER(<listname>,<delimiter>,<fieldvalue>)");
        return NULL;
    }
    char vbuf[VARS_MAX];
    const char *list = func_var(env, argv[0], vbuf, sizeof vbuf);
    if (!list)
        return NULL;
    if (!strstr(list, argv[2]))
        return func_out(buf, len, list);
    char delim[256];
    func_encoded_str(argv[1], delim, sizeof delim);
    if (!*delim)
        snprintf(delim, sizeof delim, ",");
    size_t dl = strlen(delim), fl = strlen(argv[2]), n = 0;
    int first = 1;
    buf[0] = '\0';
    const char *begin = list, *cur, *next = strstr(begin, delim);
    do {
        if (next) {
            cur = next;
            next = strstr(cur + dl, delim);
        } else {
            cur = begin + strlen(begin);
        }
        if ((size_t)(cur - begin) == fl && strncmp(begin, argv[2], fl) == 0) {
            begin += fl + dl;        /* skip the item (sic: past a final one too) */
        } else {
            n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%.*s", first ? "" : delim,
                                  (int)(cur - begin), begin);
            first = 0;
            begin = cur + dl;
        }
    } while (*cur && n < len);
    return buf;
}

/* --- QUOTE, CSV_QUOTE, EVAL, KEYPADHASH, PASSTHRU -------------------------- */

const char *func_str_quote(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    if (len < 3)
        return NULL;
    if (!*args) {
        td_log(LOG_WARNING, "No argument specified!");
        return func_out(buf, len, "\"\"");
    }
    size_t n = 0;
    buf[n++] = '"';
    for (const char *p = args; *p && n < len - 3; p++) {
        if (*p == '\\' || *p == '"')
            buf[n++] = '\\';
        buf[n++] = *p;
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

const char *func_str_csv_quote(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    if (len < 3)
        return NULL;
    size_t n = 0;
    buf[n++] = '"';
    for (const char *p = args; *p && n < len - 3; p++) {
        if (*p == '"')
            buf[n++] = '"';
        buf[n++] = *p;
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

/* EVAL(text): text substituted once more (a variable holding "${X}"). */
const char *func_str_eval(func_env_t *env, char *args, char *buf, size_t len)
{
    if (!*args) {
        td_log(LOG_WARNING, "EVAL requires an argument: EVAL(<string>)");
        return NULL;
    }
    /* EVAL of a value that EVALs itself would recurse for ever (each
     * substitution starts its own depth count): bounded here. */
    static int depth;
    if (depth >= 8) {
        td_log_limited(LOG_WARNING, 5, "EVAL nested more than 8 deep: refused");
        return NULL;
    }
    depth++;
    if (env->lookup)
        vars_substitute(args, buf, len, env->lookup, env->lookup_arg);
    else
        func_out(buf, len, args);
    depth--;
    return buf;
}

const char *func_str_keypadhash(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    static const char *const keys[] = {
        "0", "1", "AaBbCc2", "DdEeFf3", "GgHhIi4", "JjKkLl5", "MmNnOo6", "PpQqRrSs7",
        "TtUuVv8", "WwXxYyZz9",
    };
    size_t n = 0;
    for (const char *p = args; *p && n + 1 < len; p++)
        for (int k = 0; k < 10; k++)
            if (strchr(keys[k], *p)) {
                buf[n++] = (char)('0' + k);
                break;
            }
    buf[n] = '\0';
    return buf;
}

const char *func_str_passthru(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    return func_out(buf, len, args);
}

/* --- URIENCODE, URIDECODE, BASE64_ENCODE, BASE64_DECODE -------------------- */

/* ast_uri_encode with ast_uri_http: letters, digits and -_.!~*'() stay,
 * anything else is %XX. */
const char *func_str_uriencode(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    size_t n = 0;
    for (const char *p = args; *p && n + 1 < len; p++) {
        if (isalnum((unsigned char)*p) || strchr("-_.!~*'()", *p)) {
            buf[n++] = *p;
        } else {
            if (n + 3 >= len)
                break;
            n += (size_t)snprintf(buf + n, len - n, "%%%02X", (unsigned char)*p);
        }
    }
    buf[n] = '\0';
    return buf;
}

/* ast_uri_decode: %XX (two characters that sscanf reads as hex) decoded. */
const char *func_str_uridecode(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    size_t n = 0;
    for (const char *p = args; *p && n + 1 < len; p++) {
        unsigned int c;
        if (*p == '%' && p[1] && p[2] && sscanf(p + 1, "%2x", &c) == 1) {
            buf[n++] = (char)c;
            p += 2;
        } else {
            buf[n++] = *p;
        }
    }
    buf[n] = '\0';
    return buf;
}

static const char s_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const char *func_str_base64_encode(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    if (!*args) {
        td_log(LOG_WARNING, "Syntax: BASE64_ENCODE(<data>) - missing argument!");
        return NULL;
    }
    const unsigned char *s = (const unsigned char *)args;
    size_t sl = strlen(args), n = 0;
    for (size_t i = 0; i < sl && n + 5 <= len; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < sl ? (unsigned)s[i + 1] << 8 : 0)
                     | (i + 2 < sl ? s[i + 2] : 0);
        buf[n++] = s_b64[v >> 18 & 63];
        buf[n++] = s_b64[v >> 12 & 63];
        buf[n++] = i + 1 < sl ? s_b64[v >> 6 & 63] : '=';
        buf[n++] = i + 2 < sl ? s_b64[v & 63] : '=';
    }
    buf[n] = '\0';
    return buf;
}

/* ast_base64decode: up to the first '='; a character outside the alphabet
 * counts as 'A'. The result ends at its first NUL, as a C string does. */
const char *func_str_base64_decode(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    if (!*args) {
        td_log(LOG_WARNING, "Syntax: BASE64_DECODE(<data>) - missing argument!");
        return NULL;
    }
    unsigned byte = 0, bits = 0;
    size_t n = 0;
    for (const char *p = args; *p && *p != '=' && n + 1 < len; p++) {
        const char *at = strchr(s_b64, *p);
        byte = byte << 6 | (unsigned)(at ? at - s_b64 : 0);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (char)(byte >> bits & 0xff);
        }
    }
    buf[n] = '\0';
    return buf;
}
