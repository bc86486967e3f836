/* sip_cause - Q.850 hangup causes <-> SIP status codes, as Asterisk maps them
 * (chan_sip's hangup_cause2sip and hangup_sip2cause), so DIALSTATUS and the
 * final responses callers see match what an Asterisk user expects. */
#ifndef SIP_CAUSE_H
#define SIP_CAUSE_H

/* Q.850 causes Tandem names. */
enum {
    SIP_CAUSE_UNALLOCATED = 1,
    SIP_CAUSE_NO_ROUTE_TRANSIT_NET = 2,
    SIP_CAUSE_NO_ROUTE_DESTINATION = 3,
    SIP_CAUSE_NORMAL_CLEARING = 16,
    SIP_CAUSE_USER_BUSY = 17,
    SIP_CAUSE_NO_USER_RESPONSE = 18,
    SIP_CAUSE_NO_ANSWER = 19,
    SIP_CAUSE_SUBSCRIBER_ABSENT = 20,
    SIP_CAUSE_CALL_REJECTED = 21,
    SIP_CAUSE_NUMBER_CHANGED = 22,
    SIP_CAUSE_DESTINATION_OUT_OF_ORDER = 27,
    SIP_CAUSE_INVALID_NUMBER_FORMAT = 28,
    SIP_CAUSE_FACILITY_REJECTED = 29,
    SIP_CAUSE_NORMAL_UNSPECIFIED = 31,
    SIP_CAUSE_CONGESTION = 34,
    SIP_CAUSE_FAILURE = 38,
    SIP_CAUSE_TEMPORARY_FAILURE = 41,
    SIP_CAUSE_SWITCH_CONGESTION = 42,
    SIP_CAUSE_BEARERCAPABILITY_NOTAVAIL = 58,
    SIP_CAUSE_BEARERCAPABILITY_NOTIMPL = 65,
    SIP_CAUSE_CHAN_NOT_IMPLEMENTED = 66,
    SIP_CAUSE_RECOVERY_ON_TIMER_EXPIRE = 102,
    SIP_CAUSE_INTERWORKING = 127
};

/* The final response for a caller whose call ends with this cause before it
 * was answered (Asterisk's hangup_cause2sip; unmapped causes give 603). */
int sip_cause_to_status(unsigned cause);

/* The cause for an outgoing leg that got this final status (Asterisk's
 * hangup_sip2cause; unknown 4xx/6xx give 127, unknown 5xx 34, others 16). */
unsigned sip_cause_from_status(int status);

#endif
