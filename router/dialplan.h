/* dialplan - extensions.conf, parsed once at load into contexts, extensions
 * and priorities, and searched as Asterisk searches it.
 *
 * Accepted: [general] (static, writeprotect, autofallthrough,
 * extenpatternmatchnew, clearglobalvars, userscontext; other keys warn),
 * [globals] (NAME=value), and contexts holding
 *   exten => pattern[/callerid],priority[(label)],App(args)  (or App)
 *   same => priority[(label)],App(args)
 *   include => context[,times,weekdays,mdays,months]   (timing.h: the
 *              context is searched only while the local time matches)
 * with priorities as numbers, "n" (one more than the line before), "s"
 * (the same as the line before) or a label of the extension, each with an
 * optional "+N". A context may be written in several [sections]; they
 * merge. Templates are skipped.
 *
 * Lenient, as pbx_config.c: a line Asterisk warns about and skips is a
 * warning here too ("file:line: reason", counted: dialplan_warnings, and
 * listed by dialplan_check), and the plan loads: a bad priority, a
 * priority defined twice (the first stays), a label used twice (the later
 * one is dropped), "same" with no extension before it, a missing ')',
 * hints, ignorepat, switch, unknown directives. An application Tandem does
 * not have loads as DIALPLAN_APP_UNKNOWN with its name (a call reaching it
 * ends there, as in Asterisk, which does not even warn at load). "App,args"
 * without parentheses names an application "App,args", as in Asterisk 20.
 * Only what Asterisk's config reader rejects (td_conf: a '[' without ']',
 * a missing #include...) and a key before any [section] fail the load.
 *
 * Search: a context's literal extensions (a hash) first, then its patterns
 * in Asterisk's order (sorted once at load), then its includes in order.
 * An extension written with "/callerid" (a literal or a "_" pattern) matches
 * only when the caller's number matches that too; among extensions with the
 * same name, those with a caller ID come first (as Asterisk sorts them).
 * A search may ask for a priority or a label (dialplan_find_prio): then the
 * first extension in that order that has it wins.
 *
 * Lifetime: a plan is shared by the router and by every call that started
 * on it (a reload swaps the router's plan while older calls finish on
 * theirs). dialplan_ref() adds a holder; dialplan_destroy() drops one and
 * frees the plan when the last holder lets go. */
#ifndef DIALPLAN_H
#define DIALPLAN_H

#include <stddef.h>
#include <stdio.h>

/* The applications the call interpreter runs (the table of names is in
 * dialplan.c, the code in call.c, dial.c and apps.c). */
typedef enum {
    DIALPLAN_APP_ANSWER,
    DIALPLAN_APP_BACKGROUND,
    DIALPLAN_APP_BUSY,
    DIALPLAN_APP_CONGESTION,
    DIALPLAN_APP_DIAL,
    DIALPLAN_APP_ECHO,
    DIALPLAN_APP_EXECIF,
    DIALPLAN_APP_GOSUB,
    DIALPLAN_APP_GOTO,
    DIALPLAN_APP_GOTOIF,
    DIALPLAN_APP_GOTOIFTIME,
    DIALPLAN_APP_HANGUP,
    DIALPLAN_APP_LOG,
    DIALPLAN_APP_MSET,
    DIALPLAN_APP_MUSICONHOLD,
    DIALPLAN_APP_NOOP,
    DIALPLAN_APP_PLAYBACK,
    DIALPLAN_APP_PROGRESS,
    DIALPLAN_APP_READ,
    DIALPLAN_APP_RECORD,
    DIALPLAN_APP_RETURN,
    DIALPLAN_APP_RINGING,
    DIALPLAN_APP_SAYDIGITS,
    DIALPLAN_APP_SAYNUMBER,
    DIALPLAN_APP_SET,
    DIALPLAN_APP_VERBOSE,
    DIALPLAN_APP_WAIT,
    DIALPLAN_APP_WAITEXTEN,
    DIALPLAN_APP_WHILE,
    DIALPLAN_APP_ENDWHILE,
    DIALPLAN_APP_EXITWHILE,
    DIALPLAN_APP_CONTINUEWHILE,
    DIALPLAN_APP_GOSUBIF,
    DIALPLAN_APP_STACKPOP,
    DIALPLAN_APP_EXEC,
    DIALPLAN_APP_TRYEXEC,
    DIALPLAN_APP_EXECIFTIME,
    DIALPLAN_APP_RAISEEXCEPTION,
    DIALPLAN_APP_MACRO,
    DIALPLAN_APP_MACROEXCLUSIVE,
    DIALPLAN_APP_MACROIF,
    DIALPLAN_APP_MACROEXIT,
    DIALPLAN_APP_SAYALPHA,
    DIALPLAN_APP_SAYALPHACASE,
    DIALPLAN_APP_READEXTEN,
    DIALPLAN_APP_DBDELTREE,
    DIALPLAN_APP_COUNT,
    /* An application Tandem does not have: it loads (with a warning) and a
     * call that reaches it ends there, as in Asterisk. */
    DIALPLAN_APP_UNKNOWN = DIALPLAN_APP_COUNT
} dialplan_app_t;

typedef struct {
    int priority;
    dialplan_app_t app;
    const char *app_name;       /* as written ("dial", "Queue"), for display */
    const char *label;          /* NULL if none */
    const char *args;           /* as written, before ${} substitution */
    const char *file;
    int line;
} dialplan_prio_t;

typedef struct dialplan dialplan_t;
typedef struct dialplan_ext dialplan_ext_t;

/* Load path. NULL and "file:line: reason" in err on error. Warnings
 * ("file:line: reason") go to td_log; the plan loads anyway, as Asterisk's
 * pbx_config loads what it can and warns about the rest. */
dialplan_t *dialplan_load(const char *path, char *err, size_t errlen);
/* The strict check (tandem-router --check): load path, write every warning
 * and the error if any to out, one "file:line: reason" a line. Returns how
 * many there were (0: clean). */
int dialplan_check(const char *path, FILE *out);
/* How many warnings the load gave. */
int dialplan_warnings(const dialplan_t *self);
/* [general] autofallthrough (default yes). */
int dialplan_autofallthrough(const dialplan_t *self);
/* Drop the caller's hold (nulls *self_p); the last one frees the plan. */
void dialplan_destroy(dialplan_t **self_p);
/* One more holder; returns self. */
dialplan_t *dialplan_ref(dialplan_t *self);

/* Does this context exist? */
int dialplan_has_context(const dialplan_t *self, const char *context);

/* As Asterisk's pbx_find_extension: the first extension exten dials in
 * context (literal, patterns in order, then includes) that has priority n,
 * or, with label, that label. NULL if none. A call looks each priority up
 * this way, so an extension lacking a priority falls through to the next
 * match that has it. An extension "exists" when it has priority 1. */
const dialplan_ext_t *dialplan_find_prio(const dialplan_t *self, const char *context,
                                         const char *exten, const char *cid, int n,
                                         const char *label);
/* The best match for exten whatever its priorities, or NULL.
 * Borrowed until destroy. dialplan_find() is for a caller without a number
 * (extensions with a caller ID do not match). */
const dialplan_ext_t *dialplan_find(const dialplan_t *self, const char *context,
                                    const char *exten);
const dialplan_ext_t *dialplan_find_cid(const dialplan_t *self, const char *context,
                                        const char *exten, const char *cid);
/* As Asterisk's ast_canmatch_extension / ast_matchmore_extension: could
 * exten (followed by more digits) dial something; would more digits still
 * dial something. */
int dialplan_canmatch(const dialplan_t *self, const char *context, const char *exten,
                      const char *cid);
int dialplan_matchmore(const dialplan_t *self, const char *context, const char *exten,
                       const char *cid);

/* The extension as written ("_1XXX", "600"). */
const char *dialplan_ext_name(const dialplan_ext_t *ext);
/* Priority n of ext, or NULL. */
const dialplan_prio_t *dialplan_priority(const dialplan_ext_t *ext, int n);
/* The priority carrying label, or NULL. */
const dialplan_prio_t *dialplan_label(const dialplan_ext_t *ext, const char *label);

/* A [globals] value, or NULL. */
const char *dialplan_global(const dialplan_t *self, const char *name);
/* Visit every [globals] name and value (after load substitution), in no
 * order. [general] clearglobalvars=yes: a reload drops the runtime globals. */
void dialplan_globals_foreach(const dialplan_t *self,
                              void (*fn)(void *arg, const char *name, const char *value),
                              void *arg);
int dialplan_clearglobalvars(const dialplan_t *self);

/* As Asterisk's `dialplan show [[exten@]context]` (pbx.c handle_show_dialplan,
 * for a plan pbx_config loaded): the plan as text into out, each context
 * ("[ Context 'name' created by 'pbx_config' ]"), its extensions and
 * includes, then "-= N extensions (M priorities) in K contexts. =-".
 * context NULL: every context (the one written last first, as Asterisk
 * lists them); exten NULL: every extension, else those exten matches
 * (ast_extension_match), in context and in the contexts it includes.
 * 0, or -1 when the context or the extension does not exist (Asterisk's
 * "There is no existence of ..." is written to out). */
int dialplan_show(const dialplan_t *self, const char *context, const char *exten, FILE *out);

/* "Dial", "Answer", ... */
const char *dialplan_app_name(dialplan_app_t app);
/* Case-insensitive; -1 if unknown. */
int dialplan_app_find(const char *name);

#endif
