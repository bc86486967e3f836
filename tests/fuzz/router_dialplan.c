/* Fuzz harness: the extensions.conf reader (router/dialplan.c on lib/td_conf.c,
 * patterns in router/pattern.c): the input is written to a file and loaded as
 * the router loads its plan; a plan that loads is shown (`dialplan show`) and
 * searched with a few numbers in every context the input names. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dialplan.h"
#include "fuzz_util.h"

static char s_path[64];
static FILE *s_null;

static void s_cleanup(void)
{
    unlink(s_path);
    char dir[64];
    snprintf(dir, sizeof dir, "%s", s_path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        rmdir(dir);
    }
}

static void s_init(void)
{
    fuzz_log_init();
    char dir[48];
    snprintf(dir, sizeof dir, "%s/td-fuzz-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir))
        abort();
    snprintf(s_path, sizeof s_path, "%s/extensions.conf", dir);
    s_null = fopen("/dev/null", "w");
    atexit(s_cleanup);
}

static void s_search(const dialplan_t *plan, const char *context)
{
    static const char *const extens[] = { "100", "1001", "s", "i", "h", "t", "5551234",
                                          "*97", "+4930123456", "", "_X." };
    for (size_t i = 0; i < sizeof extens / sizeof extens[0]; i++) {
        const dialplan_ext_t *e = dialplan_find(plan, context, extens[i]);
        if (e) {
            dialplan_priority(e, 1);
            dialplan_priority(e, 2);
            dialplan_label(e, "start");
            dialplan_ext_name(e);
        }
        dialplan_find_prio(plan, context, extens[i], "1001", 1, NULL);
        dialplan_find_cid(plan, context, extens[i], "1001");
        dialplan_canmatch(plan, context, extens[i], NULL);
        dialplan_matchmore(plan, context, extens[i], "1001");
    }
    dialplan_show(plan, context, NULL, s_null);
    dialplan_show(plan, context, "100", s_null);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_null)
        s_init();
    FILE *f = fopen(s_path, "w");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    char err[256];
    dialplan_t *plan = dialplan_load(s_path, err, sizeof err);
    if (!plan)
        return 0;
    dialplan_show(plan, NULL, NULL, s_null);
    dialplan_autofallthrough(plan);
    dialplan_global(plan, "TRUNK");
    /* Every [context] the input names (at most 8). */
    int n = 0;
    for (size_t i = 0; i < size && n < 8; i++) {
        if (data[i] != '[' || (i && data[i - 1] != '\n'))
            continue;
        const uint8_t *end = memchr(data + i, ']', size - i);
        if (!end || end - data - i - 1 > 79)
            continue;
        char ctx[80];
        memcpy(ctx, data + i + 1, (size_t)(end - data - i - 1));
        ctx[end - data - i - 1] = '\0';
        if (memchr(ctx, '\n', strlen(ctx)))
            continue;
        if (dialplan_has_context(plan, ctx))
            s_search(plan, ctx);
        n++;
    }
    s_search(plan, "default");
    dialplan_destroy(&plan);
    return 0;
}
