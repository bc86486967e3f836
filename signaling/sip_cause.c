/* sip_cause - see sip_cause.h. Two switch tables; the values follow
 * Asterisk's chan_sip so a migrated dialplan sees the same DIALSTATUS. */
#include "sip_cause.h"

int sip_cause_to_status(unsigned cause)
{
    switch (cause) {
    case SIP_CAUSE_UNALLOCATED:
    case SIP_CAUSE_NO_ROUTE_TRANSIT_NET:
    case SIP_CAUSE_NO_ROUTE_DESTINATION:     return 404;
    case SIP_CAUSE_USER_BUSY:                return 486;
    case SIP_CAUSE_NO_USER_RESPONSE:         return 408;
    case SIP_CAUSE_NO_ANSWER:
    case SIP_CAUSE_SUBSCRIBER_ABSENT:
    case SIP_CAUSE_NORMAL_UNSPECIFIED:       return 480;
    case SIP_CAUSE_CALL_REJECTED:            return 403;
    case SIP_CAUSE_NUMBER_CHANGED:           return 410;
    case SIP_CAUSE_DESTINATION_OUT_OF_ORDER: return 502;
    case SIP_CAUSE_INVALID_NUMBER_FORMAT:    return 484;
    case SIP_CAUSE_FACILITY_REJECTED:        return 501;
    case SIP_CAUSE_CONGESTION:
    case SIP_CAUSE_SWITCH_CONGESTION:
    case SIP_CAUSE_CHAN_NOT_IMPLEMENTED:     return 503;
    case SIP_CAUSE_FAILURE:                  return 500;
    case SIP_CAUSE_BEARERCAPABILITY_NOTAVAIL:
    case SIP_CAUSE_BEARERCAPABILITY_NOTIMPL: return 488;
    case SIP_CAUSE_RECOVERY_ON_TIMER_EXPIRE: return 504;
    case SIP_CAUSE_INTERWORKING:             return 500;
    default:                                 return 603;
    }
}

unsigned sip_cause_from_status(int status)
{
    switch (status) {
    case 401: case 403: case 407: case 603:  return SIP_CAUSE_CALL_REJECTED;
    case 404: case 485: case 604:            return SIP_CAUSE_UNALLOCATED;
    case 408:                                return SIP_CAUSE_NO_USER_RESPONSE;
    case 409:                                return SIP_CAUSE_TEMPORARY_FAILURE;
    case 410:                                return SIP_CAUSE_NUMBER_CHANGED;
    case 420:                                return SIP_CAUSE_NO_ROUTE_DESTINATION;
    case 480: case 483:                      return SIP_CAUSE_NO_ANSWER;
    case 484:                                return SIP_CAUSE_INVALID_NUMBER_FORMAT;
    case 486: case 600:                      return SIP_CAUSE_USER_BUSY;
    case 488: case 606:                      return SIP_CAUSE_BEARERCAPABILITY_NOTAVAIL;
    case 500:                                return SIP_CAUSE_FAILURE;
    case 501:                                return SIP_CAUSE_FACILITY_REJECTED;
    case 502:                                return SIP_CAUSE_DESTINATION_OUT_OF_ORDER;
    case 503:                                return SIP_CAUSE_CONGESTION;
    case 504:                                return SIP_CAUSE_RECOVERY_ON_TIMER_EXPIRE;
    case 505:                                return SIP_CAUSE_INTERWORKING;
    default:
        if (status >= 400 && status < 500)
            return SIP_CAUSE_INTERWORKING;   /* 405, 481, 487, 491 ... */
        if (status >= 500 && status < 600)
            return SIP_CAUSE_CONGESTION;
        if (status >= 600 && status < 700)
            return SIP_CAUSE_INTERWORKING;
        return SIP_CAUSE_NORMAL_CLEARING;
    }
}
