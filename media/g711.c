/* g711 - µ-law and A-law; see g711.h. Written from the G.711 segment
 * description: a sign bit, a 3-bit segment (exponent) and a 4-bit step
 * within it; µ-law biases the magnitude by 132 so every segment starts on a
 * power of two, and inverts all bits; A-law has a linear first two segments
 * and inverts the even bits (XOR 0x55). */
#include "g711.h"

#define ULAW_BIAS 0x84      /* 132 */
#define ULAW_CLIP 32635     /* largest magnitude that still fits after the bias */

/* Encoders by the sample's 16 bits (64 KiB each): exactly the functions. */
static uint8_t s_ulaw_enc[65536];
static uint8_t s_alaw_enc[65536];
static int16_t s_ulaw_dec[256];
static int16_t s_alaw_dec[256];
static uint8_t s_ulaw_to_alaw[256];
static uint8_t s_alaw_to_ulaw[256];
static int s_ready;

/* Index of the highest set bit of v (v > 0). */
static int s_top_bit(unsigned v)
{
    int n = 0;
    while (v >>= 1)
        n++;
    return n;
}

uint8_t g711_ulaw_encode(int16_t sample)
{
    int x = sample;
    uint8_t sign = 0;
    if (x < 0) {
        x = -x;
        sign = 0x80;
    }
    if (x > ULAW_CLIP)
        x = ULAW_CLIP;
    x += ULAW_BIAS;                          /* now in [132, 32767] */
    int exponent = s_top_bit((unsigned)x) - 7;   /* 0..7 */
    int mantissa = (x >> (exponent + 3)) & 0x0F;
    return (uint8_t)~(sign | (exponent << 4) | mantissa);
}

int16_t g711_ulaw_decode(uint8_t code)
{
    code = (uint8_t)~code;
    int exponent = (code >> 4) & 0x07;
    int mantissa = code & 0x0F;
    int magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    return (int16_t)((code & 0x80) ? -magnitude : magnitude);
}

uint8_t g711_alaw_encode(int16_t sample)
{
    int x = sample >> 3;                     /* 13 bits: -4096..4095 */
    uint8_t mask;
    if (x >= 0) {
        mask = 0xD5;                         /* positive: sign bit set, even bits inverted */
    } else {
        mask = 0x55;
        x = -x - 1;                          /* 0..4095 */
    }
    int segment, step;
    if (x < 32) {                            /* segment 0: linear, same step as segment 1 */
        segment = 0;
        step = x >> 1;
    } else {
        segment = s_top_bit((unsigned)x) - 4;    /* 32..4095 -> 1..7 */
        step = (x >> segment) & 0x0F;
    }
    return (uint8_t)(((segment << 4) | step) ^ mask);
}

int16_t g711_alaw_decode(uint8_t code)
{
    code ^= 0x55;
    int step = code & 0x0F;
    int segment = (code >> 4) & 0x07;
    int magnitude = (step << 4) + 8;         /* middle of the step, in 16-bit units */
    if (segment > 0)
        magnitude = (magnitude + 0x100) << (segment - 1);
    return (int16_t)((code & 0x80) ? magnitude : -magnitude);
}

void g711_init(void)
{
    if (s_ready)
        return;
    for (int i = 0; i < 65536; i++) {
        s_ulaw_enc[i] = g711_ulaw_encode((int16_t)(i - (i & 0x8000 ? 65536 : 0)));
        s_alaw_enc[i] = g711_alaw_encode((int16_t)(i - (i & 0x8000 ? 65536 : 0)));
    }
    for (int i = 0; i < 256; i++) {
        s_ulaw_dec[i] = g711_ulaw_decode((uint8_t)i);
        s_alaw_dec[i] = g711_alaw_decode((uint8_t)i);
    }
    for (int i = 0; i < 256; i++) {
        s_ulaw_to_alaw[i] = g711_alaw_encode(s_ulaw_dec[i]);
        s_alaw_to_ulaw[i] = g711_ulaw_encode(s_alaw_dec[i]);
    }
    s_ready = 1;
}

void g711_encode(int pt, const int16_t *in, uint8_t *out, size_t n)
{
    g711_init();
    if (pt == G711_PT_PCMA) {
        for (size_t i = 0; i < n; i++)
            out[i] = s_alaw_enc[(uint16_t)in[i]];
    } else {
        for (size_t i = 0; i < n; i++)
            out[i] = s_ulaw_enc[(uint16_t)in[i]];
    }
}

void g711_decode(int pt, const uint8_t *in, int16_t *out, size_t n)
{
    g711_init();
    const int16_t *table = pt == G711_PT_PCMA ? s_alaw_dec : s_ulaw_dec;
    for (size_t i = 0; i < n; i++)
        out[i] = table[in[i]];
}

const uint8_t *g711_table(int from_pt, int to_pt)
{
    g711_init();
    if (from_pt == G711_PT_PCMU && to_pt == G711_PT_PCMA)
        return s_ulaw_to_alaw;
    if (from_pt == G711_PT_PCMA && to_pt == G711_PT_PCMU)
        return s_alaw_to_ulaw;
    return NULL;
}
