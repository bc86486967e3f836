/* sip_counts - what the transaction layer counts for metrics
 * (sip_metrics.c): SIP messages by method and response code, in and out.
 * Plain array adds on the message path: no allocation, no lookup beyond
 * sip_method_index()'s few compares. */
#ifndef SIP_COUNTS_H
#define SIP_COUNTS_H

#include <stdint.h>

/* The methods counted by name; the rest count as SIP_METHOD_OTHER. */
#define SIP_METHODS(X) \
    X(INVITE) X(ACK) X(BYE) X(CANCEL) X(OPTIONS) X(REGISTER) X(INFO) X(UPDATE) \
    X(PRACK) X(REFER) X(NOTIFY) X(SUBSCRIBE) X(MESSAGE) X(PUBLISH) X(OTHER)

typedef enum {
#define SIP_X_ENUM(name) SIP_METHOD_##name,
    SIP_METHODS(SIP_X_ENUM)
#undef SIP_X_ENUM
    SIP_METHOD_COUNT
} sip_method_t;

#define SIP_CODE_MIN   100
#define SIP_CODE_COUNT 600            /* 100..699 */

typedef struct {
    uint64_t requests_in[SIP_METHOD_COUNT];     /* retransmissions included */
    uint64_t requests_out[SIP_METHOD_COUNT];    /* first sends; resends below */
    /* [CSeq method][code - 100] */
    uint64_t responses_in[SIP_METHOD_COUNT][SIP_CODE_COUNT];
    uint64_t responses_out[SIP_METHOD_COUNT][SIP_CODE_COUNT];
    uint64_t retransmits_out;                   /* requests or responses sent again */
    uint64_t retransmits_in;                    /* requests matching a transaction again */
} sip_counts_t;

/* The index of a method name (case-sensitive, as RFC 3261 says); NULL or an
 * unknown name: SIP_METHOD_OTHER. */
sip_method_t sip_method_index(const char *method);
/* "INVITE", ..., "OTHER". */
const char *sip_method_name(sip_method_t m);

#endif
