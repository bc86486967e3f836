/* Fuzz harness: ${...} substitution with the dialplan functions
 * (router/vars.c, func*.c) and $[...] expressions (router/expr.c), as a
 * dialplan line's arguments are expanded: the input is the line. It is
 * expanded, evaluated as an expression on its own, split as application
 * arguments, and, when it holds '=', written as Set(name=value) does. A
 * fresh set of channel variables and an in-memory AstDB per input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astdb.h"
#include "chanvars.h"
#include "expr.h"
#include "func.h"
#include "fuzz_util.h"
#include "vars.h"

typedef struct {
    func_env_t env;
    chanvars_t *vars, *globals;
} s_call_t;

static const char *s_dialplan_global(const void *dialplan, const char *name)
{
    (void)dialplan;
    return strcmp(name, "TRUNK") == 0 ? "SIP/provider" : NULL;
}

/* As the router's call_var: functions, channel variables, then globals. */
static const char *s_lookup(void *arg, const char *name, char *buf, size_t len)
{
    s_call_t *c = arg;
    if (func_is_call(name))
        return func_read(&c->env, name, buf, len);
    const char *v = chanvars_get(c->vars, name);
    return v ? v : func_global(&c->env, name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_log_init();
    if (size >= VARS_MAX)
        return 0;
    char *in = malloc(size + 1);
    memcpy(in, data, size);
    in[size] = '\0';
    static char out[VARS_MAX], out2[VARS_MAX];
    static char accountcode[64], userfield[256];
    static unsigned timeout_ms[2], timeout_set;
    static const char *num = "1001", *name = "Alice";
    s_call_t c;
    arena_t arena;
    arena_init(&arena, NULL, 0, 256);
    c.vars = chanvars_new();
    c.globals = chanvars_new();
    astdb_t *db = astdb_open(NULL);
    struct timeval start = { 1700000000, 0 }, answer = { 1700000005, 0 };
    accountcode[0] = userfield[0] = '\0';
    timeout_set = 0;
    num = "1001";
    name = "Alice";
    c.env = (func_env_t){ .vars = c.vars, .globals = c.globals,
                          .dialplan_global = s_dialplan_global, .db = db,
                          .caller_num = &num, .caller_name = &name, .arena = &arena,
                          .lookup = s_lookup, .lookup_arg = &c,
                          .chan_name = "SIP/1001-00000001", .uniqueid = "1700000000.1",
                          .context = "internal", .exten = "100", .peer = "1001",
                          .start = &start, .answer = &answer, .answered = 1,
                          .accountcode = accountcode, .accountcode_len = sizeof accountcode,
                          .userfield = userfield, .userfield_len = sizeof userfield,
                          .timeout_ms = timeout_ms, .timeout_set = &timeout_set,
                          .ani = "1001", .dnid = "100" };
    chanvars_set(c.vars, "FOO", "hello");
    chanvars_set(c.vars, "LIST", "a-b-c-d-e");
    chanvars_set(c.vars, "N", "3");
    astdb_put(db, "cf", "1001", "5551234");

    vars_substitute(in, out, sizeof out, s_lookup, &c);
    expr_eval(in, out2, sizeof out2, s_lookup, &c);
    char *eq = strchr(out, '=');
    if (eq) {
        *eq = '\0';
        func_set(&c.env, out, eq + 1);
        vars_substitute(in, out2, sizeof out2, s_lookup, &c);   /* reads what was set */
    }
    char *argv[16];
    vars_split_args(out2, ',', argv, 16);
    memcpy(out2, in, size + 1);
    func_args(out2, ',', 1, argv, 16);

    func_group_forget(c.env.vars);
    astdb_close(&db);
    chanvars_destroy(&c.vars);
    chanvars_destroy(&c.globals);
    arena_clear(&arena);
    free(in);
    return 0;
}
