/* sip_options - see sip_options.h. */
#include "sip_options.h"

#include <stdlib.h>
#include <string.h>

#include "sip_msg.h"
#include "td_log.h"

#define PENDING 256                 /* questions in flight at once */
#define ANSWER_WAIT_S 2

typedef struct sip_options_slot {
    sip_options_t *owner;
    sip_txn_t *txn;                 /* NULL: free */
    uint32_t id;                    /* generation << 8 | index */
    struct event *timer;
} s_slot_t;

struct sip_options {
    td_bus_t *bus;
    s_slot_t slots[PENDING];
    uint32_t generation;
    unsigned next;                  /* where the search for a free slot starts */
};

static void s_answer(s_slot_t *slot, int status, const char *retry_after)
{
    sip_txn_t *txn = slot->txn;
    slot->txn = NULL;
    evtimer_del(slot->timer);
    sip_txn_set_owner(txn, NULL);
    char tag[SIP_MSG_TOKEN_LEN + 1];
    osip_message_t *r = sip_txn_make_response(txn, status, sip_msg_token(tag, sizeof tag));
    if (!r)
        return;
    /* transmit_response_with_allow: Allow (respprep) and Accept. */
    osip_message_set_header(r, "Allow", SIP_MSG_ALLOW);
    osip_message_set_header(r, "Accept", "application/sdp");
    if (retry_after)
        osip_message_set_header(r, "Retry-After", retry_after);
    sip_txn_respond(txn, &r);
}

static void s_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    s_slot_t *slot = arg;
    if (!slot->txn)
        return;
    td_log_limited(LOG_WARNING, 1, "OPTIONS: the router did not answer within %d s: 503",
                   ANSWER_WAIT_S);
    s_answer(slot, 503, "5");
}

sip_options_t *sip_options_new(struct event_base *base, td_bus_t *bus)
{
    sip_options_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->bus = bus;
    for (unsigned i = 0; i < PENDING; i++) {
        self->slots[i].owner = self;
        self->slots[i].timer = evtimer_new(base, s_on_timeout, &self->slots[i]);
        if (!self->slots[i].timer) {
            sip_options_destroy(&self);
            return NULL;
        }
    }
    return self;
}

void sip_options_destroy(sip_options_t **self_p)
{
    sip_options_t *self = *self_p;
    if (!self)
        return;
    for (unsigned i = 0; i < PENDING; i++) {
        sip_txn_set_owner(self->slots[i].txn, NULL);
        if (self->slots[i].timer)
            event_free(self->slots[i].timer);
    }
    free(self);
    *self_p = NULL;
}

static int s_hex(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void sip_options_uri_decode(const char *in, char *out, size_t len)
{
    size_t n = 0;
    if (!len)
        return;
    while (*in && n + 1 < len) {
        int hi, lo;
        if (in[0] == '%' && (hi = s_hex((unsigned char)in[1])) >= 0
            && (lo = s_hex((unsigned char)in[2])) >= 0) {
            out[n++] = (char)(hi << 4 | lo);
            in += 3;
        } else
            out[n++] = *in++;
    }
    out[n] = '\0';
}

static s_slot_t *s_take(sip_options_t *self)
{
    for (unsigned k = 0; k < PENDING; k++) {
        unsigned i = (self->next + k) % PENDING;
        if (!self->slots[i].txn) {
            self->next = (i + 1) % PENDING;
            self->generation++;
            self->slots[i].id = (self->generation << 8) | i;
            return &self->slots[i];
        }
    }
    return NULL;
}

void sip_options_request(sip_options_t *self, sip_txn_t *txn, osip_message_t *req,
                         const char *context)
{
    /* libosip2 has unescaped the user parts once, as chan_sip's pedantic
     * checking (SIP_PEDANTIC_DECODE, on by default) does; get_destination
     * then also tries the user part decoded once more (decoded_uri). */
    const char *user = req->req_uri && req->req_uri->username && *req->req_uri->username
                       ? req->req_uri->username : "s";
    char decoded[128];
    sip_options_uri_decode(user, decoded, sizeof decoded);
    osip_from_t *from = osip_message_get_from(req);
    const char *caller = from && from->url && from->url->username ? from->url->username : "";

    s_slot_t *slot = td_bus_peer_alive(self->bus, NULL) ? s_take(self) : NULL;
    if (!slot) {
        sip_msg_reply(txn, 503, NULL, "OPTIONS: no router to look the extension up",
                      "Retry-After", "5");
        return;
    }
    slot->txn = txn;                /* before sending: an answer may come at once */
    sip_txn_set_owner(txn, slot);
    struct timeval tv = { ANSWER_WAIT_S, 0 };
    evtimer_add(slot->timer, &tv);
    Tandem__ExtenQuery q = TANDEM__EXTEN_QUERY__INIT;
    q.id = slot->id;
    q.context = (char *)context;
    q.exten = (char *)user;
    q.exten_decoded = decoded;
    q.caller = (char *)caller;
    if (td_bus_send_exten_query(self->bus, NULL, "", 0, &q) != 0 && slot->txn == txn) {
        td_log_limited(LOG_WARNING, 1, "OPTIONS: the bus refused the question: 503");
        s_answer(slot, 503, "5");
    }
}

void sip_options_reply(sip_options_t *self, const Tandem__ExtenReply *msg)
{
    s_slot_t *slot = &self->slots[msg->id % PENDING];
    if (!slot->txn || slot->id != msg->id)
        return;                     /* answered already (timeout) or gone */
    /* chan_sip: EXTEN_FOUND is 200; NOT_FOUND, MATCHMORE and REFUSED are 404. */
    s_answer(slot, msg->exists ? 200 : 404, NULL);
}

int sip_options_owns(const sip_options_t *self, const sip_txn_t *txn)
{
    const s_slot_t *slot = sip_txn_owner(txn);
    return self && slot && slot >= self->slots && slot < self->slots + PENDING;
}

void sip_options_terminated(sip_options_t *self, sip_txn_t *txn)
{
    s_slot_t *slot = sip_txn_owner(txn);
    if (sip_options_owns(self, txn) && slot->txn == txn) {
        slot->txn = NULL;
        evtimer_del(slot->timer);
    }
}
