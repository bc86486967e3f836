/* sip_refer - the parsing and building that call transfer needs (RFC 3515
 * REFER, RFC 3891 Replaces, RFC 3420 sipfrag NOTIFY), kept apart from the
 * leg state machine in sip_legs.c, which calls these.
 *
 * Parsers take what a phone sent and say what is wrong with it as the SIP
 * status to answer, the way chan_sip's get_refer_info does: no Refer-To
 * (or two, or one that is not a URI) is 400, a URI that is not sip:/sips:
 * is 603. They never allocate: results land in fixed buffers, and input
 * longer than a buffer is refused (400), never cut. */
#ifndef SIP_REFER_H
#define SIP_REFER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <osipparser2/osip_message.h>

#include "sip_dialog.h"

/* The dialog a Replaces names (RFC 3891: callid;to-tag=..;from-tag=..). */
typedef struct {
    char call_id[256];
    char to_tag[128];
    char from_tag[128];
    int early_only;                /* ;early-only */
} sip_replaces_t;

typedef struct {
    char exten[80];                /* the Refer-To URI's user, %-decoded */
    char domain[128];              /* its host, without the port */
    char referred_by[256];         /* "<sip:...>" from Referred-By, or "" */
    int attended;                  /* the URI carries ?Replaces= */
    sip_replaces_t replaces;       /* when attended */
} sip_refer_t;

/* Parse a Replaces value (the header's, or the %-decoded URI header's).
 * 0, or 400 when the call id or either tag is missing or too long. */
int sip_refer_parse_replaces(const char *value, sip_replaces_t *out);

/* Parse the value of one Refer-To header into out. 0, 400 (not a URI, no
 * user, a bad Replaces, too long) or 603 (not sip:/sips:, as chan_sip's
 * "603 Declined (Non sip: uri)"). */
int sip_refer_parse_to(const char *value, sip_refer_t *out);

/* The REFER's Refer-To (one, also as the compact "r") and Referred-By.
 * 0, 400 (none, two, malformed) or 603. */
int sip_refer_parse(const osip_message_t *req, sip_refer_t *out);

/* An INVITE's Replaces header: 0 and *out when there is one well-formed
 * Replaces, 1 when there is none, 400 when it is malformed or repeated. */
int sip_refer_invite_replaces(const osip_message_t *req, sip_replaces_t *out);

/* The NOTIFY of the implicit subscription (RFC 3515 2.4.4): Event
 * refer;id=<the REFER's CSeq>, Subscription-State active or terminated
 * (reason=noresource, as chan_sip), body "SIP/2.0 <status>\r\n" as
 * message/sipfrag;version=2.0. The request is built on d (local CSeq
 * taken), with our Contact; NULL on ENOMEM. */
osip_message_t *sip_refer_notify(sip_dialog_t *d, uint32_t refer_cseq, const char *status,
                                 int terminated, const char *contact_user,
                                 const struct sockaddr_in *me);

/* sdp with every a=sendonly, a=recvonly and a=inactive line made
 * a=sendrecv (a transferee is offered a new session whatever hold it was
 * in). 0, or -1 when out is too small. */
int sip_refer_sendrecv(const char *sdp, char *out, size_t len);

/* sdp with its o= line replaced by prev's o= with the version one higher
 * (RFC 3264 section 8: one session per dialog, each new SDP one version up).
 * prev NULL or without o=: sdp as it is. 0, or -1 when out is too small or
 * sdp has no o= line. */
int sip_refer_restamp(const char *prev, const char *sdp, char *out, size_t len);

#endif
