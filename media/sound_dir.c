/* sound_dir - see sound_dir.h. */
#define TD_LOG_SUBSYS TD_LOG_MEDIA   /* td_log() here: [logging] media= */
#include "sound_dir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "td_log.h"

const char *const sound_dir_prompts[] = {
    "/usr/share/asterisk/sounds/en",               /* Debian, with asterisk-core-sounds-en */
    "/usr/share/asterisk/sounds/en_US_f_Allison",  /* Debian, asterisk-core-sounds-en-wav alone */
    "/var/lib/asterisk/sounds/en",                 /* Asterisk from source (make install) */
    NULL,
};

const char *const sound_dir_moh[] = {
    "/usr/share/asterisk/moh",                     /* Debian, asterisk-moh-opsound-wav */
    "/var/lib/asterisk/moh",                       /* Asterisk from source */
    NULL,
};

static int s_is_wav(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 4 && !strcasecmp(name + n - 4, ".wav");
}

int sound_dir_count(const char *dir, int subdirs)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (s_is_wav(e->d_name)) {
            n++;
        } else if (subdirs && e->d_name[0] != '.'
                   && (e->d_type == DT_DIR || e->d_type == DT_LNK || e->d_type == DT_UNKNOWN)) {
            char sub[1024];
            if (snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) < (int)sizeof sub) {
                int k = sound_dir_count(sub, 0);
                if (k > 0)
                    n += k;
            }
        }
    }
    closedir(d);
    return n;
}

int sound_dir_find(const char *const *search, int subdirs, char *out, size_t len)
{
    for (const char *const *p = search; *p; p++) {
        int n = sound_dir_count(*p, subdirs);
        if (n > 0) {
            snprintf(out, len, "%s", *p);
            return n;
        }
    }
    snprintf(out, len, "%s", search[0] ? search[0] : "");
    return 0;
}

int sound_dir_resolve(char *dir, size_t len, const char *const *search, int subdirs,
                      const char *what, const char *key, const char *package)
{
    int n;
    if (dir[0]) {
        n = sound_dir_count(dir, subdirs);
        if (n > 0) {
            td_log(LOG_NOTICE, "%s: %s (%d .wav files; [media] %s=)", what, dir, n, key);
            return n;
        }
        td_log(LOG_WARNING, "%s: [media] %s=%s: %s; %s will fail (put .wav files there, "
               "or drop %s= to search the usual places; Debian: apt-get install %s)",
               what, key, dir, n < 0 ? strerror(errno) : "no .wav file",
               subdirs ? "MusicOnHold" : "Playback", key, package);
        return 0;
    }
    n = sound_dir_find(search, subdirs, dir, len);
    if (n > 0) {
        td_log(LOG_NOTICE, "%s: %s (%d .wav files)", what, dir, n);
        return n;
    }
    char tried[1024] = "";
    size_t used = 0;
    for (const char *const *p = search; *p && used < sizeof tried; p++)
        used += (size_t)snprintf(tried + used, sizeof tried - used, "%s%s",
                                 p == search ? "" : ", ", *p);
    td_log(LOG_WARNING, "%s: no .wav file in %s; %s will fail (Debian: apt-get install %s; "
           "or set [media] %s= in tandem.conf)", what, tried,
           subdirs ? "MusicOnHold" : "Playback", package, key);
    return 0;
}
