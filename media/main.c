/* tandem-media - the media worker: anchors RTP for the router's calls.
 *
 *   tandem-media [-c CONFDIR] [-i IDENTITY] [-l LEVEL]
 *
 * Reads CONFDIR/tandem.conf ([bus], [media]) and CONFDIR/rtp.conf, dials the
 * router, and serves MediaOffer/Answer/Echo/Release until SIGINT or SIGTERM; SIGUSR1
 * drains it (worker_drain): its calls move elsewhere, then it exits. */
#include <signal.h>
#include <stdio.h>
#include <event2/event.h>

#include "rtp_conf.h"
#include "media_metrics.h"
#include "sdes.h"
#include "sound_dir.h"
#include "td_hash.h"
#include "td_log.h"
#include "td_settings.h"
#include "worker.h"

static void s_on_usr1(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    worker_drain(arg);
}

/* SIGHUP (logrotate): the log file is reopened, rtp.conf is read at start only;
 * the worker goes on (SIGHUP's default action would end every call). */
static void s_on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
    td_log_reopen();
    td_log(LOG_NOTICE, "Got SIGHUP: log reopened; the worker goes on");
}

static void s_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct event_base *base = arg;
    td_log(LOG_NOTICE, "signal %d: stopping", (int)sig);
    event_base_loopexit(base, NULL);
}

int main(int argc, char **argv)
{
    td_settings_t settings;
    if (td_settings_load(&settings, "media", argc, argv) < 0)
        return 1;
    if (td_settings_log_init(&settings, "media") < 0)
        return 1;

    rtp_conf_t rtp;
    char err[1024];
    if (rtp_conf_load(&rtp, settings.confdir, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Where Playback() and MusicOnHold() read: said once at start, with a
     * WARNING naming what to install when they cannot work. */
    sound_dir_resolve(settings.sounds_dir, sizeof settings.sounds_dir, sound_dir_prompts, 0,
                      "prompts", "sounds", "asterisk-core-sounds-en-wav asterisk-core-sounds-en");
    sound_dir_resolve(settings.moh_dir, sizeof settings.moh_dir, sound_dir_moh, 1,
                      "music on hold", "moh", "asterisk-moh-opsound-wav");

    /* libsrtp's self-tests now, not in the first call's set-up (sdes.h).
     * If it cannot start, plain calls still work; SRTP ones fail (logged). */
    sdes_init();

    td_hash_init();            /* every table's hash seed, from getrandom, once */
    struct event_base *base = event_base_new();
    if (!base) {
        td_log(LOG_ERR, "cannot create the event loop");
        return 1;
    }
    td_log_attach(base);
    worker_t *worker = worker_new(base, &settings, &rtp);
    if (!worker) {
        td_log_detach();
        event_base_free(base);
        return 1;
    }
    td_metrics_t *metrics = NULL;
    if (media_metrics_start(base, worker, &settings, &metrics) < 0) {
        worker_destroy(&worker);
        event_base_free(base);
        return 1;
    }
    struct event *sigint = evsignal_new(base, SIGINT, s_on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, s_on_signal, base);
    struct event *sigusr1 = evsignal_new(base, SIGUSR1, s_on_usr1, worker);
    struct event *sighup = evsignal_new(base, SIGHUP, s_on_hup, NULL);
    if (!sigint || !sigterm || !sigusr1 || !sighup || event_add(sigint, NULL) < 0 ||
        event_add(sigterm, NULL) < 0 || event_add(sigusr1, NULL) < 0 ||
        event_add(sighup, NULL) < 0) {
        td_log(LOG_ERR, "cannot watch SIGINT/SIGTERM/SIGUSR1/SIGHUP");
        if (sighup)
            event_free(sighup);
        if (sigusr1)
            event_free(sigusr1);
        if (sigint)
            event_free(sigint);
        if (sigterm)
            event_free(sigterm);
        td_metrics_destroy(&metrics);
        worker_destroy(&worker);
        td_log_detach();
        event_base_free(base);
        return 1;
    }

    event_base_dispatch(base);

    event_free(sighup);
    event_free(sigusr1);
    event_free(sigterm);
    event_free(sigint);
    td_metrics_destroy(&metrics);
    worker_destroy(&worker);
    td_log_detach();     /* flushes the log; frees its write event */
    int left = event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED);
    if (left > 0)
        td_log(LOG_WARNING, "%d events still registered at exit", left);
    event_base_free(base);
    td_log(LOG_NOTICE, "stopped");
    return 0;
}
