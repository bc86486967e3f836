/* Unit tests for sip_cli: the `sip show ...` layouts (chan_sip's), checked
 * line by line against a sip.conf, a registrar and qualify round trips
 * given by hand; usage errors; `sip reload`'s wording. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sip_cli.h"
#include "sip_conf.h"
#include "sip_registrar.h"
#include "td_log.h"

#define NOW 1000L

static const char *s_conf_text =
    "[general]\n"
    "context=internal\n"
    "[phone](!)\n"
    "type=friend\n"
    "host=dynamic\n"
    "context=internal\n"
    "[1001](phone)\n"
    "secret=1001pass\n"
    "qualify=yes\n"
    "callerid=\"Alice\" <1001>\n"
    "[1002](phone)\n"
    "secret=1002pass\n"
    "defaultuser=bob\n"
    "[1003](phone)\n"
    "secret=1003pass\n"
    "qualify=500\n"
    "[gw]\n"
    "type=peer\n"
    "host=127.0.0.2\n"
    "port=5070\n"
    "nat=force_rport,comedia\n"
    "qualify=300\n"
    "[ua]\n"
    "type=user\n"
    "secret=uapass\n"
    "context=guests\n";

typedef struct {
    char dir[64], path[128];
    sip_conf_t *conf;
    sip_registrar_t *registrar;
    sip_cli_env_t env;
    int reload_rc;
    char *text;
} fx_t;

/* The qualify results the tests pretend: 1001 OK in 12 ms, 1003 never
 * answered (-1), gw lagged (400 ms against 300). */
static int s_lastms(void *arg, const sip_peer_t *peer)
{
    (void)arg;
    if (!strcmp(peer->name, "1001"))
        return 12;
    if (!strcmp(peer->name, "1003"))
        return -1;
    if (!strcmp(peer->name, "gw"))
        return 400;
    return 0;
}

static int s_reload(void *arg, char *why, size_t len)
{
    fx_t *fx = arg;
    snprintf(why, len, fx->reload_rc ? "sip.conf:7: something is wrong" : "Reloaded sip.conf");
    return fx->reload_rc;
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    td_log_init("test", LOG_ERR);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/sip_cli_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/sip.conf", fx->dir);
    FILE *fp = fopen(fx->path, "w");
    fputs(s_conf_text, fp);
    fclose(fp);
    char err[512];
    fx->conf = sip_conf_load(fx->path, err, sizeof err);
    assert_non_null(fx->conf);
    fx->registrar = sip_registrar_new();
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(5062) };
    inet_pton(AF_INET, "192.0.2.10", &a.sin_addr);
    assert_int_equal(sip_registrar_update(fx->registrar, "1001", "sip:1001@10.0.0.5:5062", &a,
                                          120, NOW - 20, "cid", 1, 0), 0);
    fx->env = (sip_cli_env_t){ .conf = fx->conf, .registrar = fx->registrar,
                               .lastms = s_lastms, .now = NOW, .reload = s_reload,
                               .arg = fx };
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    free(fx->text);
    sip_registrar_destroy(&fx->registrar);
    sip_conf_destroy(&fx->conf);
    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static int s_run(fx_t *fx, const char *command)
{
    free(fx->text);
    fx->text = NULL;
    int rc = sip_cli_run(&fx->env, command, &fx->text);
    assert_non_null(fx->text);
    return rc;
}

/* Line i (0-based) of the last reply, without its newline. */
static const char *s_line(fx_t *fx, int i)
{
    static char line[512];
    const char *p = fx->text;
    for (; i > 0 && p; i--) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    assert_non_null(p);
    size_t n = strcspn(p, "\n");
    assert_true(n < sizeof line);
    memcpy(line, p, n);
    line[n] = '\0';
    return line;
}

static void test_show_peers(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_run(fx, "sip show peers"), SIP_CLI_OK);
    char want[512];
    /* chan_sip's PEERS_FORMAT2, the last column (Realtime) empty */
#define ROW "%-25.25s %-39.39s %-3.3s %-10.10s %-10.10s %-3.3s %-8s %-11s %-32.32s %s"
    snprintf(want, sizeof want, ROW, "Name/username", "Host", "Dyn", "Forcerport", "Comedia",
             "ACL", "Port", "Status", "Description", "");
    assert_string_equal(s_line(fx, 0), want);
    /* sorted by name; users (ua) not listed */
    snprintf(want, sizeof want, ROW, "1001", "192.0.2.10", " D ", "Auto (No)", "No", "   ",
             "5062", "OK (12 ms)", "", "");
    assert_string_equal(s_line(fx, 1), want);
    snprintf(want, sizeof want, ROW, "1002/bob", "(Unspecified)", " D ", "Auto (No)", "No",
             "   ", "0", "Unmonitored", "", "");
    assert_string_equal(s_line(fx, 2), want);
    snprintf(want, sizeof want, ROW, "1003", "(Unspecified)", " D ", "Auto (No)", "No", "   ",
             "0", "UNREACHABLE", "", "");
    assert_string_equal(s_line(fx, 3), want);
    snprintf(want, sizeof want, ROW, "gw", "127.0.0.2", "   ", "Yes", "Yes", "   ", "5070",
             "LAGGED (400 ms)", "", "");
    assert_string_equal(s_line(fx, 4), want);
    assert_string_equal(s_line(fx, 5), "4 sip peers [Monitored: 2 online, 1 offline "
                                        "Unmonitored: 0 online, 1 offline]");
    int lines = 0;
    for (const char *c = fx->text; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 6);

    assert_int_equal(s_run(fx, "sip show peers like ^10"), SIP_CLI_OK);
    assert_string_equal(s_line(fx, 4), "3 sip peers [Monitored: 1 online, 1 offline "
                                        "Unmonitored: 0 online, 1 offline]");
    assert_int_equal(s_run(fx, "SIP SHOW PEERS"), SIP_CLI_OK);
    assert_int_equal(s_run(fx, "sip show peers foo"), SIP_CLI_USAGE);
    assert_int_equal(s_run(fx, "sip show peers like ("), SIP_CLI_USAGE);
#undef ROW
}

static void test_show_peer(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_run(fx, "sip show peer 1001"), SIP_CLI_OK);
    assert_non_null(strstr(fx->text, "\n  * Name       : 1001\n"));
    assert_non_null(strstr(fx->text, "\n  Secret       : <Set>\n"));
    assert_non_null(strstr(fx->text, "\n  Callerid     : \"Alice\" <1001>\n"));
    assert_non_null(strstr(fx->text, "\n  Expire       : 100\n"));
    assert_non_null(strstr(fx->text, "\n  Addr->IP     : 192.0.2.10:5062\n"));
    assert_non_null(strstr(fx->text, "\n  Defaddr->IP  : (null)\n"));
    assert_non_null(strstr(fx->text, "\n  Status       : OK (12 ms)\n"));
    assert_non_null(strstr(fx->text, "\n  Reg. Contact : sip:1001@10.0.0.5:5062\n"));
    assert_non_null(strstr(fx->text, "\n  Codecs       : (ulaw|alaw)\n"));
    assert_non_null(strstr(fx->text, "\n  Qualify Freq : 60000 ms\n"));
    assert_int_equal(s_run(fx, "sip show peer gw"), SIP_CLI_OK);
    assert_non_null(strstr(fx->text, "\n  Dynamic      : No\n"));
    assert_non_null(strstr(fx->text, "\n  Expire       : -1\n"));
    assert_non_null(strstr(fx->text, "\n  Force rport  : Yes\n"));
    assert_non_null(strstr(fx->text, "\n  Addr->IP     : 127.0.0.2:5070\n"));
    assert_non_null(strstr(fx->text, "\n  Callerid     : <unspecified>\n"));
    assert_int_equal(s_run(fx, "sip show peer nobody"), SIP_CLI_FAILED);
    assert_string_equal(fx->text, "Peer nobody not found.\n\n");
    assert_int_equal(s_run(fx, "sip show peer ua"), SIP_CLI_FAILED);    /* a user */
    assert_int_equal(s_run(fx, "sip show peer"), SIP_CLI_USAGE);
}

static void test_show_users(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_run(fx, "sip show users"), SIP_CLI_OK);
    char want[256];
#define ROW "%-25.25s  %-15.15s  %-15.15s  %-15.15s  %-5.5s%-10.10s"
    snprintf(want, sizeof want, ROW, "Username", "Secret", "Accountcode", "Def.Context", "ACL",
             "Forcerport");
    assert_string_equal(s_line(fx, 0), want);
    snprintf(want, sizeof want, ROW, "1001", "1001pass", "", "internal", "No", "No");
    assert_string_equal(s_line(fx, 1), want);
    /* friends and users, not peers: 1001 1002 1003 ua */
    snprintf(want, sizeof want, ROW, "ua", "uapass", "", "guests", "No", "No");
    assert_string_equal(s_line(fx, 4), want);
    assert_int_equal(s_run(fx, "sip show users like ^u"), SIP_CLI_OK);
    assert_string_equal(s_line(fx, 1), want);
#undef ROW
}

static void test_show_registry_empty(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_run(fx, "sip show registry"), SIP_CLI_OK);
    char want[256];
    snprintf(want, sizeof want, "%-39.39s %-6.6s %-12.12s  %8.8s %-20.20s %-25.25s", "Host",
             "dnsmgr", "Username", "Refresh", "State", "Reg.Time");
    assert_string_equal(s_line(fx, 0), want);
    assert_string_equal(s_line(fx, 1), "0 SIP registrations.");
    assert_int_equal(s_run(fx, "sip show registry x"), SIP_CLI_USAGE);
}

static void test_reload_and_unknown(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_run(fx, "sip reload"), SIP_CLI_OK);
    assert_string_equal(fx->text, "Reloaded sip.conf\n");
    fx->reload_rc = -1;
    assert_int_equal(s_run(fx, "sip reload"), SIP_CLI_FAILED);
    assert_string_equal(fx->text, "SIP reload failed: sip.conf:7: something is wrong\n"
                                  "The configuration in force stays.\n");
    fx->env.reload = NULL;
    assert_int_equal(s_run(fx, "sip reload"), SIP_CLI_FAILED);
    assert_int_equal(s_run(fx, "sip frobnicate"), SIP_CLI_USAGE);
    assert_non_null(strstr(fx->text, "No such command 'sip frobnicate'"));
    assert_int_equal(s_run(fx, "sip"), SIP_CLI_OK);
    assert_non_null(strstr(fx->text, "sip show peers"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_show_peers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_registry_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_and_unknown, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
