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
 * and one more for the optional part; + copies twice (a+ is aa*). */
static size_t s_repeat(const char **pp)
{
    const char *p = *pp;
    if (*p == '*' || *p == '?' || *p == '+') {
        *pp = p + 1;
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
    unsigned long most = (m > n ? m : n) + 1;
    return most > S_LIMIT ? S_LIMIT : (size_t)most;
}

size_t td_regex_cost(const char *pattern)
{
    size_t saved[S_DEPTH];
    int depth = 0;
    size_t total = 0, last = 0;     /* this group so far; the last atom or group */
    const char *p = pattern;
    while (p && *p) {
        size_t copies = s_repeat(&p);
        if (copies) {
            total = s_add(total, s_mul(last ? last : 1, copies - 1));
            last = s_mul(last ? last : 1, copies);
            continue;
        }
        switch (*p) {
        case '(':
            if (depth == S_DEPTH)
                return S_LIMIT;
            saved[depth++] = total;
            total = last = 0;
            p++;
            break;
        case ')':
            if (depth > 0) {
                size_t group = total ? total : 1;
                total = s_add(saved[--depth], group);
                last = group;
            }
            p++;
            break;
        case '|':
            last = 0;
            p++;
            break;
        case '[':
            p = s_bracket(p);
            total = s_add(total, 1);
            last = 1;
            break;
        case '\\':
            p += p[1] ? 2 : 1;
            total = s_add(total, 1);
            last = 1;
            break;
        default:
            p++;
            total = s_add(total, 1);
            last = 1;
        }
        if (total >= S_LIMIT)
            return S_LIMIT;
    }
    while (depth > 0)                           /* an unclosed '(': regcomp refuses it */
        total = s_add(saved[--depth], total);
    return total;
}

int td_regcomp(regex_t *re, const char *pattern, int flags)
{
    if (td_regex_cost(pattern) > TD_REGEX_MAX_NODES)
        return REG_ESIZE;
    return regcomp(re, pattern, flags);
}
