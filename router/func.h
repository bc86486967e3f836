/* func - Asterisk's dialplan functions: ${FUNC(args)} reads and
 * Set(FUNC(args)=value) writes.
 *
 * func.c:      LEN, IF, ISNULL, EXISTS, CUT, REGEX, RAND, GLOBAL, SET,
 *              CALLERID, DB, DB_EXISTS, DB_DELETE, LOCAL (and the table)
 * func_str.c:  TOUPPER, TOLOWER, FIELDQTY, FIELDNUM, REPLACE, FILTER, SHIFT,
 *              POP, PUSH, UNSHIFT, SPRINTF, MATH, HASH, HASHKEYS, ARRAY, TRIM, LTRIM,
 *              RTRIM, STRREPLACE, STRBETWEEN, LISTFILTER, QUOTE, CSV_QUOTE,
 *              EVAL, KEYPADHASH, PASSTHRU, URIENCODE, URIDECODE,
 *              BASE64_ENCODE, BASE64_DECODE
 * func_num.c:  INC, DEC, MIN, MAX, ABS, SORT
 * func_time.c: STRFTIME (with %q and %1q..%6q), STRPTIME
 * func_group.c: GROUP, GROUP_COUNT, GROUP_MATCH_COUNT, GROUP_LIST
 * func_chan.c: CHANNEL, CDR, TIMEOUT, DIALPLAN_EXISTS, DB_KEYS, SIPPEER,
 *              VALID_EXTEN, IFTIME, ENV
 * Written: GLOBAL, CALLERID, DB, LOCAL, HASH, ARRAY, PUSH, UNSHIFT, CDR
 * (accountcode, userfield, and custom CDR variables), TIMEOUT,
 * CHANNEL(accountcode), GROUP.
 * Arguments arrive with ${} and $[] already expanded (vars_substitute does
 * that for the whole of "FUNC(args)"). Names are case-sensitive, as
 * Asterisk 20's registry compares them (pbx_functions.c
 * ast_custom_function_find: strcmp): ${len(x)} is "not registered". */
#ifndef FUNC_H
#define FUNC_H

#include <stddef.h>
#include <sys/time.h>

#include "arena.h"
#include "astdb.h"
#include "chanvars.h"

/* What a function may touch: one call's state, borrowed for the duration
 * of one func_read/func_write. Any pointer may be NULL (that part is then
 * unset / not writable). */
typedef struct {
    chanvars_t *vars;            /* the channel's variables */
    chanvars_t *globals;         /* runtime globals (GLOBAL() writes), process-wide */
    /* Told of each GLOBAL() write once it is made (cluster mode shares it:
     * dbsync_global_changed); NULL: nobody. */
    void (*global_changed)(void *arg, const char *name, const char *value);
    void *global_arg;
    /* [globals] of extensions.conf: the fallback when globals has no value.
     * dialplan (a dialplan_t) is the plan in force (calls in flight
     * included: a reload changes the globals they read). */
    const char *(*dialplan_global)(const void *dialplan, const char *name);
    const void *dialplan;
    /* Where DIALPLAN_EXISTS and VALID_EXTEN look: the plan the call runs on
     * (so a test agrees with the Goto that follows it); NULL: dialplan. */
    const void *exten_plan;
    astdb_t *db;
    /* caller id: the call's own pointers; writes copy the value into arena */
    const char **caller_num, **caller_name;
    arena_t *arena;
    /* any ${NAME} (CUT() reads a variable by name) */
    const char *(*lookup)(void *arg, const char *name, char *buf, size_t len);
    void *lookup_arg;
    /* The channel, for CHANNEL(), CDR() and DIALPLAN_EXISTS() (borrowed;
     * chan_name NULL: no channel, as at load time). */
    const char *chan_name, *uniqueid, *context, *exten, *peer, *lastapp, *lastdata;
    int answered;
    const struct timeval *start, *answer;   /* answer tv_sec 0: not answered */
    /* CDR(accountcode) and CDR(userfield): the call's buffers, written in
     * place and read by the CDR writer (NULL: not writable). */
    char *accountcode, *userfield;
    size_t accountcode_len, userfield_len;
    /* TIMEOUT(digit) and TIMEOUT(response): the call's values in ms
     * (timeout_ms[FUNC_TIMEOUT_DIGIT], [FUNC_TIMEOUT_RESPONSE]) and the
     * bits of those set (1 << which); unset ones are Asterisk's 5 s, 10 s. */
    unsigned *timeout_ms, *timeout_set;
    /* CALLERID(ani), CALLERID(dnid): as the call arrived (NULL: "") */
    const char *ani, *dnid;
} func_env_t;

#define FUNC_TIMEOUT_DIGIT    0
#define FUNC_TIMEOUT_RESPONSE 1

/* The call's TIMEOUT(which) in ms: set, or the default (5000 / 10000). */
unsigned func_timeout_ms(const unsigned *ms, unsigned set, int which);

/* A call is over: drop its GROUP() memberships (call is its func_env_t
 * .vars). */
void func_group_forget(const void *call);

/* The folder holding sip.conf (SIPPEER() reads <dir>/sip.conf). Copied;
 * the router sets it once at start. "" or never: SIPPEER finds no peer. */
void func_set_confdir(const char *dir);

/* Is name ("LEN(abc)") a function call: NAME(...)? */
int func_is_call(const char *name);

/* ${name} for a function call "NAME(args)": a string borrowed from env,
 * or one written into buf (len bytes). NULL means empty. An unknown
 * function logs "Function NAME not registered" and reads as empty. */
const char *func_read(func_env_t *env, const char *name, char *buf, size_t len);

/* Set(name=value) for "NAME(args)". 0, or -1 if the function is unknown or
 * cannot be written (logged, as Asterisk does at runtime). */
int func_write(func_env_t *env, const char *name, const char *value);

/* Set(name=value) as Asterisk's pbx_builtin_setvar_helper: "NAME(args)"
 * goes to func_write, anything else is a channel variable (chanvars_set:
 * "_X"/"__X" are inherited, an empty value is kept and hides a global of
 * the same name). 0, or -1 (logged). */
int func_set(func_env_t *env, const char *name, const char *value);

/* A global's value: runtime globals first, then [globals]. NULL if unset. */
const char *func_global(func_env_t *env, const char *name);

/* __ast_app_separate_args: split s in place at sep outside (), [] and
 * (when sep is not '"') double quotes; nothing is trimmed. remove: drop
 * the quotes and make "\x" a literal x (AST_STANDARD_APP_ARGS), else keep
 * them (AST_STANDARD_RAW_ARGS). At most max fields: the last one keeps the
 * rest as written. "" gives 0 fields, "a," two. Missing fields are NULL. */
int func_args(char *s, char sep, int remove, char **argv, int max);

#endif
