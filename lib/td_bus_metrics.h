/* td_bus_metrics - the bus's metric families (see td_bus_metrics.c). */
#ifndef TD_BUS_METRICS_H
#define TD_BUS_METRICS_H

#include "td_bus.h"
#include "td_metrics.h"

/* Register the bus's families in m; bus is borrowed and must outlive m's
 * scrapes (destroy m first). 0, or -1 when m is full. */
int td_bus_metrics_add(td_metrics_t *m, td_bus_t *bus);

#endif
