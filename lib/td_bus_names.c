/* td_bus_names - the names of the bus messages, for logs. Its own file so
 * that the real bus and the unit tests' fake share it. */
#include "td_bus.h"

const char *td_bus_msg_name(int body_case)
{
    switch (body_case) {
    case TANDEM__ENVELOPE__BODY_HELLO: return "hello";
#define TD_BUS_X_NAME(name, Type, CASE) case TANDEM__ENVELOPE__BODY_##CASE: return #name;
    TD_BUS_MESSAGES(TD_BUS_X_NAME)
#undef TD_BUS_X_NAME
    default: return "unknown";
    }
}
