/* g711 - ITU-T G.711 µ-law and A-law, sample by sample and in blocks.
 *
 * Input is 16-bit linear PCM; µ-law uses its top 14 bits, A-law its top 13,
 * as the standard does. Encoding of a block goes through tables built once
 * (g711_init(), idempotent and cheap; the block functions call it). */
#ifndef G711_H
#define G711_H

#include <stddef.h>
#include <stdint.h>

/* RTP payload types of the two laws (RFC 3551). */
#define G711_PT_PCMU 0
#define G711_PT_PCMA 8

uint8_t g711_ulaw_encode(int16_t sample);
int16_t g711_ulaw_decode(uint8_t code);
uint8_t g711_alaw_encode(int16_t sample);
int16_t g711_alaw_decode(uint8_t code);

/* Build the lookup tables (done once). */
void g711_init(void);

/* The 256-entry code-to-code table from one law to the other, as Asterisk's
 * codec_a_mu builds its own (decode to linear, encode in the other law), for
 * relaying G.711 between phones that chose different laws: out = t[in], in
 * place, no allocation. NULL when from_pt and to_pt are the same law (or
 * either is not 0 or 8). Calls g711_init(). */
const uint8_t *g711_table(int from_pt, int to_pt);

/* Encode n samples to n bytes for payload type pt (0 or 8; anything else is
 * treated as 0). */
void g711_encode(int pt, const int16_t *in, uint8_t *out, size_t n);
/* Decode n bytes of payload type pt (0 or 8) to n samples. */
void g711_decode(int pt, const uint8_t *in, int16_t *out, size_t n);

#endif
