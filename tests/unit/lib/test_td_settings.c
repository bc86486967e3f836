/* Unit tests for td_settings: the overrides a container needs, and their
 * precedence (flag, then TANDEM_* environment, then the files, then the
 * defaults). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "td_log.h"
#include "td_settings.h"

static char s_dir[128];

static const char *const s_vars[] = { "TANDEM_IDENTITY", "TANDEM_LOGLEVEL", "TANDEM_BUS",
                                      "TANDEM_SIP_BIND", "TANDEM_MEDIA_ADDRESS", "TANDEM_METRICS",
                                      "TANDEM_REDIS", "TANDEM_DISCOVER", NULL };

static void s_tandem_conf(const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/tandem.conf", s_dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* td_settings_load(process, "-c", dir, extra...) */
static int s_load(td_settings_t *out, const char *process, const char *a1, const char *a2,
                  const char *a3, const char *a4)
{
    char *argv[8] = { "tandem-test", "-c", s_dir };
    int argc = 3;
    const char *extra[] = { a1, a2, a3, a4 };
    for (int i = 0; i < 4 && extra[i]; i++)
        argv[argc++] = (char *)extra[i];
    argv[argc] = NULL;
    return td_settings_load(out, process, argc, argv);
}

static int setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/td_settings_test.XXXXXX");
    assert_non_null(mkdtemp(s_dir));
    for (int i = 0; s_vars[i]; i++)
        unsetenv(s_vars[i]);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; s_vars[i]; i++)
        unsetenv(s_vars[i]);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system(cmd);
}

static void test_defaults_unchanged(void **state)
{
    (void)state;
    td_settings_t s;
    assert_int_equal(s_load(&s, "media", NULL, NULL, NULL, NULL), 0);
    assert_string_equal(s.identity, "media-1");
    assert_string_equal(s.endpoint, "tcp://127.0.0.1:5570");
    assert_string_equal(s.media_address, "");
    assert_int_equal(s.has_sip_bind, 0);
    assert_int_equal(s.loglevel, LOG_INFO);

    /* No -s: sip.conf's bind stays as it is. */
    struct sockaddr_in b = { .sin_family = AF_INET, .sin_port = htons(5070) };
    b.sin_addr.s_addr = htonl(0x7f000001);
    td_settings_sip_bind(&s, &b);
    assert_int_equal(ntohs(b.sin_port), 5070);
    assert_int_equal(ntohl(b.sin_addr.s_addr), 0x7f000001);
}

static void test_env_over_file_flag_over_env(void **state)
{
    (void)state;
    s_tandem_conf("[bus]\nendpoint=tcp://10.0.0.1:5570\n"
                  "[media]\nidentity=m-file\naddress=192.0.2.10\n");
    td_settings_t s;
    assert_int_equal(s_load(&s, "media", NULL, NULL, NULL, NULL), 0);
    assert_string_equal(s.endpoint, "tcp://10.0.0.1:5570");
    assert_string_equal(s.identity, "m-file");
    assert_string_equal(s.media_address, "192.0.2.10");

    setenv("TANDEM_BUS", "tcp://router:5570", 1);
    setenv("TANDEM_IDENTITY", "m-env", 1);
    setenv("TANDEM_MEDIA_ADDRESS", "198.51.100.7", 1);
    assert_int_equal(s_load(&s, "media", NULL, NULL, NULL, NULL), 0);
    assert_string_equal(s.endpoint, "tcp://router:5570");
    assert_string_equal(s.identity, "m-env");
    assert_string_equal(s.media_address, "198.51.100.7");

    assert_int_equal(s_load(&s, "media", "-b", "tcp://flag:1", "-a", "203.0.113.5"), 0);
    assert_string_equal(s.endpoint, "tcp://flag:1");
    assert_string_equal(s.media_address, "203.0.113.5");
    assert_string_equal(s.identity, "m-env");

    /* auto: detect, even where tandem.conf names an address. */
    assert_int_equal(s_load(&s, "media", "-a", "auto", NULL, NULL), 0);
    assert_string_equal(s.media_address, "");
    /* An empty variable counts as unset. */
    setenv("TANDEM_MEDIA_ADDRESS", "", 1);
    assert_int_equal(s_load(&s, "media", NULL, NULL, NULL, NULL), 0);
    assert_string_equal(s.media_address, "192.0.2.10");
}

static void test_sip_bind(void **state)
{
    (void)state;
    td_settings_t s;
    struct sockaddr_in b = { .sin_family = AF_INET, .sin_port = htons(5070) };
    b.sin_addr.s_addr = htonl(0x7f000001);

    /* Address only: sip.conf's port is kept. */
    setenv("TANDEM_SIP_BIND", "0.0.0.0", 1);
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), 0);
    td_settings_sip_bind(&s, &b);
    assert_int_equal(b.sin_addr.s_addr, htonl(INADDR_ANY));
    assert_int_equal(ntohs(b.sin_port), 5070);

    /* The flag wins over the variable. */
    assert_int_equal(s_load(&s, "signaling", "-s", "127.0.0.2:5099", NULL, NULL), 0);
    td_settings_sip_bind(&s, &b);
    assert_int_equal(ntohl(b.sin_addr.s_addr), 0x7f000002);
    assert_int_equal(ntohs(b.sin_port), 5099);

    assert_int_equal(s_load(&s, "signaling", "-s", "0.0.0.0:0", NULL, NULL), -1);
    assert_int_equal(s_load(&s, "signaling", "-s", "host:5060", NULL, NULL), -1);
    assert_int_equal(s_load(&s, "signaling", "-s", ":5060", NULL, NULL), -1);
    setenv("TANDEM_SIP_BIND", "nonsense", 1);
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), -1);
}

static void test_identity_host_name(void **state)
{
    (void)state;
    char host[256], want[300];
    assert_int_equal(gethostname(host, sizeof host), 0);
    td_settings_t s;
    assert_int_equal(s_load(&s, "media", "-i", "media-%h", NULL, NULL), 0);
    snprintf(want, sizeof want, "media-%s", host);
    want[sizeof s.identity - 1] = '\0';
    if (strlen(want) < sizeof s.identity - 1)
        assert_string_equal(s.identity, want);
    setenv("TANDEM_IDENTITY", "%h", 1);
    assert_int_equal(s_load(&s, "media", NULL, NULL, NULL, NULL), 0);
    if (strlen(host) < sizeof s.identity)
        assert_string_equal(s.identity, host);
    assert_int_equal(s_load(&s, "media", "-i", "a%%b", NULL, NULL), 0);
    assert_string_equal(s.identity, "a%b");
    assert_int_equal(s_load(&s, "media", "-i", "a%x", NULL, NULL), -1);
}

static void test_bad_values(void **state)
{
    (void)state;
    td_settings_t s;
    assert_int_equal(s_load(&s, "media", "-a", "not-an-ip", NULL, NULL), -1);
    assert_int_equal(s_load(&s, "router", "-b", "router:5570", NULL, NULL), -1);
    setenv("TANDEM_LOGLEVEL", "loud", 1);
    assert_int_equal(s_load(&s, "router", NULL, NULL, NULL, NULL), -1);
    assert_int_equal(s_load(&s, "router", "-l", "debug", NULL, NULL), 0);
    assert_int_equal(s.loglevel, LOG_DEBUG);
}

/* metrics=: off unless named; each process reads its own section; port 0
 * allowed; env over file, flag over env; "off" turns it off again. */
static void test_metrics(void **state)
{
    (void)state;
    td_settings_t s;
    s_tandem_conf("[signaling]\nmetrics=127.0.0.1:9101\n[router]\nmetrics=0.0.0.0:0\n"
                  "[media]\nmetrics=off\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), 0);
    assert_true(s.has_metrics);
    assert_string_equal(s.metrics_addr, "127.0.0.1");
    assert_int_equal(s.metrics_port, 9101);
    assert_int_equal(s_load(&s, "router", NULL, NULL, NULL, NULL), 0);
    assert_true(s.has_metrics);
    assert_string_equal(s.metrics_addr, "0.0.0.0");
    assert_int_equal(s.metrics_port, 0);
    assert_int_equal(s_load(&s, "media", NULL, NULL, NULL, NULL), 0);
    assert_false(s.has_metrics);
    setenv("TANDEM_METRICS", "127.0.0.2:9200", 1);
    assert_int_equal(s_load(&s, "media", NULL, NULL, NULL, NULL), 0);
    assert_true(s.has_metrics);
    assert_int_equal(s.metrics_port, 9200);
    assert_int_equal(s_load(&s, "signaling", "-m", "off", NULL, NULL), 0);
    assert_false(s.has_metrics);
    assert_int_equal(s_load(&s, "signaling", "-m", "127.0.0.1", NULL, NULL), -1);
    assert_int_equal(s_load(&s, "signaling", "-m", "localhost:9101", NULL, NULL), -1);
    assert_int_equal(s_load(&s, "signaling", "-m", "127.0.0.1:65536", NULL, NULL), -1);
    unsetenv("TANDEM_METRICS");
    s_tandem_conf("[media]\nmetrics=127.0.0.1:x\n");
    assert_int_equal(s_load(&s, "router", NULL, NULL, NULL, NULL), -1);   /* any section */
    s_tandem_conf("");
    assert_int_equal(s_load(&s, "router", NULL, NULL, NULL, NULL), 0);
    assert_false(s.has_metrics);                                          /* the default */
}

/* `-a auto`: the address the router is reached from, never a loopback one
 * while the host has another; a router on 127.0.0.1 falls back to the
 * default route / first interface, like no router at all. */
/* [signaling] overload_lag_ms, max_cps, max_ringing (sip_load.h). */
static void test_overload_settings(void **state)
{
    (void)state;
    td_settings_t s;
    s_tandem_conf("[general]\nloglevel=info\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), 0);
    assert_int_equal(s.overload_lag_ms, 20);
    assert_int_equal(s.max_cps, 0);
    assert_int_equal(s.max_ringing, 0);
    s_tandem_conf("[signaling]\noverload_lag_ms=0\nmax_cps=150\nmax_ringing=900\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), 0);
    assert_int_equal(s.overload_lag_ms, 0);
    assert_int_equal(s.max_cps, 150);
    assert_int_equal(s.max_ringing, 900);
    s_tandem_conf("[signaling]\nmax_cps=lots\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), -1);
    s_tandem_conf("[media]\nmax_cps=5\n");             /* signaling's only */
    assert_int_equal(s_load(&s, "media", NULL, NULL, NULL, NULL), -1);
}

/* [security] nonce_lifetime: 30 by default, 1 to 3600 seconds. */
static void test_nonce_lifetime(void **state)
{
    (void)state;
    td_settings_t s;
    s_tandem_conf("[general]\nloglevel=info\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), 0);
    assert_int_equal(s.nonce_lifetime_s, 30);
    s_tandem_conf("[security]\nnonce_lifetime=10\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), 0);
    assert_int_equal(s.nonce_lifetime_s, 10);
    s_tandem_conf("[security]\nnonce_lifetime=0\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), -1);
    s_tandem_conf("[security]\nnonce_lifetime=forever\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), -1);
}

/* [security] max_sdp, max_transactions (issue 12). */
static void test_security_caps(void **state)
{
    (void)state;
    td_settings_t s;
    s_tandem_conf("[general]\nloglevel=info\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), 0);
    assert_int_equal(s.max_sdp, 16384);
    assert_int_equal(s.max_transactions, 200000);
    s_tandem_conf("[security]\nmax_sdp=4096\nmax_transactions=0\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), 0);
    assert_int_equal(s.max_sdp, 4096);
    assert_int_equal(s.max_transactions, 0);
    s_tandem_conf("[security]\nmax_sdp=10\n");             /* below 1024 */
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), -1);
    s_tandem_conf("[security]\nmax_transactions=many\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), -1);
}

/* [security] ban_exempt: loopback by default (fail2ban's ignoreip); an
 * empty value clears it, a list replaces it, a bad entry is an error. */
static void test_ban_exempt(void **state)
{
    (void)state;
    td_settings_t s;
    s_tandem_conf("[general]\nloglevel=info\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), 0);
    assert_string_equal(s.ban_exempt, "127.0.0.0/8");
    s_tandem_conf("[security]\nban_exempt=\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), 0);
    assert_string_equal(s.ban_exempt, "");
    s_tandem_conf("[security]\nban_exempt=10.0.0.0/8,192.0.2.7\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), 0);
    assert_string_equal(s.ban_exempt, "10.0.0.0/8,192.0.2.7");
    s_tandem_conf("[security]\nban_exempt=office\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), -1);
}

/* [cluster]: off without the section; redis=, password=, db=; TANDEM_REDIS
 * over the file, turning cluster mode on by itself; bad values are
 * file:line errors. */
static void test_cluster(void **state)
{
    (void)state;
    td_settings_t s;
    s_tandem_conf("[general]\nloglevel=info\n");
    assert_int_equal(s_load(&s, "router", NULL, NULL, NULL, NULL), 0);
    assert_int_equal(s.cluster.enabled, 0);
    assert_string_equal(s.cluster.host, "127.0.0.1");
    assert_int_equal(s.cluster.port, 6379);
    setenv("TANDEM_REDIS", "redis:6380", 1);
    assert_int_equal(s_load(&s, "router", NULL, NULL, NULL, NULL), 0);
    assert_int_equal(s.cluster.enabled, 1);
    assert_string_equal(s.cluster.host, "redis");
    assert_int_equal(s.cluster.port, 6380);
    unsetenv("TANDEM_REDIS");
    s_tandem_conf("[cluster]\nredis=10.0.0.5:7000\npassword=secret\ndb=3\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), 0);
    assert_int_equal(s.cluster.enabled, 1);
    assert_string_equal(s.cluster.host, "10.0.0.5");
    assert_int_equal(s.cluster.port, 7000);
    assert_string_equal(s.cluster.password, "secret");
    assert_int_equal(s.cluster.db, 3);
    setenv("TANDEM_REDIS", "other:1", 1);
    assert_int_equal(s_load(&s, "media", NULL, NULL, NULL, NULL), 0);
    assert_string_equal(s.cluster.host, "other");
    assert_int_equal(s.cluster.port, 1);
    assert_string_equal(s.cluster.password, "secret");
    setenv("TANDEM_REDIS", "bad:port", 1);
    assert_int_equal(s_load(&s, "media", NULL, NULL, NULL, NULL), -1);
    unsetenv("TANDEM_REDIS");
    s_tandem_conf("[cluster]\nredis=host:99999\n");
    assert_int_equal(s_load(&s, "router", NULL, NULL, NULL, NULL), -1);
    s_tandem_conf("[cluster]\ndb=-1\n");
    assert_int_equal(s_load(&s, "router", NULL, NULL, NULL, NULL), -1);
    s_tandem_conf("[cluster]\nhost=x\n");
    assert_int_equal(s_load(&s, "router", NULL, NULL, NULL, NULL), -1);
}

/* Several routers: a comma list for signaling and media, of which a router
 * binds (and tandemctl asks) the first; discover= alone drops the default
 * endpoint; the router's identity from [router] identity or -i. */
static void test_routers(void **state)
{
    (void)state;
    td_settings_t s;
    s_tandem_conf("[bus]\nendpoint=tcp://10.0.0.1:5570,tcp://10.0.0.2:5570\n"
                  "[router]\nidentity=router-1\n");
    assert_int_equal(s_load(&s, "signaling", NULL, NULL, NULL, NULL), 0);
    assert_string_equal(s.endpoint, "tcp://10.0.0.1:5570,tcp://10.0.0.2:5570");
    assert_string_equal(s.discover, "");
    assert_int_equal(s_load(&s, "router", NULL, NULL, NULL, NULL), 0);
    assert_string_equal(s.endpoint, "tcp://10.0.0.1:5570");
    assert_string_equal(s.identity, "router-1");
    assert_int_equal(s_load(&s, "router", "-b", "tcp://10.0.0.2:5570", "-i", "router-2"), 0);
    assert_string_equal(s.endpoint, "tcp://10.0.0.2:5570");
    assert_string_equal(s.identity, "router-2");
    assert_int_equal(s_load(&s, "ctl", NULL, NULL, NULL, NULL), 0);
    assert_string_equal(s.endpoint, "tcp://10.0.0.1:5570");

    s_tandem_conf("[bus]\ndiscover=tcp://router:5570\n");
    assert_int_equal(s_load(&s, "media", NULL, NULL, NULL, NULL), 0);
    assert_string_equal(s.discover, "tcp://router:5570");
    assert_string_equal(s.endpoint, "");            /* routers by DNS only */
    assert_int_equal(s_load(&s, "router", NULL, NULL, NULL, NULL), 0);
    assert_string_equal(s.endpoint, "tcp://127.0.0.1:5570");
    assert_string_equal(s.identity, "router");
    setenv("TANDEM_DISCOVER", "tcp://tandem-router:5570", 1);
    assert_int_equal(s_load(&s, "signaling", "-b", "tcp://10.0.0.9:5570", NULL, NULL), 0);
    assert_string_equal(s.discover, "tcp://tandem-router:5570");
    assert_string_equal(s.endpoint, "tcp://10.0.0.9:5570");
    /* TANDEM_DISCOVER alone is over the file's endpoint, as env is over files */
    s_tandem_conf("[bus]\nendpoint=tcp://127.0.0.1:5570\n");
    assert_int_equal(s_load(&s, "media", NULL, NULL, NULL, NULL), 0);
    assert_string_equal(s.discover, "tcp://tandem-router:5570");
    assert_string_equal(s.endpoint, "");
    unsetenv("TANDEM_DISCOVER");

    s_tandem_conf("[bus]\ndiscover=router:5570\n");
    assert_int_equal(s_load(&s, "media", NULL, NULL, NULL, NULL), -1);
}

static void test_auto_address(void **state)
{
    (void)state;
    char mine[64] = "", got[64], fallback[64];
    struct ifaddrs *ifs, *i;
    assert_int_equal(getifaddrs(&ifs), 0);
    for (i = ifs; i; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !(i->ifa_flags & IFF_LOOPBACK)
            && (i->ifa_flags & IFF_UP)) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, mine, sizeof mine);
            break;
        }
    freeifaddrs(ifs);

    td_settings_local_ip(fallback, sizeof fallback, NULL);
    td_settings_local_ip(got, sizeof got, "tcp://127.0.0.1:5570");
    assert_string_equal(got, fallback);
    td_settings_local_ip(got, sizeof got, "ipc:///tmp/x");
    assert_string_equal(got, fallback);
    if (!mine[0]) {               /* only lo (a bare network namespace) */
        assert_string_equal(fallback, "127.0.0.1");
        return;
    }
    assert_int_not_equal(strncmp(fallback, "127.", 4), 0);
    /* a router at one of our own addresses is reached from that address */
    char ep[96];
    snprintf(ep, sizeof ep, "tcp://%s:5570", mine);
    td_settings_local_ip(got, sizeof got, ep);
    assert_string_equal(got, mine);
    /* an unresolvable router name falls back */
    td_settings_local_ip(got, sizeof got, "tcp://no-such-host.invalid:5570");
    assert_string_equal(got, fallback);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_over_file_flag_over_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sip_bind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_host_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overload_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonce_lifetime, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cluster, setup, teardown),
        cmocka_unit_test_setup_teardown(test_security_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ban_exempt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routers, setup, teardown),
        cmocka_unit_test(test_auto_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
