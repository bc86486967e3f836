/* test_g711 - µ-law and A-law against G.711 reference points, round trips
 * and the block functions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "g711.h"

static void test_reference_points(void **state)
{
    (void)state;
    /* Silence. */
    assert_int_equal(g711_ulaw_encode(0), 0xFF);
    assert_int_equal(g711_alaw_encode(0), 0xD5);
    assert_int_equal(g711_ulaw_decode(0xFF), 0);
    assert_int_equal(g711_ulaw_decode(0x7F), 0);          /* "negative zero" */
    assert_int_equal(g711_alaw_decode(0xD5), 8);          /* A-law has no zero: half a step */
    assert_int_equal(g711_alaw_decode(0x55), -8);
    /* Full scale. */
    assert_int_equal(g711_ulaw_encode(32767), 0x80);
    assert_int_equal(g711_ulaw_encode(-32768), 0x00);
    assert_int_equal(g711_ulaw_decode(0x80), 32124);
    assert_int_equal(g711_ulaw_decode(0x00), -32124);
    assert_int_equal(g711_alaw_encode(32767), 0xAA);
    assert_int_equal(g711_alaw_encode(-32768), 0x2A);
    assert_int_equal(g711_alaw_decode(0xAA), 32256);
    assert_int_equal(g711_alaw_decode(0x2A), -32256);
    /* Segment edges (µ-law: magnitude + 132 crosses a power of two). */
    assert_int_equal(g711_ulaw_encode(123), 0xF0);      /* 255: last of segment 0 */
    assert_int_equal(g711_ulaw_encode(124), 0xEF);      /* 256: first of segment 1 */
    assert_int_equal(g711_ulaw_decode(0xEF), 132);
    assert_int_equal(g711_alaw_decode(0xD4), 24);       /* second step of segment 0 */
    assert_int_equal(g711_alaw_encode(255), 0xDA);      /* 31 >> 1: last of segment 1 */
    assert_int_equal(g711_alaw_encode(256), 0xC5);      /* segment 2 */
}

static void test_every_code_round_trips(void **state)
{
    (void)state;
    /* Decoding then encoding gives the code back (except µ-law's two zeros). */
    for (int c = 0; c < 256; c++) {
        if (c != 0x7F)
            assert_int_equal(g711_ulaw_encode(g711_ulaw_decode((uint8_t)c)), c);
        assert_int_equal(g711_alaw_encode(g711_alaw_decode((uint8_t)c)), c);
    }
    /* Decoded values grow with the code within each sign. */
    for (int c = 0x80; c < 0xFF; c++)
        assert_true(g711_ulaw_decode((uint8_t)c) > g711_ulaw_decode((uint8_t)(c + 1)));
}

static void test_round_trip_error_is_bounded(void **state)
{
    (void)state;
    for (int x = -32768; x <= 32767; x++) {
        int ax = abs(x);
        int eu = abs(g711_ulaw_decode(g711_ulaw_encode((int16_t)x)) - x);
        int ea = abs(g711_alaw_decode(g711_alaw_encode((int16_t)x)) - x);
        /* Half a step: step = 2^(segment+3) with (|x|+132) >= 2^(segment+7). */
        if (ax <= 32635)
            assert_true(eu <= (ax + 132) / 32 + 1);
        else
            assert_true(eu <= 32768 - 32124);                /* clipped */
        /* A-law: step 16 below 512, then |x|/32 or so. */
        assert_true(ea <= (ax < 512 ? 16 : ax / 16 + 8));
    }
}

static void test_blocks_match_samples(void **state)
{
    (void)state;
    int16_t in[1024], back[1024];
    uint8_t u[1024], a[1024];
    for (int i = 0; i < 1024; i++)
        in[i] = (int16_t)(i * 64 - 32768 + (i % 7));
    g711_encode(G711_PT_PCMU, in, u, 1024);
    g711_encode(G711_PT_PCMA, in, a, 1024);
    for (int i = 0; i < 1024; i++) {
        assert_int_equal(u[i], g711_ulaw_encode(in[i]));
        assert_int_equal(a[i], g711_alaw_encode(in[i]));
    }
    g711_decode(G711_PT_PCMU, u, back, 1024);
    for (int i = 0; i < 1024; i++)
        assert_int_equal(back[i], g711_ulaw_decode(u[i]));
    g711_decode(G711_PT_PCMA, a, back, 1024);
    for (int i = 0; i < 1024; i++)
        assert_int_equal(back[i], g711_alaw_decode(a[i]));
}

/* The farther of a code's two neighbouring levels in its law: a value
 * within this of the code's level is the level itself or a neighbour. */
static int s_gap(int pt, int code)
{
    int v = pt == G711_PT_PCMA ? g711_alaw_decode((uint8_t)code) : g711_ulaw_decode((uint8_t)code);
    int below = 1 << 16, above = 1 << 16;
    for (int c = 0; c < 256; c++) {
        int w = pt == G711_PT_PCMA ? g711_alaw_decode((uint8_t)c) : g711_ulaw_decode((uint8_t)c);
        if (w < v && v - w < below)
            below = v - w;
        if (w > v && w - v < above)
            above = w - v;
    }
    below = below == 1 << 16 ? 0 : below;
    above = above == 1 << 16 ? 0 : above;
    return below > above ? below : above;
}

/* The law-to-law tables: every one of the 256 codes as Asterisk's
 * codec_a_mu converts it (decode, encode in the other law; Asterisk does
 * not use G.711's direct conversion tables, which make A -> µ -> A exact); a
 * round trip through the other law comes back to the code (240 of 256) or
 * to a neighbouring level; silence stays silence. */
static void test_law_to_law_tables(void **state)
{
    (void)state;
    const uint8_t *u2a = g711_table(G711_PT_PCMU, G711_PT_PCMA);
    const uint8_t *a2u = g711_table(G711_PT_PCMA, G711_PT_PCMU);
    assert_non_null(u2a);
    assert_non_null(a2u);
    assert_null(g711_table(G711_PT_PCMU, G711_PT_PCMU));
    assert_null(g711_table(G711_PT_PCMA, G711_PT_PCMA));
    assert_null(g711_table(18, G711_PT_PCMA));
    int same_a = 0, same_u = 0;
    for (int c = 0; c < 256; c++) {
        assert_int_equal(u2a[c], g711_alaw_encode(g711_ulaw_decode((uint8_t)c)));
        assert_int_equal(a2u[c], g711_ulaw_encode(g711_alaw_decode((uint8_t)c)));
        int a = u2a[a2u[c]], u = a2u[u2a[c]];
        same_a += a == c;
        same_u += u == c;
        assert_true(abs(g711_alaw_decode((uint8_t)a) - g711_alaw_decode((uint8_t)c))
                    <= s_gap(G711_PT_PCMA, c));
        assert_true(abs(g711_ulaw_decode((uint8_t)u) - g711_ulaw_decode((uint8_t)c))
                    <= s_gap(G711_PT_PCMU, c));
        /* The sign survives (µ-law's two zeros become A-law's +8 / -8). */
        if (g711_ulaw_decode((uint8_t)c) != 0)
            assert_int_equal(g711_ulaw_decode((uint8_t)c) > 0, g711_alaw_decode(u2a[c]) > 0);
        assert_int_equal(g711_alaw_decode((uint8_t)c) > 0, g711_ulaw_decode(a2u[c]) > 0);
    }
    assert_int_equal(same_a, 240);
    assert_int_equal(same_u, 240);
    assert_int_equal(u2a[0xFF], 0xD5);            /* silence */
    assert_int_equal(a2u[0xD5], 0xFE);            /* +8: the level next to zero */
    assert_int_equal(u2a[0x80], 0xAA);            /* full scale */
    assert_int_equal(a2u[0xAA], 0x80);
    assert_int_equal(u2a[0x00], 0x2A);
    assert_int_equal(a2u[0x2A], 0x00);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_points),
        cmocka_unit_test(test_every_code_round_trips),
        cmocka_unit_test(test_round_trip_error_is_bounded),
        cmocka_unit_test(test_blocks_match_samples),
        cmocka_unit_test(test_law_to_law_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
