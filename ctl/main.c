/* tandemctl - ask the running cluster over the bus, in Asterisk's CLI words,
 * so that `asterisk -rx` habits carry over:
 *
 *   tandemctl [-c CONFDIR] [-b ENDPOINT] -x 'core show channels'
 *   tandemctl [-c CONFDIR] [-b ENDPOINT]          (a prompt; `quit` ends it)
 *
 * The prompt (stdin a terminal) edits lines and keeps a history with
 * libedit (BSD), in ~/.tandemctl_history as Asterisk keeps
 * ~/.asterisk_history; Tab completes the command words. Without a terminal
 * it reads commands line by line (scripts pipe them in).
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
#include <strings.h>
#include <event2/event.h>
#include <editline/readline.h>

#include "td_bus.h"
#include "td_log.h"
#include "td_settings.h"

#define ANSWER_WAIT_S 5
#define HISTORY_LINES 500
#define PROMPT "tandem*CLI> "

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

/* The router's text to the terminal, a control character but newline and
 * tab written as \xNN: a User-Agent or caller name a remote party chose
 * cannot send escape sequences to the operator's terminal (issue 12). */
static void s_print(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
            printf("\\x%02x", *p);
        else
            putchar(*p);
    }
}

static void s_on_reply(void *arg, const td_bus_hdr_t *hdr, const Tandem__CliReply *msg)
{
    (void)hdr;
    ctl_t *self = arg;
    if (msg->id != self->id)
        return;                 /* the answer to a request we gave up on */
    s_print(msg->text ? msg->text : "");
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

/* --- the prompt: completion and history ----------------------------------------- */

/* The command phrases Tab completes, word by word. */
static const char *const s_phrases[] = {
    "core show channels verbose", "core show uptime", "core show processes",
    "channel request hangup", "dialplan reload", "dialplan show", "media show workers",
    "media drain", "sip show peers", "sip show peer", "sip show users", "sip show registry",
    "sip show channelstats", "sip reload", "help", "quit", "exit",
};

/* The n-th word of phrase into out ("" when it has fewer); its length. */
static size_t s_word(const char *phrase, int n, char *out, size_t len)
{
    const char *p = phrase;
    for (; n > 0 && *p; n--) {
        p += strcspn(p, " ");
        p += strspn(p, " ");
    }
    size_t w = strcspn(p, " ");
    if (w >= len)
        w = len - 1;
    memcpy(out, p, w);
    out[w] = '\0';
    return w;
}

static struct {
    char before[256];           /* the line up to the word being completed */
    int nwords;                 /* whole words in it */
    size_t next;                /* the phrase to look at next */
    char given[32][64];         /* words offered in this round */
    size_t ngiven;
} s_comp;

/* rl_completion_matches's generator: the next distinct word that fits. */
static char *s_complete_word(const char *text, int state)
{
    if (!state)
        s_comp.next = s_comp.ngiven = 0;
    size_t tl = strlen(text);
    while (s_comp.next < sizeof s_phrases / sizeof s_phrases[0]) {
        const char *ph = s_phrases[s_comp.next++];
        char word[64], mine[64];
        int ok = 1;
        const char *b = s_comp.before;
        for (int i = 0; ok && i < s_comp.nwords; i++) {
            b += strspn(b, " \t");
            size_t l = strcspn(b, " \t");
            snprintf(mine, sizeof mine, "%.*s", (int)(l < 63 ? l : 63), b);
            b += l;
            s_word(ph, i, word, sizeof word);
            ok = strcasecmp(word, mine) == 0;
        }
        if (!ok || !s_word(ph, s_comp.nwords, word, sizeof word) || strncasecmp(word, text, tl))
            continue;
        int seen = 0;               /* "sip show ..." offers "sip" once */
        for (size_t k = 0; k < s_comp.ngiven && !seen; k++)
            seen = strcmp(s_comp.given[k], word) == 0;
        if (seen || s_comp.ngiven == sizeof s_comp.given / sizeof s_comp.given[0])
            continue;
        snprintf(s_comp.given[s_comp.ngiven++], sizeof s_comp.given[0], "%s", word);
        return strdup(word);
    }
    return NULL;
}

static char **s_complete(const char *text, int start, int end)
{
    (void)end;
    snprintf(s_comp.before, sizeof s_comp.before, "%.*s", start, rl_line_buffer);
    s_comp.nwords = 0;
    for (const char *p = s_comp.before; *(p += strspn(p, " \t")); p += strcspn(p, " \t"))
        s_comp.nwords++;
    rl_attempted_completion_over = 1;        /* never file names */
    return rl_completion_matches(text, s_complete_word);
}

static const char *s_history_path(char *buf, size_t len)
{
    const char *home = getenv("HOME");
    if (!home || !*home)
        return NULL;
    snprintf(buf, len, "%s/.tandemctl_history", home);
    return buf;
}

/* One line from the prompt (malloc'd, newline gone), or NULL at the end. */
static char *s_read_line(int tty)
{
    if (tty)
        return readline(PROMPT);
    char buf[512];
    if (!fgets(buf, sizeof buf, stdin))
        return NULL;
    buf[strcspn(buf, "\r\n")] = '\0';
    return strdup(buf);
}

static void s_usage(void)
{
    fprintf(stderr, "usage: tandemctl [-c CONFDIR] [-b ENDPOINT] [-x COMMAND]\n"
                    "       tandemctl keygen   print a new bus keypair (CURVE) as tandem.conf lines\n"
                    "  -x COMMAND  run one command (e.g. 'core show channels') and exit;\n"
                    "              without -x, read commands from a prompt ('help', 'quit')\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "keygen")) {
        /* a bus keypair, as tandem.conf lines (td_bus_curve.h); no bus needed */
        if (argc != 2) {
            s_usage();
            return 1;
        }
        return td_bus_keygen(stdout) == 0 ? 0 : 1;
    }
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
        self.bus = td_bus_new_keyed(self.base, TD_BUS_CONNECT, s.endpoint, identity, "ctl", 0,
                                    &h, &self, &s.bus_keys);
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
        char hist[600];
        const char *hpath = tty ? s_history_path(hist, sizeof hist) : NULL;
        if (tty) {
            rl_readline_name = "tandemctl";
            rl_attempted_completion_function = s_complete;
            using_history();
            stifle_history(HISTORY_LINES);
            if (hpath)
                read_history(hpath);        /* none yet: fine */
        }
        char *line;
        while ((line = s_read_line(tty)) != NULL) {
            char *p = line + strspn(line, " \t");
            p[strcspn(p, "\r\n")] = '\0';
            if (!*p) {
                free(line);
                continue;
            }
            if (tty) {
                HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1)
                                                      : NULL;
                if (!last || strcmp(last->line, p) != 0)
                    add_history(p);
                if (hpath)
                    write_history(hpath);
            }
            if (!strcmp(p, "quit") || !strcmp(p, "exit")) {
                free(line);
                break;
            }
            rc = s_ask(&self, s.endpoint, p);
            free(line);
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
