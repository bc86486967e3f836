/* cli_relay - tandemctl commands that another process answers: the router
 * passes a `sip ...` line (CliRequest) on to every live signaling process,
 * which holds the peers, registrations and qualify results, and hands the
 * answers back to the ctl peer as one CliReply: the texts one after the
 * other (each under a "-- sig-N --" line when there are several), the
 * highest status. A process that does not answer within CLI_RELAY_WAIT_MS
 * is named in the reply, which then has status 2. Not a hot path. */
#ifndef CLI_RELAY_H
#define CLI_RELAY_H

#include <stdint.h>
#include <event2/event.h>
#include "td_bus.h"

#define CLI_RELAY_WAIT_MS 3000      /* below tandemctl's own 5 s */

typedef struct cli_relay cli_relay_t;

/* bus is borrowed for the relay's life. NULL on failure. */
cli_relay_t *cli_relay_new(struct event_base *base, td_bus_t *bus);
/* Requests still waiting are answered (status 2) before they go. */
void cli_relay_destroy(cli_relay_t **self_p);

/* Whether the router passes this command line on (its first word is
 * "sip"; `sip show channelstats` is the router's own: the media counts are
 * there; so is `sip show locations`: the router's table of which signaling
 * node holds each registration). */
int cli_relay_wants(const char *command);

/* Pass command (from ctl peer `ctl` with request id `id`) to every live
 * signaling process. 0, or -1 when there is none (nothing sent). */
int cli_relay_forward(cli_relay_t *self, const char *ctl, uint32_t id, const char *command);

/* A CliReply from a signaling process (the bus's handler hands it over). */
void cli_relay_reply(cli_relay_t *self, const td_bus_hdr_t *hdr, const Tandem__CliReply *msg);

#endif
