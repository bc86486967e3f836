/* sound_cache - decoded sound files by path, loaded on first use.
 *
 * Prompts are small (Debian's English set decodes to ~100 MB in all, a
 * typical IVR touches a few dozen files), so entries are never evicted; each
 * load is logged with the cache's new total. A file that fails to load is
 * not remembered: it may be installed later. Loading reads the whole file
 * on the loop's thread, once per file: 0.1 ms for hello-world, ~30 ms for a
 * 4 MB MOH file (measured); the playback clock then catches up by sending
 * the one or two late packets at once (see ivr.h). */
#ifndef SOUND_CACHE_H
#define SOUND_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sound_cache sound_cache_t;

sound_cache_t *sound_cache_new(void);
void sound_cache_destroy(sound_cache_t **self_p);

/* The samples of the WAV at path (borrowed until the cache is destroyed) and
 * their count. Returns 0, or -1 with the reason in err. */
int sound_cache_get(sound_cache_t *self, const char *path, const int16_t **samples,
                    size_t *count, char *err, size_t errlen);

/* Files and bytes of samples held. */
size_t sound_cache_files(const sound_cache_t *self);
size_t sound_cache_bytes(const sound_cache_t *self);

#endif
