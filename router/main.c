/* tandem-router - the dialplan process. Reads extensions.conf, binds the
 * bus, runs every call's dialplan, writes CDRs.
 *
 *   tandem-router [-c CONFDIR] [-i IDENTITY] [-l LEVEL] [--check]
 *
 * SIGHUP reloads extensions.conf (router_reload). The plan loads as
 * Asterisk loads it: what Asterisk warns about and skips is a warning here
 * too, and the router runs. --check starts nothing: it reads tandem.conf
 * and extensions.conf, prints every warning and error ("file:line: reason")
 * on stderr, a summary on stdout, and exits 1 if there was any, else 0. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <event2/event.h>

#include "dialplan.h"
#include "func.h"
#include "router.h"
#include "router_metrics.h"
#include "td_conf.h"
#include "td_hash.h"
#include "td_log.h"
#include "td_settings.h"

typedef struct {
    router_t *router;
    const char *path;
} s_reload_t;

/* SIGHUP: reopen the log file (logrotate), re-read extensions.conf (as
 * Asterisk's "dialplan reload"). */
static void s_on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    s_reload_t *r = arg;
    td_log_reopen();
    td_log(LOG_NOTICE, "Got SIGHUP: reloading %s", r->path);
    router_reload(r->router, r->path);
}

static void s_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    td_log(LOG_NOTICE, "Got signal %d: stopping", (int)sig);
    event_base_loopexit(arg, NULL);
}

/* --check: 0 if the plan loads clean, else 1. */
static int s_check(const char *path)
{
    int n = dialplan_check(path, stderr);
    if (n)
        printf("%s: %d problem(s)\n", path, n);
    else
        printf("%s: OK\n", path);
    return n ? 1 : 0;
}

int main(int argc, char **argv)
{
    /* --check is ours; the rest is every process's command line. */
    int check = 0, n = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--check") == 0)
            check = 1;
        else
            argv[n++] = argv[i];
    }
    argc = n;
    argv[argc] = NULL;
    td_settings_t s;
    if (td_settings_load(&s, "router", argc, argv) < 0)
        return 1;
    if (td_settings_log_init(&s, "router") < 0)
        return 1;

    char path[1024], err[1024];
    td_conf_path(path, sizeof path, s.confdir, "extensions.conf");
    if (check)
        return s_check(path);
    dialplan_t *dialplan = dialplan_load(path, err, sizeof err);
    if (!dialplan) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (dialplan_warnings(dialplan))
        td_log(LOG_WARNING, "%s loaded with %d warning(s) (above; tandem-router --check "
               "lists them)", path, dialplan_warnings(dialplan));
    td_hash_init();            /* every table's hash seed, from getrandom, once */
    struct event_base *base = event_base_new();
    if (!base) {
        fprintf(stderr, "tandem-router: cannot create the event loop\n");
        dialplan_destroy(&dialplan);
        return 1;
    }
    td_log_attach(base);
    router_set_media_dirs(s.sounds_dir, s.recordings_dir);
    router_t *router = router_new_keyed(base, s.endpoint, s.identity, &dialplan, s.cdrdir,
                                       &s.bus_keys);
    if (!router) {
        fprintf(stderr, "tandem-router: cannot start (bus %s, cdr %s); see the log above\n",
                s.endpoint, s.cdrdir);
        td_log_detach();
        event_base_free(base);
        return 1;
    }
    if (s.cluster.enabled) {
        if (router_open_cluster(router, &s.cluster, s.identity) < 0) {
            router_destroy(&router);
            td_log_detach();
            event_base_free(base);
            return 1;
        }
    } else
        router_open_astdb(router, s.astdb);
    router_set_max_call(router, s.max_call_s);
    router_set_signaling_grace(router, s.sig_grace_s);
    router_set_signaling_restores(router, s.cluster.enabled);
    router_set_plan_path(router, path);
    char cdrconf[1024];
    router_cdr_options(router, td_conf_path(cdrconf, sizeof cdrconf, s.confdir, "cdr.conf"));
    char pgconf[1024], spool[1024];
    snprintf(spool, sizeof spool, "%s/cdr_pgsql.spool", s.cdrdir);
    router_cdr_pgsql(router, td_conf_path(pgconf, sizeof pgconf, s.confdir, "cdr_pgsql.conf"),
                     spool);
    router_open_journal(router, s.cdrdir);   /* after the store: it leaves answered calls to it */
    func_set_confdir(s.confdir);   /* SIPPEER() reads sip.conf there */
    td_metrics_t *metrics = NULL;
    if (router_metrics_start(base, router, &s, &metrics) < 0) {
        router_destroy(&router);
        func_set_confdir(NULL);
        event_base_free(base);
        return 1;
    }
    struct event *sigint = evsignal_new(base, SIGINT, s_on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, s_on_signal, base);
    s_reload_t reload = { router, path };
    struct event *sighup = evsignal_new(base, SIGHUP, s_on_hup, &reload);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    event_add(sighup, NULL);
    td_log(LOG_NOTICE, "Router %s listening on %s", s.identity, s.endpoint);

    event_base_dispatch(base);

    event_free(sighup);
    event_free(sigterm);
    event_free(sigint);
    td_metrics_destroy(&metrics);
    router_destroy(&router);
    func_set_confdir(NULL);   /* drops SIPPEER's copy of sip.conf */
    td_log_detach();     /* flushes the log; frees its write event */
    int left = event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED);
    if (left)
        td_log(LOG_WARNING, "%d event(s) still registered at exit", left);
    event_base_free(base);
    td_log(LOG_NOTICE, "Router stopped");
    return 0;
}
