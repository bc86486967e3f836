/* td_regex - see td_regex.h. */
#include "td_regex.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define S_LIMIT ((size_t)TD_REGEX_MAX_NODES + 1)
#define S_DEPTH 64

static size_t s_add(size_t a, size_t b) { return a + b > S_LIMIT ? S_LIMIT : a + b; }

static size_t s_mul(size_t a, size_t b)
{
    return a && b > S_LIMIT / a ? S_LIMIT : (a * b > S_LIMIT ? S_LIMIT : a * b);
}

/* Past a bracket expression starting at p ('['), or at its end if it is not
 * closed (regcomp then refuses it anyway). */
static const char *s_bracket(const char *p)
{
    p++;
    if (*p == '^')
        p++;
    if (*p == ']')
        p++;                                    /* a leading ']' is a member */
    while (*p && *p != ']') {
        if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
            char close = p[1];
            const char *e = p + 2;
            while (*e && !(e[0] == close && e[1] == ']'))
                e++;
            p = *e ? e + 2 : e;
        } else
            p++;
    }
    return *p ? p + 1 : p;
}

/* How many copies of the atom before it the repetition at *pp makes (and
 * past it), or 0 if *pp is not a repetition. {m,n} copies max(m, n) times
 * and one more for the optional part; + copies twice (a+ is aa*).
 * *optional: the repetition may match nothing (*, ?, {0,n}). */
static size_t s_repeat(const char **pp, int *optional)
{
    const char *p = *pp;
    if (*p == '*' || *p == '?' || *p == '+') {
        *pp = p + 1;
        *optional = *p != '+';
        return 2;
    }
    if (*p != '{' || !isdigit((unsigned char)p[1]))
        return 0;
    char *end;
    unsigned long m = strtoul(p + 1, &end, 10), n = m;
    if (*end == ',') {
        if (isdigit((unsigned char)end[1]))
            n = strtoul(end + 1, &end, 10);
        else
            end++;
    }
    if (*end != '}')
        return 0;
    *pp = end + 1;
    *optional = m == 0;
    unsigned long most = (m > n ? m : n) + 1;
    return most > S_LIMIT ? S_LIMIT : (size_t)most;
}

/* One group level of the scan (the whole pattern is level 0). The last atom
 * or group is kept apart from the alternative before it, so a repetition
 * can change what it is. */
typedef struct {
    size_t total;               /* nodes of the group so far */
    size_t last;                /* nodes of the last atom or group; 0: none */
    int last_empty;             /* the last can match the empty string */
    int last_loops;             /* repetitions of empty-matching operands nested in it */
    int before_empty;           /* the alternative before the last can match empty */
    int any_empty;              /* a finished alternative can */
    int loops;                  /* the most last_loops in the group so far */
} s_level_t;

static void s_fold_last(s_level_t *l)
{
    l->before_empty = l->before_empty && (!l->last || l->last_empty);
}

static void s_end_alternative(s_level_t *l)
{
    s_fold_last(l);
    l->any_empty |= l->before_empty;
    if (l->last_loops > l->loops)
        l->loops = l->last_loops;
    l->before_empty = 1;
    l->last = 0;
    l->last_empty = l->last_loops = 0;
}

size_t td_regex_cost(const char *pattern)
{
    s_level_t levels[S_DEPTH + 1];
    int depth = 0;
    s_level_t *l = &levels[0];
    *l = (s_level_t){ .before_empty = 1 };
    size_t empty_loop_nodes = 0;
    const char *p = pattern;
    while (p && *p) {
        int optional = 0;
        size_t copies = s_repeat(&p, &optional);
        if (copies) {
            if (!l->last) {                     /* nothing before: a literal to regcomp */
                l->last = 1;
                l->last_empty = l->last_loops = 0;
            }
            l->total = s_add(l->total, s_mul(l->last, copies - 1));
            l->last = s_mul(l->last, copies);
            if (l->last_empty) {
                /* A loop over something that can match nothing: glibc's
                 * epsilon closures grow with the square of its copies, and
                 * again with each such loop inside it. */
                empty_loop_nodes = s_add(empty_loop_nodes, l->last);
                if (++l->last_loops > TD_REGEX_MAX_EMPTY_LOOPS
                    || empty_loop_nodes > TD_REGEX_MAX_EMPTY_LOOP_NODES)
                    return S_LIMIT;
            }
            l->last_empty |= optional;
            continue;
        }
        int zero_width = 0;                     /* '^' and '$' match no character */
        switch (*p) {
        case '(':
            if (depth == S_DEPTH)
                return S_LIMIT;
            s_fold_last(l);
            l->last = 0;
            l = &levels[++depth];
            *l = (s_level_t){ .before_empty = 1 };
            p++;
            continue;
        case ')':
            if (depth > 0) {
                s_end_alternative(l);
                size_t group = s_add(l->total, 2);     /* and its open and close */
                int empty = l->any_empty, loops = l->loops;
                l = &levels[--depth];
                l->total = s_add(l->total, group);
                l->last = group;
                l->last_empty = empty;
                l->last_loops = loops;
            }
            p++;
            continue;
        case '|':
            s_end_alternative(l);
            l->total = s_add(l->total, 1);      /* the alternation itself */
            p++;
            continue;
        case '[':
            p = s_bracket(p);
            break;
        case '\\':
            p += p[1] ? 2 : 1;
            break;
        default:
            zero_width = *p == '^' || *p == '$';
            p++;
        }
        s_fold_last(l);                         /* one atom */
        l->total = s_add(l->total, 1);
        l->last = 1;
        l->last_empty = zero_width;
        l->last_loops = 0;
        if (l->total >= S_LIMIT)
            return S_LIMIT;
    }
    size_t total = l->total;
    while (depth > 0)                           /* an unclosed '(': regcomp refuses it */
        total = s_add(levels[--depth].total, total);
    return total;
}

int td_regcomp(regex_t *re, const char *pattern, int flags)
{
    if (td_regex_cost(pattern) > TD_REGEX_MAX_NODES)
        return REG_ESIZE;
    return regcomp(re, pattern, flags);
}
