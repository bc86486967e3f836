/* sound_cache - decoded sound files by path; see sound_cache.h. */
#define TD_LOG_SUBSYS TD_LOG_MEDIA   /* td_log() here: [logging] media= */
#include "sound_cache.h"

#include <stdlib.h>
#include <string.h>

#include "td_hash.h"
#include "td_log.h"
#include "td_map.h"
#include "wav.h"

typedef struct entry {
    td_map_node_t node;            /* in by_path */
    char *path;
    int16_t *samples;
    size_t count;
} entry_t;

struct sound_cache {
    td_map_t by_path;              /* entry_t by path */
    size_t files;
    size_t bytes;
};

static int s_eq(const td_map_node_t *n, const void *key)
{
    return strcmp(TD_MAP_ENTRY(n, entry_t, node)->path, key) == 0;
}

sound_cache_t *sound_cache_new(void)
{
    sound_cache_t *self = calloc(1, sizeof *self);
    if (self && td_map_init(&self->by_path, 64, s_eq) < 0) {
        free(self);
        return NULL;
    }
    return self;
}

void sound_cache_destroy(sound_cache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sound_cache_t *self = *self_p;
    size_t cur;
    for (td_map_node_t *n = td_map_first(&self->by_path, &cur), *next; n; n = next) {
        next = td_map_next(&self->by_path, n, &cur);
        entry_t *e = TD_MAP_ENTRY(n, entry_t, node);
        free(e->samples);
        free(e->path);
        free(e);
    }
    td_map_fini(&self->by_path);
    free(self);
    *self_p = NULL;
}

int sound_cache_get(sound_cache_t *self, const char *path, const int16_t **samples,
                    size_t *count, char *err, size_t errlen)
{
    uint64_t h = td_hash_str(path);
    td_map_node_t *n = td_map_find(&self->by_path, h, path);
    if (n) {
        const entry_t *e = TD_MAP_ENTRY(n, entry_t, node);
        *samples = e->samples;
        *count = e->count;
        return 0;
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
    td_map_insert(&self->by_path, &e->node, h);
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
