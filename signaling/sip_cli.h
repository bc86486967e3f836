/* sip_cli - the `sip ...` commands of tandemctl, answered by signaling (the
 * router relays them here as CliRequest): `sip show peers [like <re>]`,
 * `sip show peer <name>`, `sip show users [like <re>]`, `sip show registry`
 * and `sip reload`, in the layout of Asterisk 20's chan_sip
 * (_sip_show_peers, _sip_show_peer, sip_show_users, sip_show_registry), so
 * scripts written for `asterisk -rx` read them the same. Not a hot path:
 * the reply is built in one malloc'd buffer. */
#ifndef SIP_CLI_H
#define SIP_CLI_H

#include <stddef.h>
#include "sip_conf.h"
#include "sip_outreg.h"
#include "sip_registrar.h"

/* The reply statuses, as the router's CLI: Asterisk's CLI_SUCCESS,
 * CLI_SHOWUSAGE, CLI_FAILURE. */
enum { SIP_CLI_OK = 0, SIP_CLI_USAGE = 1, SIP_CLI_FAILED = 2 };

/* What the commands read; all borrowed for the call. */
typedef struct {
    const sip_conf_t *conf;
    sip_registrar_t *registrar;
    /* The peer's last qualify round trip (sip_qualify_lastms): 0 unknown,
     * -1 unreachable. NULL: always 0. */
    int (*lastms)(void *arg, const sip_peer_t *peer);
    const sip_outreg_t *outreg;     /* NULL: no register => lines */
    long now;                       /* seconds, the registrar's clock */
    /* `sip reload`: 0 done (a one-line summary in why), or -1 with the
     * reason ("file:line: reason") in why. NULL: the command fails. env's
     * pointers are stale after a reload that succeeded. */
    int (*reload)(void *arg, char *why, size_t len);
    struct sip_ban *ban;            /* `sip show bans`, `sip unban`; NULL: none */
    void *arg;
} sip_cli_env_t;

/* Run one command line (its first word is "sip"). The reply's text,
 * malloc'd (never NULL unless out of memory), goes to *text; returns the
 * SIP_CLI_* status. */
int sip_cli_run(const sip_cli_env_t *env, const char *command, char **text);

#endif
