/* sound_dir - where the media worker finds Playback()'s prompts and the
 * music on hold.
 *
 * A directory set in tandem.conf ([media] sounds=, moh=) is used as given.
 * When it is not set, the worker takes the first directory of a search list
 * that holds .wav files: where Debian's packages put them, then where an
 * Asterisk built from source does (its ASTDATADIR, /var/lib/asterisk). On
 * Debian, asterisk-core-sounds-en-wav installs the English prompts into
 * sounds/en_US_f_Allison; the sounds/en link is made by
 * asterisk-core-sounds-en's postinst (update-alternatives), which an install
 * with --no-install-recommends skips. */
#ifndef SOUND_DIR_H
#define SOUND_DIR_H

#include <stddef.h>

/* The search lists, in order, each ending with NULL. */
extern const char *const sound_dir_prompts[];
extern const char *const sound_dir_moh[];

/* The .wav files directly in dir, plus, when subdirs is set, those in its
 * subdirectories one level down (music-on-hold classes). -1 with errno set
 * when dir itself cannot be read. */
int sound_dir_count(const char *dir, int subdirs);

/* The first directory of search (NULL-terminated) that holds a .wav file,
 * copied into out; returns its count. When none does, out gets search[0]
 * and 0 is returned. */
int sound_dir_find(const char *const *search, int subdirs, char *out, size_t len);

/* Resolve one setting in place: dir as configured ("" = not set: search)
 * and log where it points. `what` names it in the log ("prompts", "music
 * on hold"), key is its tandem.conf key, package the Debian package that
 * fills it. Logs one NOTICE when the directory holds .wav files, else one
 * WARNING naming the directory and what to install. Returns the count of
 * .wav files (0 when Playback/MusicOnHold cannot work). */
int sound_dir_resolve(char *dir, size_t len, const char *const *search, int subdirs,
                      const char *what, const char *key, const char *package);

#endif
