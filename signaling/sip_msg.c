/* sip_msg - see sip_msg.h. */
#define TD_LOG_SUBSYS TD_LOG_SIP   /* td_log() here: [logging] sip= */
#include "sip_msg.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>
#include <osipparser2/osip_parser.h>

#include "td_log.h"

char *sip_msg_token(char *buf, size_t len)
{
    static uint64_t state;
    if (state == 0 && (getrandom(&state, sizeof state, 0) != (ssize_t)sizeof state || !state))
        state = 0x2545f4914f6cdd1dULL ^ (uint64_t)getpid();
    state ^= state << 13;           /* xorshift: unique enough for tags, not a secret */
    state ^= state >> 7;
    state ^= state << 17;
    snprintf(buf, len, "%016llx", (unsigned long long)state);
    return buf;
}

const char *sip_msg_param(osip_list_t *params, const char *name)
{
    osip_generic_param_t *p = NULL;
    if (!params || osip_generic_param_get_byname(params, (char *)name, &p) != 0 || !p)
        return NULL;
    return p->gvalue ? p->gvalue : "";
}

/* 1 when s holds a byte below 0x20 (a tab aside when tab is 1) or 0x7f. */
static int s_has_control(const char *s, int tab)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && !(tab && c == '\t')) || c == 0x7f)
            return 1;
    }
    return 0;
}

static const char *s_uri_control(const osip_uri_t *u, const char *user, const char *password)
{
    if (!u)
        return NULL;
    if (s_has_control(u->username, 0))
        return user;
    if (s_has_control(u->password, 0))
        return password;
    return NULL;
}

static const char *s_addr_control(const osip_from_t *h, const char *user, const char *password,
                                  const char *name)
{
    if (!h)
        return NULL;
    const char *why = s_uri_control(h->url, user, password);
    if (!why && s_has_control(h->displayname, 1))
        why = name;
    return why;
}

const char *sip_msg_control_chars(const osip_message_t *req)
{
    const char *why = s_uri_control(req->req_uri, "Request-URI user", "Request-URI password");
    if (!why)
        why = s_addr_control(req->from, "From user", "From password", "From display name");
    if (!why)
        why = s_addr_control(req->to, "To user", "To password", "To display name");
    for (int i = 0; !why && i < osip_list_size(&req->contacts); i++)
        why = s_addr_control(osip_list_get(&req->contacts, i), "Contact user",
                             "Contact password", "Contact display name");
    return why;
}

const char *sip_msg_from_tag(const osip_message_t *m)
{
    return m && m->from ? sip_msg_param(&m->from->gen_params, "tag") : NULL;
}

const char *sip_msg_to_tag(const osip_message_t *m)
{
    return m && m->to ? sip_msg_param(&m->to->gen_params, "tag") : NULL;
}

const char *sip_msg_header(const osip_message_t *m, const char *name)
{
    osip_header_t *h = NULL;
    if (!m || osip_message_header_get_byname(m, name, 0, &h) < 0 || !h)
        return NULL;
    return h->hvalue ? h->hvalue : "";
}

char *sip_msg_call_id(const osip_message_t *m, char *buf, size_t len)
{
    const osip_call_id_t *c = m ? m->call_id : NULL;
    if (!c || !c->number)
        snprintf(buf, len, "%s", "");
    else if (c->host)
        snprintf(buf, len, "%s@%s", c->number, c->host);
    else
        snprintf(buf, len, "%s", c->number);
    return buf;
}

const char *sip_msg_body(const osip_message_t *m, size_t *len)
{
    osip_body_t *b = m ? osip_list_get(&m->bodies, 0) : NULL;
    if (!b || !b->body || b->length == 0) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = b->length;
    return b->body;
}

int sip_msg_set_sdp(osip_message_t *m, const char *sdp)
{
    if (!sdp || !*sdp)
        return 0;
    if (osip_message_set_body(m, sdp, strlen(sdp)) != 0)
        return -1;
    return osip_message_set_content_type(m, "application/sdp") == 0 ? 0 : -1;
}

char *sip_msg_addr(const struct sockaddr_in *a, char *buf, size_t len)
{
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(buf, len, "%s:%d", ip, ntohs(a->sin_port));
    return buf;
}

int sip_msg_add_contact(osip_message_t *m, const char *user, const struct sockaddr_in *addr)
{
    char hp[32], value[160];
    sip_msg_addr(addr, hp, sizeof hp);
    if (user && *user && strlen(user) < 64 && strpbrk(user, "<>\"@: ;") == NULL)
        snprintf(value, sizeof value, "<sip:%s@%s>", user, hp);
    else
        snprintf(value, sizeof value, "<sip:%s>", hp);
    return osip_message_set_contact(m, value) == 0 ? 0 : -1;
}

int sip_msg_target(const osip_message_t *req, const osip_uri_t *contact,
                   const struct sockaddr_in *from, sip_nat_t nat, struct sockaddr_in *out)
{
    *out = *from;
    if (nat == SIP_NAT_FORCE)
        return 1;
    if (!contact || !contact->host)
        return 0;
    struct sockaddr_in c = { .sin_family = AF_INET };
    long port = contact->port ? strtol(contact->port, NULL, 10) : 5060;
    if (inet_pton(AF_INET, contact->host, &c.sin_addr) != 1 || port <= 0 || port > 65535)
        return 0;
    c.sin_port = htons((uint16_t)port);
    if (nat == SIP_NAT_AUTO && sip_msg_behind_nat(req, from))
        return 1;                           /* behind NAT: the source it is */
    *out = c;
    return 0;
}

int sip_msg_behind_nat(const osip_message_t *req, const struct sockaddr_in *from)
{
    osip_via_t *via = req ? osip_list_get(&req->vias, 0) : NULL;
    struct in_addr vip;
    long vport = via && via->port ? strtol(via->port, NULL, 10) : 5060;
    return !via || !via->host || inet_pton(AF_INET, via->host, &vip) != 1
        || vip.s_addr != from->sin_addr.s_addr || vport != ntohs(from->sin_port);
}

int sip_msg_reply(sip_txn_t *txn, int status, const char *to_tag, const char *why,
                  const char *hname, const char *hvalue)
{
    char tag[SIP_MSG_TOKEN_LEN + 1];
    if (!to_tag && status > 100)            /* RFC 3261 8.2.6.2: the UAS adds a To tag */
        to_tag = sip_msg_token(tag, sizeof tag);
    osip_message_t *r = sip_txn_make_response(txn, status, to_tag);
    if (!r)
        return -1;
    if (hname)
        osip_message_set_header(r, hname, hvalue);
    if (status == 405 || status == 501)
        osip_message_set_header(r, "Allow", SIP_MSG_ALLOW);
    if (why && status >= 300) {
        osip_message_t *req = sip_txn_request_msg(txn);
        td_log(LOG_INFO, "%d to %s: %s", status,
               req && req->sip_method ? req->sip_method : "request", why);
    }
    return sip_txn_respond(txn, &r);
}
