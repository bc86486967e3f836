/* td_store_metrics - see td_store_metrics.h. */
#include "td_store_metrics.h"

#include <stddef.h>

static void s_up(void *arg, td_metrics_out_t *out)
{
    td_metrics_sample(out, NULL, NULL, td_store_up(arg) ? 1 : 0);
}

static void s_pending(void *arg, td_metrics_out_t *out)
{
    td_metrics_sample(out, NULL, NULL, (double)td_store_pending(arg));
}

#define S_COUNTER(field)                                                   \
    static void s_##field(void *arg, td_metrics_out_t *out)                \
    {                                                                      \
        td_metrics_sample(out, NULL, NULL, (double)td_store_counts(arg)->field); \
    }
S_COUNTER(commands)
S_COUNTER(replies)
S_COUNTER(errors)
S_COUNTER(kept)
S_COUNTER(dropped)
S_COUNTER(outages)
#undef S_COUNTER

int td_store_metrics_add(td_metrics_t *m, td_store_t *store)
{
    static const struct {
        td_metric_type_t type;
        const char *name, *help;
        td_metrics_collect_fn *fn;
    } f[] = {
        { TD_METRIC_GAUGE, "tandem_store_up",
          "1 while the Redis store is connected (cluster mode), else 0.", s_up },
        { TD_METRIC_GAUGE, "tandem_store_pending_writes",
          "Writes kept while Redis is away (or sent and not yet answered).", s_pending },
        { TD_METRIC_COUNTER, "tandem_store_commands_total", "Redis commands sent.", s_commands },
        { TD_METRIC_COUNTER, "tandem_store_replies_total", "Redis replies received.", s_replies },
        { TD_METRIC_COUNTER, "tandem_store_errors_total", "Redis error replies.", s_errors },
        { TD_METRIC_COUNTER, "tandem_store_writes_kept_total",
          "Writes kept while Redis was away (replayed when it came back).", s_kept },
        { TD_METRIC_COUNTER, "tandem_store_writes_dropped_total",
          "Kept writes dropped past TD_STORE_MAX_PENDING keys.", s_dropped },
        { TD_METRIC_COUNTER, "tandem_store_outages_total",
          "Times the connection to Redis was lost.", s_outages },
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        rc |= td_metrics_add_fn(m, f[i].type, f[i].name, f[i].help, NULL, NULL, f[i].fn, store);
    return rc ? -1 : 0;
}
