/* func_group - GROUP(), GROUP_COUNT(), GROUP_MATCH_COUNT(), GROUP_LIST()
 * (funcs/func_groupcount.c over main/app.c's group list): a process-wide
 * list of (call, group, category). A call is known by its variable store
 * (func_env_t.vars, one per call); call_destroy drops its entries through
 * func_group_forget. Counting walks the list, as Asterisk does: a router
 * has hundreds of calls, not millions. */
#define TD_LOG_SUBSYS TD_LOG_DIALPLAN   /* td_log() here: [logging] dialplan= */
#include "func_int.h"
#include "td_log.h"
#include "td_regex.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const void *call;
    char group[80];
    char category[80];           /* "" none */
} s_member_t;

static struct {
    s_member_t *v;
    size_t n, cap;
} s_list;

/* ast_app_group_split_group: "group@category". */
static void s_split(const char *data, char *group, size_t glen, char *category, size_t clen)
{
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", data ? data : "");
    char *at = strchr(tmp, '@');
    if (at)
        *at++ = '\0';
    snprintf(group, glen, "%.*s", (int)(glen - 1), tmp);           /* cut, as Asterisk */
    snprintf(category, clen, "%.*s", (int)(clen - 1), at ? at : "");
}

static void s_remove(size_t i)
{
    memmove(&s_list.v[i], &s_list.v[i + 1], (s_list.n - i - 1) * sizeof *s_list.v);
    s_list.n--;
}

void func_group_forget(const void *call)
{
    for (size_t i = s_list.n; i > 0; i--)
        if (s_list.v[i - 1].call == call)
            s_remove(i - 1);
    if (!s_list.n) {
        free(s_list.v);
        s_list.v = NULL;
        s_list.cap = 0;
    }
}

/* GROUP([category]): this call's group in category (any, if none given). */
const char *func_group_read(func_env_t *env, char *args, char *buf, size_t len)
{
    if (!env->vars) {
        td_log(LOG_WARNING, "No channel was provided to GROUP function.");
        return NULL;
    }
    for (size_t i = 0; i < s_list.n; i++) {
        s_member_t *m = &s_list.v[i];
        if (m->call != env->vars)
            continue;
        if (!*args || (*m->category && !strcasecmp(m->category, args))) {
            snprintf(buf, len, "%s", m->group);
            return buf;
        }
    }
    return NULL;
}

/* Set(GROUP([category])=group): replaces this call's group in category; ""
 * leaves the category. */
int func_group_write(func_env_t *env, char *args, const char *value)
{
    if (!env->vars) {
        td_log(LOG_WARNING, "No channel was provided to GROUP function.");
        return -1;
    }
    if (!value)
        return -1;
    char grpcat[256], group[80], category[80];
    if (*args)
        snprintf(grpcat, sizeof grpcat, "%s@%s", value, args);
    else
        snprintf(grpcat, sizeof grpcat, "%s", value);
    s_split(grpcat, group, sizeof group, category, sizeof category);
    for (size_t i = 0; i < s_list.n; i++) {
        s_member_t *m = &s_list.v[i];
        if (m->call == env->vars
            && ((!*category && !*m->category) || (*m->category && !strcasecmp(m->category, category)))) {
            s_remove(i);
            break;
        }
    }
    if (!*group)
        return 0;
    if (s_list.n == s_list.cap) {
        size_t cap = s_list.cap ? s_list.cap * 2 : 16;
        s_member_t *v = realloc(s_list.v, cap * sizeof *v);
        if (!v)
            return -1;
        s_list.v = v;
        s_list.cap = cap;
    }
    s_member_t *m = &s_list.v[s_list.n++];
    m->call = env->vars;
    snprintf(m->group, sizeof m->group, "%s", group);
    snprintf(m->category, sizeof m->category, "%s", category);
    return 0;
}

/* GROUP_COUNT([group][@category]): calls in group (of category, if given);
 * no group: this call's group (in that category). */
const char *func_group_count(func_env_t *env, char *args, char *buf, size_t len)
{
    if (!env->vars) {
        td_log(LOG_WARNING, "No channel was provided to GROUP_COUNT function.");
        return NULL;
    }
    char group[80], category[80];
    s_split(args, group, sizeof group, category, sizeof category);
    if (!*group) {
        for (size_t i = 0; i < s_list.n; i++) {
            s_member_t *m = &s_list.v[i];
            if (m->call == env->vars
                && (!*category || (*m->category && !strcasecmp(m->category, category)))) {
                snprintf(group, sizeof group, "%s", m->group);
                if (*m->category)
                    snprintf(category, sizeof category, "%s", m->category);
                break;
            }
        }
    }
    int count = 0;
    for (size_t i = 0; *group && i < s_list.n; i++) {
        s_member_t *m = &s_list.v[i];
        if (!strcasecmp(m->group, group)
            && (!*category || (*m->category && !strcasecmp(m->category, category))))
            count++;
    }
    snprintf(buf, len, "%d", count);
    return buf;
}

/* GROUP_MATCH_COUNT(regex[@category-regex]): calls whose group (and
 * category) match. A bad regex counts 0. */
const char *func_group_match_count(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)env;
    char group[80], category[80];
    s_split(args, group, sizeof group, category, sizeof category);
    int count = 0;
    regex_t rg, rc;
    if (!*group) {
        td_log(LOG_NOTICE, "groupmatch empty");
    } else if (td_regcomp(&rg, group, REG_EXTENDED | REG_NOSUB)) {
        td_log(LOG_ERR, "Regex compile failed on: %s", group);
    } else if (*category && td_regcomp(&rc, category, REG_EXTENDED | REG_NOSUB)) {
        td_log(LOG_ERR, "Regex compile failed on: %s", category);
        regfree(&rg);
    } else {
        for (size_t i = 0; i < s_list.n; i++) {
            s_member_t *m = &s_list.v[i];
            if (!regexec(&rg, m->group, 0, NULL, 0)
                && (!*category || (*m->category && !regexec(&rc, m->category, 0, NULL, 0))))
                count++;
        }
        regfree(&rg);
        if (*category)
            regfree(&rc);
    }
    snprintf(buf, len, "%d", count);
    return buf;
}

/* GROUP_LIST(): this call's groups, "group" or "group@category", by spaces. */
const char *func_group_list(func_env_t *env, char *args, char *buf, size_t len)
{
    (void)args;
    if (!env->vars)
        return NULL;
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s_list.n && n < len; i++) {
        s_member_t *m = &s_list.v[i];
        if (m->call != env->vars)
            continue;
        n += (size_t)snprintf(buf + n, len - n, "%s%s%s%s", n ? " " : "", m->group,
                              *m->category ? "@" : "", m->category);
    }
    return buf;
}
