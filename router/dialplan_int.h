/* dialplan_int - the dialplan's insides, shared by dialplan.c (load and
 * search) and dialplan_show.c (`dialplan show`). Nothing else includes
 * this. */
#ifndef DIALPLAN_INT_H
#define DIALPLAN_INT_H

#include <stdio.h>

#include "arena.h"
#include "dialplan.h"
#include "pattern.h"
#include "strmap.h"
#include "timing.h"

struct dialplan_ext {
    const char *name;            /* as written, with any "/callerid" */
    const char *key;             /* literal without '-', or the pattern's canonical key */
    pattern_t *pattern;          /* NULL for a literal */
    const char *cid;             /* caller ID to match: NULL none, the literal key, or */
    pattern_t *cid_pattern;      /* a "_" pattern */
    struct dialplan_ext *alt;    /* same name, other caller ID: those with one first */
    dialplan_prio_t *prios;      /* sorted by priority once loaded */
    size_t nprios, cap;
    struct dialplan_ext *next;   /* every extension, for destroy */
};

struct dialplan_context {
    const char *name;
    strmap_t *literals;          /* key -> ext */
    strmap_t *pattern_keys;      /* key -> ext (merges equal patterns) */
    dialplan_ext_t **patterns;   /* in Asterisk's order once loaded */
    size_t npatterns, pcap;
    const char **include_names;
    const char **include_files;
    int *include_lines;
    struct dialplan_context **includes;   /* resolved; NULL where the context does not exist */
    timing_t **include_when;     /* NULL: always; else only while the time matches */
    size_t nincludes, icap;
    /* while loading */
    dialplan_ext_t *last_ext;
    int last_prio;               /* pbx_config's lastpri: -2 none yet, -1 a hint */
};

struct dialplan {
    int refs;                    /* the router and each call on this plan (dialplan_ref) */
    arena_t arena;               /* every string and small struct of the dialplan */
    strmap_t *contexts;          /* name -> context */
    struct dialplan_context **ctx_list;   /* in the order they were first written */
    size_t nctx, ctxcap;
    strmap_t *globals;           /* name -> value */
    dialplan_ext_t *extens;      /* all of them, for destroy */
    int autofallthrough;         /* [general] autofallthrough */
    int clearglobalvars;         /* [general] clearglobalvars */
    int nwarnings;
    /* while loading */
    int failed;                  /* s_error was called: the load fails */
    char *err;
    size_t errlen;
    FILE *out;                   /* --check: warnings go here, not to td_log */
};

#endif
