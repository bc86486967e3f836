/* wav - RIFF WAVE files of 16-bit mono PCM at 8 kHz: the format of Debian's
 * Asterisk sound packages and of what Record writes.
 *
 * The reader walks the chunks (skipping LIST, fact, cue and the like, with
 * RIFF's pad byte after odd-sized chunks) and refuses anything else with a
 * reason ("not 8000 Hz (16000)"). A data chunk cut short by the end of the
 * file is read as far as it goes (whole samples); a truncated header or fmt
 * chunk is an error. It never reads past the buffer. */
#ifndef WAV_H
#define WAV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define WAV_RATE 8000
#define WAV_MAX_BYTES (64u * 1024 * 1024)   /* bigger files are refused */

/* Parse buf[0..len). On success *samples points into buf (little-endian
 * 16-bit, possibly unaligned: copy with wav_copy_samples) and *count is the
 * number of samples; returns 0. On failure returns -1 with the reason in err. */
int wav_parse(const uint8_t *buf, size_t len, const uint8_t **samples, size_t *count,
              char *err, size_t errlen);
/* Copy count little-endian samples to host order. */
void wav_copy_samples(const uint8_t *in, int16_t *out, size_t count);

/* Read a whole file: *out (malloc'd, caller frees) and *count. Returns 0,
 * or -1 with the reason in err. */
int wav_load(const char *path, int16_t **out, size_t *count, char *err, size_t errlen);

/* A WAV being written: the header goes first with zero sizes, which
 * wav_writer_close() fixes. Writes are buffered (stdio). */
typedef struct wav_writer wav_writer_t;

/* Create (truncate) path. NULL with the reason in err on failure. */
wav_writer_t *wav_writer_new(const char *path, char *err, size_t errlen);
/* Append count samples. Returns 0, or -1 once a write has failed. */
int wav_writer_write(wav_writer_t *self, const int16_t *samples, size_t count);
uint64_t wav_writer_samples(const wav_writer_t *self);
/* Cut the file back to its first `samples` samples (no-op if it holds no
 * more). Returns 0, or -1 if that failed (the writer is failed then). */
int wav_writer_truncate(wav_writer_t *self, uint64_t samples);
/* Fix the RIFF and data sizes, flush and close. Returns 0, or -1 if any
 * write failed. *self_p is nulled either way. */
int wav_writer_close(wav_writer_t **self_p);

#endif
