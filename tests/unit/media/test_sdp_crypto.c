/* test_sdp_crypto - the a=crypto reader (RFC 4568) against what chan_sip's
 * res_srtp accepts, table-driven: each line is either taken (tag, suite,
 * key) or ignored; then whole offers and answers, each answered as chan_sip
 * answers it (0: call goes on, 488: refused); then SRTP round trips through
 * sdes (libsrtp2): a packet protected with one side's key unprotects with
 * it, a tampered or replayed one does not. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sdes.h"
#include "sdp.h"
#include "sdp_crypto.h"

/* bytes 0..29 and 30..59 */
#define KEY  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
#define KEY2 "Hh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7"
#define S80 "AES_CM_128_HMAC_SHA1_80"
#define S32 "AES_CM_128_HMAC_SHA1_32"

typedef struct {
    const char *line;      /* the value after "a=crypto:" */
    int ok;                /* 1: taken; 0: ignored (chan_sip's process_crypto FALSE) */
    uint32_t tag;
    int taglen;
    int key2;              /* the key is KEY2, else KEY */
} line_row_t;

static const line_row_t s_lines[] = {
    /* good lines */
    { "1 " S80 " inline:" KEY, 1, 1, 80, 0 },
    { "2 " S32 " inline:" KEY2, 1, 2, 32, 1 },
    { "999999999 " S80 " inline:" KEY, 1, 999999999, 80, 0 },
    { "0 " S80 " inline:" KEY, 1, 0, 80, 0 },
    /* lifetime and MKI forms */
    { "1 " S80 " inline:" KEY "|2^31", 1, 1, 80, 0 },
    { "1 " S80 " inline:" KEY "|2^20|1:4", 1, 1, 80, 0 },
    { "1 " S80 " inline:" KEY "|1:4", 1, 1, 80, 0 },          /* MKI, no lifetime */
    { "1 " S80 " inline:" KEY "|2^60", 1, 1, 80, 0 },         /* capped at 2^48 */
    { "1 " S80 " inline:" KEY "|1048576", 1, 1, 80, 0 },      /* 2^20, decimal */
    { "1 " S80 " inline:" KEY "|1048575", 0, 0, 0, 0 },       /* below 2^20 */
    { "1 " S80 " inline:" KEY "|2^19", 0, 0, 0, 0 },
    { "1 " S80 " inline:" KEY "|2^x", 0, 0, 0, 0 },           /* unreadable lifetime */
    { "1 " S80 " inline:" KEY "|2:4", 0, 0, 0, 0 },           /* MKI 2: not supported */
    { "1 " S80 " inline:" KEY "|2^20|3:4", 0, 0, 0, 0 },
    /* several key-params: the first usable one */
    { "1 " S80 " inline:" KEY "|1000;inline:" KEY2, 1, 1, 80, 1 },
    { "1 " S80 " uri:http://example.com/k;inline:" KEY2, 1, 1, 80, 1 },
    /* missing inline: / key */
    { "1 " S80 " " KEY, 0, 0, 0, 0 },
    { "1 " S80 " uri:http://example.com/k", 0, 0, 0, 0 },
    { "1 " S80, 0, 0, 0, 0 },
    { "1 " S80 " ", 0, 0, 0, 0 },
    { "1 " S80 " inline:", 0, 0, 0, 0 },
    /* unknown suites */
    { "1 F8_128_HMAC_SHA1_80 inline:" KEY, 0, 0, 0, 0 },
    { "1 AES_256_CM_HMAC_SHA1_80 inline:" KEY, 0, 0, 0, 0 },
    { "1 AEAD_AES_128_GCM inline:" KEY, 0, 0, 0, 0 },
    { "1 aes_cm_128_hmac_sha1_80 inline:" KEY, 0, 0, 0, 0 },  /* chan_sip: strcmp */
    /* wrong key length, bad base64 */
    { "1 " S80 " inline:AAECAwQF", 0, 0, 0, 0 },
    { "1 " S80 " inline:" KEY "AAAA", 0, 0, 0, 0 },
    { "1 " S80 " inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBka!!wd", 0, 0, 0, 0 },
    { "1 " S80 " inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw=", 0, 0, 0, 0 },
    /* tags */
    { "abc " S80 " inline:" KEY, 0, 0, 0, 0 },
    { "-1 " S80 " inline:" KEY, 0, 0, 0, 0 },
    { "1234567890 " S80 " inline:" KEY, 0, 0, 0, 0 },     /* 10 digits */
    { " 1 " S80 " inline:" KEY, 0, 0, 0, 0 },             /* empty tag (strsep) */
    { "1", 0, 0, 0, 0 },
    { "", 0, 0, 0, 0 },
    /* session parameters: chan_sip supports none */
    { "1 " S80 " inline:" KEY " UNENCRYPTED_SRTP", 0, 0, 0, 0 },
    { "1 " S80 " inline:" KEY " KDR=1", 0, 0, 0, 0 },
};

static void test_line_table(void **state)
{
    (void)state;
    uint8_t key[30], key2[30];
    for (int i = 0; i < 30; i++) {
        key[i] = (uint8_t)i;
        key2[i] = (uint8_t)(30 + i);
    }
    for (size_t i = 0; i < sizeof s_lines / sizeof s_lines[0]; i++) {
        const line_row_t *r = &s_lines[i];
        sdp_crypto_t c;
        memset(&c, 0xAA, sizeof c);
        const char *why = NULL;
        int rc = sdp_crypto_parse(r->line, strlen(r->line), &c, &why);
        if ((rc == 0) != r->ok)
            fail_msg("row %zu '%s': %s", i, r->line, rc == 0 ? "taken" : why);
        /* what chan_sip answers an offer with this line alone: a usable
         * line is taken (SRTP), an unusable one is ignored, and then the
         * offer is refused with 488 under RTP/SAVP and under RTP/AVP alike
         * (its SRTP state was made at the line: see sdp_crypto_offer_status) */
        for (int savp = 0; savp < 2; savp++) {
            char sdp[512], err[128];
            snprintf(sdp, sizeof sdp, "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\n"
                     "c=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 %s 0\r\na=crypto:%s\r\n",
                     savp ? "RTP/SAVP" : "RTP/AVP", r->line);
            sdp_media_t m;
            assert_int_equal(sdp_parse(sdp, strlen(sdp), &m, err, sizeof err), 0);
            if (sdp_crypto_offer_status(&m, 0) != (r->ok ? 0 : 488) || m.crypto_ok != r->ok)
                fail_msg("row %zu '%s' under %s: status %d", i, r->line,
                         savp ? "RTP/SAVP" : "RTP/AVP", sdp_crypto_offer_status(&m, 0));
        }
        if (!r->ok) {
            assert_non_null(why);
            continue;
        }
        assert_int_equal(c.tag, r->tag);
        assert_int_equal(c.taglen, r->taglen);
        assert_memory_equal(c.key, r->key2 ? key2 : key, 30);
    }
}

static void test_format_and_base64(void **state)
{
    (void)state;
    sdp_crypto_t c = { .tag = 7, .taglen = 32 };
    for (int i = 0; i < 30; i++)
        c.key[i] = (uint8_t)i;
    char line[SDP_CRYPTO_LINE_MAX];
    assert_true(sdp_crypto_format(&c, line, sizeof line) > 0);
    assert_string_equal(line, "7 " S32 " inline:" KEY);
    sdp_crypto_t back;
    assert_int_equal(sdp_crypto_parse(line, strlen(line), &back, NULL), 0);
    assert_memory_equal(&back, &c, sizeof c);
    char small[20];
    assert_int_equal(sdp_crypto_format(&c, small, sizeof small), -1);

    char b64[16];
    uint8_t out[8];
    assert_int_equal(sdp_base64_encode((const uint8_t *)"ab", 2, b64, sizeof b64), 4);
    assert_string_equal(b64, "YWI=");
    assert_int_equal(sdp_base64_decode("YWI=", 4, out, sizeof out), 2);
    assert_int_equal(sdp_base64_decode("YWI", 3, out, sizeof out), 2);
    assert_int_equal(sdp_base64_decode("Y", 1, out, sizeof out), -1);
    assert_int_equal(sdp_base64_decode("YW=I", 4, out, sizeof out), -1);
    assert_int_equal(sdp_base64_decode("YWJjZGVmZ2hp", 12, out, sizeof out), -1);  /* 9 > 8 */

    uint8_t k1[30], k2[30];
    assert_int_equal(sdp_crypto_random_key(k1), 0);
    assert_int_equal(sdp_crypto_random_key(k2), 0);
    assert_memory_not_equal(k1, k2, 30);
}

/* ---- whole offers and answers ---------------------------------------------- */

#define HEAD "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
#define SAVP "m=audio 4000 RTP/SAVP 0 101\r\n"
#define AVP  "m=audio 4000 RTP/AVP 0 101\r\n"
#define GOOD "a=crypto:1 " S80 " inline:" KEY "\r\n"
#define GOOD2 "a=crypto:2 " S32 " inline:" KEY2 "\r\n"
#define BAD  "a=crypto:1 F8_128_HMAC_SHA1_80 inline:" KEY "\r\n"

typedef struct {
    const char *name;
    const char *sdp;
    int encryption;        /* the caller's sip.conf encryption= */
    int status;            /* sdp_crypto_offer_status: 0 or 488 */
    int srtp;              /* 0 plain, else the tag taken */
} offer_row_t;

static const offer_row_t s_offers[] = {
    { "SAVP, one good line", HEAD SAVP GOOD, 0, 0, 1 },
    { "SAVP, one good line, encryption=yes", HEAD SAVP GOOD, 1, 0, 1 },
    { "SAVP, bad then good: the good one", HEAD SAVP BAD GOOD2, 0, 0, 2 },
    { "SAVP, two good: the first (offer order)", HEAD SAVP GOOD2 GOOD, 0, 0, 2 },
    { "SAVP without a=crypto", HEAD SAVP, 0, 488, 0 },
    { "SAVP with an unusable line only", HEAD SAVP BAD, 0, 488, 0 },
    { "SAVPF with an unusable line only", HEAD "m=audio 4000 RTP/SAVPF 0\r\n" BAD, 0, 488, 0 },
    { "DTLS profile (not supported)", HEAD "m=audio 4000 UDP/TLS/RTP/SAVP 0\r\n", 0, 488, 0 },
    { "AVP with a good line: taken anyway", HEAD AVP GOOD, 0, 0, 1 },
    { "AVP with an unusable line: chan_sip refuses", HEAD AVP BAD, 0, 488, 0 },
    { "AVP plain", HEAD AVP, 0, 0, 0 },
    { "AVP plain, encryption=yes", HEAD AVP, 1, 488, 0 },
    { "a=crypto in a video section only", HEAD AVP "m=video 4002 RTP/SAVP 96\r\n" GOOD, 0, 0, 0 },
    { "a=crypto before m=audio (session level)", HEAD GOOD AVP, 0, 0, 0 },
};

static void test_offer_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_offers / sizeof s_offers[0]; i++) {
        const offer_row_t *r = &s_offers[i];
        sdp_media_t m;
        char err[128];
        if (sdp_parse(r->sdp, strlen(r->sdp), &m, err, sizeof err) < 0)
            fail_msg("%s: does not parse: %s", r->name, err);
        int st = sdp_crypto_offer_status(&m, r->encryption);
        if (st != r->status)
            fail_msg("%s: status %d, expected %d", r->name, st, r->status);
        if (r->srtp) {
            assert_true(m.crypto_ok);
            assert_int_equal(m.crypto.tag, r->srtp);
        } else if (st == 0) {
            assert_false(m.crypto_ok);
        }
    }
}

static void test_answer_status(void **state)
{
    (void)state;
    sdp_media_t m;
    char err[128];
    assert_int_equal(sdp_parse(HEAD SAVP GOOD, strlen(HEAD SAVP GOOD), &m, err, sizeof err), 0);
    assert_int_equal(sdp_crypto_answer_status(&m, 1), 0);
    assert_int_equal(sdp_crypto_answer_status(&m, 0), -1);     /* SAVP, not offered */
    assert_int_equal(sdp_parse(HEAD AVP GOOD, strlen(HEAD AVP GOOD), &m, err, sizeof err), 0);
    assert_int_equal(sdp_crypto_answer_status(&m, 0), 0);      /* ignored */
    assert_int_equal(sdp_crypto_answer_status(&m, 1), 0);      /* accepted anyway */
    assert_int_equal(sdp_parse(HEAD AVP, strlen(HEAD AVP), &m, err, sizeof err), 0);
    assert_int_equal(sdp_crypto_answer_status(&m, 1), -1);     /* required, missing */
    assert_int_equal(sdp_parse(HEAD SAVP BAD, strlen(HEAD SAVP BAD), &m, err, sizeof err), 0);
    assert_int_equal(sdp_crypto_answer_status(&m, 1), -1);
}

/* The worker's rewrite drops the other side's keys; sdp_set_crypto puts
 * its own and sets the profile. */
static void test_rewrite_and_set(void **state)
{
    (void)state;
    const char *offer = HEAD SAVP GOOD "a=rtpmap:101 telephone-event/8000\r\n"
                        "m=video 0 RTP/SAVP 96\r\n";
    char out[1024], out2[1024], err[128];
    uint8_t keep[] = { 0, 101 };
    assert_true(sdp_answer(offer, strlen(offer), "192.0.2.1", 20000, keep, 2, out, sizeof out,
                           err, sizeof err) > 0);
    assert_null(strstr(out, "a=crypto"));
    assert_non_null(strstr(out, "m=audio 20000 RTP/SAVP 0 101\r\n"));
    assert_true(sdp_set_crypto(out, strlen(out), 1, "1 " S80 " inline:" KEY2, out2,
                               sizeof out2) > 0);
    assert_non_null(strstr(out2, "a=rtpmap:101 telephone-event/8000\r\na=crypto:1 " S80
                                 " inline:" KEY2 "\r\nm=video"));
    /* to plain: profile back to RTP/AVP, a=crypto gone */
    assert_true(sdp_set_crypto(out2, strlen(out2), 0, NULL, out, sizeof out) > 0);
    assert_non_null(strstr(out, "m=audio 20000 RTP/AVP 0 101\r\n"));
    assert_null(strstr(out, "a=crypto"));
    /* the worker's own offer, audio last, no final line end */
    const char *plain = HEAD "m=audio 30000 RTP/AVP 0\r\na=sendrecv";
    assert_true(sdp_set_crypto(plain, strlen(plain), 1, "1 " S80 " inline:" KEY, out,
                               sizeof out) > 0);
    assert_non_null(strstr(out, "m=audio 30000 RTP/SAVP 0\r\na=sendrecv\r\na=crypto:1 "));
    /* no m=audio, no room */
    assert_int_equal(sdp_set_crypto(HEAD, strlen(HEAD), 1, NULL, out, sizeof out), -1);
    assert_int_equal(sdp_set_crypto(offer, strlen(offer), 1, NULL, out, 10), -1);
}

/* ---- SRTP through libsrtp2 ----------------------------------------------------- */

static size_t s_rtp(uint8_t *buf, uint16_t seq)
{
    memset(buf, 0, 12 + 160);
    buf[0] = 0x80;
    buf[1] = 0;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    buf[8] = 0x12;
    buf[11] = 0x34;                       /* SSRC */
    for (int i = 0; i < 160; i++)
        buf[12 + i] = (uint8_t)(i * 7 + seq);
    return 12 + 160;
}

/* libsrtp starts once, at the worker's start (sdes_init): a second call does
 * nothing, and sdes_new then has nothing left to start. */
static void test_sdes_init_once(void **state)
{
    (void)state;
    assert_int_equal(sdes_init(), 0);
    assert_int_equal(sdes_init(), 0);
    sdes_t *side = sdes_new();
    assert_non_null(side);
    sdes_destroy(&side);
}

static void test_sdes_round_trip(void **state)
{
    (void)state;
    for (int taglen = 32; taglen <= 80; taglen += 48) {
        sdes_t *phone = sdes_new(), *worker = sdes_new();
        assert_non_null(phone);
        assert_non_null(worker);
        assert_int_equal(sdes_active(worker), 0);
        assert_int_equal(sdes_start(phone, taglen, sdes_local_key(worker)), 0);
        assert_int_equal(sdes_start(worker, taglen, sdes_local_key(phone)), 0);
        assert_int_equal(sdes_active(worker), taglen);
        assert_int_equal(sdes_start(worker, taglen, sdes_local_key(phone)), 0);   /* same: kept */

        uint8_t buf[256], plain[256], copy[256];
        size_t len = s_rtp(buf, 1), clen;
        memcpy(plain, buf, len);
        int why;
        assert_int_equal(sdes_protect(phone, buf, &len, sizeof buf, 0), 0);
        assert_int_equal(len, 172 + (taglen == 32 ? 4 : 10));
        memcpy(copy, buf, len);
        clen = len;
        assert_int_equal(sdes_unprotect(worker, buf, &len, 0, &why), 0);
        assert_int_equal(len, 172);
        assert_memory_equal(buf, plain, 172);
        /* replayed */
        assert_int_equal(sdes_unprotect(worker, copy, &clen, 0, &why), -1);
        assert_int_equal(why, 2);
        /* tampered tag */
        len = s_rtp(buf, 2);
        assert_int_equal(sdes_protect(phone, buf, &len, sizeof buf, 0), 0);
        buf[len - 1] ^= 1;
        assert_int_equal(sdes_unprotect(worker, buf, &len, 0, &why), -1);
        assert_int_equal(why, 1);
        /* the good packet 2 still goes through after the bad one */
        len = s_rtp(buf, 3);
        assert_int_equal(sdes_protect(phone, buf, &len, sizeof buf, 0), 0);
        assert_int_equal(sdes_unprotect(worker, buf, &len, 0, &why), 0);
        /* garbage, too short */
        len = 5;
        assert_int_equal(sdes_unprotect(worker, buf, &len, 0, &why), -1);
        /* the other way, and SRTCP (80-bit tag with either suite) */
        uint8_t rtcp[64] = { 0x81, 200, 0, 6, 0, 0, 0x12, 0x34 };
        len = 28;
        assert_int_equal(sdes_protect(worker, rtcp, &len, sizeof rtcp, 1), 0);
        assert_int_equal(len, 28 + 4 + 10);
        assert_int_equal(sdes_unprotect(phone, rtcp, &len, 1, &why), 0);
        assert_int_equal(len, 28);
        /* the phone's new key (a re-INVITE): what it sends unprotects with
         * the new one, what the worker sends still unprotects at the phone */
        sdes_t *phone2 = sdes_new();
        assert_non_null(phone2);
        assert_int_equal(sdes_start(phone2, taglen, sdes_local_key(worker)), 0);
        assert_int_equal(sdes_start(worker, taglen, sdes_local_key(phone2)), 0);
        len = s_rtp(buf, 10);
        assert_int_equal(sdes_protect(phone2, buf, &len, sizeof buf, 0), 0);
        assert_int_equal(sdes_unprotect(worker, buf, &len, 0, &why), 0);
        len = s_rtp(buf, 11);
        buf[11] = 0x99;                       /* another SSRC */
        assert_int_equal(sdes_protect(worker, buf, &len, sizeof buf, 0), 0);
        assert_int_equal(sdes_unprotect(phone, buf, &len, 0, &why), 0);
        sdes_destroy(&phone2);
        /* many SSRCs through one protecting context: the oldest streams
         * give way (ASan would see a leak), and the newest still work */
        for (int k = 0; k < 40; k++) {
            len = s_rtp(buf, (uint16_t)(20 + k));
            buf[10] = (uint8_t)k;
            assert_int_equal(sdes_protect(worker, buf, &len, sizeof buf, 0), 0);
            assert_int_equal(sdes_unprotect(phone, buf, &len, 0, &why), 0);
        }
        /* no room for the trailer */
        len = s_rtp(buf, 4);
        assert_int_equal(sdes_protect(phone, buf, &len, len + 4, 0), -1);
        sdes_stop(worker);
        assert_int_equal(sdes_active(worker), 0);
        sdes_destroy(&phone);
        sdes_destroy(&worker);
        assert_null(worker);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_table),
        cmocka_unit_test(test_format_and_base64),
        cmocka_unit_test(test_offer_table),
        cmocka_unit_test(test_answer_status),
        cmocka_unit_test(test_rewrite_and_set),
        cmocka_unit_test(test_sdes_init_once),
        cmocka_unit_test(test_sdes_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
