/* ivr - prompts, keys and recordings on the caller's side; see ivr.h. */
#define TD_LOG_SUBSYS TD_LOG_MEDIA   /* td_log() here: [logging] media= */
#include "ivr.h"
#include "td_path.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "g711.h"
#include "session.h"
#include "sound_cache.h"
#include "td_clock.h"
#include "td_log.h"
#include "wav.h"

#define RTP_HEADER 12

struct ivr_env {
    struct event_base *base;       /* borrowed */
    td_bus_t *bus;                 /* borrowed */
    sound_cache_t *cache;
    td_clock_t *own_clock;         /* the loop's real clock */
    td_clock_t *clock;             /* own_clock, or a test's fake one (ivr_env_set_clock) */
    td_timer_t *tick;              /* every 20 ms while `active` is not empty */
    ivr_t *active;                 /* sessions that play or record: a list */
    uint32_t active_count;
    char sounds_dir[512];
    char moh_dir[512];
    char recordings_dir[512];
};

struct ivr {
    ivr_env_t *env;
    session_t *session;            /* borrowed: it owns us */
    ivr_t *prev, *next;            /* in env->active while linked */
    int linked;
    char peer[64];
    int g711_pt;                   /* law to play in: 0 or 8 */
    int dtmf_pt;

    /* Outgoing RTP. */
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts;                   /* timestamp of the next packet */
    uint64_t last_sent_ns;         /* 0: nothing sent yet */

    /* Playback. */
    int playing;
    uint32_t play_id;
    int loop;
    char **paths;                  /* resolved file names, owned */
    char **names;                  /* as the router gave them (for `missing`) */
    size_t n_paths;
    size_t next_path;              /* index of the file to load next */
    int pass_had_audio;            /* this pass over the list found some audio */
    const int16_t *cur;            /* borrowed from the cache */
    size_t cur_n, cur_pos;
    char missing[1024];
    int marker;
    uint64_t play_start_ns;
    uint64_t play_packets;         /* sent (or skipped) since play_start_ns */

    /* DTMF. */
    int dtmf_seen;
    uint32_t dtmf_last_ts;

    /* Recording. */
    wav_writer_t *rec;
    uint32_t rec_id;
    char rec_path[1024];
    uint32_t silence_ms, max_ms;
    int dtmf_ends;
    uint64_t rec_start_ns;
    uint64_t rec_last_rx_ns;
    uint64_t silent_samples;       /* in a row */
};

static void s_on_clock(void *arg);

/* Pacing time, from the env's clock (a test's fake one moves only when told). */
static uint64_t s_now_ns(const ivr_env_t *env)
{
    return td_clock_now_ms(env->clock) * 1000000ULL;
}

/* --- the shared part ------------------------------------------------------ */

ivr_env_t *ivr_env_new(struct event_base *base, td_bus_t *bus, const char *sounds_dir,
                       const char *moh_dir, const char *recordings_dir)
{
    ivr_env_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->bus = bus;
    snprintf(self->sounds_dir, sizeof self->sounds_dir, "%s", sounds_dir ? sounds_dir : "");
    snprintf(self->moh_dir, sizeof self->moh_dir, "%s", moh_dir ? moh_dir : "");
    snprintf(self->recordings_dir, sizeof self->recordings_dir, "%s",
             recordings_dir ? recordings_dir : "");
    self->cache = sound_cache_new();
    self->own_clock = td_clock_new(base);
    self->clock = self->own_clock;
    self->tick = self->clock ? td_timer_new(self->clock, s_on_clock, self) : NULL;
    if (!self->cache || !self->tick) {
        ivr_env_destroy(&self);
        return NULL;
    }
    g711_init();
    return self;
}

void ivr_env_destroy(ivr_env_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ivr_env_t *self = *self_p;
    if (self->active_count)
        td_log(LOG_WARNING, "%u IVR sessions still active at exit", self->active_count);
    td_timer_destroy(&self->tick);
    td_clock_destroy(&self->own_clock);
    sound_cache_destroy(&self->cache);
    free(self);
    *self_p = NULL;
}

uint32_t ivr_env_active(const ivr_env_t *self)
{
    return self->active_count;
}

static void s_link(ivr_t *self)
{
    if (self->linked)
        return;
    ivr_env_t *env = self->env;
    self->prev = NULL;
    self->next = env->active;
    if (env->active)
        env->active->prev = self;
    env->active = self;
    self->linked = 1;
    if (env->active_count++ == 0)
        td_timer_start(env->tick, IVR_PACKET_NS / 1000000);
}

static void s_unlink(ivr_t *self)
{
    if (!self->linked || self->playing || self->rec)
        return;
    ivr_env_t *env = self->env;
    if (self->prev)
        self->prev->next = self->next;
    else
        env->active = self->next;
    if (self->next)
        self->next->prev = self->prev;
    self->prev = self->next = NULL;
    self->linked = 0;
    if (--env->active_count == 0)
        td_timer_stop(env->tick);
}

/* --- playback ------------------------------------------------------------- */

static void s_free_files(ivr_t *self)
{
    for (size_t i = 0; i < self->n_paths; i++) {
        free(self->paths[i]);
        free(self->names[i]);
    }
    free(self->paths);
    free(self->names);
    self->paths = self->names = NULL;
    self->n_paths = self->next_path = 0;
    self->cur = NULL;
    self->cur_n = self->cur_pos = 0;
}

/* End the prompt; report it unless `quiet`. */
static void s_play_end(ivr_t *self, int stopped, int quiet)
{
    if (!self->playing)
        return;
    self->playing = 0;
    if (!quiet) {
        Tandem__MediaPlayed msg = TANDEM__MEDIA_PLAYED__INIT;
        msg.id = self->play_id;
        msg.stopped = stopped;
        msg.missing = self->missing;
        td_bus_send_media_played(self->env->bus, self->peer, session_call_id(self->session), 0,
                                 &msg);
    }
    td_log(LOG_DEBUG, "playback %u %s after %llu packets%s%s", self->play_id,
           stopped ? "stopped" : "done", (unsigned long long)self->play_packets,
           self->missing[0] ? ", missing " : "", self->missing);
    s_free_files(self);
    s_unlink(self);
}

/* Make the next file current. Returns 0, or -1 when the list is over. */
static int s_next_file(ivr_t *self)
{
    for (;;) {
        if (self->next_path >= self->n_paths) {
            /* A looping list goes round again, unless a whole pass held no audio. */
            if (!self->loop || !self->pass_had_audio)
                return -1;
            self->next_path = 0;
            self->pass_had_audio = 0;
        }
        size_t i = self->next_path++;
        char err[256];
        const int16_t *samples;
        size_t count;
        if (sound_cache_get(self->env->cache, self->paths[i], &samples, &count, err,
                            sizeof err) < 0) {
            td_log_limited(LOG_WARNING, 10, "%s: cannot play %s: %s",
                           session_call_id(self->session), self->paths[i], err);
            if (!self->missing[0])
                snprintf(self->missing, sizeof self->missing, "%s", self->names[i]);
            continue;
        }
        if (count == 0)
            continue;
        self->pass_had_audio = 1;
        self->cur = samples;
        self->cur_n = count;
        self->cur_pos = 0;
        return 0;
    }
}

/* Fill one packet's worth of samples; the tail of the last file is padded
 * with silence. Returns how many real samples it holds (0: the prompt is over). */
static size_t s_fill(ivr_t *self, int16_t *out)
{
    size_t got = 0;
    while (got < IVR_SAMPLES_PER_PACKET) {
        if (self->cur_pos >= self->cur_n) {
            if (s_next_file(self) < 0)
                break;
            continue;
        }
        size_t n = self->cur_n - self->cur_pos;
        if (n > IVR_SAMPLES_PER_PACKET - got)
            n = IVR_SAMPLES_PER_PACKET - got;
        memcpy(out + got, self->cur + self->cur_pos, n * sizeof *out);
        self->cur_pos += n;
        got += n;
    }
    if (got)
        memset(out + got, 0, (IVR_SAMPLES_PER_PACKET - got) * sizeof *out);
    return got;
}

static void s_send_packet(ivr_t *self, const int16_t *samples, uint64_t now)
{
    uint8_t pkt[RTP_HEADER + IVR_SAMPLES_PER_PACKET];
    pkt[0] = 0x80;                                   /* version 2 */
    pkt[1] = (uint8_t)((self->marker ? 0x80 : 0) | self->g711_pt);
    pkt[2] = (uint8_t)(self->seq >> 8);
    pkt[3] = (uint8_t)self->seq;
    pkt[4] = (uint8_t)(self->ts >> 24);
    pkt[5] = (uint8_t)(self->ts >> 16);
    pkt[6] = (uint8_t)(self->ts >> 8);
    pkt[7] = (uint8_t)self->ts;
    pkt[8] = (uint8_t)(self->ssrc >> 24);
    pkt[9] = (uint8_t)(self->ssrc >> 16);
    pkt[10] = (uint8_t)(self->ssrc >> 8);
    pkt[11] = (uint8_t)self->ssrc;
    g711_encode(self->g711_pt, samples, pkt + RTP_HEADER, IVR_SAMPLES_PER_PACKET);
    session_send_caller(self->session, pkt, sizeof pkt);  /* no address yet: dropped */
    self->marker = 0;
    self->seq++;
    self->ts += IVR_SAMPLES_PER_PACKET;
    self->last_sent_ns = now;
}

/* Send what is due by now. */
static void s_play_due(ivr_t *self, uint64_t now)
{
    uint64_t due = (now - self->play_start_ns) / IVR_PACKET_NS + 1;
    if (due > self->play_packets + IVR_MAX_BURST) {
        uint64_t skip = due - self->play_packets - 1;    /* a stall: do not burst */
        self->ts += (uint32_t)(skip * IVR_SAMPLES_PER_PACKET);
        self->play_packets += skip;
    }
    while (self->playing && self->play_packets < due) {
        int16_t samples[IVR_SAMPLES_PER_PACKET];
        if (s_fill(self, samples) == 0) {
            s_play_end(self, 0, 0);
            return;
        }
        s_send_packet(self, samples, now);
        self->play_packets++;
    }
}

static int s_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static int s_add_file(ivr_t *self, size_t *cap, const char *path, const char *name)
{
    if (self->n_paths == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        char **p = realloc(self->paths, ncap * sizeof *p);
        if (!p)
            return -1;
        self->paths = p;
        char **q = realloc(self->names, ncap * sizeof *q);
        if (!q)
            return -1;
        self->names = q;
        *cap = ncap;
    }
    self->paths[self->n_paths] = strdup(path);
    self->names[self->n_paths] = strdup(name);
    if (!self->paths[self->n_paths] || !self->names[self->n_paths]) {
        free(self->paths[self->n_paths]);
        free(self->names[self->n_paths]);
        return -1;
    }
    self->n_paths++;
    return 0;
}

static int s_is_wav(const struct dirent *d)
{
    return d->d_name[0] != '.' && s_has_suffix(d->d_name, ".wav");
}

/* The files of a music-on-hold class, sorted: the class's subdirectory if
 * it exists, else the top directory. */
static void s_moh_files(ivr_t *self, const char *klass, size_t *cap)
{
    char dir[1024];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/%s", self->env->moh_dir, klass ? klass : "");
    if (!klass || !klass[0] || klass[0] == '.' || strchr(klass, '/') || stat(dir, &st) < 0
        || !S_ISDIR(st.st_mode))          /* ".." and "a/b": the top directory */
        snprintf(dir, sizeof dir, "%s", self->env->moh_dir);
    struct dirent **list;
    int n = scandir(dir, &list, s_is_wav, alphasort);
    if (n < 0) {
        td_log(LOG_WARNING, "%s: music on hold: cannot read %s: %s",
               session_call_id(self->session), dir, strerror(errno));
        snprintf(self->missing, sizeof self->missing, "%s", dir);
        return;
    }
    if (n == 0) {
        td_log(LOG_WARNING, "%s: music on hold: no .wav file in %s",
               session_call_id(self->session), dir);
        snprintf(self->missing, sizeof self->missing, "%s", dir);
    }
    for (int i = 0; i < n; i++) {
        char path[1300];
        snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
        s_add_file(self, cap, path, path);
        free(list[i]);
    }
    free(list);
}

/* End a recording: close the file and report it unless quiet. */
static void s_record_end(ivr_t *self, const char *ended_by, const char *digit, int quiet);

void ivr_play(ivr_t *self, uint32_t id, char *const *files, size_t n, int loop, int moh)
{
    s_play_end(self, 1, 0);
    s_record_end(self, "stopped", NULL, 0);
    self->playing = 1;
    self->play_id = id;
    self->loop = loop || moh;
    self->missing[0] = '\0';
    self->pass_had_audio = 0;
    size_t cap = 0;
    if (moh) {
        s_moh_files(self, n ? files[0] : NULL, &cap);
    } else {
        /* A prompt: under sounds=, or a recording (recordings=); nothing
         * else, whoever sent the MediaPlay (td_path.h). */
        const char *dirs[2] = { self->env->sounds_dir, self->env->recordings_dir };
        for (size_t i = 0; i < n; i++) {
            char path[1100], why[200];
            if (td_path_confined(files[i], dirs, 2, why, sizeof why) < 0) {
                td_log_limited(LOG_WARNING, 5, "%s: playback of '%s' refused: %s (sounds=, "
                               "recordings= in tandem.conf [media])",
                               session_call_id(self->session), files[i], why);
                if (!self->missing[0])
                    snprintf(self->missing, sizeof self->missing, "%s", files[i]);
                continue;
            }
            const char *ext = s_has_suffix(files[i], ".wav") ? "" : ".wav";
            if (files[i][0] == '/')
                snprintf(path, sizeof path, "%s%s", files[i], ext);
            else
                snprintf(path, sizeof path, "%s/%s%s", self->env->sounds_dir, files[i], ext);
            if (s_add_file(self, &cap, path, files[i]) < 0)
                td_log(LOG_ERR, "out of memory");
        }
    }
    uint64_t now = s_now_ns(self->env);
    /* The timestamp goes on from the last prompt by the time that has passed. */
    if (self->last_sent_ns) {
        uint64_t gap = (now - self->last_sent_ns) / IVR_PACKET_NS;
        if (gap > 1)
            self->ts += (uint32_t)((gap - 1) * IVR_SAMPLES_PER_PACKET);
    }
    self->marker = 1;
    self->play_start_ns = now;
    self->play_packets = 0;
    s_link(self);
    td_log(LOG_DEBUG, "playback %u: %zu files%s, PT %d", id, self->n_paths,
           self->loop ? ", looping" : "", self->g711_pt);
    s_play_due(self, now);                  /* the first packet now */
}

/* --- recording ------------------------------------------------------------ */

static void s_record_end(ivr_t *self, const char *ended_by, const char *digit, int quiet)
{
    if (!self->rec)
        return;
    uint64_t samples = wav_writer_samples(self->rec);
    /* As Asterisk's Record: keep one second of the silence that ended it,
     * and cut the last 250 ms off a recording a key ended (the key's own
     * beginning may be in it). */
    uint64_t cut = 0;
    if (!strcmp(ended_by, "silence") && self->silence_ms > 1000)
        cut = (uint64_t)(self->silence_ms - 1000) * (WAV_RATE / 1000);
    else if (!strcmp(ended_by, "dtmf"))
        cut = 250 * (WAV_RATE / 1000);
    if (!strcmp(ended_by, "silence") && cut > self->silent_samples)
        cut = self->silent_samples;              /* never cut into the voice */
    if (cut > samples)
        cut = samples;
    if (cut && wav_writer_truncate(self->rec, samples - cut) == 0)
        samples -= cut;
    if (wav_writer_close(&self->rec) < 0) {
        td_log(LOG_WARNING, "%s: recording %s: write failed", session_call_id(self->session),
               self->rec_path);
        ended_by = "error";
    }
    uint32_t ms = (uint32_t)(samples / (WAV_RATE / 1000));
    td_log(LOG_DEBUG, "recording %u to %s: %u ms, ended by %s", self->rec_id, self->rec_path,
           ms, ended_by);
    if (!quiet) {
        Tandem__MediaRecorded msg = TANDEM__MEDIA_RECORDED__INIT;
        msg.id = self->rec_id;
        msg.duration_ms = ms;
        msg.ended_by = (char *)ended_by;
        msg.path = self->rec_path;
        msg.digit = (char *)(digit ? digit : "");
        td_bus_send_media_recorded(self->env->bus, self->peer, session_call_id(self->session),
                                   0, &msg);
    }
    s_unlink(self);
}

/* mkdir -p of the directory part of path. */
static int s_make_dirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/');
    if (!slash || slash == tmp)
        return 0;
    *slash = '\0';
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

void ivr_record(ivr_t *self, uint32_t id, const char *path, uint32_t silence_ms,
                uint32_t max_ms, int dtmf_ends)
{
    s_play_end(self, 1, 0);
    s_record_end(self, "stopped", NULL, 0);
    const char *ext = s_has_suffix(path, ".wav") ? "" : ".wav";
    if (path[0] == '/')
        snprintf(self->rec_path, sizeof self->rec_path, "%s%s", path, ext);
    else
        snprintf(self->rec_path, sizeof self->rec_path, "%s/%s%s", self->env->recordings_dir,
                 path, ext);
    self->rec_id = id;
    self->silence_ms = silence_ms;
    self->max_ms = max_ms;
    self->dtmf_ends = dtmf_ends;
    self->silent_samples = 0;
    self->rec_start_ns = self->rec_last_rx_ns = s_now_ns(self->env);
    char err[1200], why[200];
    const char *dirs[1] = { self->env->recordings_dir };
    if (!path[0]) {
        snprintf(err, sizeof err, "no file name");
    } else if (td_path_confined(path, dirs, 1, why, sizeof why) < 0) {
        /* whoever sent the MediaRecord: only under recordings= (td_path.h) */
        snprintf(err, sizeof err, "'%s' refused: %s (recordings= in tandem.conf [media])",
                 path, why);
        snprintf(self->rec_path, sizeof self->rec_path, "%s", path);
    } else if (s_make_dirs(self->rec_path) < 0) {
        snprintf(err, sizeof err, "cannot create the directory of %s: %s", self->rec_path,
                 strerror(errno));
    } else {
        self->rec = wav_writer_new(self->rec_path, err, sizeof err);
    }
    if (!self->rec) {
        td_log(LOG_WARNING, "%s: cannot record: %s", session_call_id(self->session), err);
        Tandem__MediaRecorded msg = TANDEM__MEDIA_RECORDED__INIT;
        msg.id = id;
        msg.ended_by = "error";
        msg.path = self->rec_path;
        td_bus_send_media_recorded(self->env->bus, self->peer, session_call_id(self->session),
                                   0, &msg);
        return;
    }
    s_link(self);
    td_log(LOG_DEBUG, "recording %u to %s (silence %u ms, max %u ms%s)", id, self->rec_path,
           silence_ms, max_ms, dtmf_ends ? ", a key ends it" : "");
}

/* Audio from the caller while recording. */
static void s_record_audio(ivr_t *self, int pt, const uint8_t *payload, size_t n)
{
    int16_t samples[1024];
    while (n && self->rec) {
        size_t k = n < 1024 ? n : 1024;
        g711_decode(pt, payload, samples, k);
        if (wav_writer_write(self->rec, samples, k) < 0) {
            s_record_end(self, "error", NULL, 0);
            return;
        }
        uint64_t sum = 0;
        for (size_t i = 0; i < k; i++)
            sum += (uint64_t)(samples[i] < 0 ? -samples[i] : samples[i]);
        if (sum < (uint64_t)IVR_SILENCE_LEVEL * k)
            self->silent_samples += k;
        else
            self->silent_samples = 0;
        payload += k;
        n -= k;
    }
    if (!self->rec)
        return;
    uint64_t total = wav_writer_samples(self->rec);
    if (self->max_ms && total >= (uint64_t)self->max_ms * (WAV_RATE / 1000))
        s_record_end(self, "max", NULL, 0);
    else if (self->silence_ms &&
             self->silent_samples >= (uint64_t)self->silence_ms * (WAV_RATE / 1000))
        s_record_end(self, "silence", NULL, 0);
}

/* --- the session's side ------------------------------------------------------ */

ivr_t *ivr_new(ivr_env_t *env, session_t *session)
{
    ivr_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->env = env;
    self->session = session;
    self->g711_pt = G711_PT_PCMU;
    self->dtmf_pt = 101;
    snprintf(self->peer, sizeof self->peer, "router");
    uint32_t r[3];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        uint64_t t = s_now_ns(env) ^ (uint64_t)(uintptr_t)self;
        r[0] = (uint32_t)t;
        r[1] = (uint32_t)(t >> 32);
        r[2] = r[0] * 2654435761u;
    }
    self->ssrc = r[0];
    self->seq = (uint16_t)r[1];
    self->ts = r[2];
    return self;
}

void ivr_destroy(ivr_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ivr_t *self = *self_p;
    s_play_end(self, 1, 1);
    s_record_end(self, "stopped", NULL, 1);
    free(self);
    *self_p = NULL;
}

void ivr_set_caller_codecs(ivr_t *self, int g711_pt, int dtmf_pt)
{
    if (g711_pt != G711_PT_PCMU && g711_pt != G711_PT_PCMA) {
        td_log(LOG_NOTICE, "%s: the caller offered neither PCMU nor PCMA: prompts go out as PCMU",
               session_call_id(self->session));
        g711_pt = G711_PT_PCMU;
    }
    self->g711_pt = g711_pt;
    self->dtmf_pt = dtmf_pt;
}

void ivr_set_peer(ivr_t *self, const char *peer)
{
    if (peer && peer[0])
        snprintf(self->peer, sizeof self->peer, "%s", peer);
}

void ivr_stop(ivr_t *self)
{
    s_play_end(self, 1, 0);
    s_record_end(self, "stopped", NULL, 0);
}

int ivr_playing(const ivr_t *self)
{
    return self && self->playing;
}

int ivr_recording(const ivr_t *self)
{
    return self && self->rec;
}

/* An RFC 4733 event payload: report the key once, at its end. */
static void s_dtmf(ivr_t *self, uint32_t ts, const uint8_t *p, size_t n)
{
    static const char keys[] = "0123456789*#ABCD";
    if (n < 4 || !(p[1] & 0x80))
        return;                              /* not the end of the event yet */
    if (self->dtmf_seen && ts == self->dtmf_last_ts)
        return;                              /* a retransmitted end */
    self->dtmf_seen = 1;
    self->dtmf_last_ts = ts;
    if (p[0] > 15)
        return;                              /* flash and tones: not keys */
    char digit[2] = { keys[p[0]], '\0' };
    uint32_t ms = (uint32_t)((p[2] << 8 | p[3]) / (WAV_RATE / 1000));
    td_log(LOG_DEBUG, "key %s (%u ms)", digit, ms);
    if (self->rec && self->dtmf_ends) {
        s_record_end(self, "dtmf", digit, 0);
        return;
    }
    Tandem__MediaDtmf msg = TANDEM__MEDIA_DTMF__INIT;
    msg.digit = digit;
    msg.duration_ms = ms;
    td_bus_send_media_dtmf(self->env->bus, self->peer, session_call_id(self->session), 0, &msg);
}

void ivr_on_caller_rtp(ivr_t *self, const uint8_t *pkt, size_t len)
{
    if (len < RTP_HEADER || (pkt[0] >> 6) != 2)
        return;
    size_t head = RTP_HEADER + 4u * (pkt[0] & 0x0F);
    if (pkt[0] & 0x10) {                     /* header extension */
        if (len < head + 4)
            return;
        head += 4 + 4u * (size_t)(pkt[head + 2] << 8 | pkt[head + 3]);
    }
    size_t end = len;
    if (pkt[0] & 0x20) {                     /* padding: the last byte says how much */
        if (pkt[len - 1] > len)
            return;
        end = len - pkt[len - 1];
    }
    if (head > end)
        return;
    int pt = pkt[1] & 0x7F;
    uint32_t ts = (uint32_t)pkt[4] << 24 | (uint32_t)pkt[5] << 16 | (uint32_t)pkt[6] << 8 | pkt[7];
    if (pt == self->dtmf_pt) {
        s_dtmf(self, ts, pkt + head, end - head);
        return;
    }
    if (self->rec && (pt == G711_PT_PCMU || pt == G711_PT_PCMA)) {
        self->rec_last_rx_ns = s_now_ns(self->env);
        s_record_audio(self, pt, pkt + head, end - head);
    }
}

/* --- the clock ------------------------------------------------------------ */

void ivr_env_tick(ivr_env_t *self)
{
    uint64_t now = s_now_ns(self);
    ivr_t *next;
    for (ivr_t *ivr = self->active; ivr; ivr = next) {
        next = ivr->next;                    /* ivr may leave the list below */
        td_log_set_context(session_call_id(ivr->session));
        if (ivr->playing)
            s_play_due(ivr, now);
        if (ivr->rec) {
            uint64_t ms = (now - ivr->rec_start_ns) / 1000000;
            uint64_t quiet_ms = (now - ivr->rec_last_rx_ns) / 1000000;
            if (ivr->max_ms && ms >= ivr->max_ms)
                s_record_end(ivr, "max", NULL, 0);
            else if (ivr->silence_ms && quiet_ms >= ivr->silence_ms)
                s_record_end(ivr, "silence", NULL, 0);   /* no packets at all */
        }
        td_log_set_context(NULL);
    }
}

static void s_on_clock(void *arg)
{
    ivr_env_t *self = arg;
    ivr_env_tick(self);
    if (self->active_count)                 /* again in 20 ms (the due times are absolute) */
        td_timer_start(self->tick, IVR_PACKET_NS / 1000000);
}

int ivr_env_set_clock(ivr_env_t *self, td_clock_t *clock)
{
    if (self->active_count)
        return -1;
    td_clock_t *c = clock ? clock : self->own_clock;
    td_timer_t *t = td_timer_new(c, s_on_clock, self);
    if (!t)
        return -1;
    td_timer_destroy(&self->tick);
    self->clock = c;
    self->tick = t;
    return 0;
}
