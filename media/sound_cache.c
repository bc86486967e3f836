/* sound_cache - decoded sound files by path; see sound_cache.h. */
#define TD_LOG_SUBSYS TD_LOG_MEDIA   /* td_log() here: [logging] media= */
#include "sound_cache.h"

#include <stdlib.h>
#include <string.h>

#include "td_log.h"
#include "td_str.h"
#include "wav.h"

#define BUCKETS 1024               /* a power of two; chains stay short for any IVR */

typedef struct entry {
    struct entry *next;
    char *path;
    int16_t *samples;
    size_t count;
} entry_t;

struct sound_cache {
    entry_t *bucket[BUCKETS];
    size_t files;
    size_t bytes;
};

sound_cache_t *sound_cache_new(void)
{
    return calloc(1, sizeof(sound_cache_t));
}

void sound_cache_destroy(sound_cache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sound_cache_t *self = *self_p;
    for (size_t i = 0; i < BUCKETS; i++) {
        entry_t *e = self->bucket[i];
        while (e) {
            entry_t *next = e->next;
            free(e->samples);
            free(e->path);
            free(e);
            e = next;
        }
    }
    free(self);
    *self_p = NULL;
}

int sound_cache_get(sound_cache_t *self, const char *path, const int16_t **samples,
                    size_t *count, char *err, size_t errlen)
{
    size_t b = (size_t)td_str_hash(path) & (BUCKETS - 1);
    for (entry_t *e = self->bucket[b]; e; e = e->next) {
        if (!strcmp(e->path, path)) {
            *samples = e->samples;
            *count = e->count;
            return 0;
        }
    }
    entry_t *e = calloc(1, sizeof *e);
    if (!e || !(e->path = strdup(path))) {
        free(e);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (wav_load(path, &e->samples, &e->count, err, errlen) < 0) {
        free(e->path);
        free(e);
        return -1;
    }
    e->next = self->bucket[b];
    self->bucket[b] = e;
    self->files++;
    self->bytes += e->count * sizeof(int16_t);
    td_log(LOG_INFO, "sound %s loaded: %.2f s; cache holds %zu files, %zu KiB", path,
           (double)e->count / WAV_RATE, self->files, self->bytes / 1024);
    *samples = e->samples;
    *count = e->count;
    return 0;
}

size_t sound_cache_files(const sound_cache_t *self)
{
    return self->files;
}

size_t sound_cache_bytes(const sound_cache_t *self)
{
    return self->bytes;
}
