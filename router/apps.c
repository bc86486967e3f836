/* apps - the dialplan applications other than Answer, Echo, Wait, Goto,
 * Hangup, NoOp (call.c) and Dial (dial.c): variables (Set, MSet), branches
 * (GotoIf, GotoIfTime, ExecIf, ExecIfTime, Exec, TryExec), loops (While,
 * EndWhile, ExitWhile, ContinueWhile), subroutines (Gosub, GosubIf,
 * Return, StackPop), macros (Macro, MacroIf, MacroExclusive, MacroExit),
 * RaiseException, logging (Verbose, Log), Busy and Congestion; the IVR
 * over the media worker (Progress, Ringing, Playback, Background,
 * WaitExten, Read, ReadExten, SayDigits, SayNumber, SayAlpha, SayAlphaCase,
 * Record, MusicOnHold) is in ivr.c, dispatched from here.
 *
 * Behaviour follows Asterisk's documentation and source (app_playback,
 * app_read, app_record, app_stack, app_while, app_exec, pbx_builtins); where Tandem differs it
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
#define TD_LOG_SUBSYS TD_LOG_DIALPLAN   /* td_log() here: [logging] dialplan= */
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
#define S_EXEC_DEPTH 8                  /* Exec/TryExec inside Exec/TryExec */

int call_app_instant(dialplan_app_t app)
{
    switch (app) {
    case DIALPLAN_APP_NOOP: case DIALPLAN_APP_SET: case DIALPLAN_APP_MSET:
    case DIALPLAN_APP_GOTO: case DIALPLAN_APP_GOTOIF: case DIALPLAN_APP_GOTOIFTIME:
    case DIALPLAN_APP_EXECIF: case DIALPLAN_APP_GOSUB: case DIALPLAN_APP_RETURN:
    case DIALPLAN_APP_VERBOSE: case DIALPLAN_APP_LOG: case DIALPLAN_APP_HANGUP:
    case DIALPLAN_APP_BUSY: case DIALPLAN_APP_CONGESTION:
    case DIALPLAN_APP_WHILE: case DIALPLAN_APP_ENDWHILE: case DIALPLAN_APP_EXITWHILE:
    case DIALPLAN_APP_CONTINUEWHILE: case DIALPLAN_APP_GOSUBIF: case DIALPLAN_APP_STACKPOP:
    case DIALPLAN_APP_EXEC: case DIALPLAN_APP_TRYEXEC: case DIALPLAN_APP_EXECIFTIME:
    case DIALPLAN_APP_RAISEEXCEPTION: case DIALPLAN_APP_MACRO:
    case DIALPLAN_APP_MACROEXCLUSIVE: case DIALPLAN_APP_MACROIF: case DIALPLAN_APP_MACROEXIT:
    case DIALPLAN_APP_DBDELTREE:
        return 1;
    default:
        return 0;
    }
}

void call_app_free(call_t *self)
{
    while (self->frames) {
        call_frame_t *up = self->frames->up;
        free(self->frames);
        self->frames = up;
    }
    self->nframes = 0;
    while (self->macros) {
        call_macro_t *up = self->macros->up;
        for (int i = 0; i < 4; i++)
            free(self->macros->saved[i]);
        for (int i = 0; i < CALL_MACRO_ARGS; i++)
            free(self->macros->oldargs[i]);
        free(self->macros);
        self->macros = up;
    }
}

static void s_fail(call_t *self)
{
    call_fail(self);
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

/* Log timing_parse's warnings, one a line. */
static void s_timing_warnings(char *warn)
{
    char *save = NULL;
    for (char *w = strtok_r(warn, "\n", &save); w; w = strtok_r(NULL, "\n", &save))
        td_log(LOG_WARNING, "%s", w);
}

/* GotoIfTime(times,weekdays,mdays,months[,timezone]?[labeliftrue][:labeliffalse])
 * (pbx_builtins.c): an empty spec takes the false branch; a malformed item
 * matches nothing (timing.h). ${TESTTIME} (epoch seconds) stands for now. */
static void s_app_gotoiftime(call_t *self, char *args)
{
    if (!*args) {
        td_log(LOG_WARNING, "GotoIfTime requires an argument:\n  <time range>,<days of "
               "week>,<days of month>,<months>[,<timezone>]?'labeliftrue':'labeliffalse'");
        s_fail(self);
        return;
    }
    time_t now = time(NULL);
    const char *testtime = chanvars_get(self->chanvars, "TESTTIME");
    long secs;
    if (testtime && sscanf(testtime, "%ld", &secs) == 1) {
        now = (time_t)secs;
    } else if (testtime) {
        td_log(LOG_WARNING, "Using current time to evaluate");
        chanvars_set(self->chanvars, "TESTTIME", NULL);
    }
    char *rest = args, *spec = strsep(&rest, "?");
    char *yes = strsep(&rest, ":"), *no = rest;
    timing_t t;
    char warn[512];
    int built = timing_parse(&t, spec, warn, sizeof warn);
    s_timing_warnings(warn);
    char *branch = built && timing_check(&t, now) ? yes : no;
    if (branch && *branch && call_goto(self, branch) < 0)
        s_fail(self);
}

/* "App(args)" -> app and args (up to the last ')'), in place. */
static char *s_split_app(char *run, char **data)
{
    *data = "";
    char *open = strchr(run, '(');
    if (open) {
        *open = '\0';
        *data = open + 1;
        char *close = strrchr(*data, ')');
        if (close)
            *close = '\0';
    }
    return run;
}

/* Run application name with data; -1 (warned) if there is none. */
static int s_run_app(call_t *self, const char *name, char *data)
{
    int app = dialplan_app_find(name);
    if (app < 0)
        return -1;
    if (app == DIALPLAN_APP_EXECIF && self->in_h) {
        self->h_stop = 1;
        return 0;
    }
    call_exec(self, (dialplan_app_t)app, data);
    return 0;
}

/* ExecIf(expression?appiftrue(args)[:appiffalse(args)]), or the deprecated
 * ExecIf(expression,app,args) (app_exec.c: chosen when a comma comes before
 * the first '?', or there is no '?'). */
static void s_app_execif(call_t *self, char *args)
{
    char *q = strchr(args, '?'), *comma = strchr(args, ',');
    char *cond, *yes, *no = NULL, *yes_data = "", *no_data = "";
    if (!q || (comma && comma < q)) {
        char *argv[3] = { "", "", "" };
        vars_split_args(args, ',', argv, 3);
        td_log(LOG_WARNING, "Deprecated syntax found.  Please upgrade to using "
               "ExecIf(<expr>?%s(%s))", argv[1], argv[2]);
        cond = argv[0];
        yes = argv[1];
        yes_data = argv[2];
    } else {
        *q = '\0';
        cond = args;
        yes = q + 1;
        if (!*yes) {
            td_log(LOG_ERR, "Usage: ExecIf(<expr>?<appiftrue>(<args>)[:<appiffalse>(<args)])");
            s_fail(self);
            return;
        }
        if ((no = s_find_top(yes, ':')))
            *no++ = '\0';
        yes = s_split_app(yes, &yes_data);
        if (no)
            no = s_split_app(no, &no_data);
    }
    if (s_true(cond)) {
        if (!*yes || s_run_app(self, yes, yes_data) < 0) {
            td_log(LOG_WARNING, "Could not find application! (%s)", yes);
            s_fail(self);
        }
    } else if (no && *no && s_run_app(self, no, no_data) < 0) {
        td_log(LOG_WARNING, "Could not find application! (%s)", no);
        s_fail(self);
    }
}

static const char *s_lookup(void *arg, const char *name, char *buf, size_t len)
{
    return call_var(arg, name, buf, len);
}

/* Exec(app(args)) and TryExec(app(args)) (app_exec.c): the arguments are
 * substituted once more. Exec of an unknown application ends the call;
 * TryExec sets TRYSTATUS (SUCCESS, FAILED: the application failed, as a
 * Goto to an unknown label, NOAPP) and goes on. An application that waits
 * (Playback, Dial) reports SUCCESS when it starts: Tandem's applications
 * do not return a status later. */
static void s_app_exec(call_t *self, char *args, int try)
{
    if (!*args)
        return;
    /* Exec(${X}) with X=Exec(${X}) would recurse for ever on the one
     * thread every call runs on: nesting is bounded. */
    static int depth;
    if (depth >= S_EXEC_DEPTH) {
        td_log_limited(LOG_WARNING, 5, "Exec nested more than %d deep: refused", S_EXEC_DEPTH);
        if (try)
            chanvars_set(self->chanvars, "TRYSTATUS", "FAILED");
        else
            s_fail(self);
        return;
    }
    char *data;
    char *name = s_split_app(args, &data);
    char sub[VARS_MAX];
    vars_substitute(data, sub, sizeof sub, s_lookup, self);
    int app = dialplan_app_find(name);
    if (app < 0) {
        td_log(LOG_WARNING, "Could not find application (%s)", name);
        if (try)
            chanvars_set(self->chanvars, "TRYSTATUS", "NOAPP");
        else
            s_fail(self);
        return;
    }
    depth++;
    if (!try) {
        call_exec(self, (dialplan_app_t)app, sub);
        depth--;
        return;
    }
    int was = self->trying;
    self->trying = 1;
    self->try_failed = 0;
    call_exec(self, (dialplan_app_t)app, sub);
    depth--;
    self->trying = was;
    chanvars_set(self->chanvars, "TRYSTATUS",
                 self->try_failed || self->state == CALL_DONE ? "FAILED" : "SUCCESS");
    self->try_failed = 0;
}

/* ExecIfTime(times,weekdays,mdays,months[,tz]?app[(args)]) (pbx_builtins.c) */
static void s_app_execiftime(call_t *self, char *args)
{
    static const char usage[] = "ExecIfTime requires an argument:\n  <time range>,<days of "
        "week>,<days of month>,<months>[,<timezone>]?<appname>[(<appargs>)]";
    char *q = strchr(args, '?');
    if (!*args || !q) {
        td_log(LOG_WARNING, "%s", usage);
        s_fail(self);
        return;
    }
    *q = '\0';
    timing_t t;
    char warn[512];
    int built = timing_parse(&t, args, warn, sizeof warn);
    s_timing_warnings(warn);
    if (!built) {
        td_log(LOG_WARNING, "Invalid Time Spec: %s\nCorrect usage: %s", args, usage);
        s_fail(self);
        return;
    }
    if (!timing_check(&t, time(NULL)))
        return;
    char *data;
    char *name = s_split_app(q + 1, &data);
    char sub[VARS_MAX];
    vars_substitute(data, sub, sizeof sub, s_lookup, self);
    if (s_run_app(self, name, sub) < 0) {
        td_log(LOG_WARNING, "Could not find application (%s)", name);
        s_fail(self);
    }
}

/* RaiseException(reason): to "e" with EXCEPTION(REASON) = reason. */
static void s_app_raise(call_t *self, char *args)
{
    call_raise(self, args, 1);
}

/* --- While loops (app_while.c) ------------------------------------------------ */

/* The loop's state lives in channel variables, as in Asterisk:
 * WHILE_<n> = "context,exten,priority" of an active While (n from 0, the
 * innermost the highest), "<context>_<exten>_<priority>" = n for each
 * While, END_WHILE_<n> = "context,exten,priority" after its EndWhile. */
static int s_while_top(call_t *self)
{
    char name[32];
    int x = 0;
    for (;; x++) {
        snprintf(name, sizeof name, "WHILE_%d", x);
        if (!chanvars_get(self->chanvars, name))
            break;
    }
    return x - 1;
}

/* The priority of the EndWhile matching the While (or ExitWhile) at the
 * current priority: nested While/EndWhile counted, up to the first gap. */
static int s_find_endwhile(call_t *self)
{
    int level = 1;
    for (int n = self->priority + 1;; n++) {
        const dialplan_ext_t *e = dialplan_find_prio(self->dialplan, self->context, self->exten,
                                                     self->caller_num, n, NULL);
        const dialplan_prio_t *p = e ? dialplan_priority(e, n) : NULL;
        if (!p)
            return -1;
        if (p->app == DIALPLAN_APP_WHILE)
            level++;
        else if (p->app == DIALPLAN_APP_ENDWHILE)
            level--;
        if (level == 0)
            return n;
    }
}

static void s_goto_str(call_t *self, const char *where)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", where);
    if (call_goto(self, buf) < 0)
        s_fail(self);
}

/* end: 0 While, 1 EndWhile, 2 ExitWhile */
static void s_while(call_t *self, const char *cond, int end)
{
    int top = s_while_top(self);
    char label[16], my_name[CALL_MAX_CONTEXT + CALL_MAX_EXTEN + 16], var[32], end_var[40];
    char here[CALL_MAX_CONTEXT + CALL_MAX_EXTEN + 16];
    snprintf(my_name, sizeof my_name, "%s_%s_%d", self->context, self->exten, self->priority);
    if (end) {
        snprintf(label, sizeof label, "%d", top);
    } else {
        const char *l = chanvars_get(self->chanvars, my_name);
        if (l) {
            snprintf(label, sizeof label, "%s", l);
        } else {
            snprintf(label, sizeof label, "%d", top + 1);
            chanvars_set(self->chanvars, my_name, label);
        }
    }
    snprintf(var, sizeof var, "WHILE_%s", label);
    snprintf(end_var, sizeof end_var, "END_%s", var);
    char while_pri[256] = "";
    const char *wp = chanvars_get(self->chanvars, var);
    if (wp)
        snprintf(while_pri, sizeof while_pri, "%s", wp);
    if ((!end && !s_true(cond)) || end == 2) {
        /* The loop is over: after its EndWhile. */
        chanvars_set(self->chanvars, var, NULL);
        chanvars_set(self->chanvars, my_name, NULL);
        const char *goto_end = chanvars_get(self->chanvars, end_var);
        if (goto_end) {
            char where[256];
            snprintf(where, sizeof where, "%s", goto_end);
            chanvars_set(self->chanvars, end_var, NULL);
            s_goto_str(self, where);
            return;
        }
        int pri = s_find_endwhile(self);
        if (pri > 0) {
            td_log(LOG_INFO, "Jumping to priority %d", pri);
            self->priority = pri;       /* then the next one, as any priority */
        } else {
            td_log(LOG_WARNING, "Couldn't find matching EndWhile? (While at %s@%s priority %d)",
                   self->context, self->exten, self->priority);
        }
        return;
    }
    if (!end && !wp) {
        snprintf(here, sizeof here, "%s,%s,%d", self->context, self->exten, self->priority);
        chanvars_set(self->chanvars, var, here);
    } else if (end && wp) {
        if (!chanvars_get(self->chanvars, end_var)) {
            snprintf(here, sizeof here, "%s,%s,%d", self->context, self->exten,
                     self->priority + 1);
            chanvars_set(self->chanvars, end_var, here);
        }
        s_goto_str(self, while_pri);
    }
}

/* ContinueWhile(): back to the innermost While. */
static void s_app_continuewhile(call_t *self)
{
    int top = s_while_top(self);
    if (top < 0)
        return;
    char var[32];
    snprintf(var, sizeof var, "WHILE_%d", top);
    s_goto_str(self, chanvars_get(self->chanvars, var));
}

/* --- subroutines ----------------------------------------------------------------- */

/* Gosub([[context,]exten,]priority[(arg1[,...])]) (app_stack.c): a frame
 * remembers the priority after this one; ARG1..ARGn and ARGC are LOCAL to
 * it, and ARGs of outer frames beyond n are hidden (set empty). 0, or -1
 * when the destination does not exist (the call then ends). */
static int s_gosub(call_t *self, char *args)
{
    char *params = NULL, *open = strchr(args, '(');
    if (open) {
        *open = '\0';
        params = open + 1;
        char *close = strrchr(params, ')');
        if (close)
            *close = '\0';
        else
            td_log(LOG_WARNING, "Ouch.  No closing paren: '%s'?", args);
    }
    if (!*args) {
        td_log(LOG_ERR, "Gosub requires an argument: Gosub([[context,]exten,]priority"
               "[(arg1[,...][,argN])])");
        return -1;
    }
    if (self->nframes >= S_MAX_FRAMES) {
        td_log(LOG_ERR, "Gosub: more than %d nested subroutines", S_MAX_FRAMES);
        return -1;
    }
    call_frame_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    memcpy(f->context, self->context, sizeof f->context);
    memcpy(f->exten, self->exten, sizeof f->exten);
    int orig = self->priority;
    f->priority = orig + 1;
    char target[VARS_MAX];
    snprintf(target, sizeof target, "%s", args);
    if (call_goto(self, args) < 0) {
        td_log(LOG_ERR, "Gosub address is invalid: '%s'", target);
        call_jump(self, f->context, f->exten, orig);
        self->jumped = 0;          /* back where it was: TryExec goes on from here */
        free(f);
        return -1;
    }
    if (!dialplan_find_prio(self->dialplan, self->context, self->exten, self->caller_num,
                            self->priority, NULL)) {
        td_log(LOG_ERR, "Gosub attempted to reach non-existent destination '%s,%s,%d' from "
               "'%s,%s,%d'", self->context, self->exten, self->priority, f->context, f->exten,
               orig);
        call_jump(self, f->context, f->exten, orig);
        self->jumped = 0;
        free(f);
        return -1;
    }
    int hide = self->frames ? self->frames->argc : 0;
    f->up = self->frames;
    self->frames = f;
    self->nframes++;
    chanvars_push_frame(self->chanvars);
    char *argv[100];
    int argc = params ? func_args(params, ',', 0, argv, 100) : 0;
    f->argc = argc > hide ? argc : hide;
    char name[16];
    for (int i = 0; i < f->argc; i++) {
        snprintf(name, sizeof name, "ARG%d", i + 1);
        chanvars_set_local(self->chanvars, name, i < argc ? argv[i] : "");
    }
    snprintf(name, sizeof name, "%d", argc);
    chanvars_set_local(self->chanvars, "ARGC", name);
    return 0;
}

static void s_app_gosub(call_t *self, char *args)
{
    if (s_gosub(self, args) < 0)
        s_fail(self);
}

/* GosubIf(condition?labeliftrue[(args)][:labeliffalse[(args)]]) */
static void s_app_gosubif(call_t *self, char *args)
{
    static const char usage[] = "GosubIf requires an argument: "
        "GosubIf(cond?label1(args):label2(args)";
    char *cond[2], *label[2] = { NULL, NULL };
    if (!*args || func_args(args, '?', 0, cond, 2) != 2) {
        td_log(LOG_WARNING, "%s", usage);
        return;
    }
    func_args(cond[1], ':', 0, label, 2);
    char *run = s_true(cond[0]) ? label[0] : label[1];
    if (run && *run && s_gosub(self, run) < 0)
        s_fail(self);
}

/* Drop the innermost frame: its LOCAL variables go, the caller's return. */
static call_frame_t *s_pop(call_t *self)
{
    call_frame_t *f = self->frames;
    if (!f)
        return NULL;
    self->frames = f->up;
    self->nframes--;
    chanvars_pop_frame(self->chanvars);
    return f;
}

/* Return([value]): back after the Gosub, GOSUB_RETVAL set. */
static void s_app_return(call_t *self, char *args)
{
    call_frame_t *f = s_pop(self);
    if (!f) {
        td_log(LOG_ERR, "Return without Gosub: stack is empty");
        s_fail(self);
        return;
    }
    call_jump(self, f->context, f->exten, f->priority);
    free(f);
    chanvars_set(self->chanvars, "GOSUB_RETVAL", args);
}

/* StackPop(): forget the innermost return address; the call goes on. */
static void s_app_stackpop(call_t *self)
{
    call_frame_t *f = s_pop(self);
    if (!f)
        td_log(LOG_DEBUG, "StackPop called with an empty gosub stack");
    free(f);
}

/* --- macros (app_macro.c) ---------------------------------------------------------- */

static char *s_dup(const char *v)
{
    return v ? strdup(v) : NULL;
}

/* Put a saved value back (NULL deletes) and free it. */
static void s_restore(call_t *self, const char *name, char **saved)
{
    chanvars_set(self->chanvars, name, *saved);
    free(*saved);
    *saved = NULL;
}

static const char *const s_macro_vars[4] = {
    "MACRO_EXTEN", "MACRO_CONTEXT", "MACRO_PRIORITY", "MACRO_OFFSET"
};

/* Macro(name[,arg1[,arg2[,...]]]): run context "macro-<name>" from "s"
 * (or AEL's "~~s~~") priority 1 with ARGn and MACRO_* set, until it runs
 * out of priorities, MacroExit, a Goto out of its context, or the end of
 * the call. What cannot start warns and the call goes on. The arguments
 * are cut at every comma, quotes and parentheses notwithstanding (strsep
 * in app_macro.c). Asterisk's MacroExclusive also locks the macro against
 * other channels for the run; Tandem runs it as Macro. */
static void s_app_macro(call_t *self, char *args)
{
    if (!*args) {
        td_log(LOG_WARNING, "Macro() requires arguments. See \"core show application macro\" "
               "for help.");
        s_fail(self);
        return;
    }
    static int deprecation_notice;
    if (!deprecation_notice) {
        deprecation_notice = 1;
        td_log(LOG_WARNING, "Macro() is deprecated and will be removed from a future version "
               "of Asterisk.");
        td_log(LOG_WARNING, "Dialplan should be updated to use Gosub instead.");
    }
    int maxdepth = 7, depth = 0;
    const char *v = chanvars_get(self->chanvars, "MACRO_RECURSION");
    if (v)
        sscanf(v, "%30d", &maxdepth);
    if ((v = chanvars_get(self->chanvars, "MACRO_DEPTH")))
        sscanf(v, "%30d", &depth);
    if (depth >= maxdepth) {
        td_log(LOG_ERR, "Macro():  possible infinite loop detected.  Returning early.");
        return;
    }
    char *rest = args, *macro = strsep(&rest, ",");
    if (!*macro) {
        td_log(LOG_WARNING, "Invalid macro name specified");
        return;
    }
    char full[CALL_MAX_CONTEXT];
    if (snprintf(full, sizeof full, "macro-%s", macro) >= (int)sizeof full
        || !dialplan_has_context(self->dialplan, full)) {
        td_log(LOG_WARNING, "No such context '%s' for macro '%s'. Was called by %s@%s", full,
               macro, self->exten, self->context);
        return;
    }
    const char *start = call_find(self, full, "s") ? "s"
                        : call_find(self, full, "~~s~~") ? "~~s~~" : NULL;
    if (!start) {
        td_log(LOG_WARNING, "Context '%s' for macro '%s' lacks 's' extension, priority 1", full,
               macro);
        return;
    }
    call_macro_t *m = calloc(1, sizeof *m);
    if (!m) {
        s_fail(self);
        return;
    }
    memcpy(m->name, full, sizeof m->name);
    memcpy(m->context, self->context, sizeof m->context);
    memcpy(m->exten, self->exten, sizeof m->exten);
    m->priority = self->priority;
    m->nframes = self->nframes;
    m->depth = depth;
    char num[16];
    for (int i = 0; i < 4; i++)
        m->saved[i] = s_dup(chanvars_get(self->chanvars, s_macro_vars[i]));
    chanvars_set(self->chanvars, "MACRO_EXTEN", self->exten);
    chanvars_set(self->chanvars, "MACRO_CONTEXT", self->context);
    snprintf(num, sizeof num, "%d", self->priority);
    chanvars_set(self->chanvars, "MACRO_PRIORITY", num);
    chanvars_set(self->chanvars, "MACRO_OFFSET", NULL);
    snprintf(num, sizeof num, "%d", depth + 1);
    chanvars_set(self->chanvars, "MACRO_DEPTH", num);
    /* ARGn the macro sets replace the caller's (put back at the end); the
     * caller's ARGs beyond them stay visible. */
    m->argc = 1;
    for (char *cur; (cur = strsep(&rest, ",")) && m->argc < CALL_MACRO_ARGS; m->argc++) {
        char name[16];
        snprintf(name, sizeof name, "ARG%d", m->argc);
        m->oldargs[m->argc] = s_dup(chanvars_get(self->chanvars, name));
        chanvars_set(self->chanvars, name, cur);
    }
    m->up = self->macros;
    self->macros = m;
    call_jump(self, full, start, 1);
}

/* The innermost macro ends: its variables go back; back at the caller's
 * priority when still in the macro's context (plus MACRO_OFFSET if the
 * priority after that exists), where the interpreter steps on. */
static void s_macro_leave(call_t *self, int back)
{
    call_macro_t *m = self->macros;
    self->macros = m->up;
    char num[16];
    snprintf(num, sizeof num, "%d", m->depth);
    chanvars_set(self->chanvars, "MACRO_DEPTH", num);
    for (int i = 1; i < m->argc; i++) {
        char name[16];
        snprintf(name, sizeof name, "ARG%d", i);
        s_restore(self, name, &m->oldargs[i]);
    }
    for (int i = 0; i < 3; i++)
        s_restore(self, s_macro_vars[i], &m->saved[i]);
    if (back && strcasecmp(self->context, m->name) == 0) {
        int pri = m->priority, offset;
        const char *o = chanvars_get(self->chanvars, "MACRO_OFFSET");
        if (o && sscanf(o, "%30d", &offset) == 1
            && dialplan_find_prio(self->dialplan, m->context, m->exten, self->caller_num,
                                  pri + offset + 1, NULL))
            pri += offset;
        call_jump(self, m->context, m->exten, back > 0 ? pri + 1 : pri);
    }
    s_restore(self, "MACRO_OFFSET", &m->saved[3]);
    free(m);
}

/* Gosubs opened inside the innermost macro and still open when it ends
 * stay on Asterisk's stack; Tandem drops them with the macro. */
static void s_macro_drop_gosubs(call_t *self)
{
    while (self->nframes > self->macros->nframes) {
        call_frame_t *f = self->frames;
        self->frames = f->up;
        self->nframes--;
        chanvars_pop_frame(self->chanvars);
        free(f);
    }
}

int call_app_macro_fell(call_t *self)
{
    if (!self->macros)
        return 0;
    s_macro_drop_gosubs(self);
    s_macro_leave(self, 1);
    return 1;
}

void call_app_macro_check(call_t *self)
{
    call_macro_t *m = self->macros;
    if (!m)
        return;
    /* app_macro.c sets MACRO_DEPTH again before each priority it runs. */
    char num[16];
    snprintf(num, sizeof num, "%d", m->depth + 1);
    const char *depth = chanvars_get(self->chanvars, "MACRO_DEPTH");
    if (!depth || strcmp(depth, num) != 0)
        chanvars_set(self->chanvars, "MACRO_DEPTH", num);
    if (self->nframes != m->nframes || strcasecmp(self->context, m->name) == 0)
        return;
    td_log(LOG_INFO, "Channel '%s' jumping out of macro '%s'", self->channel, m->name + 6);
    s_macro_leave(self, 0);
}

void call_app_macro_unwind(call_t *self)
{
    while (self->macros)
        s_macro_leave(self, -1);
}

/* MacroExit(): the innermost macro returns now. */
static void s_app_macroexit(call_t *self)
{
    if (!self->macros) {
        s_fail(self);  /* MACRO_EXIT_RESULT reaches the pbx loop: "exited non-zero" */
        return;
    }
    s_macro_drop_gosubs(self);
    s_macro_leave(self, 1);
}

/* MacroIf(expr?macroiftrue[,args][:macroiffalse[,args]]). As app_macro.c's
 * macroif_exec, the true branch is everything after '?', the ':' and the
 * false branch included (the source does not cut it there). */
static void s_app_macroif(call_t *self, char *args)
{
    char *a = strchr(args, '?');
    if (!a) {
        td_log(LOG_WARNING, "Invalid Syntax.");
        return;
    }
    *a++ = '\0';
    char *b = strchr(a, ':');
    if (b)
        b++;
    if (s_true(args)) {
        char buf[VARS_MAX];
        snprintf(buf, sizeof buf, "%s", a);
        s_app_macro(self, buf);
    } else if (b) {
        s_app_macro(self, b);
    }
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

/* --- DBdeltree ---------------------------------------------------------------------- */

/* DBdeltree(family[/keytree]), as apps/app_db.c: "family/" alone (an empty
 * keytree) is the whole family; an empty argument is every key (as
 * ast_db_deltree with no family). Never fails the call. */
static void s_app_dbdeltree(call_t *self, char *args)
{
    char *family = args, *keytree = NULL, *slash = strchr(args, '/');
    if (slash) {
        *slash = '\0';
        keytree = *(slash + 1) ? slash + 1 : NULL;
    }
    if (keytree)
        td_log(LOG_INFO, "DBdeltree: family=%s, keytree=%s", family, keytree);
    else
        td_log(LOG_INFO, "DBdeltree: family=%s", family);
    if (astdb_deltree(self->env->astdb, family, keytree) < 0)
        td_log(LOG_INFO, "DBdeltree: Error deleting key from database.");
}

/* --- signalling ------------------------------------------------------------------------ */

/* Busy([timeout]) and Congestion([timeout]): hang up with 17 or 34 (486 or
 * 503 before an answer: chan_sip answers the caller at once, so the timeout
 * only counts once answered). Asterisk plays the tone to an answered caller
 * meanwhile; Tandem waits in silence. */
void call_app_refuse(call_t *self, char *args, uint32_t cause)
{
    self->hangup_cause = cause;
    double s = *args ? strtod(args, NULL) : 0;
    if (s > 0 && !self->in_h && self->answered) {
        self->ivr.mode = IVR_BUSY;
        self->state = CALL_WAITING;
        call_arm_timer(self, s > 86400 ? 86400000u : (unsigned)(s * 1000 + 0.5));
        return;
    }
    call_end(self, cause, 16);
}

void call_app_on_timer(call_t *self)
{
    if (self->ivr.mode == IVR_BUSY) {
        self->ivr.mode = IVR_NONE;
        call_end(self, self->hangup_cause, 16);
    }
}

/* --- dispatch ----------------------------------------------------------------------------- */

void call_app_exec(call_t *self, dialplan_app_t app, char *args)
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
    case DIALPLAN_APP_DBDELTREE:   s_app_dbdeltree(self, args); break;
    case DIALPLAN_APP_BUSY:        call_app_refuse(self, args, 17); break;
    case DIALPLAN_APP_CONGESTION:  call_app_refuse(self, args, 34); break;
    case DIALPLAN_APP_WHILE:       s_while(self, args, 0); break;
    case DIALPLAN_APP_ENDWHILE:    s_while(self, args, 1); break;
    case DIALPLAN_APP_EXITWHILE:   s_while(self, args, 2); break;
    case DIALPLAN_APP_CONTINUEWHILE: s_app_continuewhile(self); break;
    case DIALPLAN_APP_GOSUBIF:     s_app_gosubif(self, args); break;
    case DIALPLAN_APP_STACKPOP:    s_app_stackpop(self); break;
    case DIALPLAN_APP_EXEC:        s_app_exec(self, args, 0); break;
    case DIALPLAN_APP_TRYEXEC:     s_app_exec(self, args, 1); break;
    case DIALPLAN_APP_EXECIFTIME:  s_app_execiftime(self, args); break;
    case DIALPLAN_APP_RAISEEXCEPTION: s_app_raise(self, args); break;
    case DIALPLAN_APP_MACRO:
    case DIALPLAN_APP_MACROEXCLUSIVE: s_app_macro(self, args); break;
    case DIALPLAN_APP_MACROIF:     s_app_macroif(self, args); break;
    case DIALPLAN_APP_MACROEXIT:   s_app_macroexit(self); break;
    default:
        call_ivr_exec(self, app, args);     /* the media applications */
        break;
    }
}
