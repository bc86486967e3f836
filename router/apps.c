/* apps - the dialplan applications other than Answer, Echo, Wait, Goto,
 * Hangup, NoOp (call.c) and Dial (dial.c): variables (Set, MSet), branches
 * (GotoIf, GotoIfTime, ExecIf), subroutines (Gosub, Return), logging
 * (Verbose, Log), Busy and Congestion; the IVR over the media worker
 * (Progress, Ringing, Playback, Background, WaitExten, Read, SayDigits,
 * SayNumber, Record, MusicOnHold) is in ivr.c, dispatched from here.
 *
 * Behaviour follows Asterisk's documentation and source (app_playback,
 * app_read, app_record, app_stack, pbx_builtins); where Tandem differs it
 * says so next to the code. The IVR applications wait for the worker:
 *
 *   Playback/Say*   MediaPlay -> PLAYING -> MediaPlayed -> next priority
 *   Background      MediaPlay -> COLLECTING; a key stops it (MediaStop) and
 *                   starts an extension, as Asterisk's pbx loop collects one
 *   WaitExten       COLLECTING until a key (then as Background) or the
 *                   timeout (-> "t")
 *   Read            prompt, keys until '#', maxdigits or the timeout
 *   Record          beep (MediaPlay), MediaRecord -> RECORDING -> MediaRecorded
 *   MusicOnHold     MediaPlay(moh, loop) -> MOH until the duration or a Hangup */
#include "call_int.h"
#include "td_log.h"
#include "td_str.h"
#include "timing.h"
#include "vars.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S_MAX_FRAMES 128                /* Gosub depth (Asterisk has none; memory does) */

int apps_instant(dialplan_app_t app)
{
    switch (app) {
    case DIALPLAN_APP_NOOP: case DIALPLAN_APP_SET: case DIALPLAN_APP_MSET:
    case DIALPLAN_APP_GOTO: case DIALPLAN_APP_GOTOIF: case DIALPLAN_APP_GOTOIFTIME:
    case DIALPLAN_APP_EXECIF: case DIALPLAN_APP_GOSUB: case DIALPLAN_APP_RETURN:
    case DIALPLAN_APP_VERBOSE: case DIALPLAN_APP_LOG: case DIALPLAN_APP_HANGUP:
    case DIALPLAN_APP_BUSY: case DIALPLAN_APP_CONGESTION:
        return 1;
    default:
        return 0;
    }
}

void apps_free(call_t *self)
{
    while (self->frames) {
        call_frame_t *up = self->frames->up;
        free(self->frames);
        self->frames = up;
    }
    self->nframes = 0;
}

static void s_fail(call_t *self)
{
    call_end(self, self->hangup_cause ? self->hangup_cause : 16, 16);
}

/* Asterisk's pbx_checkcondition: empty is false, a number is its value,
 * any other text is true. */
static int s_true(const char *cond)
{
    int n;
    if (!cond || !*cond)
        return 0;
    if (sscanf(cond, "%30d", &n) == 1)
        return n != 0;
    return 1;
}

/* --- variables --------------------------------------------------------------- */

/* name=value. Functions (CALLERID(num)=...) need the function module. The
 * name is kept as written: pbx_builtin_setvar makes "X " of "Set(X =1)"
 * (and only warns), and the value keeps its leading spaces. */
static void s_assign(call_t *self, const char *app, char *name, const char *value)
{
    if (!*name) {
        td_log(LOG_WARNING, "%s: empty variable name", app);
        return;
    }
    if (strchr(name, ' '))
        td_log(LOG_WARNING, "Please avoid unnecessary spaces on variables as it may lead to "
               "unexpected results ('%s' set to '%s').", name, value);
    call_set_var(self, name, value);   /* logs its own failures */
}

/* Set(name=value): one assignment; the value is everything after the first
 * '=', commas included (Asterisk 1.6 and later). */
static void s_app_set(call_t *self, char *args)
{
    char *eq = strchr(args, '=');
    if (!eq) {
        td_log(LOG_WARNING, "Set requires an argument (variable=value)");
        return;
    }
    *eq = '\0';
    s_assign(self, "Set", args, eq + 1);
}

/* MSet(name1=value1,name2=value2,...): quotes removed, as standard args. */
static void s_app_mset(call_t *self, char *args)
{
    char *argv[64];
    int n = vars_split_args(args, ',', argv, 64);
    if (!n)
        td_log(LOG_WARNING, "MSet requires at least one variable name/value pair");
    for (int i = 0; i < n; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            td_log(LOG_WARNING, "MSet: ignoring entry '%s' with no '='", argv[i]);
            continue;
        }
        *eq = '\0';
        s_assign(self, "MSet", argv[i], eq + 1);
    }
}

/* --- branches ---------------------------------------------------------------- */

/* Go to branch (Goto's arguments); an empty branch goes on. */
static void s_branch(call_t *self, char *branch)
{
    branch = td_str_trim(branch);
    if (*branch && call_goto(self, branch) < 0)
        s_fail(self);
}

/* The first sep at parenthesis depth 0, or NULL. */
static char *s_find_top(char *s, char sep)
{
    int depth = 0;
    for (; *s; s++) {
        if (*s == '(')
            depth++;
        else if (*s == ')' && depth > 0)
            depth--;
        else if (*s == sep && depth == 0)
            return s;
    }
    return NULL;
}

/* GotoIf(condition?[labeliftrue][:labeliffalse]) */
static void s_app_gotoif(call_t *self, char *args)
{
    char *q = strchr(args, '?');
    if (!q) {
        td_log(LOG_WARNING, "GotoIf requires an argument (condition?label1:label2)");
        return;
    }
    *q = '\0';
    char *yes = q + 1, *no = strchr(yes, ':');
    if (no)
        *no++ = '\0';
    if (s_true(td_str_trim(args)))
        s_branch(self, yes);
    else if (no)
        s_branch(self, no);
}

/* GotoIfTime(times,weekdays,mdays,months[,timezone]?[labeliftrue][:labeliffalse]).
 * The timezone is ignored: local time is used. */
static void s_app_gotoiftime(call_t *self, char *args)
{
    char *q = strchr(args, '?');
    if (!q) {
        td_log(LOG_WARNING, "GotoIfTime requires an argument:\n  <time range>,<days of "
               "week>,<days of month>,<months>[,<timezone>]?'labeliftrue':'labeliffalse'");
        return;
    }
    *q = '\0';
    char *yes = q + 1, *no = strchr(yes, ':');
    if (no)
        *no++ = '\0';
    timing_t t;
    char why[160];
    if (timing_parse(&t, args, why, sizeof why) < 0) {
        td_log(LOG_WARNING, "GotoIfTime: %s", why);
        return;
    }
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    int match = timing_match(&t, &tm);
    if (match)
        s_branch(self, yes);
    else if (no)
        s_branch(self, no);
}

/* ExecIf(expression?appiftrue(args)[:appiffalse(args)]) */
static void s_app_execif(call_t *self, char *args)
{
    char *q = strchr(args, '?');
    if (!q) {
        td_log(LOG_WARNING, "ExecIf requires an argument: expr?app(args)[:app(args)]");
        return;
    }
    *q = '\0';
    char *yes = q + 1, *no = s_find_top(yes, ':');
    if (no)
        *no++ = '\0';
    char *run = s_true(td_str_trim(args)) ? yes : no;
    if (!run)
        return;
    run = td_str_trim(run);
    if (!*run)
        return;
    char *data = "", *open = strchr(run, '(');
    if (open) {
        *open = '\0';
        data = open + 1;
        char *close = strrchr(data, ')');
        if (close)
            *close = '\0';
    }
    int app = dialplan_app_find(td_str_trim(run));
    if (app < 0) {
        td_log(LOG_WARNING, "Could not find application! (%s)", run);
        s_fail(self);
        return;
    }
    if (app == DIALPLAN_APP_EXECIF && self->in_h) {
        self->h_stop = 1;
        return;
    }
    call_exec(self, (dialplan_app_t)app, data);
}

/* --- subroutines ----------------------------------------------------------------- */

/* Gosub([[context,]exten,]priority[(arg1[,...])]): a frame remembers the
 * priority after this one; ARG1..ARGn are LOCAL to it, and ARGs of the
 * frame before beyond n are hidden (app_stack.c). */
static void s_app_gosub(call_t *self, char *args)
{
    char *params = NULL, *open = strchr(args, '(');
    if (open) {
        *open = '\0';
        params = open + 1;
        char *close = strrchr(params, ')');
        if (close)
            *close = '\0';
    }
    if (!*td_str_trim(args)) {
        td_log(LOG_ERR, "Gosub requires an argument: [[context,]exten,]priority[(arg1[,...])]");
        s_fail(self);
        return;
    }
    if (self->nframes >= S_MAX_FRAMES) {
        td_log(LOG_ERR, "Gosub: more than %d nested subroutines", S_MAX_FRAMES);
        s_fail(self);
        return;
    }
    call_frame_t *f = calloc(1, sizeof *f);
    if (!f) {
        s_fail(self);
        return;
    }
    memcpy(f->context, self->context, sizeof f->context);
    memcpy(f->exten, self->exten, sizeof f->exten);
    f->priority = self->priority + 1;
    char target[VARS_MAX];
    snprintf(target, sizeof target, "%s", args);
    if (call_goto(self, args) < 0 || !self->ext || !dialplan_priority(self->ext, self->priority)) {
        td_log(LOG_ERR, "Gosub attempted to reach non-existent destination '%s'", target);
        free(f);
        s_fail(self);
        return;
    }
    int hide = self->frames ? self->frames->argc : 0;
    f->up = self->frames;
    self->frames = f;
    self->nframes++;
    chanvars_push_frame(self->chanvars);
    char *argv[64];
    int argc = params ? vars_split_args(params, ',', argv, 64) : 0;
    f->argc = argc;
    char name[16];
    for (int i = 0; i < argc || i < hide; i++) {
        snprintf(name, sizeof name, "ARG%d", i + 1);
        chanvars_set_local(self->chanvars, name, i < argc ? argv[i] : "");
    }
}

/* Return([value]): back after the Gosub, GOSUB_RETVAL set. */
static void s_app_return(call_t *self, char *args)
{
    call_frame_t *f = self->frames;
    if (!f) {
        td_log(LOG_ERR, "Return without Gosub: stack is empty");
        s_fail(self);
        return;
    }
    self->frames = f->up;
    self->nframes--;
    chanvars_pop_frame(self->chanvars);
    chanvars_set(self->chanvars, "GOSUB_RETVAL", args);
    call_jump(self, f->context, f->exten, f->priority);
    free(f);
}

/* --- logging ------------------------------------------------------------------------ */

/* Verbose([level,]message) */
static void s_app_verbose(call_t *self, char *args)
{
    (void)self;
    char *comma = strchr(args, ','), *msg = args;
    if (comma) {
        *comma = '\0';
        char *end;
        strtol(args, &end, 10);
        if (*td_str_trim(args) && *end)
            td_log(LOG_WARNING, "'%s' is not a verboser number", args);
        msg = comma + 1;
    }
    td_log(LOG_INFO, "%s", msg);
}

/* Log(level,message) */
static void s_app_log(call_t *self, char *args)
{
    (void)self;
    char *comma = strchr(args, ',');
    if (!comma) {
        td_log(LOG_WARNING, "Log requires arguments (level,message)");
        return;
    }
    *comma = '\0';
    char *level = td_str_trim(args), *msg = comma + 1;
    int prio = LOG_NOTICE;
    if (strcasecmp(level, "ERROR") == 0)
        prio = LOG_ERR;
    else if (strcasecmp(level, "WARNING") == 0)
        prio = LOG_WARNING;
    else if (strcasecmp(level, "NOTICE") == 0)
        prio = LOG_NOTICE;
    else if (strcasecmp(level, "DEBUG") == 0)
        prio = LOG_DEBUG;
    else if (strcasecmp(level, "VERBOSE") == 0 || strcasecmp(level, "DTMF") == 0)
        prio = LOG_INFO;
    else
        td_log(LOG_WARNING, "Log: unknown level '%s'", level);
    td_log(prio, "%s", msg);
}

/* --- signalling ------------------------------------------------------------------------ */

/* Busy([timeout]) and Congestion([timeout]): hang up with 17 or 34 (486 or
 * 503 before an answer), after the timeout if one is given. Asterisk plays
 * the tone to an answered caller meanwhile; Tandem waits in silence. */
static void s_app_refuse(call_t *self, char *args, uint32_t cause)
{
    self->hangup_cause = cause;
    double s = *args ? strtod(args, NULL) : 0;
    if (s > 0 && !self->in_h) {
        self->ivr.mode = IVR_BUSY;
        self->state = CALL_WAITING;
        call_arm_timer(self, s > 86400 ? 86400000u : (unsigned)(s * 1000 + 0.5));
        return;
    }
    call_end(self, cause, 16);
}

void apps_on_timer(call_t *self)
{
    if (self->ivr.mode == IVR_BUSY) {
        self->ivr.mode = IVR_NONE;
        call_end(self, self->hangup_cause, 16);
    }
}

/* --- dispatch ----------------------------------------------------------------------------- */

void apps_exec(call_t *self, dialplan_app_t app, char *args)
{
    switch (app) {
    case DIALPLAN_APP_SET:         s_app_set(self, args); break;
    case DIALPLAN_APP_MSET:        s_app_mset(self, args); break;
    case DIALPLAN_APP_GOTOIF:      s_app_gotoif(self, args); break;
    case DIALPLAN_APP_GOTOIFTIME:  s_app_gotoiftime(self, args); break;
    case DIALPLAN_APP_EXECIF:      s_app_execif(self, args); break;
    case DIALPLAN_APP_GOSUB:       s_app_gosub(self, args); break;
    case DIALPLAN_APP_RETURN:      s_app_return(self, args); break;
    case DIALPLAN_APP_VERBOSE:     s_app_verbose(self, args); break;
    case DIALPLAN_APP_LOG:         s_app_log(self, args); break;
    case DIALPLAN_APP_BUSY:        s_app_refuse(self, args, 17); break;
    case DIALPLAN_APP_CONGESTION:  s_app_refuse(self, args, 34); break;
    default:
        ivr_exec(self, app, args);     /* the media applications */
        break;
    }
}
