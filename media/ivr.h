/* ivr - what the IVR applications need from a call's media, on the caller's
 * side (side A): playing prompts, hearing RFC 4733 keys, recording.
 *
 * An ivr_t belongs to one session (the session owns it: session_set_ivr).
 * The worker-wide ivr_env_t holds what all of them share: the sound cache,
 * the directories, the bus to report on, and one 20 ms clock that serves
 * every session that plays or records (armed only while one does).
 *
 * Playback: files are WAVs (8 kHz 16-bit mono), encoded to the caller's law
 * (the first of PCMU/PCMA in its offer; PCMU if it offered neither), sent as
 * RTP of 160 samples every 20 ms from the caller-facing socket to the
 * caller's (latched) address, with the session's own SSRC and a sequence
 * and timestamp that continue across files and prompts (the timestamp
 * advances by the wall time between prompts, RFC 3550). The first packet of
 * each MediaPlay carries the marker bit. The pace is counted against a
 * monotonic clock from the prompt's start, so it does not drift; after a
 * stall of more than IVR_MAX_BURST packets the backlog is skipped (the
 * timestamp jumps), never sent in a burst. A missing or unreadable file is
 * skipped (the first one is reported in MediaPlayed.missing), as Asterisk's
 * Playback warns and carries on. While a prompt plays, whatever would reach
 * the caller from the other side (relay, echo) is dropped.
 *
 * DTMF: a telephone-event packet (payload type from the caller's SDP) is
 * reported once per key, at its end (end bit; the usual three end packets
 * share a timestamp and count once), as MediaDtmf. The packets themselves
 * go on as before (relayed in a bridge); they are never recorded.
 *
 * Recording: PCMU/PCMA from the caller, decoded to a WAV. It ends on
 *  - silence: IVR_SILENCE_LEVEL, the mean |sample| of a packet below 256
 *    (about -42 dBFS; Asterisk's dsp.conf default threshold, as its Record
 *    uses), for silence_ms of received audio, or no packet at all for
 *    silence_ms of wall time;
 *  - max: max_ms of audio or of wall time, whichever comes first;
 *  - dtmf: any key, when dtmf_ends (the router decides what a key means;
 *    that key is reported in MediaRecorded.digit, not as MediaDtmf);
 *  - stopped: MediaStop, or a new MediaPlay/MediaRecord;
 *  - error: the file cannot be created or written.
 * As Asterisk's Record, a recording ended by silence keeps one second of
 * that silence (silence_ms - 1000 ms are cut off), and one ended by a key
 * loses its last 250 ms; duration_ms is what the file holds.
 * Release of the call ends playback and recording without any report (the
 * router has forgotten the call); the WAV is still closed properly. */
#ifndef IVR_H
#define IVR_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

#include "td_bus.h"

typedef struct ivr ivr_t;
typedef struct ivr_env ivr_env_t;
typedef struct session session_t;

#define IVR_SAMPLES_PER_PACKET 160          /* 20 ms at 8 kHz */
#define IVR_PACKET_NS 20000000ULL
#define IVR_MAX_BURST 5                     /* packets sent at once to catch up */
#define IVR_SILENCE_LEVEL 256               /* mean |sample| below this is silence */

/* Shared state. bus is borrowed (must outlive the env); the directories
 * are copied. NULL on failure. */
ivr_env_t *ivr_env_new(struct event_base *base, td_bus_t *bus, const char *sounds_dir,
                       const char *moh_dir, const char *recordings_dir);
/* Every ivr_t must be gone first. */
void ivr_env_destroy(ivr_env_t **self_p);
/* Sessions that play or record now. */
uint32_t ivr_env_active(const ivr_env_t *self);
/* Pace playback and time recordings on clock (td_clock.h) instead of the
 * loop's real time: a test's fake clock then decides when each 20 ms tick
 * comes. NULL goes back to the real clock. Only while nothing plays or
 * records: 0, or -1. */
struct td_clock;
int ivr_env_set_clock(ivr_env_t *self, struct td_clock *clock);
/* Run the clock's work now (tests may call it; the clock calls it too). */
void ivr_env_tick(ivr_env_t *self);

/* A session's IVR state; session is borrowed (it owns the ivr). */
ivr_t *ivr_new(ivr_env_t *env, session_t *session);
/* Ends playback and recording silently (see above). */
void ivr_destroy(ivr_t **self_p);

/* What the caller's SDP offered: g711_pt 0/8 or -1, dtmf_pt. */
void ivr_set_caller_codecs(ivr_t *self, int g711_pt, int dtmf_pt);
/* Who to report to (the router's identity); copied. */
void ivr_set_peer(ivr_t *self, const char *peer);

/* The router's requests. files: n names (see proto MediaPlay). */
void ivr_play(ivr_t *self, uint32_t id, char *const *files, size_t n, int loop, int moh);
void ivr_record(ivr_t *self, uint32_t id, const char *path, uint32_t silence_ms,
                uint32_t max_ms, int dtmf_ends);
/* Stop whatever plays or records, reporting it (stopped). */
void ivr_stop(ivr_t *self);

/* The session's hooks: an RTP packet from the caller (borrowed for the
 * call), and whether audio toward the caller is to be held back now. */
void ivr_on_caller_rtp(ivr_t *self, const uint8_t *pkt, size_t len);
int ivr_playing(const ivr_t *self);
int ivr_recording(const ivr_t *self);

#endif
