/* quality - one line per media session, when it ends, appended to
 * <cdrdir>/quality.csv next to Master.csv (whose cdr_csv columns stay as
 * Asterisk writes them): the call quality the media worker measured
 * (MediaStats final; see media/rtp_stats.h). Join the two on uniqueid
 * (Master.csv has it with cdr.conf's loguniqueid=yes). A call moved to
 * another worker (a drain) has a line per worker; a call whose worker died
 * has none.
 *
 * The file starts with a header line (written when it is empty), then:
 *   "uniqueid","linkedid","end","worker", then for side A (the caller's phone)
 *   and side B (the callee's), prefixed a_ and b_:
 *   "remote",rx_packets,tx_packets,lost,loss_pct,jitter_ms,far_lost,far_loss_pct,
 *   far_jitter_ms,rtt_ms,mos
 *   and last the call's mos (the lower of the two sides that carried RTP).
 * rx_packets, lost, loss_pct, jitter_ms: the RTP the worker received from
 * that phone (lost by sequence numbers, RFC 3550 A.3; interarrival jitter,
 * A.8). far_*: what that phone's last RTCP report said of the RTP it
 * received from us (cumulative lost; its percentage of what we sent it, as
 * Asterisk's txploss; its jitter) - empty when it sent no report. rtt_ms:
 * worker <-> phone round trip from RTCP LSR/DLSR, empty when unknown. mos:
 * the E-model estimate from the worse of the two directions (rtp_stats.c),
 * empty for a side that carried no RTP. linkedid is the uniqueid (a Tandem
 * call is one linked pair of channels). Times are local "YYYY-MM-DD HH:MM:SS". */
#ifndef QUALITY_H
#define QUALITY_H

#include <stddef.h>
#include <time.h>

#include "tandem.pb-c.h"

typedef struct quality quality_t;

/* Open dir/quality.csv for append (dir exists: cdr_new made it). NULL on
 * failure (logged). */
quality_t *quality_new(const char *dir);
void quality_destroy(quality_t **self_p);

/* Append the line of one session (worker: its identity). 0, or -1 (logged). */
int quality_write(quality_t *self, const char *worker, const Tandem__MediaSessionStats *s);

/* The line (with '\n') into buf, as snprintf: its length. */
size_t quality_format(const char *worker, time_t end, const Tandem__MediaSessionStats *s,
                      char *buf, size_t len);
/* The header line. */
const char *quality_header(void);

#endif
