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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_points),
        cmocka_unit_test(test_every_code_round_trips),
        cmocka_unit_test(test_round_trip_error_is_bounded),
        cmocka_unit_test(test_blocks_match_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
