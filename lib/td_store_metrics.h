/* td_store_metrics - the Redis store's families in a process's metrics. */
#ifndef TD_STORE_METRICS_H
#define TD_STORE_METRICS_H

#include "td_metrics.h"
#include "td_store.h"

/* Register the store's families in m (tandem_store_up, _pending_writes and
 * the counters of td_store_counts); store is borrowed and must outlive m's
 * scrapes (destroy m first). 0, or -1 when m is full. */
int td_store_metrics_add(td_metrics_t *m, td_store_t *store);

#endif
