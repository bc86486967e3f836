/* sip_location - see sip_location.h. */
#define TD_LOG_SUBSYS TD_LOG_SIP   /* td_log() here: [logging] sip= */
#include "sip_location.h"
#include "td_log.h"

#include <stdio.h>
#include <stdlib.h>

struct sip_location {
    td_bus_t *bus;
    sip_registrar_t *registrar;
    const char *identity;
    const char *to;                                 /* the router a whole list goes to;
                                                     * NULL: changes, to every router */
    long now;                                       /* of the walk in progress */
    int reset;                                      /* the next message says reset */
    size_t n;
    Tandem__LocationEntry entry[SIP_LOCATION_BATCH];
    Tandem__LocationEntry *ptr[SIP_LOCATION_BATCH];
    char peer[SIP_LOCATION_BATCH][80];              /* sip.conf section names */
};

/* Location goes to every router: each keeps the table for its own Dials.
 * Until the bus knows several routers (td_bus_send_X with NULL: any live
 * router; a DEALER has one), NULL reaches the only one. Once the bus has a
 * send-to-every-router helper, use it here. */
/* To every live router: each keeps its own peer -> node table. With no
 * router listed (single router not heard yet) to "any", as before. */
static int s_broadcast(sip_location_t *self, const Tandem__Location *msg)
{
    if (self->to)
        return td_bus_send_location(self->bus, self->to, "", 0, msg);
    const char *ids[16];
    size_t n = td_bus_routers(self->bus, ids, sizeof ids / sizeof ids[0]);
    if (!n)
        return td_bus_send_location(self->bus, NULL, "", 0, msg);
    int rc = -1;
    for (size_t i = 0; i < n; i++)
        if (td_bus_send_location(self->bus, ids[i], "", 0, msg) == 0)
            rc = 0;
    return rc;
}

void sip_location_flush(sip_location_t *self)
{
    if (!self->n && !self->reset)
        return;
    Tandem__Location m = TANDEM__LOCATION__INIT;
    m.entries = self->ptr;
    m.n_entries = self->n;
    m.reset = self->reset;
    if (s_broadcast(self, &m) < 0)
        td_log(LOG_DEBUG, "Location of %zu peer(s) not sent: no router", self->n);
    self->n = 0;
    self->reset = 0;
}

static void s_add(sip_location_t *self, const char *peer, long expires_at, long now)
{
    if (self->n == SIP_LOCATION_BATCH)
        sip_location_flush(self);
    size_t i = self->n++;
    Tandem__LocationEntry *e = &self->entry[i];
    tandem__location_entry__init(e);
    snprintf(self->peer[i], sizeof self->peer[i], "%s", peer);
    e->peer = self->peer[i];
    e->node = (char *)self->identity;
    e->expires = expires_at > now ? (uint32_t)(expires_at - now) : 0;
    self->ptr[i] = e;
}

static void s_on_gone(void *arg, const char *aor)
{
    sip_location_t *self = arg;
    s_add(self, aor, 0, 0);
}

sip_location_t *sip_location_new(td_bus_t *bus, sip_registrar_t *registrar,
                                 const char *identity)
{
    sip_location_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->bus = bus;
    self->registrar = registrar;
    self->identity = identity;
    sip_registrar_set_on_gone(registrar, s_on_gone, self);
    return self;
}

void sip_location_destroy(sip_location_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sip_location_t *self = *self_p;
    sip_registrar_set_on_gone(self->registrar, NULL, NULL);
    free(self);
    *self_p = NULL;
}

void sip_location_changed(sip_location_t *self, const char *peer, long now)
{
    s_add(self, peer, sip_registrar_expiry(self->registrar, peer, now), now);
    sip_location_flush(self);
}

static void s_add_one(void *arg, const char *aor, long expires_at)
{
    sip_location_t *self = arg;
    s_add(self, aor, expires_at, self->now);
}

void sip_location_send_all(sip_location_t *self, const char *router, long now)
{
    sip_location_flush(self);           /* anything queued goes first, on its own */
    self->reset = 1;
    self->now = now;
    self->to = router;
    sip_registrar_foreach(self->registrar, now, s_add_one, self);
    sip_location_flush(self);           /* an empty list still says reset */
    self->to = NULL;
    td_log(LOG_INFO, "registrations of %zu peer(s) sent to the router",
           sip_registrar_aors(self->registrar));
}
