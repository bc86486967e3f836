/* func_num - the small number functions of funcs/func_math.c (INC, DEC,
 * MIN, MAX, ABS) and SORT of funcs/func_cut.c. */
#define TD_LOG_SUBSYS TD_LOG_DIALPLAN   /* td_log() here: [logging] dialplan= */
#include "func_int.h"
#include "td_log.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "%d" when the value is whole, else "%f" (acf_min_exec and friends).
 * Asterisk tests (int)v == v, undefined past int's range; x86 makes
 * (int)v INT_MIN there, never equal: "%f". So here, without the cast. */
static const char *s_number(double v, char *buf, size_t len)
{
    if (v >= (double)INT_MIN && v <= (double)INT_MAX && (int)v == v)
        snprintf(buf, len, "%d", (int)v);
    else
        snprintf(buf, len, "%f", v);
    return buf;
}

/* INC(var) / DEC(var): add or take one from ${var} (a channel variable or
 * a global, an integer and nothing after it), store it, read as it. */
static const char *s_crement(func_env_t *env, const char *fn, int by, char *args, char *buf,
                             size_t len)
{
    if (!*args) {
        td_log(LOG_WARNING, "Syntax: %s(<data>) - missing argument!", fn);
        return NULL;
    }
    if (!env->vars) {
        td_log(LOG_WARNING, "No channel was provided to %s function.", fn);
        return NULL;
    }
    const char *v = chanvars_get(env->vars, args);
    if (!v)
        v = func_global(env, args);
    if (!v) {
        td_log(LOG_NOTICE, "Failed to obtain variable %s, bailing out", args);
        return NULL;
    }
    if (!*v) {
        td_log(LOG_NOTICE, "Variable %s doesn't exist - are you sure you wrote it correctly?",
               args);
        return NULL;
    }
    int n = 0;
    char end = 0;
    if (sscanf(v, "%30d%1c", &n, &end) == 0 || end != 0) {
        td_log(LOG_NOTICE, "The content of ${%s} is not a numeric value - bailing out!", args);
        return NULL;
    }
    snprintf(buf, len, "%d", (int)((unsigned)n + (unsigned)by));   /* wraps, as x86 */
    func_set(env, args, buf);
    return buf;
}

const char *func_num_inc(func_env_t *env, char *args, char *buf, size_t len)
{
    return s_crement(env, "INC", 1, args, buf, len);
}

const char *func_num_dec(func_env_t *env, char *args, char *buf, size_t len)
{
    return s_crement(env, "DEC", -1, args, buf, len);
}

/* MIN(a[,b]) / MAX(a[,b]): either may be missing, not both. */
static const char *s_minmax(int want_max, char *args, char *buf, size_t len)
{
    char *argv[2];
    func_args(args, ',', 1, argv, 2);
    int has1 = argv[0] && *argv[0], has2 = argv[1] && *argv[1];
    double a = 0, b = 0;
    if (!has1 && !has2) {
        td_log(LOG_ERR, "Missing argument for number(s).");
        return NULL;
    }
    if (has1 && sscanf(argv[0], "%30lf", &a) != 1) {
        td_log(LOG_WARNING, "'%s' is not a valid number", argv[0]);
        return NULL;
    }
    if (!has2)
        b = a;
    else if (sscanf(argv[1], "%30lf", &b) != 1) {
        td_log(LOG_WARNING, "'%s' is not a valid number", argv[1]);
        return NULL;
    }
    if (!has1)
        return s_number(b, buf, len);
    return s_number(want_max ? (a < b ? b : a) : (a > b ? b : a), buf, len);
}

const char *func_num_min(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    return s_minmax(0, args, buf, len);
}

const char *func_num_max(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    return s_minmax(1, args, buf, len);
}

const char *func_num_abs(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    char *argv[1];
    func_args(args, ',', 1, argv, 1);
    double a;
    if (!argv[0] || !*argv[0] || sscanf(argv[0], "%30lf", &a) != 1) {
        td_log(LOG_WARNING, "Bad or missing argument for number: %s", argv[0] ? argv[0] : "");
        return NULL;
    }
    return s_number(fabs(a), buf, len);
}

typedef struct {
    const char *key;
    float value;
} s_sortable_t;

static int s_cmp_sortable(const void *a, const void *b)
{
    const s_sortable_t *x = a, *y = b;
    return x->value < y->value ? -1 : x->value > y->value;
}

/* SORT(key1:value1[,key2:value2...]): the keys by their values (floats),
 * joined by commas; items without ':' are left out. */
const char *func_num_sort(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    s_sortable_t items[256];
    size_t n = 0;
    char *rest = args, *item;
    buf[0] = '\0';
    while ((item = strsep(&rest, ",")) && n < sizeof items / sizeof items[0]) {
        char *colon = strchr(item, ':');
        if (!colon)
            continue;
        *colon = '\0';
        items[n].key = item;
        items[n].value = 0;
        sscanf(colon + 1, "%30f", &items[n].value);
        n++;
    }
    qsort(items, n, sizeof items[0], s_cmp_sortable);
    size_t w = 0;
    for (size_t i = 0; i < n && w < len; i++)
        w += (size_t)snprintf(buf + w, len - w, "%s%s", i ? "," : "", items[i].key);
    return buf;
}
