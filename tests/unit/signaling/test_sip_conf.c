/* Unit tests for sip_conf: a table of sip.conf texts and the exact
 * "file:line: reason" each one gives, then what good files mean. */
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

#include "sip_acl.h"
#include "sip_auth.h"
#include "sip_conf.h"
#include "td_log.h"

static char s_dir[128];
static char s_path[256];

static sip_conf_t *s_load_text(const char *text, char *err, size_t len)
{
    FILE *fp = fopen(s_path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    err[0] = '\0';
    return sip_conf_load(s_path, err, len);
}

static int setup(void **state)
{
    (void)state;
    td_log_init("test", LOG_ERR);
    snprintf(s_dir, sizeof s_dir, "/tmp/sip_conf_test.XXXXXX");
    assert_non_null(mkdtemp(s_dir));
    snprintf(s_path, sizeof s_path, "%s/sip.conf", s_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(s_path);
    return rmdir(s_dir);
}

/* Load text with warnings captured: stderr goes to a file meanwhile. The
 * log is returned in log (NUL-terminated). */
static sip_conf_t *s_load_logged(const char *text, char *err, size_t len, char *log, size_t loglen)
{
    char logpath[300];
    snprintf(logpath, sizeof logpath, "%s/log", s_dir);
    FILE *lf = fopen(logpath, "w+");
    assert_non_null(lf);
    td_log_set_fd(fileno(lf));
    td_log_set_level(-1, LOG_WARNING);
    sip_conf_t *c = s_load_text(text, err, len);
    td_log_flush();
    td_log_set_level(-1, LOG_ERR);
    td_log_open(NULL);                      /* stderr again */
    rewind(lf);
    size_t n = fread(log, 1, loglen - 1, lf);
    log[n] = '\0';
    fclose(lf);
    unlink(logpath);
    return c;
}

static void test_error_table(void **state)
{
    (void)state;
    /* What chan_sip cannot load past either: the load fails, naming the line. */
    static const struct { const char *text; const char *err; } rows[] = {
        /* good ones */
        { "", NULL },
        { "[general]\nqualify=yes\ntransport=udp\nsrvlookup=yes\n", NULL },
        { "[general]\nallow=g729\n", NULL },                     /* notice, accepted */
        { "[general]\nudpbindaddr=127.0.0.1:5099\n", NULL },
        { "[general]\ndirectmedia=nonat\n", NULL },
        { "[x]\nsecret=s\n", NULL },                             /* no type: skipped */
        /* [general] */
        { "[general]\nudpbindaddr=127.0.0.1:0\n", "sip.conf:2: udpbindaddr: port must be a number from 1 to 65535, not '0'" },
        { "[general]\nudpbindaddr=[::]:5060\n", "sip.conf:2: udpbindaddr: IPv6 is not supported yet ('[::]:5060')" },
        { "[general]\nudpbindaddr=300.1.2.3\n", "sip.conf:2: udpbindaddr: cannot resolve '300.1.2.3' to an IPv4 address" },
        { "[general]\nauth_algorithms_uas=SHA-256,MD5-sess\n", "sip.conf:2: auth_algorithms_uas: 'MD5-sess' is not MD5 or SHA-256" },
        { "[general]\nauth_algorithms_uas= , \n", "sip.conf:2: auth_algorithms_uas is empty" },
        { "[general]\nminexpiry=100\nmaxexpiry=50\n", "sip.conf:1: minexpiry (100) is greater than maxexpiry (50)" },
        /* peers */
        { "[1001](nosuch)\ntype=friend\n", "sip.conf:1: template [nosuch] is not defined before [1001]" },
        { "[1001\n", "sip.conf:1: missing ']' in section header" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char err[512], want[512];
        print_message("row %zu: %s\n", i, rows[i].text);
        sip_conf_t *c = s_load_text(rows[i].text, err, sizeof err);
        if (!rows[i].err) {
            if (!c)
                print_message("unexpected error: %s\n", err);
            assert_non_null(c);
            assert_int_equal(sip_conf_warnings(c), 0);
            sip_conf_destroy(&c);
            assert_null(c);
            continue;
        }
        assert_null(c);
        snprintf(want, sizeof want, "%s/%s", s_dir, rows[i].err);
        assert_string_equal(err, want);
    }
}

/* What chan_sip warns about and loads past: the load goes on with chan_sip's
 * fallback, the warning names the file and line, and --check counts it. */
static void test_warning_table(void **state)
{
    (void)state;
    static const struct { const char *text; const char *warn; } rows[] = {
        { "[general]\nfoo=bar\n", "sip.conf:2: unknown key 'foo' in [general], ignored" },
        { "[general]\nbindport=70000\n", "sip.conf:2: bindport must be a number from 1 to 65535, not '70000': default kept" },
        { "[general]\nbindport=abc\n", "sip.conf:2: bindport must be a number from 1 to 65535, not 'abc': default kept" },
        { "[general]\nallowguest=maybe\n", "sip.conf:2: allowguest must be yes or no, not 'maybe': taken as no" },
        { "[general]\nallowtransfer=maybe\n", "sip.conf:2: allowtransfer must be yes or no, not 'maybe': taken as no" },
        { "[general]\nmatch_auth_username=sure\n", "sip.conf:2: match_auth_username must be yes or no, not 'sure': taken as no" },
        { "[general]\n\ndefaultexpiry=soon\n", "sip.conf:3: defaultexpiry must be a number from 1 to 604800, not 'soon': default kept" },
        { "[general]\nminexpiry=-5\n", "sip.conf:2: minexpiry must be a number from 1 to 604800, not '-5': default kept" },
        { "[general]\nallow=ulaw,speex,foo\n", "sip.conf:2: unknown codec 'foo': ignored" },
        { "[general]\nrealm=\n", "sip.conf:2: realm is empty: 'tandem' kept" },
        { "[general]\ndirectmedia=sometimes\n", "sip.conf:2: directmedia must be yes, no, nonat, update or outgoing, not 'sometimes': taken as no" },
        { "[general]\nsession-timers=maybe\n", "sip.conf:2: session-timers must be accept, originate or refuse, not 'maybe': accept" },
        { "[general]\nlocalnet=10.0.0.0/33\n", "sip.conf:2: localnet: prefix must be 0 to 32, not '33': ignored" },
        { "[general]\nexternaddr=300.1.1.1\n", "sip.conf:2: externaddr: cannot resolve '300.1.1.1' to an IPv4 address: ignored" },
        { "[general]\ntlsenable=yes\n", "sip.conf:1: tlsenable=yes needs tlscertfile: TLS is off" },
        { "[1001]\ntype=foo\n", "sip.conf:2: type must be friend, user or peer, not 'foo': [1001] skipped" },
        { "[1001]\ntype=friend\nport=0\n", "sip.conf:3: port must be a number from 1 to 65535, not '0': default kept" },
        { "[1001]\ntype=friend\ninsecure=sometimes\n", "sip.conf:3: insecure: unknown value 'sometimes' (port, invite, or both): ignored" },
        { "[1001]\ntype=friend\nnat=bogus,force_rport\n", "sip.conf:3: nat: unknown value 'bogus': ignored" },
        { "[1001]\ntype=friend\nmd5secret=abc\n", "sip.conf:3: md5secret must be 32 hex digits: every login of [1001] will fail" },
        { "[1001]\ntype=friend\ncallerid=\"A\" <1001\n", "sip.conf:3: callerid: missing '>' in '\"A\" <1001': ignored" },
        { "[1001]\ntype=peer\nhost=10.0.0.256\n", "sip.conf:3: host: cannot resolve '10.0.0.256' to an IPv4 address: [1001] skipped" },
        { "[1001]\ntype=friend\nqualify=sometimes\n", "sip.conf:3: qualify must be yes, no or a number of milliseconds, not 'sometimes': taken as no" },
        { "[1001]\ntype=friend\nencryption=maybe\n", "sip.conf:3: encryption must be yes or no, not 'maybe': taken as no" },
        { "[t](!)\ntype=wizard\n[1001](t)\n", "sip.conf:2: type must be friend, user or peer, not 'wizard': [t] skipped" },
        { "[general]\nrealm=one\n[general]\nrealm=two\n", "sip.conf:3: [general] again (first at " },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char err[512], want[512], log[4096];
        print_message("row %zu: %s\n", i, rows[i].text);
        sip_conf_t *c = s_load_logged(rows[i].text, err, sizeof err, log, sizeof log);
        if (!c)
            print_message("unexpected error: %s\n", err);
        assert_non_null(c);
        snprintf(want, sizeof want, "%s/%s", s_dir, rows[i].warn);
        if (!strstr(log, want))
            print_message("want '%s' in the log:\n%s", want, log);
        assert_non_null(strstr(log, want));
        assert_true(sip_conf_warnings(c) >= 1);
        sip_conf_destroy(&c);
    }
}

/* The fallbacks themselves, as chan_sip applies them. */
static void test_warning_fallbacks(void **state)
{
    (void)state;
    char err[512], log[4096];
    sip_conf_t *c = s_load_logged("[general]\nallowguest=maybe\nbindport=abc\ntlsenable=yes\n"
                                  "transport=tls,udp\n"
                                  "[a]\ntype=foo\n"
                                  "[b]\ntype=peer\nhost=10.0.0.256\n"
                                  "[c]\ntype=friend\nport=abc\nqualify=x\nmd5secret=abc\n"
                                  "nat=bogus,force_rport\n"
                                  "[d]\ntype=friend\nsecret=d\n", err, sizeof err, log, sizeof log);
    assert_non_null(c);
    const sip_general_t *g = sip_conf_general(c);
    assert_int_equal(g->allowguest, 0);                     /* ast_true("maybe") */
    assert_int_equal(ntohs(g->bind.sin_port), 5060);
    assert_int_equal(g->tlsenable, 0);
    assert_int_equal(g->transports & SIP_TRANSPORT_TLS, 0);
    assert_null(sip_conf_peer(c, "a"));                     /* unknown type: skipped */
    assert_null(sip_conf_peer(c, "b"));                     /* no address: removed */
    const sip_peer_t *p = sip_conf_peer(c, "c");
    assert_non_null(p);
    assert_int_equal(ntohs(p->addr.sin_port), 5060);
    assert_int_equal(p->maxms, 0);
    assert_int_equal(p->has_secret, 1);                     /* challenged, never matched */
    assert_string_equal(p->ha1, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    assert_int_equal(p->nat, SIP_NAT_FORCE);
    assert_non_null(sip_conf_peer(c, "d"));
    assert_int_equal(sip_conf_warnings(c), 9);
    sip_conf_destroy(&c);
}

static void test_missing_file(void **state)
{
    (void)state;
    char err[512];
    assert_null(sip_conf_load("/nonexistent/sip.conf", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/sip.conf"));
}

static void test_defaults(void **state)
{
    (void)state;
    char err[512];
    sip_conf_t *c = s_load_text("[general]\n", err, sizeof err);
    assert_non_null(c);
    const sip_general_t *g = sip_conf_general(c);
    assert_int_equal(ntohs(g->bind.sin_port), 5060);
    assert_int_equal(g->bind.sin_addr.s_addr, htonl(INADDR_ANY));
    assert_string_equal(g->realm, "tandem");
    assert_string_equal(g->context, "default");
    assert_int_equal(g->allowguest, 1);
    assert_int_equal(g->allowtransfer, 1);
    assert_int_equal(g->alwaysauthreject, 1);
    assert_int_equal(g->match_auth_username, 0);
    assert_int_equal(g->auth_options_requests, 0);
    assert_int_equal(g->auth_algs[0], SIP_AUTH_MD5);   /* chan_sip's: MD5 alone */
    assert_int_equal(g->auth_algs[1], 0);
    assert_int_equal(g->codecs, SIP_CODEC_ALL);
    assert_int_equal(g->codec_order.n, 2);
    assert_int_equal(g->codec_order.pt[0], 0);
    assert_int_equal(g->codec_order.pt[1], 8);
    assert_int_equal(g->defaultexpiry, 120);
    assert_int_equal(g->minexpiry, 60);
    assert_int_equal(g->maxexpiry, 3600);
    assert_int_equal(sip_conf_peer_count(c), 0);
    sip_conf_destroy(&c);
}

/* allowtransfer= (chan_sip): [general]'s is every peer's default. */
static void test_allowtransfer(void **state)
{
    (void)state;
    char err[512];
    sip_conf_t *c = s_load_text("[general]\nallowtransfer=no\n[a]\ntype=friend\n"
                                "[b]\ntype=friend\nallowtransfer=yes\n", err, sizeof err);
    assert_non_null(c);
    assert_int_equal(sip_conf_general(c)->allowtransfer, 0);
    assert_int_equal(sip_conf_peer(c, "a")->allowtransfer, 0);
    assert_int_equal(sip_conf_peer(c, "b")->allowtransfer, 1);
    sip_conf_destroy(&c);
    c = s_load_text("[general]\n[a]\ntype=friend\nallowtransfer=no\n", err, sizeof err);
    assert_non_null(c);
    assert_int_equal(sip_conf_peer(c, "a")->allowtransfer, 0);
    sip_conf_destroy(&c);
}

/* auth_algorithms_uas: an order, duplicates dropped; a secret gives both
 * HA1s, md5secret the MD5 one only. */
static void test_auth_algorithms(void **state)
{
    (void)state;
    char err[512];
    sip_conf_t *c = s_load_text("[general]\nauth_algorithms_uas=md5, SHA-256,MD5\n"
                                "[1001]\ntype=friend\nhost=dynamic\nsecret=pw\n"
                                "[1002]\ntype=friend\nhost=dynamic\n"
                                "md5secret=0123456789abcdef0123456789abcdef\n", err, sizeof err);
    assert_non_null(c);
    const sip_general_t *g = sip_conf_general(c);
    assert_int_equal(g->auth_algs[0], SIP_AUTH_MD5);
    assert_int_equal(g->auth_algs[1], SIP_AUTH_SHA256);
    assert_int_equal(g->auth_algs[2], 0);
    char ha1s[65];
    sip_auth_ha1_alg(SIP_AUTH_SHA256, "1001", "tandem", "pw", ha1s);
    assert_string_equal(sip_conf_peer(c, "1001")->ha1_sha256, ha1s);
    assert_string_equal(sip_conf_peer(c, "1002")->ha1_sha256, "");
    sip_conf_destroy(&c);
    c = s_load_text("[general]\nauth_algorithms_uas=MD5\n", err, sizeof err);
    assert_non_null(c);
    assert_int_equal(sip_conf_general(c)->auth_algs[0], SIP_AUTH_MD5);
    assert_int_equal(sip_conf_general(c)->auth_algs[1], 0);
    sip_conf_destroy(&c);
}

static void test_bind_forms(void **state)
{
    (void)state;
    char err[512];
    sip_conf_t *c = s_load_text("[general]\nbindaddr=127.0.0.1\nbindport=5070\n", err, sizeof err);
    assert_non_null(c);
    assert_int_equal(ntohs(sip_conf_general(c)->bind.sin_port), 5070);
    assert_int_equal(sip_conf_general(c)->bind.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    sip_conf_destroy(&c);
    /* udpbindaddr wins over bindaddr; bindport applies when it has no port */
    c = s_load_text("[general]\nudpbindaddr=127.0.0.1\nbindaddr=0.0.0.0\nbindport=5071\n",
                    err, sizeof err);
    assert_non_null(c);
    assert_int_equal(ntohs(sip_conf_general(c)->bind.sin_port), 5071);
    assert_int_equal(sip_conf_general(c)->bind.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    sip_conf_destroy(&c);
    c = s_load_text("[general]\nbindport=5071\nudpbindaddr=127.0.0.1:5072\n", err, sizeof err);
    assert_non_null(c);
    assert_int_equal(ntohs(sip_conf_general(c)->bind.sin_port), 5072);
    sip_conf_destroy(&c);
}

static void test_peers_and_templates(void **state)
{
    (void)state;
    char err[512];
    sip_conf_t *c = s_load_text(
        "[general]\n"
        "realm=example\n"
        "context=from-guests\n"
        "disallow=all\n"
        "allow=alaw\n"
        "[phone](!)\n"
        "type=friend\n"
        "host=dynamic\n"
        "context=internal\n"
        "allow=ulaw\n"
        "qualify=yes\n"
        "[1001](phone)\n"
        "secret=1001pass\n"
        "callerid=\"Alice Smith\" <1001>\n"
        "[1002](phone)\n"
        "secret=1002pass\n"
        "defaultuser=bob\n"
        "callerid=<1002>\n"
        "context=other\n"
        "disallow=ulaw\n"
        "[trunk]\n"
        "type=peer\n"
        "host=127.0.0.1\n"
        "port=5080\n"
        "insecure=port,invite\n"
        "callerid=5551234\n"
        "[strict]\n"
        "type=peer\n"
        "host=127.0.0.2\n"
        "insecure=invite\n"
        "[legacy]\n"
        "type=user\n"
        "insecure=very\n"
        "md5secret=0123456789ABCDEF0123456789abcdef\n"
        "callerid=Reception\n",
        err, sizeof err);
    if (!c)
        print_message("%s\n", err);
    assert_non_null(c);
    assert_int_equal(sip_conf_peer_count(c), 5);   /* the template is not a peer */
    assert_null(sip_conf_peer(c, "phone"));

    const sip_peer_t *a = sip_conf_peer(c, "1001");
    assert_non_null(a);
    assert_int_equal(a->type, SIP_PEER_FRIEND);
    assert_int_equal(a->dynamic, 1);
    assert_string_equal(a->context, "internal");
    assert_string_equal(a->cid_name, "Alice Smith");
    assert_string_equal(a->cid_num, "1001");
    assert_string_equal(a->defaultuser, "");
    assert_int_equal(a->codecs, SIP_CODEC_ALL);     /* general alaw + template ulaw */
    assert_int_equal(a->codec_order.n, 2);          /* in that order of preference */
    assert_int_equal(a->codec_order.pt[0], 8);
    assert_int_equal(a->codec_order.pt[1], 0);
    char ha1[33];
    sip_auth_ha1("1001", "example", "1001pass", ha1);
    assert_int_equal(a->has_secret, 1);
    assert_string_equal(a->ha1, ha1);

    const sip_peer_t *b = sip_conf_peer(c, "1002");
    assert_string_equal(b->context, "other");
    assert_string_equal(b->defaultuser, "bob");
    assert_string_equal(b->cid_name, "");
    assert_string_equal(b->cid_num, "1002");
    assert_int_equal(b->codecs, SIP_CODEC_ALAW);
    assert_int_equal(b->codec_order.n, 1);
    assert_int_equal(b->codec_order.pt[0], 8);
    /* chan_sip's digest user is the section name; defaultuser is only
     * the user Tandem calls the peer as. */
    sip_auth_ha1("1002", "example", "1002pass", ha1);
    assert_string_equal(b->ha1, ha1);

    const sip_peer_t *t = sip_conf_peer(c, "trunk");
    assert_int_equal(t->type, SIP_PEER_PEER);
    assert_int_equal(t->dynamic, 0);
    assert_int_equal(t->insecure_port, 1);
    assert_int_equal(t->insecure_invite, 1);
    assert_int_equal(ntohs(t->addr.sin_port), 5080);
    assert_string_equal(t->cid_num, "5551234");
    assert_string_equal(t->context, "");            /* falls back to [general] at use */
    assert_int_equal(t->has_secret, 0);

    const sip_peer_t *l = sip_conf_peer(c, "legacy");
    assert_int_equal(l->type, SIP_PEER_USER);
    assert_int_equal(l->insecure_port, 1);
    assert_int_equal(l->insecure_invite, 1);
    assert_string_equal(l->ha1, "0123456789abcdef0123456789abcdef");
    assert_string_equal(l->cid_name, "Reception");

    /* address matching */
    struct sockaddr_in src = { .sin_family = AF_INET };
    inet_pton(AF_INET, "127.0.0.1", &src.sin_addr);
    src.sin_port = htons(40000);                    /* insecure=port: any port, by IP */
    assert_null(sip_conf_peer_by_addr(c, &src));
    assert_ptr_equal(sip_conf_peer_by_ip(c, &src), t);
    src.sin_port = htons(5080);                     /* its own port: exact too */
    assert_ptr_equal(sip_conf_peer_by_addr(c, &src), t);
    inet_pton(AF_INET, "127.0.0.2", &src.sin_addr);
    assert_null(sip_conf_peer_by_addr(c, &src));    /* port must match: 5060 */
    assert_null(sip_conf_peer_by_ip(c, &src));      /* not insecure=port */
    src.sin_port = htons(5060);
    assert_ptr_equal(sip_conf_peer_by_addr(c, &src), sip_conf_peer(c, "strict"));
    inet_pton(AF_INET, "127.0.0.3", &src.sin_addr);
    assert_null(sip_conf_peer_by_addr(c, &src));
    assert_null(sip_conf_peer_by_ip(c, &src));
    sip_conf_destroy(&c);
}

/* A section name given twice: chan_sip's build_peer finds the peer the first
 * built in this load (unmarked: firstpass = 0) and applies the second on
 * top, without defaults: what the second names wins, the rest stays, ACL
 * lines add up, type= lines are ORed, transports start over. A second
 * without type= is skipped (reload_config: "Section lacks type"); one
 * whose host cannot be resolved removes the peer (build_peer's "removing
 * peer"), and a third section builds it afresh. A second [general] is
 * ignored (chan_sip reads the first). */
static void test_section_twice(void **state)
{
    (void)state;
    char err[512], log[4096];
    sip_conf_t *c = s_load_logged(
        "[general]\n"
        "tcpenable=yes\n"
        "transport=udp,tcp\n"
        "[1001]\n"
        "type=friend\n"
        "secret=first\n"
        "context=phones\n"
        "callerid=\"Alice\" <1001>\n"
        "deny=0.0.0.0/0\n"
        "transport=tcp\n"
        "[trunk]\n"
        "type=peer\n"
        "host=127.0.0.2\n"
        "port=5070\n"
        "[1001]\n"
        "type=friend\n"
        "secret=second\n"
        "permit=127.0.0.1/32\n"
        "[trunk]\n"                       /* no type=: skipped */
        "host=127.0.0.3\n"
        "[typed]\n"
        "type=peer\n"
        "host=127.0.0.4\n"
        "[typed]\n"
        "type=user\n"                     /* peer | user: a friend */
        "[gone]\n"
        "type=friend\n"
        "secret=x\n"
        "[gone]\n"
        "type=friend\n"
        "host=no-such-host.invalid\n"
        "[1002]\n"
        "type=friend\n"
        "[1002]\n"
        "type=peer\n"
        "host=127.0.0.5\n"
        "[general]\n"                     /* chan_sip reads only the first */
        "realm=other\n",
        err, sizeof err, log, sizeof log);
    if (!c)
        print_message("error: %s\n", err);
    assert_non_null(c);
    assert_int_equal(sip_conf_peer_count(c), 4);     /* 1001, trunk, typed, 1002 */
    assert_string_equal(sip_conf_general(c)->realm, "tandem");
    const sip_peer_t *p = sip_conf_peer(c, "1001");
    assert_non_null(p);
    char ha1[65];
    sip_auth_ha1("1001", "tandem", "second", ha1);
    assert_string_equal(p->ha1, ha1);                /* the second's secret */
    assert_string_equal(p->context, "phones");       /* the first's, not [general]'s */
    assert_string_equal(p->cid_num, "1001");
    assert_int_equal(p->line, 4);
    struct in_addr a;
    inet_pton(AF_INET, "127.0.0.1", &a);
    assert_true(sip_acl_allows(p->acl, a, NULL));    /* deny all, then permit */
    inet_pton(AF_INET, "127.0.0.9", &a);
    assert_false(sip_acl_allows(p->acl, a, NULL));
    assert_int_equal(p->transports, SIP_TRANSPORT_UDP | SIP_TRANSPORT_TCP);   /* [general]'s */
    p = sip_conf_peer(c, "trunk");
    assert_non_null(p);
    assert_string_equal(inet_ntoa(p->addr.sin_addr), "127.0.0.2");
    assert_int_equal(ntohs(p->addr.sin_port), 5070);
    assert_int_equal(sip_conf_peer(c, "typed")->type, SIP_PEER_FRIEND);
    assert_null(sip_conf_peer(c, "gone"));
    p = sip_conf_peer(c, "1002");
    assert_int_equal(p->type, SIP_PEER_FRIEND);
    assert_int_equal(p->dynamic, 0);
    assert_string_equal(inet_ntoa(p->addr.sin_addr), "127.0.0.5");
    assert_ptr_equal(sip_conf_peer_by_addr(c, &p->addr), p);
    assert_non_null(strstr(log, "sip.conf:19: section [trunk] lacks type=, skipped"));
    assert_non_null(strstr(log, "cannot resolve 'no-such-host.invalid' to an IPv4 address: [gone] removed"));
    sip_conf_destroy(&c);
}

static void test_insecure_forms(void **state)
{
    (void)state;
    static const struct { const char *value; int port, invite; } rows[] = {
        { "port", 1, 0 }, { "invite", 0, 1 }, { "port,invite", 1, 1 }, { "invite, port", 1, 1 },
        { "very", 1, 1 }, { "yes", 1, 0 }, { "no", 0, 0 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char text[128], err[512];
        snprintf(text, sizeof text, "[p]\ntype=peer\nhost=127.0.0.1\ninsecure=%s\n", rows[i].value);
        sip_conf_t *c = s_load_text(text, err, sizeof err);
        assert_non_null(c);
        assert_int_equal(sip_conf_peer(c, "p")->insecure_port, rows[i].port);
        assert_int_equal(sip_conf_peer(c, "p")->insecure_invite, rows[i].invite);
        sip_conf_destroy(&c);
    }
}

static void test_shipped_config(void **state)
{
    (void)state;
    char err[512];
    sip_conf_t *c = sip_conf_load("etc/sip.conf", err, sizeof err);
    if (!c) {
        print_message("etc/sip.conf: %s (run from the repo root)\n", err);
        skip();
    }
    assert_int_equal(sip_conf_general(c)->allowguest, 0);
    assert_non_null(sip_conf_peer(c, "1001"));
    assert_non_null(sip_conf_peer(c, "1002"));
    sip_conf_destroy(&c);
}

/* allow=/disallow= keep Asterisk's preference order: the order codecs are
 * first allowed in; allowed again keeps the place; disallow takes out. */
static void test_codec_order(void **state)
{
    (void)state;
    static const struct {
        const char *lines;
        uint8_t n, pt0, pt1;
    } rows[] = {
        { "", 2, 0, 8 },
        { "disallow=all\nallow=alaw,ulaw\n", 2, 8, 0 },
        { "disallow=all\nallow=alaw\nallow=ulaw\nallow=alaw\n", 2, 8, 0 },
        { "allow=alaw\n", 2, 0, 8 },
        { "disallow=ulaw\nallow=ulaw\n", 2, 8, 0 },
        { "disallow=all\nallow=g729,alaw\n", 1, 8, 0 },
        { "disallow=all\nallow=all\n", 2, 0, 8 },
        { "disallow=all\n", 0, 0, 0 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char text[256], err[256];
        snprintf(text, sizeof text, "[general]\n[p]\ntype=peer\nhost=127.0.0.1\n%s", rows[i].lines);
        sip_conf_t *c = s_load_text(text, err, sizeof err);
        if (!c)
            fail_msg("row %zu: %s", i, err);
        const sip_peer_t *p = sip_conf_peer(c, "p");
        assert_non_null(p);
        assert_int_equal(p->codec_order.n, rows[i].n);
        if (rows[i].n > 0)
            assert_int_equal(p->codec_order.pt[0], rows[i].pt0);
        if (rows[i].n > 1)
            assert_int_equal(p->codec_order.pt[1], rows[i].pt1);
        unsigned mask = 0;
        for (size_t k = 0; k < p->codec_order.n; k++)
            mask |= p->codec_order.pt[k] == 0 ? SIP_CODEC_ULAW : SIP_CODEC_ALAW;
        assert_int_equal(mask, p->codecs);
        sip_conf_destroy(&c);
    }
}

/* register => lines: chan_sip's forms, then malformed ones with their reason. */
static void test_register_parse(void **state)
{
    (void)state;
    sip_register_t r;
    char why[200];
    assert_int_equal(sip_conf_parse_register("alice:pw@carrier.example", &r, why, sizeof why), 0);
    assert_string_equal(r.user, "alice");
    assert_string_equal(r.secret, "pw");
    assert_string_equal(r.authuser, "");
    assert_string_equal(r.host, "carrier.example");
    assert_int_equal(r.port, 0);
    assert_string_equal(r.extension, "");
    assert_int_equal(r.expiry, 0);

    assert_int_equal(sip_conf_parse_register("1234:s3cret:auth99@10.0.0.1:5070/7000", &r, why,
                                             sizeof why), 0);
    assert_string_equal(r.user, "1234");
    assert_string_equal(r.secret, "s3cret");
    assert_string_equal(r.authuser, "auth99");
    assert_string_equal(r.host, "10.0.0.1");
    assert_int_equal(r.port, 5070);
    assert_string_equal(r.extension, "7000");

    assert_int_equal(sip_conf_parse_register("trunk?udp://bob@sip.example.org:pw@10.0.0.2/9~60",
                                             &r, why, sizeof why), 0);
    assert_string_equal(r.peer, "trunk");
    assert_string_equal(r.user, "bob");
    assert_string_equal(r.domain, "sip.example.org");
    assert_string_equal(r.secret, "pw");
    assert_string_equal(r.host, "10.0.0.2");
    assert_string_equal(r.extension, "9");
    assert_int_equal(r.expiry, 60);

    assert_int_equal(r.transport, SIP_TRANSPORT_UDP);
    assert_int_equal(sip_conf_parse_register("tcp://dave@10.0.0.4", &r, why, sizeof why), 0);
    assert_int_equal(r.transport, SIP_TRANSPORT_TCP);
    assert_int_equal(sip_conf_parse_register("TLS://erin@10.0.0.5:5061", &r, why, sizeof why), 0);
    assert_int_equal(r.transport, SIP_TRANSPORT_TLS);
    assert_int_equal(r.port, 5061);

    assert_int_equal(sip_conf_parse_register("  carol@10.0.0.3  ", &r, why, sizeof why), 0);
    assert_string_equal(r.user, "carol");
    assert_string_equal(r.secret, "");

    static const struct { const char *line, *why; } bad[] = {
        { "", "register => is empty" },
        { "alice:pw", "no '@host' in 'alice:pw'" },
        { ":pw@host", "no user before '@host' in ':pw@host'" },
        { "alice:pw@", "bad host in 'alice:pw@'" },
        { "alice@host:99999", "port must be a number from 1 to 65535, not '99999'" },
        { "alice@host~soon", "expiry after '~' must be a number of seconds, not 'soon'" },
        { "sctp://alice@host", "transport 'sctp' is not supported (udp, tcp or tls)" },
        { "alice@host/", "bad extension after '/'" },
        { "?alice@host", "bad peer name before '?'" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        assert_int_equal(sip_conf_parse_register(bad[i].line, &r, why, sizeof why), -1);
        assert_string_equal(why, bad[i].why);
    }
}

/* In a file: good lines are kept in order with their file:line, a bad one
 * is skipped (a warning, not an error), registertimeout/attempts are read,
 * and a peer's secret, remotesecret and outboundproxy are kept. */
static void test_register_lines(void **state)
{
    (void)state;
    char err[256];
    sip_conf_t *c = s_load_text("[general]\nregistertimeout=5\nregisterattempts=3\n"
                                "register => a:pw@127.0.0.1:5999/100~30\n"
                                "register => broken\n"
                                "register => b@127.0.0.2\n"
                                "[trunk]\ntype=peer\nhost=127.0.0.1\nsecret=xyz\n"
                                "remotesecret=abc\noutboundproxy=127.0.0.9:5088\n",
                                err, sizeof err);
    assert_non_null(c);
    const sip_general_t *g = sip_conf_general(c);
    assert_int_equal(g->registertimeout, 5);
    assert_int_equal(g->registerattempts, 3);
    assert_int_equal(sip_conf_register_count(c), 2);
    const sip_register_t *r = sip_conf_register_at(c, 0);
    assert_string_equal(r->user, "a");
    assert_int_equal(r->line, 4);
    assert_non_null(strstr(r->file, "sip.conf"));
    assert_int_equal(ntohs(r->addr.sin_port), 5999);
    assert_int_equal(r->expiry, 30);
    r = sip_conf_register_at(c, 1);
    assert_string_equal(r->user, "b");
    assert_int_equal(r->line, 6);
    assert_int_equal(ntohs(r->addr.sin_port), 5060);
    assert_null(sip_conf_register_at(c, 2));
    const sip_peer_t *p = sip_conf_peer(c, "trunk");
    assert_string_equal(p->secret, "xyz");
    assert_string_equal(p->remotesecret, "abc");
    assert_int_equal(p->has_proxy, 1);
    assert_int_equal(ntohs(p->proxy.sin_port), 5088);
    assert_int_equal(sip_conf_general(c)->registertimeout, 5);
    sip_conf_destroy(&c);
    c = s_load_text("[general]\n", err, sizeof err);
    assert_int_equal(sip_conf_general(c)->registertimeout, 20);
    assert_int_equal(sip_conf_general(c)->registerattempts, 0);
    sip_conf_destroy(&c);
}

/* qualify= (chan_sip: yes is [general]'s qualify= or 2000 ms, a number is
 * ms, peers default to [general]'s) and qualifyfreq= (60 s). */
/* encryption= and encryption_taglen= per peer, as chan_sip's build_peer;
 * [general] has neither (chan_sip does not read them there). */
static void test_encryption(void **state)
{
    (void)state;
    char err[256];
    sip_conf_t *c = s_load_text("[general]\nencryption=yes\n"
                                "[srtp](!)\ntype=friend\nencryption=yes\n"
                                "[a](srtp)\nencryption_taglen=32\n"
                                "[b](srtp)\nencryption_taglen=80\n"
                                "[c]\ntype=friend\nencryption_taglen=33\n", err, sizeof err);
    assert_non_null(c);
    assert_int_equal(sip_conf_peer(c, "a")->encryption, 1);
    assert_int_equal(sip_conf_peer(c, "a")->srtp_taglen, 32);
    assert_int_equal(sip_conf_peer(c, "b")->encryption, 1);
    assert_int_equal(sip_conf_peer(c, "b")->srtp_taglen, 80);
    assert_int_equal(sip_conf_peer(c, "c")->encryption, 0);     /* not from [general] */
    assert_int_equal(sip_conf_peer(c, "c")->srtp_taglen, 80);   /* chan_sip: "32" or 80 */
    sip_conf_destroy(&c);
    c = s_load_text("[a]\ntype=friend\nencryption=maybe\n", err, sizeof err);
    assert_non_null(c);                                 /* warned: ast_true("maybe") is no */
    assert_int_equal(sip_conf_peer(c, "a")->encryption, 0);
    sip_conf_destroy(&c);
}

static void test_qualify(void **state)
{
    (void)state;
    char err[256];
    sip_conf_t *c = s_load_text("[a]\ntype=peer\nhost=127.0.0.1\nqualify=yes\n"
                                "[b]\ntype=peer\nhost=127.0.0.1\nqualify=500\nqualifyfreq=5\n"
                                "[c]\ntype=peer\nhost=127.0.0.1\n", err, sizeof err);
    assert_non_null(c);
    assert_int_equal(sip_conf_peer(c, "a")->maxms, 2000);
    assert_int_equal(sip_conf_peer(c, "a")->qualifyfreq, 60);
    assert_int_equal(sip_conf_peer(c, "b")->maxms, 500);
    assert_int_equal(sip_conf_peer(c, "b")->qualifyfreq, 5);
    assert_int_equal(sip_conf_peer(c, "c")->maxms, 0);
    sip_conf_destroy(&c);
    c = s_load_text("[general]\nqualify=1000\nqualifyfreq=30\n[a]\ntype=peer\nhost=127.0.0.1\n"
                    "qualify=yes\n[c]\ntype=peer\nhost=127.0.0.1\n[d]\ntype=peer\n"
                    "host=127.0.0.1\nqualify=no\n", err, sizeof err);
    assert_non_null(c);
    assert_int_equal(sip_conf_peer(c, "a")->maxms, 1000);
    assert_int_equal(sip_conf_peer(c, "c")->maxms, 1000);
    assert_int_equal(sip_conf_peer(c, "c")->qualifyfreq, 30);
    assert_int_equal(sip_conf_peer(c, "d")->maxms, 0);
    sip_conf_destroy(&c);
    c = s_load_text("[a]\ntype=peer\nhost=127.0.0.1\nqualify=sometimes\n", err, sizeof err);
    assert_non_null(c);                                 /* warned, as chan_sip: maxms 0 */
    assert_int_equal(sip_conf_peer(c, "a")->maxms, 0);
    sip_conf_destroy(&c);
}

/* transport=, tcpenable, tcpbindaddr and the tls* keys, as chan_sip reads them. */
static void test_transports(void **state)
{
    (void)state;
    char err[512];
    sip_conf_t *c = s_load_text("[general]\n", err, sizeof err);
    assert_non_null(c);
    const sip_general_t *g = sip_conf_general(c);
    assert_int_equal(g->transports, SIP_TRANSPORT_UDP);
    assert_int_equal(g->transport, SIP_TRANSPORT_UDP);
    assert_int_equal(g->tcpenable, 0);
    assert_int_equal(g->tlsenable, 0);
    assert_int_equal(g->tcpbind.sin_family, 0);          /* unset: the UDP bind */
    assert_int_equal(g->tcpauthtimeout, 30);
    sip_conf_destroy(&c);

    c = s_load_text("[general]\ntcpenable=yes\ntcpbindaddr=127.0.0.2\ntransport=tcp,udp\n"
                    "tcpauthtimeout=5\n"
                    "[p]\ntype=peer\nhost=127.0.0.1\ntransport=tls,tcp\n"
                    "[q]\ntype=peer\nhost=127.0.0.1\nport=5070\n"
                    "[r]\ntype=peer\nhost=127.0.0.1\nport=5080\ntransport=udp,tcp\n", err, sizeof err);
    assert_non_null(c);
    g = sip_conf_general(c);
    assert_int_equal(g->transports, SIP_TRANSPORT_TCP | SIP_TRANSPORT_UDP);
    assert_int_equal(g->transport, SIP_TRANSPORT_TCP);
    assert_int_equal(ntohs(g->tcpbind.sin_port), 5060);
    assert_int_equal(g->tcpbind.sin_addr.s_addr, inet_addr("127.0.0.2"));
    assert_int_equal(g->tcpauthtimeout, 5);
    const sip_peer_t *p = sip_conf_peer(c, "p");         /* tls without tlsenable: dropped */
    assert_int_equal(p->transports, SIP_TRANSPORT_TCP);
    assert_int_equal(p->transport, SIP_TRANSPORT_TCP);
    assert_int_equal(sip_conf_peer(c, "q")->transport, SIP_TRANSPORT_TCP);   /* [general]'s */
    assert_int_equal(sip_conf_peer(c, "r")->transport, SIP_TRANSPORT_UDP);
    assert_int_equal(sip_conf_peer(c, "r")->transports, SIP_TRANSPORT_UDP | SIP_TRANSPORT_TCP);
    sip_conf_destroy(&c);

    c = s_load_text("[general]\ntransport=tcp\n[p]\ntype=peer\nhost=127.0.0.1\ntransport=tcp\n",
                    err, sizeof err);
    assert_non_null(c);                                  /* tcp without tcpenable: udp */
    assert_int_equal(sip_conf_general(c)->transport, SIP_TRANSPORT_UDP);
    assert_int_equal(sip_conf_peer(c, "p")->transport, SIP_TRANSPORT_UDP);
    sip_conf_destroy(&c);

    c = s_load_text("[general]\ntlsenable=yes\n", err, sizeof err);
    assert_non_null(c);                                 /* warned: TLS off, as chan_sip */
    assert_int_equal(sip_conf_general(c)->tlsenable, 0);
    sip_conf_destroy(&c);

    c = s_load_text("[general]\nbindaddr=10.0.0.1\ntlsenable=yes\ntlscertfile=/etc/x.pem\n"
                    "tlsprivatekey=/etc/x.key\ntlscafile=/etc/ca.pem\ntlscapath=/etc/ssl/certs\n"
                    "tlscipher=HIGH\ntlsverifyclient=yes\ntlsdontverifyserver=yes\n"
                    "tlsclientmethod=tlsv1\ntlsbindaddr=127.0.0.1\n"
                    "[p]\ntype=peer\nhost=127.0.0.1\ntransport=tls\n", err, sizeof err);
    assert_non_null(c);
    g = sip_conf_general(c);
    assert_int_equal(g->tlsenable, 1);
    assert_int_equal(ntohs(g->tlsbind.sin_port), 5061);
    assert_string_equal(g->tlscertfile, "/etc/x.pem");
    assert_string_equal(g->tlsprivatekey, "/etc/x.key");
    assert_string_equal(g->tlscafile, "/etc/ca.pem");
    assert_string_equal(g->tlscapath, "/etc/ssl/certs");
    assert_string_equal(g->tlscipher, "HIGH");
    assert_int_equal(g->tlsverifyclient, 1);
    assert_int_equal(g->tlsdontverifyserver, 1);
    assert_int_equal(sip_conf_peer(c, "p")->transport, SIP_TRANSPORT_TLS);
    sip_conf_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_warning_table),
        cmocka_unit_test(test_warning_fallbacks),
        cmocka_unit_test(test_register_parse),
        cmocka_unit_test(test_register_lines),
        cmocka_unit_test(test_qualify),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_allowtransfer),
        cmocka_unit_test(test_auth_algorithms),
        cmocka_unit_test(test_bind_forms),
        cmocka_unit_test(test_peers_and_templates),
        cmocka_unit_test(test_section_twice),
        cmocka_unit_test(test_codec_order),
        cmocka_unit_test(test_insecure_forms),
        cmocka_unit_test(test_shipped_config),
        cmocka_unit_test(test_encryption),
        cmocka_unit_test(test_transports),
    };
    return cmocka_run_group_tests_name("sip_conf", tests, setup, teardown);
}
