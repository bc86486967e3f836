/* Unit tests for sip_auth: RFC 2617's worked example, nonces, verify. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include "sip_auth.h"
#include <osipparser2/osip_parser.h>

#define NOW 1700000000L

/* The Request-URI the credentials of s_cred name, and the phone's address. */
static osip_uri_t *RURI;
static struct sockaddr_in SRC;

static int setup(void **state)
{
    (void)state;
    parser_init();
    if (!RURI) {
        osip_uri_init(&RURI);
        osip_uri_parse(RURI, "sip:tandem.example");
    }
    memset(&SRC, 0, sizeof SRC);
    SRC.sin_family = AF_INET;
    SRC.sin_port = htons(5062);
    SRC.sin_addr.s_addr = htonl(0x7f000001);
    return 0;
}

/* RFC 2617 section 3.5. */
static void test_rfc2617_example(void **state)
{
    (void)state;
    char ha1[33], resp[33];
    sip_auth_ha1("Mufasa", "testrealm@host.com", "Circle Of Life", ha1);
    assert_string_equal(ha1, "939e7578ed9e3c518a452acee763bce9");
    sip_auth_response(ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b",
                      "auth", "GET", "/dir/index.html", resp);
    assert_string_equal(resp, "6629fae49393a05397450978507c4ef1");
}

/* RFC 2069 form (no qop): MD5(HA1:nonce:HA2). RFC 2069's own example. */
static void test_rfc2069_form(void **state)
{
    (void)state;
    char ha1[33], resp[33];
    sip_auth_ha1("Mufasa", "testrealm@host.com", "CircleOfLife", ha1);
    sip_auth_response(ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", NULL, NULL, NULL,
                      "GET", "/dir/index.html", resp);
    assert_string_equal(resp, "1949323746fe6a43ef61f9606e7febea");
}

/* RFC 7616 3.9.1: the same request answered with SHA-256 and with MD5. */
static void test_rfc7616_example(void **state)
{
    (void)state;
    const char *nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const char *cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    char ha1[65], resp[65];
    sip_auth_ha1_alg(SIP_AUTH_SHA256, "Mufasa", "http-auth@example.org", "Circle of Life", ha1);
    sip_auth_response_alg(SIP_AUTH_SHA256, ha1, nonce, "00000001", cnonce, "auth", "GET",
                          "/dir/index.html", resp);
    assert_string_equal(resp, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
    sip_auth_ha1_alg(SIP_AUTH_MD5, "Mufasa", "http-auth@example.org", "Circle of Life", ha1);
    sip_auth_response_alg(SIP_AUTH_MD5, ha1, nonce, "00000001", cnonce, "auth", "GET",
                          "/dir/index.html", resp);
    assert_string_equal(resp, "8ca523f5e9506fed4657c9700eebdbec");
    /* SHA-256 over two blocks, and at 55 bytes (the longest one-block padding) */
    char x[101], y[52];
    memset(x, 'x', 100);
    x[100] = '\0';
    memset(y, 'y', 51);
    y[51] = '\0';
    sip_auth_ha1_alg(SIP_AUTH_SHA256, x, "r", "p", ha1);
    assert_string_equal(ha1, "5df4a6f3ec1e985dabd9d8ee99b17b04c1dbd87485ef71ab7e264dfa36d6483a");
    sip_auth_ha1_alg(SIP_AUTH_SHA256, y, "r", "p", ha1);
    assert_string_equal(ha1, "d172873c622cbfb34f8b0a27ac3e7681e577b7d83ae4c3f05ebfeb64b82a8988");
    assert_int_equal(sip_auth_alg_parse("sha-256"), SIP_AUTH_SHA256);
    assert_int_equal(sip_auth_alg_parse(""), SIP_AUTH_MD5);
    assert_int_equal(sip_auth_alg_parse("MD5-sess"), 0);
}

/* The digest uri s_cred_alg writes (tests change it, then put it back). */
static const char *CRED_URI = "sip:tandem.example";

/* Build an Authorization header the way a phone would, then verify it.
 * nc NULL: the RFC 2069 form (no qop). */
static osip_authorization_t *s_cred_alg(sip_auth_alg_t alg, const char *user, const char *pass,
                                        const char *realm, const char *nonce,
                                        const char *method, const char *nc, int quote_qop)
{
    char ha1[65], resp[65], text[1024];
    const char *uri = CRED_URI;
    sip_auth_ha1_alg(alg, user, realm, pass, ha1);
    sip_auth_response_alg(alg, ha1, nonce, nc, "0a4f113b", nc ? "auth" : NULL, method, uri,
                          resp);
    if (nc)
        snprintf(text, sizeof text,
                 "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
                 "response=\"%s\", algorithm=%s, qop=%s, nc=%s, cnonce=\"0a4f113b\"",
                 user, realm, nonce, uri, resp, sip_auth_alg_name(alg),
                 quote_qop ? "\"auth\"" : "auth", nc);
    else
        snprintf(text, sizeof text,
                 "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
                 "response=\"%s\", algorithm=%s", user, realm, nonce, uri, resp,
                 sip_auth_alg_name(alg));
    osip_authorization_t *a = NULL;
    assert_int_equal(osip_authorization_init(&a), 0);
    assert_int_equal(osip_authorization_parse(a, text), 0);
    return a;
}

static osip_authorization_t *s_cred(const sip_auth_t *auth, const char *user, const char *pass,
                                    const char *realm, const char *nonce, const char *method,
                                    int quote_qop)
{
    (void)auth;
    return s_cred_alg(SIP_AUTH_MD5, user, pass, realm, nonce, method, "00000001", quote_qop);
}

static const unsigned char ALGS_BOTH[] = { SIP_AUTH_SHA256, SIP_AUTH_MD5, 0 };

static void test_verify(void **state)
{
    (void)state;
    sip_auth_t *auth = sip_auth_new("tandem");
    assert_non_null(auth);
    char nonce[SIP_AUTH_NONCE_LEN + 1], ha1[33], ha1s[65];
    sip_auth_ha1("1001", "tandem", "1001pass", ha1);
    sip_auth_ha1_alg(SIP_AUTH_SHA256, "1001", "tandem", "1001pass", ha1s);

    sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5, nonce, sizeof nonce);
    assert_int_equal(strlen(nonce), SIP_AUTH_NONCE_LEN);
    osip_authorization_t *a = s_cred(auth, "1001", "1001pass", "tandem", nonce, "REGISTER", 0);
    /* the method is part of the digest */
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "INVITE", ha1, ha1s, NOW + 5), SIP_AUTH_FAILED);
    /* an unknown user fails exactly like a wrong password */
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", NULL, NULL, NOW + 5), SIP_AUTH_FAILED);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", NULL, NULL,
                                     NOW + SIP_AUTH_NONCE_TTL + 1), SIP_AUTH_NONCE);
    /* right answer to an old nonce: stale */
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, ha1s,
                                     NOW + SIP_AUTH_NONCE_TTL + 1), SIP_AUTH_STALE);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, ha1s, NOW + SIP_AUTH_NONCE_TTL),
                     SIP_AUTH_OK);
    osip_authorization_free(a);

    /* quoted qop, as some phones send it */
    sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5, nonce, sizeof nonce);
    a = s_cred(auth, "1001", "1001pass", "tandem", nonce, "REGISTER", 1);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, ha1s, NOW), SIP_AUTH_OK);
    osip_authorization_free(a);

    /* wrong password */
    sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5, nonce, sizeof nonce);
    a = s_cred(auth, "1001", "wrong", "tandem", nonce, "REGISTER", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, ha1s, NOW), SIP_AUTH_FAILED);
    /* a wrong password with an old nonce is not "stale", but chan_sip's
     * check_auth gives "one more try with a new challenge" to any answer
     * to a nonce that is not its current one */
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, ha1s, NOW + 100), SIP_AUTH_NONCE);
    osip_authorization_free(a);

    /* wrong realm */
    char ha1_other[33];
    sip_auth_ha1("1001", "asterisk", "1001pass", ha1_other);
    a = s_cred(auth, "1001", "1001pass", "asterisk", nonce, "REGISTER", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1_other, NULL, NOW), SIP_AUTH_FAILED);
    osip_authorization_free(a);

    /* a tampered nonce: another serial with the old MAC */
    char forged[SIP_AUTH_NONCE_LEN + 1];
    memcpy(forged, nonce, sizeof forged);
    forged[15] = forged[15] == 'f' ? 'e' : 'f';
    a = s_cred(auth, "1001", "1001pass", "tandem", forged, "REGISTER", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, ha1s, NOW), SIP_AUTH_STALE);
    osip_authorization_free(a);
    a = s_cred(auth, "1001", "wrong", "tandem", forged, "REGISTER", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, ha1s, NOW), SIP_AUTH_NONCE);
    osip_authorization_free(a);
    /* a nonce from someone else entirely (RFC 2617's) */
    a = s_cred(auth, "1001", "1001pass", "tandem", "dcd98b7102dd2f0e8b11d0f600bfb0c093",
               "REGISTER", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, ha1s, NOW), SIP_AUTH_STALE);
    osip_authorization_free(a);

    /* another process's nonce (another secret) */
    sip_auth_t *other = sip_auth_new("tandem");
    char theirs[SIP_AUTH_NONCE_LEN + 1];
    sip_auth_nonce(other, &SRC, NOW, SIP_AUTH_MD5, theirs, sizeof theirs);
    a = s_cred(auth, "1001", "1001pass", "tandem", theirs, "REGISTER", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, ha1s, NOW), SIP_AUTH_STALE);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", NULL, NULL, NOW), SIP_AUTH_NONCE);
    osip_authorization_free(a);
    sip_auth_destroy(&other);

    assert_int_equal(sip_auth_verify(auth, NULL, RURI, &SRC, "REGISTER", ha1, ha1s, NOW), SIP_AUTH_MISSING);
    sip_auth_destroy(&auth);
    assert_null(auth);
}

/* SHA-256 and MD5 offered with one nonce: either answers; an algorithm the
 * nonce was not offered with does not; no SHA-256 HA1 (md5secret) fails. */
static void test_verify_sha256(void **state)
{
    (void)state;
    sip_auth_t *auth = sip_auth_new("tandem");
    char nonce[SIP_AUTH_NONCE_LEN + 1], ha1[33], ha1s[65];
    sip_auth_ha1("1001", "tandem", "1001pass", ha1);
    sip_auth_ha1_alg(SIP_AUTH_SHA256, "1001", "tandem", "1001pass", ha1s);
    for (int alg = SIP_AUTH_MD5; alg <= SIP_AUTH_SHA256; alg++) {
        sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5 | SIP_AUTH_SHA256, nonce, sizeof nonce);
        osip_authorization_t *a = s_cred_alg(alg, "1001", "1001pass", "tandem", nonce,
                                             "REGISTER", "00000001", 0);
        assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, ha1s, NOW), SIP_AUTH_OK);
        osip_authorization_free(a);
    }
    /* SHA-256 was not offered with this nonce */
    sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5, nonce, sizeof nonce);
    osip_authorization_t *a = s_cred_alg(SIP_AUTH_SHA256, "1001", "1001pass", "tandem", nonce,
                                         "REGISTER", "00000001", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, ha1s, NOW), SIP_AUTH_FAILED);
    osip_authorization_free(a);
    /* offered, but the peer has only an MD5 HA1 */
    sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5 | SIP_AUTH_SHA256, nonce, sizeof nonce);
    a = s_cred_alg(SIP_AUTH_SHA256, "1001", "1001pass", "tandem", nonce, "REGISTER", "00000001",
                   0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, "", NOW), SIP_AUTH_FAILED);
    /* an MD5 HA1 does not answer a SHA-256 response */
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, ha1, NOW), SIP_AUTH_FAILED);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, ha1s, NOW), SIP_AUTH_OK);
    osip_authorization_free(a);
    sip_auth_destroy(&auth);
}

/* Single use (RFC 7616 3.4.5): without qop a nonce answers one request; with
 * qop=auth one per increasing nc. A replay of a right answer is stale, of a
 * wrong one a new challenge. */
static void test_replay(void **state)
{
    (void)state;
    sip_auth_t *auth = sip_auth_new("tandem");
    char nonce[SIP_AUTH_NONCE_LEN + 1], ha1[33], ha1s[65];
    sip_auth_ha1("1001", "tandem", "1001pass", ha1);
    sip_auth_ha1_alg(SIP_AUTH_SHA256, "1001", "tandem", "1001pass", ha1s);

    /* no qop */
    sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5, nonce, sizeof nonce);
    osip_authorization_t *a = s_cred_alg(SIP_AUTH_MD5, "1001", "1001pass", "tandem", nonce,
                                         "REGISTER", NULL, 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, ha1s, NOW), SIP_AUTH_OK);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, ha1s, NOW + 1), SIP_AUTH_STALE);
    osip_authorization_free(a);
    /* ... nor with qop after that */
    a = s_cred_alg(SIP_AUTH_MD5, "1001", "1001pass", "tandem", nonce, "REGISTER", "00000002", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, ha1s, NOW + 1), SIP_AUTH_STALE);
    osip_authorization_free(a);

    /* qop=auth: nc 1, 2, then 2 again (replay), 1 (older), 5 (a gap is fine) */
    sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5 | SIP_AUTH_SHA256, nonce, sizeof nonce);
    static const struct { const char *nc; int want; } steps[] = {
        { "00000001", SIP_AUTH_OK }, { "00000002", SIP_AUTH_OK }, { "00000002", SIP_AUTH_STALE },
        { "00000001", SIP_AUTH_STALE }, { "00000005", SIP_AUTH_OK }, { "00000005", SIP_AUTH_STALE },
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        a = s_cred_alg(SIP_AUTH_SHA256, "1001", "1001pass", "tandem", nonce, "INVITE",
                       steps[i].nc, 0);
        assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "INVITE", ha1, ha1s, NOW + 2), steps[i].want);
        osip_authorization_free(a);
    }
    /* a wrong password on a used nc: a new challenge, not 403 */
    a = s_cred_alg(SIP_AUTH_SHA256, "1001", "nope", "tandem", nonce, "INVITE", "00000005", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "INVITE", ha1, ha1s, NOW + 2), SIP_AUTH_NONCE);
    osip_authorization_free(a);
    /* a malformed nc is never right (and never above the last one) */
    a = s_cred_alg(SIP_AUTH_SHA256, "1001", "1001pass", "tandem", nonce, "INVITE", "6", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "INVITE", ha1, ha1s, NOW + 2), SIP_AUTH_NONCE);
    osip_authorization_free(a);
    /* and the next nc, once the nonce has expired: stale */
    a = s_cred_alg(SIP_AUTH_SHA256, "1001", "1001pass", "tandem", nonce, "INVITE", "00000006", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "INVITE", ha1, ha1s, NOW + SIP_AUTH_NONCE_TTL + 1),
                     SIP_AUTH_STALE);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "INVITE", ha1, ha1s, NOW + 3), SIP_AUTH_OK);
    osip_authorization_free(a);
    sip_auth_destroy(&auth);
}

/* The table is bounded: after SIP_AUTH_NONCES newer nonces the oldest is
 * gone (its right answer is stale), a newer one still works. */
static void test_table_bound(void **state)
{
    (void)state;
    sip_auth_t *auth = sip_auth_new("tandem");
    char first[SIP_AUTH_NONCE_LEN + 1], mid[SIP_AUTH_NONCE_LEN + 1], n[SIP_AUTH_NONCE_LEN + 1];
    char ha1[33];
    sip_auth_ha1("1001", "tandem", "1001pass", ha1);
    sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5, first, sizeof first);
    for (int i = 0; i < SIP_AUTH_NONCES; i++) {
        sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5, n, sizeof n);
        if (i == SIP_AUTH_NONCES / 2)
            memcpy(mid, n, sizeof mid);
    }
    osip_authorization_t *a = s_cred(auth, "1001", "1001pass", "tandem", first, "REGISTER", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, NULL, NOW), SIP_AUTH_STALE);
    osip_authorization_free(a);
    a = s_cred(auth, "1001", "1001pass", "tandem", mid, "REGISTER", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, NULL, NOW), SIP_AUTH_OK);
    osip_authorization_free(a);
    a = s_cred(auth, "1001", "1001pass", "tandem", n, "REGISTER", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, NULL, NOW), SIP_AUTH_OK);
    osip_authorization_free(a);
    sip_auth_destroy(&auth);
}

static void test_challenge_and_credentials(void **state)
{
    (void)state;
    sip_auth_t *auth = sip_auth_new("tandem");
    osip_message_t *m = NULL;
    assert_int_equal(osip_message_init(&m), 0);
    assert_int_equal(sip_auth_challenge(auth, m, &SRC, 1, NOW, NULL), 0);
    assert_int_equal(sip_auth_challenge(auth, m, &SRC, 0, NOW, NULL), 0);
    osip_www_authenticate_t *w = NULL;
    assert_int_equal(osip_message_get_www_authenticate(m, 0, &w), 0);
    char buf[128];
    assert_string_equal(sip_auth_unquote(osip_www_authenticate_get_realm(w), buf, sizeof buf),
                        "tandem");
    assert_string_equal(osip_www_authenticate_get_algorithm(w), "MD5");
    assert_string_equal(osip_www_authenticate_get_qop_options(w), "\"auth\"");
    assert_string_equal(osip_www_authenticate_get_stale(w), "true");
    /* never Proxy-Authenticate (chan_sip: "we're NOT a proxy") */
    assert_int_equal(osip_list_size(&m->proxy_authenticates), 0);
    assert_int_equal(osip_list_size(&m->www_authenticates), 2);
    osip_www_authenticate_t *p = osip_list_get(&m->www_authenticates, 1);
    assert_non_null(p);
    assert_null(osip_www_authenticate_get_stale(p));
    char nonce[64];
    sip_auth_unquote(osip_www_authenticate_get_nonce(p), nonce, sizeof nonce);
    assert_int_equal(strlen(nonce), SIP_AUTH_NONCE_LEN);
    osip_message_free(m);

    /* pick the credentials for our realm among several */
    assert_int_equal(osip_message_init(&m), 0);
    osip_message_set_authorization(m, "Digest username=\"x\", realm=\"other\", nonce=\"1\", "
                                      "uri=\"sip:a\", response=\"0\"");
    osip_message_set_proxy_authorization(m, "Digest username=\"y\", realm=\"tandem\", "
                                            "nonce=\"1\", uri=\"sip:a\", response=\"0\"");
    osip_message_set_authorization(m, "Digest username=\"1001\", realm=\"tandem\", nonce=\"1\", "
                                      "uri=\"sip:a\", response=\"0\"");
    char user[64];
    /* Authorization first */
    assert_non_null(sip_auth_credentials(auth, m, user, sizeof user));
    assert_string_equal(user, "1001");
    osip_message_free(m);
    /* Proxy-Authorization is taken when there is no Authorization for us */
    assert_int_equal(osip_message_init(&m), 0);
    osip_message_set_authorization(m, "Digest username=\"x\", realm=\"other\", nonce=\"1\", "
                                      "uri=\"sip:a\", response=\"0\"");
    osip_message_set_proxy_authorization(m, "Digest username=\"y\", realm=\"tandem\", "
                                            "nonce=\"1\", uri=\"sip:a\", response=\"0\"");
    assert_non_null(sip_auth_credentials(auth, m, user, sizeof user));
    assert_string_equal(user, "y");
    osip_message_free(m);
    assert_int_equal(osip_message_init(&m), 0);
    assert_null(sip_auth_credentials(auth, m, user, sizeof user));
    assert_string_equal(user, "");
    osip_message_free(m);
    sip_auth_destroy(&auth);
}

/* The client side: RFC 2617 3.5's challenge read from a 401 and answered
 * for GET /dir/index.html with its cnonce gives its response value. */
static void test_remote_rfc2617(void **state)
{
    (void)state;
    osip_message_t *m = NULL;
    assert_int_equal(osip_message_init(&m), 0);
    osip_message_set_status_code(m, 401);
    osip_message_set_www_authenticate(m, "Digest realm=\"testrealm@host.com\", "
                                         "qop=\"auth,auth-int\", "
                                         "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
                                         "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"");
    sip_auth_remote_t ch;
    assert_int_equal(sip_auth_remote_read(m, &ch), 0);
    assert_string_equal(ch.realm, "testrealm@host.com");
    assert_int_equal(ch.qop_auth, 1);
    assert_int_equal(ch.proxy, 0);
    char v[1024];
    assert_int_equal(sip_auth_remote_value(&ch, "GET", "/dir/index.html", "Mufasa",
                                           "Circle Of Life", "0a4f113b", v, sizeof v), 0);
    assert_non_null(strstr(v, "response=\"6629fae49393a05397450978507c4ef1\""));
    assert_non_null(strstr(v, "nc=00000001"));
    assert_non_null(strstr(v, "cnonce=\"0a4f113b\""));
    assert_non_null(strstr(v, "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
    /* the same nonce again: nc counts */
    assert_int_equal(sip_auth_remote_value(&ch, "GET", "/dir/index.html", "Mufasa",
                                           "Circle Of Life", "0a4f113b", v, sizeof v), 0);
    assert_non_null(strstr(v, "nc=00000002"));
    osip_message_free(m);

    /* no challenge, or one we cannot answer */
    assert_int_equal(osip_message_init(&m), 0);
    osip_message_set_status_code(m, 401);
    assert_int_equal(sip_auth_remote_read(m, &ch), -1);
    osip_message_set_www_authenticate(m, "Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess");
    assert_int_equal(sip_auth_remote_read(m, &ch), -1);
    osip_message_free(m);
}

/* Round trip: our own server's challenge in a 407, answered on a REGISTER
 * in Proxy-Authorization, passes our own verify; a wrong secret does not. */
static void test_remote_round_trip(void **state)
{
    (void)state;
    sip_auth_t *auth = sip_auth_new("tandem");
    osip_message_t *c = NULL, *req = NULL;
    assert_int_equal(osip_message_init(&c), 0);
    assert_int_equal(sip_auth_challenge(auth, c, &SRC, 0, NOW, NULL), 0);
    /* move the challenge to Proxy-Authenticate as a proxy would send it */
    char *w = NULL;
    osip_www_authenticate_t *wa = osip_list_get(&c->www_authenticates, 0);
    assert_int_equal(osip_www_authenticate_to_str(wa, &w), 0);
    osip_message_set_proxy_authenticate(c, w);
    osip_free(w);
    osip_message_set_status_code(c, 407);
    sip_auth_remote_t ch;
    assert_int_equal(sip_auth_remote_read(c, &ch), 0);
    assert_int_equal(ch.proxy, 1);
    for (int wrong = 0; wrong < 2; wrong++) {
        assert_int_equal(osip_message_init(&req), 0);
        osip_message_set_method(req, osip_strdup("REGISTER"));
        osip_uri_t *u = NULL;
        osip_uri_init(&u);
        osip_uri_parse(u, "sip:carrier.example");
        osip_message_set_uri(req, u);
        assert_int_equal(sip_auth_remote_answer(&ch, req, "1001", wrong ? "nope" : "pw"), 0);
        assert_int_equal(osip_list_size(&req->proxy_authorizations), 1);
        char user[64], ha1[33];
        osip_authorization_t *cred = sip_auth_credentials(auth, req, user, sizeof user);
        assert_non_null(cred);
        assert_string_equal(user, "1001");
        sip_auth_ha1("1001", "tandem", "pw", ha1);
        assert_int_equal(sip_auth_verify(auth, cred, req->req_uri, &SRC, "REGISTER", ha1, NULL, NOW),
                         wrong ? SIP_AUTH_FAILED : SIP_AUTH_OK);
        osip_message_free(req);
    }
    osip_message_free(c);
    sip_auth_destroy(&auth);
}

/* Our challenge offers SHA-256 then MD5 with one nonce (RFC 8760 2.4); the
 * client side picks SHA-256 and its answer passes verify; a second answer
 * with the same nonce and nc (a replay) is stale. */
static void test_challenge_two_algorithms(void **state)
{
    (void)state;
    sip_auth_t *auth = sip_auth_new("tandem");
    osip_message_t *c = NULL, *req = NULL;
    assert_int_equal(osip_message_init(&c), 0);
    assert_int_equal(sip_auth_challenge(auth, c, &SRC, 0, NOW, ALGS_BOTH), 0);
    osip_message_set_status_code(c, 401);
    assert_int_equal(osip_list_size(&c->www_authenticates), 2);
    osip_www_authenticate_t *w0 = osip_list_get(&c->www_authenticates, 0);
    osip_www_authenticate_t *w1 = osip_list_get(&c->www_authenticates, 1);
    assert_string_equal(osip_www_authenticate_get_algorithm(w0), "SHA-256");
    assert_string_equal(osip_www_authenticate_get_algorithm(w1), "MD5");
    assert_string_equal(osip_www_authenticate_get_nonce(w0), osip_www_authenticate_get_nonce(w1));
    sip_auth_remote_t ch;
    assert_int_equal(sip_auth_remote_read(c, &ch), 0);
    assert_int_equal(ch.alg, SIP_AUTH_SHA256);
    assert_int_equal(osip_message_init(&req), 0);
    osip_message_set_method(req, osip_strdup("REGISTER"));
    osip_uri_t *u = NULL;
    osip_uri_init(&u);
    osip_uri_parse(u, "sip:tandem.example");
    osip_message_set_uri(req, u);
    assert_int_equal(sip_auth_remote_answer(&ch, req, "1001", "pw"), 0);
    char user[64], ha1[33], ha1s[65];
    sip_auth_ha1("1001", "tandem", "pw", ha1);
    sip_auth_ha1_alg(SIP_AUTH_SHA256, "1001", "tandem", "pw", ha1s);
    osip_authorization_t *cred = sip_auth_credentials(auth, req, user, sizeof user);
    assert_non_null(cred);
    assert_string_equal(cred->algorithm, "SHA-256");
    assert_int_equal(strlen(cred->response), 66);           /* 64 hex digits, quoted */
    assert_int_equal(sip_auth_verify(auth, cred, req->req_uri, &SRC, "REGISTER", ha1, ha1s, NOW), SIP_AUTH_OK);
    assert_int_equal(sip_auth_verify(auth, cred, req->req_uri, &SRC, "REGISTER", ha1, ha1s, NOW), SIP_AUTH_STALE);
    osip_message_free(req);
    osip_message_free(c);
    sip_auth_destroy(&auth);
}

/* The client side: a carrier offering MD5 first and SHA-256 second is
 * answered with SHA-256 (RFC 7616 3.9.1's values); MD5 alone still works. */
static void test_remote_sha256(void **state)
{
    (void)state;
    osip_message_t *m = NULL;
    assert_int_equal(osip_message_init(&m), 0);
    osip_message_set_status_code(m, 401);
    osip_message_set_www_authenticate(m, "Digest realm=\"http-auth@example.org\", qop=\"auth\", "
                                         "algorithm=MD5, "
                                         "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\"");
    osip_message_set_www_authenticate(m, "Digest realm=\"http-auth@example.org\", qop=\"auth\", "
                                         "algorithm=SHA-256, "
                                         "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\"");
    sip_auth_remote_t ch;
    assert_int_equal(sip_auth_remote_read(m, &ch), 0);
    assert_int_equal(ch.alg, SIP_AUTH_SHA256);
    char v[1024];
    assert_int_equal(sip_auth_remote_value(&ch, "GET", "/dir/index.html", "Mufasa",
                                           "Circle of Life",
                                           "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                                           v, sizeof v), 0);
    assert_non_null(strstr(v, "response=\"753927fa0e85d155564e2e272a28d1802ca10daf"
                              "4496794697cf8db5856cb6c1\""));
    assert_non_null(strstr(v, "algorithm=SHA-256"));
    osip_message_free(m);
}

static osip_uri_t *s_uri(const char *text)
{
    osip_uri_t *u = NULL;
    assert_int_equal(osip_uri_init(&u), 0);
    assert_int_equal(osip_uri_parse(u, text), 0);
    return u;
}

/* RFC 2617 3.2.2.5: the digest uri must name the Request-URI. A sniffed
 * answer for one number sent to another is wrong whatever its hash: 403 on
 * the current nonce, a new challenge (not stale) on a used one. Parameters,
 * escapes, host and port (rewritten by proxies) do not matter. */
static void test_uri_mismatch(void **state)
{
    (void)state;
    sip_auth_t *auth = sip_auth_new("tandem");
    char nonce[SIP_AUTH_NONCE_LEN + 1], ha1[33];
    sip_auth_ha1("1001", "tandem", "1001pass", ha1);
    CRED_URI = "sip:2000@tandem.example";
    osip_uri_t *to2000 = s_uri("sip:2000@tandem.example");
    osip_uri_t *to900 = s_uri("sip:900123456@tandem.example");
    /* the current nonce, answered for 2000, sent to 900...: 403 */
    sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5, nonce, sizeof nonce);
    osip_authorization_t *a = s_cred(auth, "1001", "1001pass", "tandem", nonce, "INVITE", 0);
    assert_int_equal(sip_auth_verify(auth, a, to900, &SRC, "INVITE", ha1, NULL, NOW),
                     SIP_AUTH_FAILED);
    assert_string_equal(sip_auth_why(auth), "digest uri is not the Request-URI");
    /* the phone's own request still passes, then its replay elsewhere is
     * neither OK nor stale (stale=true would invite a silent retry) */
    assert_int_equal(sip_auth_verify(auth, a, to2000, &SRC, "INVITE", ha1, NULL, NOW),
                     SIP_AUTH_OK);
    assert_int_equal(sip_auth_verify(auth, a, to900, &SRC, "INVITE", ha1, NULL, NOW),
                     SIP_AUTH_NONCE);
    osip_authorization_free(a);
    /* the same number written differently still matches */
    static const struct { const char *ruri, *duri; int ok; } forms[] = {
        { "sip:2000@tandem.example:5060", "sip:2000@tandem.example", 1 },
        { "sip:2000@TANDEM.example;user=phone", "sip:2000@tandem.example;transport=udp", 1 },
        { "sip:%32000@tandem.example", "sip:2000@tandem.example", 1 },
        { "sip:2000@tandem.example", "sip:2000:pw@tandem.example:5060?x=y", 1 },
        /* a proxy in front rewrote the host and port: the number is the same */
        { "sip:2000@10.0.0.5:5070", "sip:2000@proxy.example", 1 },
        { "sip:2000@[::1]:5070", "sip:2000@[::1]:5070", 1 },
        { "sip:2000@tandem.example", "sips:2000@tandem.example", 0 },
        { "sip:2000@tandem.example", "sip:20000@tandem.example", 0 },
        { "sip:2000@tandem.example", "sip:200@tandem.example", 0 },
        /* one side names no user: the server, as sipp's [authentication]
         * writes it (uri="sip:SERVER:PORT"), which Asterisk accepts */
        { "sip:2000@tandem.example", "sip:tandem.example", 1 },
        { "sip:2000@10.0.0.5:5070", "sip:10.0.0.5:5070", 1 },
        { "sip:tandem.example", "sip:2000@tandem.example", 1 },
        { "sip:2000@tandem.example", "sip:@tandem.example", 0 },
        { "sip:2000@tandem.example", "tel:2000", 0 },
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        osip_uri_t *ru = s_uri(forms[i].ruri);
        CRED_URI = forms[i].duri;
        sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5, nonce, sizeof nonce);
        a = s_cred(auth, "1001", "1001pass", "tandem", nonce, "INVITE", 0);
        assert_int_equal(sip_auth_verify(auth, a, ru, &SRC, "INVITE", ha1, NULL, NOW),
                         forms[i].ok ? SIP_AUTH_OK : SIP_AUTH_FAILED);
        osip_authorization_free(a);
        osip_uri_free(ru);
    }
    CRED_URI = "sip:tandem.example";
    osip_uri_free(to2000);
    osip_uri_free(to900);
    sip_auth_destroy(&auth);
}

/* A nonce is bound to the address it was sent to (not the port: NAT). */
static void test_wrong_source(void **state)
{
    (void)state;
    sip_auth_t *auth = sip_auth_new("tandem");
    char nonce[SIP_AUTH_NONCE_LEN + 1], ha1[33];
    sip_auth_ha1("1001", "tandem", "1001pass", ha1);
    struct sockaddr_in other = SRC, moved = SRC;
    other.sin_addr.s_addr = htonl(0x7f000002);
    moved.sin_port = htons(40000);
    sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5, nonce, sizeof nonce);
    osip_authorization_t *a = s_cred(auth, "1001", "1001pass", "tandem", nonce, "REGISTER", 0);
    /* from elsewhere: not current; a right answer is stale, a wrong one a
     * new challenge, and the nonce is still good for its own phone */
    assert_int_equal(sip_auth_verify(auth, a, RURI, &other, "REGISTER", ha1, NULL, NOW),
                     SIP_AUTH_STALE);
    assert_string_equal(sip_auth_why(auth), "nonce not ours or minted for another address");
    assert_int_equal(sip_auth_verify(auth, a, RURI, &other, "REGISTER", NULL, NULL, NOW),
                     SIP_AUTH_NONCE);
    /* from the same address through another NAT port: fine */
    assert_int_equal(sip_auth_verify(auth, a, RURI, &moved, "REGISTER", ha1, NULL, NOW),
                     SIP_AUTH_OK);
    osip_authorization_free(a);
    sip_auth_destroy(&auth);
}

/* qop=auth: each nc once and rising; no qop: the nonce answers one request. */
static void test_nc_and_one_time(void **state)
{
    (void)state;
    sip_auth_t *auth = sip_auth_new("tandem");
    char nonce[SIP_AUTH_NONCE_LEN + 1], ha1[33];
    sip_auth_ha1("1001", "tandem", "1001pass", ha1);
    sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5, nonce, sizeof nonce);
    static const struct { const char *nc; sip_auth_result_t want; } steps[] = {
        { "00000001", SIP_AUTH_OK }, { "00000001", SIP_AUTH_STALE },
        { "00000003", SIP_AUTH_OK }, { "00000002", SIP_AUTH_STALE },
        { "00000003", SIP_AUTH_STALE }, { "00000004", SIP_AUTH_OK },
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        osip_authorization_t *a = s_cred_alg(SIP_AUTH_MD5, "1001", "1001pass", "tandem", nonce,
                                             "INVITE", steps[i].nc, 0);
        assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "INVITE", ha1, NULL, NOW + 1),
                         steps[i].want);
        osip_authorization_free(a);
    }
    assert_string_equal(sip_auth_why(auth), "ok");
    osip_authorization_t *a = s_cred_alg(SIP_AUTH_MD5, "1001", "1001pass", "tandem", nonce,
                                         "INVITE", "00000004", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "INVITE", ha1, NULL, NOW + 1),
                     SIP_AUTH_STALE);
    assert_string_equal(sip_auth_why(auth), "nc not above the last one (a replay)");
    osip_authorization_free(a);
    /* no qop */
    sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5, nonce, sizeof nonce);
    a = s_cred_alg(SIP_AUTH_MD5, "1001", "1001pass", "tandem", nonce, "INVITE", NULL, 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "INVITE", ha1, NULL, NOW), SIP_AUTH_OK);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "INVITE", ha1, NULL, NOW),
                     SIP_AUTH_STALE);
    assert_string_equal(sip_auth_why(auth), "nonce already used (no qop: one request)");
    osip_authorization_free(a);
    /* and a qop answer cannot revive a nonce used without qop */
    a = s_cred_alg(SIP_AUTH_MD5, "1001", "1001pass", "tandem", nonce, "INVITE", "00000009", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "INVITE", ha1, NULL, NOW),
                     SIP_AUTH_STALE);
    osip_authorization_free(a);
    sip_auth_destroy(&auth);
}

/* nonce_lifetime: a right answer after it is stale (stale=true), a wrong
 * one a plain new challenge; the lifetime is configurable. */
static void test_stale_lifetime(void **state)
{
    (void)state;
    sip_auth_t *auth = sip_auth_new("tandem");
    assert_int_equal(sip_auth_lifetime(auth), SIP_AUTH_NONCE_TTL);
    sip_auth_set_lifetime(auth, 5);
    assert_int_equal(sip_auth_lifetime(auth), 5);
    char nonce[SIP_AUTH_NONCE_LEN + 1], ha1[33];
    sip_auth_ha1("1001", "tandem", "1001pass", ha1);
    sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5, nonce, sizeof nonce);
    osip_authorization_t *a = s_cred(auth, "1001", "1001pass", "tandem", nonce, "REGISTER", 0);
    osip_authorization_t *w = s_cred(auth, "1001", "wrong", "tandem", nonce, "REGISTER", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, NULL, NOW + 6),
                     SIP_AUTH_STALE);
    assert_string_equal(sip_auth_why(auth), "nonce expired");
    assert_int_equal(sip_auth_verify(auth, w, RURI, &SRC, "REGISTER", ha1, NULL, NOW + 6),
                     SIP_AUTH_NONCE);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, NULL, NOW + 5),
                     SIP_AUTH_OK);
    osip_authorization_free(a);
    osip_authorization_free(w);
    sip_auth_set_lifetime(auth, 0);
    assert_int_equal(sip_auth_lifetime(auth), SIP_AUTH_NONCE_TTL);
    sip_auth_destroy(&auth);
}

/* The failure hook sees every wrong answer (the ban part counts them), with
 * the source and user, and no right one. */
typedef struct {
    int n;
    char user[32], why[64];
    in_addr_t addr;
} s_failures_t;

static void s_on_failure(void *arg, const struct sockaddr_in *from, const char *user,
                         const char *method, const char *why)
{
    s_failures_t *f = arg;
    f->n++;
    snprintf(f->user, sizeof f->user, "%s", user);
    snprintf(f->why, sizeof f->why, "%s", why);
    f->addr = from ? from->sin_addr.s_addr : 0;
    assert_string_equal(method, "REGISTER");
}

static void test_failure_hook(void **state)
{
    (void)state;
    sip_auth_t *auth = sip_auth_new("tandem");
    s_failures_t f = { 0 };
    sip_auth_set_on_failure(auth, s_on_failure, &f);
    char nonce[SIP_AUTH_NONCE_LEN + 1], ha1[33];
    sip_auth_ha1("1001", "tandem", "1001pass", ha1);
    sip_auth_nonce(auth, &SRC, NOW, SIP_AUTH_MD5, nonce, sizeof nonce);
    osip_authorization_t *a = s_cred(auth, "7777", "x", "tandem", nonce, "REGISTER", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", NULL, NULL, NOW),
                     SIP_AUTH_FAILED);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.user, "7777");
    assert_string_equal(f.why, "unknown user");
    assert_int_equal(f.addr, SRC.sin_addr.s_addr);
    /* a wrong guess on a stale nonce counts too */
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", NULL, NULL, NOW + 100),
                     SIP_AUTH_NONCE);
    assert_int_equal(f.n, 2);
    osip_authorization_free(a);
    /* a right answer, even to a stale nonce, does not */
    a = s_cred(auth, "1001", "1001pass", "tandem", nonce, "REGISTER", 0);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, NULL, NOW + 100),
                     SIP_AUTH_STALE);
    assert_int_equal(sip_auth_verify(auth, a, RURI, &SRC, "REGISTER", ha1, NULL, NOW),
                     SIP_AUTH_OK);
    assert_int_equal(f.n, 2);
    osip_authorization_free(a);
    sip_auth_on_failure(auth, &SRC, "1001", "REGISTER", "username mismatch");
    assert_int_equal(f.n, 3);
    sip_auth_destroy(&auth);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc2617_example),
        cmocka_unit_test(test_rfc2069_form),
        cmocka_unit_test(test_rfc7616_example),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_verify_sha256),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_uri_mismatch),
        cmocka_unit_test(test_wrong_source),
        cmocka_unit_test(test_nc_and_one_time),
        cmocka_unit_test(test_stale_lifetime),
        cmocka_unit_test(test_failure_hook),
        cmocka_unit_test(test_table_bound),
        cmocka_unit_test(test_challenge_two_algorithms),
        cmocka_unit_test(test_remote_sha256),
        cmocka_unit_test(test_challenge_and_credentials),
        cmocka_unit_test(test_remote_rfc2617),
        cmocka_unit_test(test_remote_round_trip),
    };
    return cmocka_run_group_tests_name("sip_auth", tests, setup, NULL);
}
