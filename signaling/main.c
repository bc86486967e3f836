/* tandem-signaling: SIP over UDP (and TCP/TLS when sip.conf enables them,
 * sip_listen.h) in front of the router.
 *
 *   tandem-signaling [-c CONFDIR] [-i IDENTITY] [-l LEVEL] [-b ENDPOINT] [-s ADDR[:PORT]]
 *                    [--check]
 *
 * sip.conf loads as chan_sip loads it: a bad value chan_sip warns about and
 * loads past is a warning naming file:line here too, and signaling runs.
 * --check starts nothing: it reads sip.conf, prints every warning and error
 * on stderr, a summary on stdout, and exits 1 if there was any, else 0.
 *
 * Reads CONFDIR/sip.conf (and tandem.conf through td_settings), binds the
 * UDP socket (sip.conf's address, or -s / TANDEM_SIP_BIND's), and runs the signaling core on one libevent loop until SIGINT
 * or SIGTERM. SIGHUP re-reads sip.conf (as `sip reload`). */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "sip_legs.h"
#include "sip_conf.h"
#include "sip_core.h"
#include "sip_metrics.h"
#include "td_conf.h"
#include "td_hash.h"
#include "td_log.h"
#include "td_settings.h"

#define SOCKET_BUFFER (4 * 1024 * 1024)   /* bursts of thousands of calls a second */

#define STOP_WAIT_MS 2000     /* SIGTERM: the longest we wait for BYEs to be answered */

static sip_core_t *s_core;
static struct event *s_stop_timer;
static int s_stop_ticks;

/* While stopping: leave once every leg is gone (its BYE or CANCEL answered)
 * or after STOP_WAIT_MS. */
static void s_on_stop_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sip_legs_stats_t st;
    sip_legs_stats(sip_core_legs(s_core), &st);
    if (st.legs == 0 || ++s_stop_ticks * 100 >= STOP_WAIT_MS) {
        if (st.legs)
            td_log(LOG_NOTICE, "stopping with %zu leg(s) not yet answered", (size_t)st.legs);
        event_base_loopexit(arg, NULL);
        return;
    }
    struct timeval tv = { 0, 100000 };
    evtimer_add(s_stop_timer, &tv);
}

/* SIGTERM / SIGINT: new calls get 503; every leg is ended as SIP ends it
 * (503, CANCEL, BYE) and the router told, then we wait (bounded) for the
 * answers. A second signal stops at once. */
static void s_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    if (!s_core || s_stop_timer) {
        td_log(LOG_NOTICE, "signal %d: stopping now", (int)sig);
        event_base_loopexit(arg, NULL);
        return;
    }
    size_t ended = sip_core_shutdown(s_core);
    td_log(LOG_NOTICE, "signal %d: stopping: new calls get 503, %zu leg(s) ended", (int)sig, ended);
    s_stop_timer = evtimer_new(arg, s_on_stop_tick, arg);
    struct timeval tv = { 0, ended ? 100000 : 0 };
    if (!s_stop_timer || evtimer_add(s_stop_timer, &tv) != 0)
        event_base_loopexit(arg, NULL);
}

/* SIGHUP (logrotate sends it to every process): reopen the logs, then
 * re-read sip.conf as `sip reload` does (sip_core_reload: calls in
 * progress go on; a broken file is refused and the config in force stays).
 * Before, SIGHUP's default action ended the process and every call. */
static void s_on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
    /* Logs first, so that what the reload says goes to the new file. */
    td_log_reopen();
    if (!s_core)
        return;
    char why[1024];
    if (sip_core_reload(s_core, why, sizeof why) < 0)
        td_log(LOG_WARNING, "Got SIGHUP: sip.conf not reloaded: %s", why);
    else
        td_log(LOG_NOTICE, "Got SIGHUP: %s", why);
}

/* A non-blocking UDP socket bound to addr, with large buffers; -1 on error. */
static int s_bind(const struct sockaddr_in *addr)
{
    char where[32];
    snprintf(where, sizeof where, "%s:%d", inet_ntoa(addr->sin_addr), ntohs(addr->sin_port));
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "tandem-signaling: socket: %s\n", strerror(errno));
        return -1;
    }
    int size = SOCKET_BUFFER, one = 1;
    /* The FORCE variants pass net.core.*mem_max when we are root. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)addr, sizeof *addr) != 0) {
        fprintf(stderr, "tandem-signaling: cannot bind UDP %s: %s\n", where, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
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
    if (td_settings_load(&s, "signaling", argc, argv) < 0)
        return 1;
    if (td_settings_log_init(&s, "signaling") < 0)
        return 1;

    char path[600], err[1024];
    td_conf_path(path, sizeof path, s.confdir, "sip.conf");
    sip_conf_t *conf = sip_conf_load(path, err, sizeof err);
    if (!conf) {
        fprintf(stderr, "%s\n", err);
        if (check)
            printf("%s: 1 problem(s)\n", path);
        return 1;
    }
    if (check) {
        int bad = sip_conf_warnings(conf);
        if (bad)
            printf("%s: %d problem(s)\n", path, bad);
        else
            printf("%s: OK\n", path);
        sip_conf_destroy(&conf);
        return bad ? 1 : 0;
    }
    if (sip_conf_warnings(conf))
        td_log(LOG_WARNING, "%s loaded with %d warning(s) (above; tandem-signaling --check "
               "lists them)", path, sip_conf_warnings(conf));
    signal(SIGPIPE, SIG_IGN);
    int rc = 1;
    struct event_base *base = NULL;
    struct event *sigint = NULL, *sigterm = NULL, *sighup = NULL;
    sip_core_t *core = NULL;
    td_metrics_t *metrics = NULL;
    struct sockaddr_in bind_to = sip_conf_general(conf)->bind;
    td_settings_sip_bind(&s, &bind_to);
    int fd = s_bind(&bind_to);
    if (fd < 0)
        goto out;
    td_hash_init();            /* every table's hash seed, from getrandom, once */
    base = event_base_new();
    if (!base) {
        fprintf(stderr, "tandem-signaling: cannot create the event loop\n");
        goto out;
    }
    td_log_attach(base);
    sip_ban_opts_t ban = { .threshold = s.ban_threshold, .window_s = s.ban_window_s,
                           .ban_s = s.ban_time_s, .drop = s.ban_drop, .exempt = s.ban_exempt,
                           .drop_scanners = s.drop_scanners,
                           .scanners = s.scanner_useragents[0] ? s.scanner_useragents : NULL };
    sip_core_opts_t opts = { .identity = s.identity, .endpoint = s.endpoint,
                             .discover = s.discover,
                             .bus_keys = &s.bus_keys,
                             .capacity = s.capacity, .max_ringing = s.max_ringing,
                             .overload_lag_ms = s.overload_lag_ms, .max_cps = s.max_cps,
                             .nonce_lifetime = s.nonce_lifetime_s,
                             .max_sdp = s.max_sdp, .max_transactions = s.max_transactions,
                             .conf_path = path, .cluster = &s.cluster, .ban = &ban };
    core = sip_core_new(base, conf, fd, &opts);
    if (!core)
        goto out;
    s_core = core;
    if (sip_metrics_start(base, core, &s, &metrics) < 0)
        goto out;
    sigint = evsignal_new(base, SIGINT, s_on_signal, base);
    sigterm = evsignal_new(base, SIGTERM, s_on_signal, base);
    sighup = evsignal_new(base, SIGHUP, s_on_hup, NULL);
    if (!sigint || !sigterm || !sighup || event_add(sigint, NULL) != 0 ||
        event_add(sigterm, NULL) != 0 || event_add(sighup, NULL) != 0) {
        fprintf(stderr, "tandem-signaling: cannot watch signals\n");
        goto out;
    }
    struct sockaddr_in bound;
    socklen_t bl = sizeof bound;
    getsockname(fd, (struct sockaddr *)&bound, &bl);
    td_log(LOG_NOTICE, "listening on udp %s:%d as %s, router at %s, %zu peers and %zu "
           "registrations in %s", inet_ntoa(bound.sin_addr), ntohs(bound.sin_port), s.identity,
           s.endpoint, sip_conf_peer_count(conf), sip_conf_register_count(conf), path);
    event_base_dispatch(base);
    size_t unreg = core ? sip_core_unregister(core) : 0;
    if (unreg) {
        td_log(LOG_NOTICE, "unregistered %zu outbound registration(s)", unreg);
        /* over TCP/TLS the REGISTERs wait in a connection's buffer (or its
         * connect): give the loop a moment to write them */
        struct timeval grace = { 0, 300000 };
        event_base_loopexit(base, &grace);
        event_base_dispatch(base);
    }
    rc = 0;
out:
    if (s_stop_timer)
        event_free(s_stop_timer);
    if (sighup)
        event_free(sighup);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    td_metrics_destroy(&metrics);
    sip_core_destroy(&core);
    if (base) {
        td_log_detach();     /* flushes the log; frees its write event */
        int left = event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED);
        if (left)
            td_log(LOG_WARNING, "%d event(s) still registered at exit", left);
        event_base_free(base);
    }
    if (fd >= 0)
        close(fd);
    sip_conf_destroy(&conf);
    return rc;
}
