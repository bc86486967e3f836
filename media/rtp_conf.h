/* rtp_conf - Asterisk's rtp.conf, as far as a media worker needs it:
 *
 *   [general]
 *   rtpstart=10000   ; first port (RTP on even ports, RTCP on the odd one above)
 *   rtpend=20000     ; last port
 *   strictrtp=yes    ; yes | seqno | no: learn each side's RTP source, then
 *                    ; drop other sources (rtp_strict.h; Asterisk 20's default)
 *   probation=4      ; packets in sequence a new source must send (2 or more)
 *
 * A missing rtp.conf means the defaults (those of Asterisk's sample file).
 * Other [general] keys Asterisk knows (icesupport, ...) are accepted and
 * each logged once as ignored; other sections are skipped. */
#ifndef RTP_CONF_H
#define RTP_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "rtp_strict.h"

#define RTP_CONF_DEFAULT_START 10000
#define RTP_CONF_DEFAULT_END   20000

typedef struct {
    uint16_t start;
    uint16_t end;
    rtp_strict_mode_t strictrtp;   /* 0 (no) in a zeroed struct; loaded: yes by default */
    unsigned probation;            /* < 2: RTP_STRICT_PROBATION_DEFAULT */
} rtp_conf_t;

/* Read CONFDIR/rtp.conf into out. Returns 0, or -1 with "file:line: reason"
 * (or "file: reason") in err. */
int rtp_conf_load(rtp_conf_t *out, const char *confdir, char *err, size_t errlen);

#endif
