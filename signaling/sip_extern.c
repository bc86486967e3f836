/* sip_extern - see sip_extern.h. */
#define TD_LOG_SUBSYS TD_LOG_SIP   /* td_log() here: [logging] sip= */
#include "sip_extern.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "td_log.h"

#define SDP_MAX 8192

struct sip_extern {
    struct sockaddr_in addr;        /* externaddr; sin_addr 0: none */
    char host[256];                 /* externhost, "" for none */
    int refresh;                    /* seconds between lookups of host */
    time_t next;                    /* when host is looked up again */
    struct {
        struct in_addr net, mask;
    } nets[SIP_LOCALNET_MAX];
    int nnets;
    char sdp[SDP_MAX];
};

sip_extern_t *sip_extern_new(const sip_general_t *g)
{
    sip_extern_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->addr = g->externaddr;
    snprintf(self->host, sizeof self->host, "%s", g->externhost);
    self->refresh = g->externrefresh > 0 ? g->externrefresh : 10;
    self->next = time(NULL) + self->refresh;
    self->nnets = g->nlocalnet < SIP_LOCALNET_MAX ? g->nlocalnet : SIP_LOCALNET_MAX;
    for (int i = 0; i < self->nnets; i++) {
        self->nets[i].net = g->localnet[i].net;
        self->nets[i].mask = g->localnet[i].mask;
    }
    return self;
}

void sip_extern_destroy(sip_extern_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

int sip_extern_is_local(const sip_extern_t *self, struct in_addr a)
{
    for (int i = 0; i < self->nnets; i++)
        if ((a.s_addr & self->nets[i].mask.s_addr) == self->nets[i].net.s_addr)
            return 1;
    return 0;
}

/* externhost: look it up again once refresh seconds have passed; a failed
 * lookup keeps the old address (chan_sip logs "Re-lookup ... failed"). */
static void s_refresh(sip_extern_t *self)
{
    time_t now = time(NULL);
    if (!self->host[0] || now < self->next)
        return;
    self->next = now + self->refresh;
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM }, *res = NULL;
    if (getaddrinfo(self->host, NULL, &hints, &res) != 0 || !res) {
        td_log(LOG_NOTICE, "externhost: re-lookup of '%s' failed", self->host);
        return;
    }
    self->addr.sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
}

/* chan_sip's want_remap: a localnet list, an externaddr, and them outside. */
static int s_want(sip_extern_t *self, const struct sockaddr_in *them)
{
    return self->nnets > 0 && (self->addr.sin_addr.s_addr || self->host[0]) && them
        && !sip_extern_is_local(self, them->sin_addr);
}

int sip_extern_remap(sip_extern_t *self, const struct sockaddr_in *them, struct sockaddr_in *us)
{
    if (!self || !s_want(self, them))
        return 0;
    s_refresh(self);
    if (!self->addr.sin_addr.s_addr)
        return 0;
    us->sin_addr = self->addr.sin_addr;
    if (self->addr.sin_port)
        us->sin_port = self->addr.sin_port;
    return 1;
}

/* Copy the line [p, end) to out; for c=, o= and a=rtcp: with the trailing address (after "IN IP4 ")
 * replaced by ext when it lies inside a localnet. */
static size_t s_line(sip_extern_t *self, const char *p, const char *end, const char *ext,
                     char *out, size_t room)
{
    size_t n = (size_t)(end - p);
    const char *eol = p;
    while (eol < end && *eol != '\r' && *eol != '\n')
        eol++;
    if (((p[0] == 'c' || p[0] == 'o') && p[1] == '=')
        || (n > 7 && memcmp(p, "a=rtcp:", 7) == 0)) {
        const char *in = NULL;
        for (const char *q = p; q + 7 <= eol; q++)
            if (memcmp(q, "IN IP4 ", 7) == 0)
                in = q + 7;
        char ip[INET_ADDRSTRLEN];
        size_t il = in ? (size_t)(eol - in) : 0;
        struct in_addr a;
        if (in && il < sizeof ip) {
            memcpy(ip, in, il);
            ip[il] = '\0';
            if (inet_pton(AF_INET, ip, &a) == 1 && sip_extern_is_local(self, a)) {
                size_t head = (size_t)(in - p), el = strlen(ext), tail = (size_t)(end - eol);
                if (head + el + tail >= room)
                    return (size_t)-1;
                memcpy(out, p, head);
                memcpy(out + head, ext, el);
                memcpy(out + head + el, eol, tail);
                return head + el + tail;
            }
        }
    }
    if (n >= room)
        return (size_t)-1;
    memcpy(out, p, n);
    return n;
}

const char *sip_extern_sdp(sip_extern_t *self, const struct sockaddr_in *them, const char *sdp)
{
    struct sockaddr_in us = { 0 };
    if (!sdp || !*sdp || !sip_extern_remap(self, them, &us))
        return sdp;
    char ext[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &us.sin_addr, ext, sizeof ext);
    size_t used = 0;
    for (const char *p = sdp; *p;) {
        const char *end = p;
        while (*end && *end != '\n')
            end++;
        if (*end == '\n')
            end++;
        size_t n = s_line(self, p, end, ext, self->sdp + used, sizeof self->sdp - used);
        if (n == (size_t)-1) {
            td_log(LOG_WARNING, "externaddr: SDP of %zu bytes too long to rewrite", strlen(sdp));
            return sdp;
        }
        used += n;
        p = end;
    }
    self->sdp[used] = '\0';
    return self->sdp;
}
