/* sip_dialog - see sip_dialog.h. */
#include "sip_dialog.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <osipparser2/osip_parser.h>

#include "sip_msg.h"

/* ---- arena -------------------------------------------------------------- */

struct sip_arena_chunk {
    sip_arena_chunk_t *next;
    char data[];
};

#define ARENA_CHUNK 1024

void sip_arena_init(sip_arena_t *a, char *space, size_t size)
{
    a->cur = space;
    a->end = space ? space + size : NULL;
    a->chunks = NULL;
    a->heap = 0;
}

static char *s_alloc(sip_arena_t *a, size_t n)
{
    if (!a->cur || (size_t)(a->end - a->cur) < n) {
        size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        sip_arena_chunk_t *c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->next = a->chunks;
        a->chunks = c;
        a->heap += size;
        a->cur = c->data;
        a->end = c->data + size;
    }
    char *p = a->cur;
    a->cur += n;
    return p;
}

char *sip_arena_strndup(sip_arena_t *a, const char *s, size_t n)
{
    char *p = s_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *sip_arena_strdup(sip_arena_t *a, const char *s)
{
    return s ? sip_arena_strndup(a, s, strlen(s)) : sip_arena_strndup(a, "", 0);
}

void sip_arena_release(sip_arena_t *a)
{
    while (a->chunks) {
        sip_arena_chunk_t *c = a->chunks;
        a->chunks = c->next;
        free(c);
    }
    a->cur = a->end = NULL;
    a->heap = 0;
}

/* ---- helpers -------------------------------------------------------------- */

/* osip's to_str output into the arena (and freed), or NULL. */
static const char *s_keep(sip_arena_t *a, char *text)
{
    if (!text)
        return NULL;
    const char *p = sip_arena_strdup(a, text);
    osip_free(text);
    return p;
}

const char *sip_dialog_strip_tag(sip_arena_t *a, const osip_from_t *h)
{
    osip_from_t *copy = NULL;
    char *text = NULL;
    if (!h || osip_from_clone(h, &copy) != 0)
        return NULL;
    for (int i = 0; i < osip_list_size(&copy->gen_params); ) {
        osip_generic_param_t *p = osip_list_get(&copy->gen_params, i);
        if (p && p->gname && osip_strcasecmp(p->gname, "tag") == 0) {
            osip_list_remove(&copy->gen_params, i);
            osip_generic_param_free(p);
        } else
            i++;
    }
    osip_from_to_str(copy, &text);
    osip_from_free(copy);
    return s_keep(a, text);
}

/* m's Contact URI in the arena, or NULL; `same` (NULL: none) when it is
 * that text already, so a peer repeating itself (a 183 every second, a
 * re-INVITE) does not grow the arena (issue 12). */
static const char *s_contact_uri_same(sip_arena_t *a, const osip_message_t *m, const char *same)
{
    osip_contact_t *c = osip_list_get(&m->contacts, 0);
    char *text = NULL;
    if (!c || !c->url || osip_uri_to_str(c->url, &text) != 0)
        return NULL;
    if (same && text && strcmp(same, text) == 0) {
        osip_free(text);
        return same;
    }
    return s_keep(a, text);
}

static const char *s_contact_uri(sip_arena_t *a, const osip_message_t *m)
{
    return s_contact_uri_same(a, m, NULL);
}

/* The URI of a route value (a name-addr), parsed; the caller frees it with
 * osip_route_free. NULL when it does not parse. */
static osip_route_t *s_route_parse(const char *value)
{
    osip_route_t *r = NULL;
    if (!value || osip_route_init(&r) != 0)
        return NULL;
    if (osip_route_parse(r, value) != 0 || !r->url || !r->url->host) {
        osip_route_free(r);
        return NULL;
    }
    return r;
}

static int s_route_is_loose(const char *value)
{
    osip_route_t *r = s_route_parse(value);
    osip_uri_param_t *lr = NULL;
    int loose = r && osip_uri_uparam_get_byname(r->url, "lr", &lr) == 0 && lr;
    if (r)
        osip_route_free(r);
    return loose;
}

/* Route hosts given by name (a front proxy's Record-Route, a Path): looked
 * up with getaddrinfo (A records; no RFC 3263 SRV/NAPTR) once and kept for
 * HOST_TTL_S seconds in a small table shared by every dialog of the process,
 * so a proxy's name costs one lookup a minute, not one per dialog or message.
 * Failures are kept as well (the route then stays unresolved: the dialog's
 * peer is left as it was). The lookup blocks, as chan_sip's does. */
#define HOST_SLOTS 16
#define HOST_TTL_S 60

static struct {
    char name[128];
    struct in_addr addr;
    int ok;
    time_t at;
} s_hosts[HOST_SLOTS];

static int s_host_addr(const char *host, struct in_addr *out)
{
    if (inet_pton(AF_INET, host, out) == 1)
        return 0;
    size_t len = strlen(host);
    if (len == 0 || len >= sizeof s_hosts[0].name || strspn(host, "0123456789.") == len)
        return -1;
    unsigned h = 5381;
    for (size_t i = 0; i < len; i++)
        h = h * 33 + (unsigned char)(host[i] | 0x20);
    size_t slot = h % HOST_SLOTS;
    time_t now = time(NULL);
    if (s_hosts[slot].at && now - s_hosts[slot].at < HOST_TTL_S
        && strcasecmp(s_hosts[slot].name, host) == 0) {
        *out = s_hosts[slot].addr;
        return s_hosts[slot].ok ? 0 : -1;
    }
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM }, *res = NULL;
    int ok = getaddrinfo(host, NULL, &hints, &res) == 0 && res;
    snprintf(s_hosts[slot].name, sizeof s_hosts[slot].name, "%s", host);
    s_hosts[slot].ok = ok;
    s_hosts[slot].at = now;
    s_hosts[slot].addr.s_addr = ok ? ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr : 0;
    if (res)
        freeaddrinfo(res);
    *out = s_hosts[slot].addr;
    return ok ? 0 : -1;
}

int sip_dialog_first_hop(const sip_dialog_t *d, struct sockaddr_in *out)
{
    if (d->nroutes <= 0)
        return -1;
    osip_route_t *r = s_route_parse(d->routes[0]);
    if (!r)
        return -1;
    struct sockaddr_in a = { .sin_family = AF_INET };
    long port = r->url->port ? strtol(r->url->port, NULL, 10) : 5060;
    int ok = r->url->host && s_host_addr(r->url->host, &a.sin_addr) == 0
          && port > 0 && port <= 65535;
    osip_route_free(r);
    if (!ok)
        return -1;
    a.sin_port = htons((uint16_t)port);
    *out = a;
    return 0;
}

/* RFC 3261 12.2.1.1 / 8.1.2: with a route set, requests go to its first hop. */
static void s_follow_routes(sip_dialog_t *d)
{
    struct sockaddr_in hop;
    if (!d->pinned && sip_dialog_first_hop(d, &hop) == 0)
        d->peer = hop;
}

int sip_dialog_set_routes(sip_dialog_t *d, sip_arena_t *a, const char *list)
{
    int angle = 0, quote = 0;
    const char *start = list ? list : "";
    d->nroutes = 0;
    for (const char *p = start; ; p++) {
        if (*p == '"' && !angle)
            quote = !quote;
        else if (*p == '<' && !quote)
            angle = 1;
        else if (*p == '>' && !quote)
            angle = 0;
        else if ((*p == ',' && !angle && !quote) || *p == '\0') {
            while (start < p && (*start == ' ' || *start == '\t'))
                start++;
            const char *end = p;
            while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
            if (end > start && d->nroutes < SIP_DIALOG_MAX_ROUTES) {
                const char *kept = sip_arena_strndup(a, start, (size_t)(end - start));
                if (!kept)
                    return -1;
                d->routes[d->nroutes++] = kept;
            }
            if (*p == '\0')
                break;
            start = p + 1;
        }
    }
    s_follow_routes(d);
    return 0;
}

/* Record-Route of m into the route set, in order or reversed. */
static int s_routes(sip_dialog_t *d, sip_arena_t *a, const osip_message_t *m, int reverse)
{
    int n = osip_list_size(&m->record_routes);
    int had_n = d->nroutes;
    d->nroutes = 0;
    for (int i = 0; i < n && d->nroutes < SIP_DIALOG_MAX_ROUTES; i++) {
        osip_record_route_t *rr = osip_list_get(&m->record_routes, reverse ? n - 1 - i : i);
        char *text = NULL;
        if (!rr || osip_record_route_to_str(rr, &text) != 0)
            return -1;
        /* the same route as before at this place: keep the copy we have */
        const char *had = i < SIP_DIALOG_MAX_ROUTES ? d->routes[i] : NULL;
        if (had && text && i < had_n && strcmp(had, text) == 0) {
            osip_free(text);
            d->routes[d->nroutes++] = had;
            continue;
        }
        const char *kept = s_keep(a, text);
        if (!kept)
            return -1;
        d->routes[d->nroutes++] = kept;
    }
    s_follow_routes(d);
    return 0;
}

static uint32_t s_cseq(const osip_message_t *m)
{
    return m && m->cseq && m->cseq->number ? (uint32_t)strtoul(m->cseq->number, NULL, 10) : 0;
}

/* ---- dialogs -------------------------------------------------------------- */

int sip_dialog_uas(sip_dialog_t *d, sip_arena_t *a, const osip_message_t *invite,
                   const char *local_tag, const struct sockaddr_in *peer)
{
    char cid[256];
    memset(d, 0, sizeof *d);
    const char *rtag = sip_msg_from_tag(invite);
    d->call_id = sip_arena_strdup(a, sip_msg_call_id(invite, cid, sizeof cid));
    d->local_tag = sip_arena_strdup(a, local_tag);
    d->remote_tag = rtag ? sip_arena_strdup(a, rtag) : NULL;
    d->local_uri = sip_dialog_strip_tag(a, invite->to);
    d->remote_uri = sip_dialog_strip_tag(a, invite->from);
    d->remote_target = s_contact_uri(a, invite);
    d->remote_cseq = d->invite_cseq = s_cseq(invite);
    d->local_cseq = 1;
    d->peer = *peer;
    if (!d->call_id || !d->local_tag || !d->local_uri || !d->remote_uri || !d->remote_target)
        return -1;
    return s_routes(d, a, invite, 0);
}

int sip_dialog_uac(sip_dialog_t *d, sip_arena_t *a, const char *call_id,
                   const char *local_tag, const char *local_uri, const char *remote_uri,
                   const char *target, const struct sockaddr_in *peer)
{
    memset(d, 0, sizeof *d);
    d->call_id = sip_arena_strdup(a, call_id);
    d->local_tag = sip_arena_strdup(a, local_tag);
    d->local_uri = sip_arena_strdup(a, local_uri);
    d->remote_uri = sip_arena_strdup(a, remote_uri);
    d->remote_target = sip_arena_strdup(a, target);
    d->local_cseq = d->invite_cseq = 1;
    d->peer = *peer;
    return d->call_id && d->local_tag && d->local_uri && d->remote_uri && d->remote_target
           ? 0 : -1;
}

int sip_dialog_update_uac(sip_dialog_t *d, sip_arena_t *a, const osip_message_t *resp)
{
    const char *rtag = sip_msg_to_tag(resp);
    if (!rtag)
        return 0;
    if (!d->remote_tag || strcmp(d->remote_tag, rtag) != 0)
        d->remote_tag = sip_arena_strdup(a, rtag);
    const char *target = s_contact_uri_same(a, resp, d->remote_target);
    if (target)
        d->remote_target = target;
    if (osip_list_size(&resp->record_routes) > 0 || resp->status_code >= 200)
        return s_routes(d, a, resp, 1);
    return 0;
}

int sip_dialog_refresh(sip_dialog_t *d, sip_arena_t *a, const osip_message_t *req)
{
    const char *target = s_contact_uri_same(a, req, d->remote_target);
    if (target)
        d->remote_target = target;
    uint32_t cseq = s_cseq(req);
    if (cseq > d->remote_cseq)
        d->remote_cseq = cseq;
    return 0;
}

osip_message_t *sip_dialog_request(const sip_dialog_t *d, const char *method, uint32_t cseq)
{
    osip_message_t *m = NULL;
    osip_uri_t *uri = NULL;
    char buf[1024], branch[48];
    if (!d->remote_target || osip_message_init(&m) != 0)
        return NULL;
    osip_message_set_version(m, osip_strdup("SIP/2.0"));
    osip_message_set_method(m, osip_strdup(method));
    /* a strict router first: it is the Request-URI, the target rides last */
    int strict = d->nroutes > 0 && !s_route_is_loose(d->routes[0]);
    osip_route_t *first = strict ? s_route_parse(d->routes[0]) : NULL;
    int bad = strict ? !first || osip_uri_clone(first->url, &uri) != 0
                     : osip_uri_init(&uri) != 0 || osip_uri_parse(uri, d->remote_target) != 0;
    if (first)
        osip_route_free(first);
    if (bad) {
        osip_uri_free(uri);
        goto fail;
    }
    osip_message_set_uri(m, uri);
    snprintf(buf, sizeof buf, "SIP/2.0/UDP 0.0.0.0;branch=%s;rport",
             sip_txn_branch(branch, sizeof branch));
    if (osip_message_set_via(m, buf) != 0)
        goto fail;
    snprintf(buf, sizeof buf, "%s;tag=%s", d->local_uri, d->local_tag);
    if (osip_message_set_from(m, buf) != 0)
        goto fail;
    if (d->remote_tag)
        snprintf(buf, sizeof buf, "%s;tag=%s", d->remote_uri, d->remote_tag);
    else
        snprintf(buf, sizeof buf, "%s", d->remote_uri);
    if (osip_message_set_to(m, buf) != 0 || osip_message_set_call_id(m, d->call_id) != 0)
        goto fail;
    snprintf(buf, sizeof buf, "%u %s", cseq, method);
    if (osip_message_set_cseq(m, buf) != 0)
        goto fail;
    for (int i = strict ? 1 : 0; i < d->nroutes; i++)
        if (osip_message_set_route(m, d->routes[i]) != 0)
            goto fail;
    if (strict) {
        snprintf(buf, sizeof buf, "<%s>", d->remote_target);
        if (osip_message_set_route(m, buf) != 0)
            goto fail;
    }
    osip_message_set_max_forwards(m, "70");
    osip_message_set_header(m, "User-Agent", "Tandem");
    return m;
fail:
    osip_message_free(m);
    return NULL;
}

osip_message_t *sip_dialog_ack_from_2xx(const osip_message_t *resp, struct sockaddr_in *to)
{
    char space[2048];
    sip_arena_t a;
    sip_dialog_t d;
    char cid[256];
    sip_arena_init(&a, space, sizeof space);
    memset(&d, 0, sizeof d);
    osip_contact_t *c = osip_list_get(&resp->contacts, 0);
    const char *ltag = sip_msg_from_tag(resp), *rtag = sip_msg_to_tag(resp);
    osip_message_t *ack = NULL;
    if (!c || !c->url || !c->url->host || !ltag || !rtag || !resp->cseq)
        goto out;
    memset(to, 0, sizeof *to);
    to->sin_family = AF_INET;
    to->sin_port = htons(c->url->port ? (uint16_t)atoi(c->url->port) : 5060);
    int numeric = inet_pton(AF_INET, c->url->host, &to->sin_addr) == 1;
    d.call_id = sip_arena_strdup(&a, sip_msg_call_id(resp, cid, sizeof cid));
    d.local_tag = sip_arena_strdup(&a, ltag);
    d.remote_tag = sip_arena_strdup(&a, rtag);
    d.local_uri = sip_dialog_strip_tag(&a, resp->from);
    d.remote_uri = sip_dialog_strip_tag(&a, resp->to);
    d.remote_target = s_contact_uri(&a, resp);
    if (!d.call_id || !d.local_uri || !d.remote_uri || !d.remote_target
        || s_routes(&d, &a, resp, 1) != 0)
        goto out;
    if (sip_dialog_first_hop(&d, to) != 0 && (d.nroutes > 0 || !numeric))
        goto out;
    ack = sip_dialog_request(&d, "ACK", s_cseq(resp));
out:
    sip_arena_release(&a);
    return ack;
}

/* ---- the cluster store (sip_state.h) -------------------------------------- */

void sip_dialog_save_changes(const sip_dialog_t *d, sip_state_hash_t *h)
{
    sip_state_hash_add(h, "remote_target", d->remote_target);
    sip_state_hash_addf(h, "local_cseq", "%u", d->local_cseq);
    sip_state_hash_addf(h, "remote_cseq", "%u", d->remote_cseq);
}

void sip_dialog_save(const sip_dialog_t *d, sip_state_hash_t *h)
{
    char routes[2048], dest[32];
    size_t used = 0;
    routes[0] = '\0';
    for (int i = 0; i < d->nroutes; i++) {
        int w = snprintf(routes + used, sizeof routes - used, "%s%s", i ? "," : "", d->routes[i]);
        if (w < 0 || (size_t)w >= sizeof routes - used) {
            h->overflow = 1;
            break;
        }
        used += (size_t)w;
    }
    sip_state_hash_add(h, "call_id", d->call_id);
    sip_state_hash_add(h, "local_tag", d->local_tag);
    sip_state_hash_add(h, "remote_tag", d->remote_tag);
    sip_state_hash_add(h, "local_uri", d->local_uri);
    sip_state_hash_add(h, "remote_uri", d->remote_uri);
    sip_state_hash_add(h, "routes", routes);
    sip_state_hash_addf(h, "invite_cseq", "%u", d->invite_cseq);
    sip_state_hash_add(h, "dest", sip_msg_addr(&d->peer, dest, sizeof dest));
    sip_state_hash_add(h, "pinned", d->pinned ? "1" : "0");
    sip_dialog_save_changes(d, h);
}

int sip_dialog_load(sip_dialog_t *d, sip_arena_t *a, size_t n, const char *const *fields,
                    const char *const *values)
{
#define S_F(name) sip_state_field(n, fields, values, name)
    const char *call_id = S_F("call_id"), *ltag = S_F("local_tag"), *rtag = S_F("remote_tag");
    const char *target = S_F("remote_target"), *dest = S_F("dest");
    memset(d, 0, sizeof *d);
    if (!call_id || !*call_id || !ltag || !*ltag || !rtag || !*rtag || !target || !*target
        || sip_state_addr(dest, &d->peer) != 0)
        return -1;
    d->call_id = sip_arena_strdup(a, call_id);
    d->local_tag = sip_arena_strdup(a, ltag);
    d->remote_tag = sip_arena_strdup(a, rtag);
    d->local_uri = sip_arena_strdup(a, S_F("local_uri"));
    d->remote_uri = sip_arena_strdup(a, S_F("remote_uri"));
    d->remote_target = sip_arena_strdup(a, target);
    const char *lc = S_F("local_cseq"), *rc = S_F("remote_cseq"), *ic = S_F("invite_cseq");
    d->local_cseq = lc ? (uint32_t)strtoul(lc, NULL, 10) : 0;
    d->remote_cseq = rc ? (uint32_t)strtoul(rc, NULL, 10) : 0;
    d->invite_cseq = ic ? (uint32_t)strtoul(ic, NULL, 10) : 0;
    d->pinned = 1;                          /* the stored dest is where requests went */
    const char *routes = S_F("routes");
    if (!d->call_id || !d->local_tag || !d->remote_tag || !d->local_uri || !d->remote_uri
        || !d->remote_target || (routes && *routes && sip_dialog_set_routes(d, a, routes) != 0))
        return -1;
    const char *pinned = S_F("pinned");
    d->pinned = pinned && strcmp(pinned, "1") == 0;
    return 0;
#undef S_F
}
