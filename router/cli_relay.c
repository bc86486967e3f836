/* cli_relay - see cli_relay.h. */
#include "cli_relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "td_log.h"

#define MAX_SIG 16                  /* signaling processes asked at once */

typedef struct s_req {
    struct s_req *next;
    cli_relay_t *owner;
    uint32_t id;                    /* ours, in the CliRequests we send */
    char ctl[64];                   /* who asked */
    uint32_t ctl_id;                /* and its id */
    struct event *timer;
    size_t n, left;
    struct {
        char peer[64];
        char *text;                 /* malloc'd; NULL until answered */
        uint32_t status;
    } to[MAX_SIG];
} s_req_t;

struct cli_relay {
    struct event_base *base;
    td_bus_t *bus;
    s_req_t *reqs;
    uint32_t next_id;
};

int cli_relay_wants(const char *command)
{
    char a[16] = "", b[16] = "", c[32] = "";
    if (sscanf(command, "%15s %15s %31s", a, b, c) < 1 || strcasecmp(a, "sip") != 0)
        return 0;
    return !(strcasecmp(b, "show") == 0 && (strcasecmp(c, "channelstats") == 0
                                            || strcasecmp(c, "locations") == 0));
}

/* Join the answers, send them to the ctl peer, forget the request. */
static void s_finish(s_req_t *r)
{
    cli_relay_t *self = r->owner;
    size_t len = 1;
    for (size_t i = 0; i < r->n; i++)
        len += (r->to[i].text ? strlen(r->to[i].text) : 0) + 160;
    char *text = malloc(len);
    uint32_t status = 0;
    size_t at = 0;
    if (text) {
        text[0] = '\0';
        for (size_t i = 0; i < r->n; i++) {
            if (r->n > 1)
                at += (size_t)snprintf(text + at, len - at, "-- %s --\n", r->to[i].peer);
            if (r->to[i].text)
                at += (size_t)snprintf(text + at, len - at, "%s", r->to[i].text);
            else
                at += (size_t)snprintf(text + at, len - at, "No answer from signaling process "
                                       "%s within %d ms\n", r->to[i].peer, CLI_RELAY_WAIT_MS);
            uint32_t st = r->to[i].text ? r->to[i].status : 2;
            if (st > status)
                status = st;
        }
    }
    Tandem__CliReply m = TANDEM__CLI_REPLY__INIT;
    m.id = r->ctl_id;
    m.text = text ? text : "out of memory\n";
    m.status = text ? status : 2;
    td_bus_send_cli_reply(self->bus, r->ctl, "", 0, &m);
    free(text);
    for (s_req_t **pp = &self->reqs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    for (size_t i = 0; i < r->n; i++)
        free(r->to[i].text);
    event_free(r->timer);
    free(r);
}

static void s_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_finish(arg);
}

static void s_collect(void *arg, const char *identity, const char *role, int alive,
                      uint32_t capacity, uint32_t load, uint64_t silent_ms)
{
    (void)capacity;
    (void)load;
    (void)silent_ms;
    s_req_t *r = arg;
    if (!alive || strcmp(role, "signaling") != 0 || r->n == MAX_SIG)
        return;
    snprintf(r->to[r->n].peer, sizeof r->to[r->n].peer, "%s", identity);
    r->n++;
}

static int s_by_peer(const void *a, const void *b)
{
    return strcmp(a, b);            /* to[i] starts with its peer name */
}

int cli_relay_forward(cli_relay_t *self, const char *ctl, uint32_t id, const char *command)
{
    s_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    td_bus_peers_foreach(self->bus, s_collect, r);
    if (!r->n) {
        free(r);
        return -1;
    }
    qsort(r->to, r->n, sizeof r->to[0], s_by_peer);    /* sig-1 before sig-2 */
    r->owner = self;
    r->id = ++self->next_id;
    r->ctl_id = id;
    snprintf(r->ctl, sizeof r->ctl, "%s", ctl);
    r->timer = evtimer_new(self->base, s_on_timeout, r);
    if (!r->timer) {
        free(r);
        return -1;
    }
    r->next = self->reqs;
    self->reqs = r;
    Tandem__CliRequest m = TANDEM__CLI_REQUEST__INIT;
    m.id = r->id;
    m.command = (char *)command;
    for (size_t i = 0; i < r->n; i++) {
        if (td_bus_send_cli_request(self->bus, r->to[i].peer, "", 0, &m) == 0) {
            r->left++;
            continue;
        }
        r->to[i].text = strdup("Cannot reach this signaling process\n");
        r->to[i].status = 2;
    }
    struct timeval tv = { CLI_RELAY_WAIT_MS / 1000, (CLI_RELAY_WAIT_MS % 1000) * 1000 };
    if (!r->left)
        tv = (struct timeval){ 0, 0 };
    evtimer_add(r->timer, &tv);
    return 0;
}

void cli_relay_reply(cli_relay_t *self, const td_bus_hdr_t *hdr, const Tandem__CliReply *msg)
{
    s_req_t *r = self->reqs;
    while (r && r->id != msg->id)
        r = r->next;
    if (!r)
        return;                     /* too late: already answered without it */
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->to[i].peer, hdr->peer) != 0 || r->to[i].text)
            continue;
        r->to[i].text = strdup(msg->text ? msg->text : "");
        r->to[i].status = msg->status;
        if (r->to[i].text && --r->left == 0)
            s_finish(r);
        return;
    }
}

cli_relay_t *cli_relay_new(struct event_base *base, td_bus_t *bus)
{
    cli_relay_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->bus = bus;
    return self;
}

void cli_relay_destroy(cli_relay_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cli_relay_t *self = *self_p;
    while (self->reqs)
        s_finish(self->reqs);
    free(self);
    *self_p = NULL;
}
