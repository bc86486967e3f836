/* Unit tests for sip_ident: chan_sip's order of caller identification, as a
 * table. One sip.conf with a trunk on 127.0.0.1 (insecure=port,invite), a
 * static peer on an exact port, friends registered from 127.0.0.1 on other
 * ports, a type=user, a type=peer whose name is also a From user, and a
 * registered insecure=port gateway; then registrations that move, expire
 * and go. */
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
#include <osipparser2/osip_parser.h>

#include "sip_conf.h"
#include "sip_ident.h"
#include "sip_registrar.h"
#include "td_log.h"

#define T0 1000L

static const char *s_conf_text =
    "[general]\n"
    "allowguest=no\n"
    "[phones](!)\n"
    "type=friend\n"
    "host=dynamic\n"
    "secret=pw\n"
    "context=phones\n"
    "[1001](phones)\n"
    "[1002](phones)\n"
    "[1003](phones)\n"
    "[trunk]\n"
    "type=peer\n"
    "host=127.0.0.1\n"
    "insecure=port,invite\n"
    "context=from-trunk\n"
    "[pbx]\n"
    "type=peer\n"
    "host=127.0.0.1\n"
    "port=5070\n"
    "context=from-pbx\n"
    "[alice]\n"
    "type=user\n"
    "secret=a\n"
    "context=users\n"
    "[carrier]\n"
    "type=peer\n"
    "host=10.0.0.5\n"
    "[legacy]\n"
    "type=user\n"
    "host=127.0.0.9\n"
    "[gw]\n"
    "type=friend\n"
    "host=dynamic\n"
    "insecure=port\n";

typedef struct {
    char dir[64], path[128];
    sip_conf_t *conf;
    sip_registrar_t *reg;
} fx_t;

static struct sockaddr_in s_addr(const char *ip, int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

/* Register aor at ip:port as the core does (any_port from insecure=port). */
static void s_register(fx_t *fx, const char *aor, const char *ip, int port, int expires, long now)
{
    struct sockaddr_in d = s_addr(ip, port);
    char uri[128];
    snprintf(uri, sizeof uri, "sip:%s@%s:%d", aor, ip, port);
    const sip_peer_t *p = sip_conf_peer(fx->conf, aor);
    assert_non_null(p);
    static unsigned cseq;
    assert_int_equal(sip_registrar_update(fx->reg, aor, uri, &d, expires, now, aor, ++cseq,
                                          p->insecure_port), 0);
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    td_log_init("test", LOG_ERR);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/sip_ident_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/sip.conf", fx->dir);
    FILE *fp = fopen(fx->path, "w");
    fputs(s_conf_text, fp);
    fclose(fp);
    char err[512];
    fx->conf = sip_conf_load(fx->path, err, sizeof err);
    if (!fx->conf)
        print_message("%s\n", err);
    assert_non_null(fx->conf);
    fx->reg = sip_registrar_new();
    s_register(fx, "1001", "127.0.0.1", 5061, 60, T0);
    s_register(fx, "1002", "127.0.0.1", 5062, 60, T0);
    s_register(fx, "gw", "10.9.9.9", 5060, 60, T0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    sip_registrar_destroy(&fx->reg);
    sip_conf_destroy(&fx->conf);
    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

typedef struct {
    const char *what;
    int subscribe;
    const char *name;           /* the From user */
    const char *ip;
    int port;
    const char *want;           /* NULL: no device */
    sip_ident_how_t how;
} row_t;

static void s_check(fx_t *fx, const row_t *rows, size_t n, long now)
{
    for (size_t i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        struct sockaddr_in src = s_addr(r->ip, r->port);
        sip_ident_how_t how = (sip_ident_how_t)-1;
        const sip_peer_t *p = sip_ident_find(fx->conf, fx->reg, r->subscribe, r->name, &src,
                                             now, &how);
        const char *got = p ? p->name : "(none)";
        if (strcmp(got, r->want ? r->want : "(none)") != 0 || how != r->how)
            fail_msg("%s: '%s' from %s:%d gave %s by %s, expected %s by %s", r->what, r->name,
                     r->ip, r->port, got, sip_ident_how_str(how), r->want ? r->want : "(none)",
                     sip_ident_how_str(r->how));
    }
}

#define N(a) (sizeof (a) / sizeof (a)[0])

static void test_order(void **state)
{
    fx_t *fx = *state;
    static const row_t rows[] = {
        { "a friend named by From, from its own port", 0, "1001", "127.0.0.1", 5061, "1001", SIP_IDENT_NAME },
        { "the name comes before the address (trunk's IP)", 0, "1001", "127.0.0.1", 40000, "1001", SIP_IDENT_NAME },
        { "another friend's name from 1001's port: the name wins", 0, "1002", "127.0.0.1", 5061, "1002", SIP_IDENT_NAME },
        { "unknown From at 1001's registered address", 0, "someone", "127.0.0.1", 5061, "1001", SIP_IDENT_ADDR },
        { "unknown From at 1002's registered address", 0, "someone", "127.0.0.1", 5062, "1002", SIP_IDENT_ADDR },
        { "empty From user at 1002's address", 0, "", "127.0.0.1", 5062, "1002", SIP_IDENT_ADDR },
        { "the trunk's own host:port", 0, "carrier-cli", "127.0.0.1", 5060, "trunk", SIP_IDENT_ADDR },
        { "a static peer's exact port on the trunk's IP", 0, "x", "127.0.0.1", 5070, "pbx", SIP_IDENT_ADDR },
        { "unknown From, trunk's IP, other port: insecure=port", 0, "5551234", "127.0.0.1", 40000, "trunk", SIP_IDENT_IP },
        { "a registered friend with no From match, unregistered port", 0, "x", "127.0.0.1", 5063, "trunk", SIP_IDENT_IP },
        { "a type=user named by From", 0, "alice", "10.1.1.1", 5060, "alice", SIP_IDENT_NAME },
        { "a type=peer is never found by name", 0, "carrier", "10.1.1.1", 5060, NULL, SIP_IDENT_NONE },
        { "a type=peer by its host:port", 0, "carrier", "10.0.0.5", 5060, "carrier", SIP_IDENT_ADDR },
        { "a type=peer without insecure=port: port must match", 0, "x", "10.0.0.5", 5061, NULL, SIP_IDENT_NONE },
        { "a type=user with host= is not found by address", 0, "x", "127.0.0.9", 5060, NULL, SIP_IDENT_NONE },
        { "a registered insecure=port friend, exact", 0, "x", "10.9.9.9", 5060, "gw", SIP_IDENT_ADDR },
        { "a registered insecure=port friend, any port", 0, "x", "10.9.9.9", 7777, "gw", SIP_IDENT_IP },
        { "nothing at all", 0, "x", "192.0.2.1", 5060, NULL, SIP_IDENT_NONE },
        { "SUBSCRIBE: by name, any type", 1, "carrier", "192.0.2.1", 5060, "carrier", SIP_IDENT_NAME },
        { "SUBSCRIBE: a friend by name", 1, "1002", "127.0.0.1", 5061, "1002", SIP_IDENT_NAME },
        { "SUBSCRIBE: never by address", 1, "x", "127.0.0.1", 5061, NULL, SIP_IDENT_NONE },
        { "SUBSCRIBE: never by IP", 1, "x", "127.0.0.1", 40000, NULL, SIP_IDENT_NONE },
    };
    s_check(fx, rows, N(rows), T0);
}

static void test_registration_moves_and_expires(void **state)
{
    fx_t *fx = *state;
    /* 1001's refresh comes from 5063 (its NAT mapping moved; dest is the
     * source): its old port now falls to the trunk. (A REGISTER with a new
     * Contact URI adds a binding, RFC 3261 10.3; the old one stays until it
     * expires or is removed, where chan_sip keeps one address per peer.) */
    struct sockaddr_in moved_to = s_addr("127.0.0.1", 5063);
    assert_int_equal(sip_registrar_update(fx->reg, "1001", "sip:1001@127.0.0.1:5061", &moved_to,
                                          60, T0 + 10, "1001", 100, 0), 0);
    static const row_t moved[] = {
        { "1001's old port", 0, "x", "127.0.0.1", 5061, "trunk", SIP_IDENT_IP },
        { "1001's new port", 0, "x", "127.0.0.1", 5063, "1001", SIP_IDENT_ADDR },
        { "1002 unchanged", 0, "x", "127.0.0.1", 5062, "1002", SIP_IDENT_ADDR },
    };
    s_check(fx, moved, N(moved), T0 + 10);
    /* a phone registering at the trunk's host:port: the static peer first,
     * as chan_sip links static peers before any registration */
    s_register(fx, "1003", "127.0.0.1", 5060, 60, T0 + 10);
    static const row_t shadow[] = {
        { "static beats a registration at one address", 0, "x", "127.0.0.1", 5060, "trunk", SIP_IDENT_ADDR },
    };
    s_check(fx, shadow, N(shadow), T0 + 10);
    /* 1002 unregisters */
    s_register(fx, "1002", "127.0.0.1", 5062, 0, T0 + 20);
    static const row_t gone[] = {
        { "1002 unregistered", 0, "x", "127.0.0.1", 5062, "trunk", SIP_IDENT_IP },
        { "its name still finds it", 0, "1002", "127.0.0.1", 5062, "1002", SIP_IDENT_NAME },
    };
    s_check(fx, gone, N(gone), T0 + 20);
    /* 1001's binding (T0+10, 60 s) is invisible from T0+70, before the tick */
    static const row_t expired[] = {
        { "1001 expired", 0, "x", "127.0.0.1", 5063, "trunk", SIP_IDENT_IP },
        { "gw expired", 0, "x", "10.9.9.9", 7777, NULL, SIP_IDENT_NONE },
    };
    s_check(fx, expired, N(expired), T0 + 70);
    assert_true(sip_registrar_expire(fx->reg, T0 + 70) >= 2);
    s_check(fx, expired, N(expired), T0 + 70);
}

/* The name looked up: the From user (decoded), its host when it has no
 * user, or the digest user with match_auth_username. */
static void test_name(void **state)
{
    (void)state;
    static const struct {
        const char *from, *auth;
        int match_auth;
        const char *want;
    } rows[] = {
        { "\"Alice\" <sip:1001@example.com>;tag=1", NULL, 0, "1001" },
        { "<sip:al%69ce@example.com>;tag=1", NULL, 0, "alice" },
        { "<sip:example.com>;tag=1", NULL, 0, "example.com" },
        { "<sip:1001@example.com>;tag=1", "Authorization: Digest username=\"1002\", realm=\"t\", "
          "nonce=\"n\", uri=\"sip:x\", response=\"r\"", 1, "1002" },
        { "<sip:1001@example.com>;tag=1", "Proxy-Authorization: Digest username=\"1003\", "
          "realm=\"t\", nonce=\"n\", uri=\"sip:x\", response=\"r\"", 1, "1003" },
        { "<sip:1001@example.com>;tag=1", "Authorization: Digest username=\"1002\", realm=\"t\", "
          "nonce=\"n\", uri=\"sip:x\", response=\"r\"", 0, "1001" },
        { "<sip:1001@example.com>;tag=1", NULL, 1, "1001" },
    };
    for (size_t i = 0; i < N(rows); i++) {
        char text[1024], name[96];
        snprintf(text, sizeof text,
                 "INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKx\r\n"
                 "From: %s\r\nTo: <sip:1002@127.0.0.1>\r\nCall-ID: c%zu\r\nCSeq: 1 INVITE\r\n"
                 "%s%sContent-Length: 0\r\n\r\n",
                 rows[i].from, i, rows[i].auth ? rows[i].auth : "", rows[i].auth ? "\r\n" : "");
        osip_message_t *m = NULL;
        osip_message_init(&m);
        assert_int_equal(osip_message_parse(m, text, strlen(text)), 0);
        sip_ident_name(m, rows[i].match_auth, name, sizeof name);
        if (strcmp(name, rows[i].want) != 0)
            fail_msg("row %zu: got '%s', expected '%s'", i, name, rows[i].want);
        osip_message_free(m);
    }
}

/* Over TCP/TLS a static peer whose transport= has that transport is found
 * by IP alone (the source port is the connection's), insecure=port or not;
 * over UDP it is not, and a UDP-only peer is not found that way. */
static void test_stream_ip(void **state)
{
    (void)state;
    char path[] = "/tmp/sip_ident_stream.XXXXXX", err[256];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "[general]\ntcpenable=yes\n"
                       "[tcptrunk]\ntype=peer\nhost=10.1.1.1\ntransport=tcp\ncontext=t\n"
                       "[udptrunk]\ntype=peer\nhost=10.2.2.2\ncontext=u\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    sip_conf_t *conf = sip_conf_load(path, err, sizeof err);
    unlink(path);
    assert_non_null(conf);
    sip_registrar_t *reg = sip_registrar_new();
    sip_ident_how_t how;
    struct sockaddr_in a = s_addr("10.1.1.1", 40000), b = s_addr("10.2.2.2", 40000),
                       exact = s_addr("10.1.1.1", 5060);
    const sip_peer_t *p = sip_ident_find_on(conf, reg, 0, "x", &a, SIP_TRANSPORT_TCP, T0, &how);
    assert_non_null(p);
    assert_string_equal(p->name, "tcptrunk");
    assert_int_equal(how, SIP_IDENT_IP);
    assert_null(sip_ident_find_on(conf, reg, 0, "x", &a, SIP_TRANSPORT_UDP, T0, &how));
    assert_null(sip_ident_find_on(conf, reg, 0, "x", &a, SIP_TRANSPORT_TLS, T0, &how));
    assert_null(sip_ident_find_on(conf, reg, 0, "x", &b, SIP_TRANSPORT_TCP, T0, &how));
    p = sip_ident_find_on(conf, reg, 0, "x", &exact, SIP_TRANSPORT_UDP, T0, &how);
    assert_non_null(p);
    assert_int_equal(how, SIP_IDENT_ADDR);
    sip_registrar_destroy(&reg);
    sip_conf_destroy(&conf);
}

int main(void)
{
    parser_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registration_moves_and_expires, setup, teardown),
        cmocka_unit_test(test_name),
        cmocka_unit_test(test_stream_ip),
    };
    return cmocka_run_group_tests_name("sip_ident", tests, NULL, NULL);
}
