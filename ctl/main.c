/* tandemctl - ask the running cluster over the bus, in Asterisk's CLI words,
 * so that `asterisk -rx` habits carry over:
 *
 *   tandemctl [-c CONFDIR] [-b ENDPOINT] -x 'core show channels'
 *   tandemctl [-c CONFDIR] [-b ENDPOINT]          (a prompt; `quit` ends it)
 *
 * It connects to the router named by tandem.conf's [bus] endpoint (or -b,
 * or TANDEM_BUS) as a peer of role "ctl", sends each command line
 * (CliRequest) and prints the router's answer (CliReply). `help` lists the
 * commands. Exit status with -x: 0 done, 1 unknown command or bad
 * arguments, 2 the command failed, 3 no answer from the router. */
#define TD_LOG_SUBSYS TD_LOG_CLI   /* td_log() here: [logging] cli= */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "td_bus.h"
#include "td_log.h"
#include "td_settings.h"

#define ANSWER_WAIT_S 5

typedef struct {
    struct event_base *base;
    td_bus_t *bus;
    int router_up;
    uint32_t id;                /* of the request in flight */
    int answered;
    uint32_t status;
} ctl_t;

static void s_on_up(void *arg, const char *peer, const char *role, uint32_t capacity)
{
    (void)peer;
    (void)capacity;
    ctl_t *self = arg;
    if (strcmp(role, "router") == 0) {
        self->router_up = 1;
        event_base_loopbreak(self->base);
    }
}

static void s_on_reply(void *arg, const td_bus_hdr_t *hdr, const Tandem__CliReply *msg)
{
    (void)hdr;
    ctl_t *self = arg;
    if (msg->id != self->id)
        return;                 /* the answer to a request we gave up on */
    fputs(msg->text ? msg->text : "", stdout);
    fflush(stdout);
    self->answered = 1;
    self->status = msg->status;
    event_base_loopbreak(self->base);
}

static void s_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Run the loop until a handler breaks it or `secs` pass. */
static void s_run(ctl_t *self, int secs)
{
    struct timeval tv = { secs, 0 };
    struct event *deadline = evtimer_new(self->base, s_on_deadline, self->base);
    if (deadline)
        evtimer_add(deadline, &tv);
    event_base_dispatch(self->base);
    if (deadline)
        event_free(deadline);
}

/* One command: its answer printed; the CliReply status, or 3 without one. */
static int s_ask(ctl_t *self, const char *endpoint, const char *command)
{
    if (!self->router_up)
        s_run(self, 3);         /* the router answers our first Hello */
    if (!self->router_up) {
        fprintf(stderr, "tandemctl: no answer from the router at %s (is it running?)\n",
                endpoint);
        return 3;
    }
    Tandem__CliRequest m = TANDEM__CLI_REQUEST__INIT;
    m.id = ++self->id;
    m.command = (char *)command;
    self->answered = 0;
    if (td_bus_send_cli_request(self->bus, NULL, "", 0, &m) < 0) {
        fprintf(stderr, "tandemctl: cannot send to the router at %s\n", endpoint);
        return 3;
    }
    s_run(self, ANSWER_WAIT_S);
    if (!self->answered) {
        fprintf(stderr, "tandemctl: the router did not answer within %d s\n", ANSWER_WAIT_S);
        return 3;
    }
    return (int)self->status;
}

static void s_usage(void)
{
    fprintf(stderr, "usage: tandemctl [-c CONFDIR] [-b ENDPOINT] [-x COMMAND]\n"
                    "  -x COMMAND  run one command (e.g. 'core show channels') and exit;\n"
                    "              without -x, read commands from a prompt ('help', 'quit')\n");
}

int main(int argc, char **argv)
{
    const char *command = NULL;
    char *pass[16];
    int npass = 0;
    pass[npass++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-x") && i + 1 < argc) {
            command = argv[++i];
        } else if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "-b")) && i + 1 < argc
                   && npass + 2 < 16) {
            pass[npass++] = argv[i];
            pass[npass++] = argv[++i];
        } else {
            s_usage();
            return 1;
        }
    }
    pass[npass] = NULL;
    td_settings_t s;
    if (td_settings_load(&s, "ctl", npass, pass) < 0)
        return 1;
    td_log_init("tandemctl", LOG_WARNING);     /* the bus's own notices are not for the user */
    char identity[64];
    snprintf(identity, sizeof identity, "ctl-%d", (int)getpid());
    ctl_t self = { 0 };
    self.base = event_base_new();
    td_bus_handlers_t h = { .on_peer_up = s_on_up, .on_cli_reply = s_on_reply };
    if (self.base)
        self.bus = td_bus_new(self.base, TD_BUS_CONNECT, s.endpoint, identity, "ctl", 0, &h,
                              &self);
    if (!self.bus) {
        fprintf(stderr, "tandemctl: cannot open the bus to %s\n", s.endpoint);
        if (self.base)
            event_base_free(self.base);
        return 3;
    }
    int rc = 0;
    if (command) {
        rc = s_ask(&self, s.endpoint, command);
    } else {
        int tty = isatty(STDIN_FILENO);
        char line[512];
        for (;;) {
            if (tty) {
                fputs("tandem*CLI> ", stdout);
                fflush(stdout);
            }
            if (!fgets(line, sizeof line, stdin))
                break;
            line[strcspn(line, "\r\n")] = '\0';
            const char *p = line + strspn(line, " \t");
            if (!*p)
                continue;
            if (!strcmp(p, "quit") || !strcmp(p, "exit"))
                break;
            rc = s_ask(&self, s.endpoint, p);
            if (rc == 3)
                break;
        }
        if (tty)
            fputs("\n", stdout);
    }
    td_bus_destroy(&self.bus);
    event_base_free(self.base);
    return rc;
}
