/* test_wav - the WAV reader's table of good and bad files, and the writer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sound_dir.h"
#include "wav.h"

/* Build a file: RIFF header, then the given chunks. A fmt chunk is
 * described by (format, channels, rate, bits). */
typedef struct {
    uint8_t b[512];
    size_t n;
} buf_t;

static void s_bytes(buf_t *f, const void *p, size_t n)
{
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void s_u32(buf_t *f, uint32_t v)
{
    uint8_t p[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    s_bytes(f, p, 4);
}

static void s_u16(buf_t *f, uint16_t v)
{
    uint8_t p[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
    s_bytes(f, p, 2);
}

static void s_riff(buf_t *f)
{
    f->n = 0;
    s_bytes(f, "RIFF", 4);
    s_u32(f, 0);              /* readers must not trust it; we do not */
    s_bytes(f, "WAVE", 4);
}

static void s_fmt(buf_t *f, uint16_t format, uint16_t channels, uint32_t rate, uint16_t bits)
{
    s_bytes(f, "fmt ", 4);
    s_u32(f, 16);
    s_u16(f, format);
    s_u16(f, channels);
    s_u32(f, rate);
    s_u32(f, rate * channels * bits / 8);
    s_u16(f, (uint16_t)(channels * bits / 8));
    s_u16(f, bits);
}

static void s_data(buf_t *f, uint32_t declared, size_t samples)
{
    s_bytes(f, "data", 4);
    s_u32(f, declared);
    for (size_t i = 0; i < samples; i++)
        s_u16(f, (uint16_t)(int16_t)(i * 1000 - 3000));
}

typedef struct {
    const char *name;
    buf_t file;
    int ok;
    size_t count;             /* samples when ok */
    const char *err;          /* the reason when not */
} row_t;

static void test_parse_table(void **state)
{
    (void)state;
    static row_t rows[16];
    int n = 0;
    row_t *r;

    r = &rows[n++]; r->name = "good"; s_riff(&r->file);
    s_fmt(&r->file, 1, 1, 8000, 16); s_data(&r->file, 8, 4); r->ok = 1; r->count = 4;

    r = &rows[n++]; r->name = "LIST and an odd chunk before data"; s_riff(&r->file);
    s_fmt(&r->file, 1, 1, 8000, 16);
    s_bytes(&r->file, "LIST", 4); s_u32(&r->file, 5); s_bytes(&r->file, "INFOx\0", 6);
    s_data(&r->file, 6, 3); r->ok = 1; r->count = 3;

    r = &rows[n++]; r->name = "data cut short"; s_riff(&r->file);
    s_fmt(&r->file, 1, 1, 8000, 16); s_data(&r->file, 1000, 5);
    r->file.n--;                                   /* half a sample at the end */
    r->ok = 1; r->count = 4;

    r = &rows[n++]; r->name = "stereo"; s_riff(&r->file);
    s_fmt(&r->file, 1, 2, 8000, 16); s_data(&r->file, 8, 4); r->err = "not mono (2 channels)";

    r = &rows[n++]; r->name = "16 kHz"; s_riff(&r->file);
    s_fmt(&r->file, 1, 1, 16000, 16); s_data(&r->file, 8, 4); r->err = "not 8000 Hz (16000)";

    r = &rows[n++]; r->name = "8-bit"; s_riff(&r->file);
    s_fmt(&r->file, 1, 1, 8000, 8); s_data(&r->file, 8, 4); r->err = "not 16-bit (8 bits)";

    r = &rows[n++]; r->name = "mu-law inside WAV"; s_riff(&r->file);
    s_fmt(&r->file, 7, 1, 8000, 8); s_data(&r->file, 8, 4); r->err = "not PCM (format 7)";

    r = &rows[n++]; r->name = "no data"; s_riff(&r->file);
    s_fmt(&r->file, 1, 1, 8000, 16); r->err = "no data chunk";

    r = &rows[n++]; r->name = "data first"; s_riff(&r->file);
    s_data(&r->file, 8, 4); s_fmt(&r->file, 1, 1, 8000, 16);
    r->err = "data chunk before the fmt chunk";

    r = &rows[n++]; r->name = "fmt cut short"; s_riff(&r->file);
    s_fmt(&r->file, 1, 1, 8000, 16); r->file.n -= 4; r->err = "truncated fmt chunk";

    r = &rows[n++]; r->name = "header only"; s_riff(&r->file); r->err = "no fmt chunk";

    r = &rows[n++]; r->name = "chunk size past the end"; s_riff(&r->file);
    s_bytes(&r->file, "LIST", 4); s_u32(&r->file, 0xFFFFFFF0u); r->err = "no fmt chunk";

    r = &rows[n++]; r->name = "not RIFF"; r->file.n = 0;
    s_bytes(&r->file, "ID3\3garbage-garbage", 19); r->err = "not a RIFF WAVE file";

    r = &rows[n++]; r->name = "empty"; r->file.n = 0; r->err = "not a RIFF WAVE file";

    for (int i = 0; i < n; i++) {
        const uint8_t *samples = NULL;
        size_t count = 0;
        char err[128] = "";
        /* A private copy of exactly n bytes, so ASan sees any over-read. */
        uint8_t *copy = malloc(rows[i].file.n + 1);
        memcpy(copy, rows[i].file.b, rows[i].file.n);
        int rc = wav_parse(copy, rows[i].file.n, &samples, &count, err, sizeof err);
        if (rows[i].ok) {
            if (rc != 0)
                fail_msg("%s: refused: %s", rows[i].name, err);
            assert_int_equal(count, rows[i].count);
            int16_t s[8];
            wav_copy_samples(samples, s, count);
            assert_int_equal(s[0], -3000);
            assert_int_equal(s[count - 1], (int16_t)((count - 1) * 1000 - 3000));
        } else {
            if (rc != -1)
                fail_msg("%s: accepted", rows[i].name);
            if (strcmp(err, rows[i].err))
                fail_msg("%s: '%s', expected '%s'", rows[i].name, err, rows[i].err);
        }
        free(copy);
    }
}

static void test_garbage_never_crashes(void **state)
{
    (void)state;
    buf_t good;
    s_riff(&good);
    s_fmt(&good, 1, 1, 8000, 16);
    s_data(&good, 20, 10);
    srand(7);
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)rand() % (good.n + 1);
        uint8_t *copy = malloc(len + 1);
        memcpy(copy, good.b, len);
        for (int k = rand() % 4; k > 0 && len; k--)
            copy[rand() % len] = (uint8_t)rand();
        const uint8_t *samples;
        size_t count;
        char err[128];
        if (wav_parse(copy, len, &samples, &count, err, sizeof err) == 0)
            assert_true(samples >= copy && samples + 2 * count <= copy + len);
        free(copy);
    }
}

static void test_write_then_load(void **state)
{
    (void)state;
    char path[] = "/tmp/test_wav_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char err[256];
    wav_writer_t *w = wav_writer_new(path, err, sizeof err);
    assert_non_null(w);
    int16_t s[1000];
    for (int i = 0; i < 1000; i++)
        s[i] = (int16_t)(i * 37 - 18000);
    assert_int_equal(wav_writer_write(w, s, 600), 0);
    assert_int_equal(wav_writer_write(w, s + 600, 400), 0);
    assert_int_equal(wav_writer_write(w, s, 500), 0);
    assert_int_equal(wav_writer_samples(w), 1500);
    assert_int_equal(wav_writer_truncate(w, 1000), 0);          /* the last 500 go */
    assert_int_equal(wav_writer_truncate(w, 2000), 0);          /* nothing to cut */
    assert_int_equal(wav_writer_samples(w), 1000);
    assert_int_equal(wav_writer_close(&w), 0);
    assert_null(w);

    /* The sizes are right: 44-byte header, RIFF size = 36 + data. */
    FILE *f = fopen(path, "rb");
    uint8_t h[44];
    assert_int_equal(fread(h, 1, 44, f), 44);
    fclose(f);
    assert_int_equal(h[4] | h[5] << 8 | h[6] << 16, 36 + 2000);
    assert_int_equal(h[40] | h[41] << 8 | h[42] << 16, 2000);

    int16_t *back;
    size_t count;
    assert_int_equal(wav_load(path, &back, &count, err, sizeof err), 0);
    assert_int_equal(count, 1000);
    assert_memory_equal(back, s, sizeof s);
    free(back);
    unlink(path);

    assert_int_equal(wav_load("/nonexistent/x.wav", &back, &count, err, sizeof err), -1);
    assert_string_equal(err, "No such file or directory");
    assert_null(wav_writer_new("/nonexistent/x.wav", err, sizeof err));
}

static void test_loads_an_installed_sound(void **state)
{
    (void)state;
    char dir[512], path[600];
    sound_dir_find(sound_dir_prompts, 0, dir, sizeof dir);   /* where the worker looks */
    snprintf(path, sizeof path, "%s/hello-world.wav", dir);
    if (access(path, R_OK) != 0)
        skip();
    int16_t *s;
    size_t count;
    char err[256];
    assert_int_equal(wav_load(path, &s, &count, err, sizeof err), 0);
    assert_true(count > 8000 && count < 8000 * 5);        /* about a second and a half */
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_garbage_never_crashes),
        cmocka_unit_test(test_write_then_load),
        cmocka_unit_test(test_loads_an_installed_sound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
