/* wav - RIFF WAVE reading and writing; see wav.h. */
#include "wav.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct wav_writer {
    FILE *file;
    uint64_t samples;
    int failed;
};

static uint32_t s_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t s_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void s_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void s_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

int wav_parse(const uint8_t *buf, size_t len, const uint8_t **samples, size_t *count,
              char *err, size_t errlen)
{
    if (len < 12 || memcmp(buf, "RIFF", 4) || memcmp(buf + 8, "WAVE", 4)) {
        snprintf(err, errlen, "not a RIFF WAVE file");
        return -1;
    }
    int have_fmt = 0;
    size_t pos = 12;
    while (pos + 8 <= len) {
        const uint8_t *chunk = buf + pos;
        uint32_t size = s_le32(chunk + 4);
        size_t body = pos + 8;
        size_t avail = len - body;
        if (!memcmp(chunk, "fmt ", 4)) {
            if (size < 16 || size > avail) {
                snprintf(err, errlen, "truncated fmt chunk");
                return -1;
            }
            uint16_t format = s_le16(buf + body);
            uint16_t channels = s_le16(buf + body + 2);
            uint32_t rate = s_le32(buf + body + 4);
            uint16_t bits = s_le16(buf + body + 14);
            if (format != 1) {
                snprintf(err, errlen, "not PCM (format %u)", format);
                return -1;
            }
            if (channels != 1) {
                snprintf(err, errlen, "not mono (%u channels)", channels);
                return -1;
            }
            if (rate != WAV_RATE) {
                snprintf(err, errlen, "not %u Hz (%u)", WAV_RATE, rate);
                return -1;
            }
            if (bits != 16) {
                snprintf(err, errlen, "not 16-bit (%u bits)", bits);
                return -1;
            }
            have_fmt = 1;
        } else if (!memcmp(chunk, "data", 4)) {
            if (!have_fmt) {
                snprintf(err, errlen, "data chunk before the fmt chunk");
                return -1;
            }
            size_t n = size < avail ? size : avail;     /* cut short: what is there */
            *samples = buf + body;
            *count = n / 2;
            return 0;
        }
        if (size > avail)
            break;
        pos = body + size + (size & 1);
    }
    snprintf(err, errlen, have_fmt ? "no data chunk" : "no fmt chunk");
    return -1;
}

void wav_copy_samples(const uint8_t *in, int16_t *out, size_t count)
{
    for (size_t i = 0; i < count; i++)
        out[i] = (int16_t)s_le16(in + 2 * i);
}

int wav_load(const char *path, int16_t **out, size_t *count, char *err, size_t errlen)
{
    *out = NULL;
    *count = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "not a regular file");
        fclose(f);
        return -1;
    }
    if ((uint64_t)st.st_size > WAV_MAX_BYTES) {
        snprintf(err, errlen, "too big (%lld bytes)", (long long)st.st_size);
        fclose(f);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        fclose(f);
        return -1;
    }
    size_t got = fread(buf, 1, len, f);
    fclose(f);
    const uint8_t *data;
    size_t n;
    if (wav_parse(buf, got, &data, &n, err, errlen) < 0) {
        free(buf);
        return -1;
    }
    int16_t *samples = malloc(n ? n * sizeof *samples : 1);
    if (!samples) {
        snprintf(err, errlen, "out of memory");
        free(buf);
        return -1;
    }
    wav_copy_samples(data, samples, n);
    free(buf);
    *out = samples;
    *count = n;
    return 0;
}

/* The 44-byte canonical header for `samples` samples. */
static void s_header(uint8_t h[44], uint64_t samples)
{
    uint64_t bytes64 = samples * 2;
    uint32_t bytes = bytes64 > 0xFFFFFFFFu - 36 ? 0xFFFFFFFFu - 36 : (uint32_t)bytes64;
    memcpy(h, "RIFF", 4);
    s_put32(h + 4, 36 + bytes);
    memcpy(h + 8, "WAVEfmt ", 8);
    s_put32(h + 16, 16);
    s_put16(h + 20, 1);                  /* PCM */
    s_put16(h + 22, 1);                  /* mono */
    s_put32(h + 24, WAV_RATE);
    s_put32(h + 28, WAV_RATE * 2);       /* bytes per second */
    s_put16(h + 32, 2);                  /* block align */
    s_put16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    s_put32(h + 40, bytes);
}

wav_writer_t *wav_writer_new(const char *path, char *err, size_t errlen)
{
    wav_writer_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->file = fopen(path, "wb");
    if (!self->file) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(self);
        return NULL;
    }
    uint8_t h[44];
    s_header(h, 0);
    if (fwrite(h, 1, sizeof h, self->file) != sizeof h)
        self->failed = 1;
    return self;
}

int wav_writer_write(wav_writer_t *self, const int16_t *samples, size_t count)
{
    if (self->failed)
        return -1;
    uint8_t buf[2 * 256];
    while (count) {
        size_t n = count < 256 ? count : 256;
        for (size_t i = 0; i < n; i++)
            s_put16(buf + 2 * i, (uint16_t)samples[i]);
        if (fwrite(buf, 2, n, self->file) != n) {
            self->failed = 1;
            return -1;
        }
        self->samples += n;
        samples += n;
        count -= n;
    }
    return 0;
}

uint64_t wav_writer_samples(const wav_writer_t *self)
{
    return self->samples;
}

int wav_writer_truncate(wav_writer_t *self, uint64_t samples)
{
    if (self->failed)
        return -1;
    if (samples >= self->samples)
        return 0;
    if (fflush(self->file) != 0 || ftruncate(fileno(self->file), (off_t)(44 + samples * 2)) < 0 ||
        fseek(self->file, 0, SEEK_END) < 0) {
        self->failed = 1;
        return -1;
    }
    self->samples = samples;
    return 0;
}

int wav_writer_close(wav_writer_t **self_p)
{
    if (!self_p || !*self_p)
        return 0;
    wav_writer_t *self = *self_p;
    uint8_t h[44];
    s_header(h, self->samples);
    if (fseek(self->file, 0, SEEK_SET) < 0 || fwrite(h, 1, sizeof h, self->file) != sizeof h)
        self->failed = 1;
    if (fclose(self->file) != 0)
        self->failed = 1;
    int rc = self->failed ? -1 : 0;
    free(self);
    *self_p = NULL;
    return rc;
}
