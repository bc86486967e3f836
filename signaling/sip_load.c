/* sip_load - see sip_load.h. */
#include "sip_load.h"

#include <stdlib.h>

#define CONTROL_US   100000ULL  /* one control window */
#define BUSY_PCT     90         /* CPU share of a core that counts as overloaded */
#define HOT_WINDOWS  2          /* windows in a row over the target that start an episode */
#define CALM_WINDOWS 20         /* windows without shedding that end an episode (2 s) */
#define MIN_CPS      50         /* the admitted rate is never cut below this */
#define START_CPS    200        /* new calls a second below which no episode starts: a
                                 * core that sustains 1,000+ is not saturated by them,
                                 * a late loop then is the host's doing */
#define UNIT         1000000ULL /* one token, in millionths */

struct sip_load {
    sip_load_opts_t opts;
    uint64_t lag_us;            /* smoothed, weight 1/4 per sample */
    uint64_t queue_min_us;      /* smallest queue delay this window (UINT64_MAX: none) */
    uint64_t queue_us;          /* ... of the last window */
    uint64_t win_start_us, win_cpu_us;
    uint32_t busy_pct;
    uint64_t win_admitted, win_shed, win_offered;
    uint32_t limit_cps;         /* 0: none */
    int overloaded;
    unsigned calm;              /* windows in a row without shedding */
    unsigned hot;               /* windows in a row over the target, outside an episode */
    uint64_t tokens;            /* millionths of a call */
    uint64_t bucket_us;         /* when tokens were last added */
    uint64_t offered, admitted, shed, episodes, episode_shed;
};

sip_load_t *sip_load_new(const sip_load_opts_t *opts, uint64_t now_us, uint64_t cpu_us)
{
    sip_load_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (opts)
        self->opts = *opts;
    self->queue_min_us = UINT64_MAX;
    self->win_start_us = now_us;
    self->win_cpu_us = cpu_us;
    self->bucket_us = now_us;
    self->tokens = UNIT;
    return self;
}

void sip_load_destroy(sip_load_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

/* The rate admission holds to now: the smaller of the load limit and
 * max_cps, 0 for none. */
static uint32_t s_rate(const sip_load_t *self)
{
    uint32_t a = self->limit_cps, b = self->opts.max_cps;
    if (!a)
        return b;
    return b && b < a ? b : a;
}

/* The end of a control window: decide the new limit. */
static sip_load_event_t s_control(sip_load_t *self, uint64_t now_us, uint64_t cpu_us)
{
    uint64_t wall = now_us - self->win_start_us;
    self->busy_pct = wall && cpu_us >= self->win_cpu_us
                     ? (uint32_t)((cpu_us - self->win_cpu_us) * 100 / wall) : 0;
    self->queue_us = self->queue_min_us == UINT64_MAX ? 0 : self->queue_min_us;
    uint64_t delay = self->lag_us > self->queue_us ? self->lag_us : self->queue_us;
    uint64_t target = (uint64_t)self->opts.lag_ms * 1000;
    uint64_t rate = wall ? self->win_admitted * 1000000ULL / wall : 0;
    uint64_t offered = wall ? self->win_offered * 1000000ULL / wall : 0;
    sip_load_event_t ev = SIP_LOAD_SAME;
    /* a late loop with (next to) no new calls is not theirs to pay for:
     * an episode starts only when calls are coming in */
    int hot = target && (delay > target || self->busy_pct >= BUSY_PCT)
              && (self->limit_cps || offered >= START_CPS);
    /* outside an episode, one late window may be the host descheduling us
     * once: it takes HOT_WINDOWS in a row to start one */
    if (hot && !self->overloaded && ++self->hot < HOT_WINDOWS)
        hot = 0;
    else if (!hot)
        self->hot = 0;
    if (hot) {
        self->hot = 0;
        /* cut the limit (at the start: what got in) by how far over the
         * target we are; a window's own admitted rate is too noisy to cut
         * from later (a stalled loop admits next to nothing) */
        uint64_t base = self->limit_cps ? self->limit_cps : rate;
        uint64_t permille = delay > target ? target * 1000 / delay : 900;
        if (permille > 900)
            permille = 900;
        if (permille < 500)
            permille = 500;
        uint64_t next = base * permille / 1000;
        self->limit_cps = next < MIN_CPS ? MIN_CPS : (uint32_t)next;
        self->calm = 0;
        if (!self->overloaded) {
            self->overloaded = 1;
            self->episodes++;
            self->episode_shed = 0;
            ev = SIP_LOAD_STARTED;
        }
    } else if (self->limit_cps) {
        /* grow back, but not past twice what is offered: a limit far above
         * the offered rate would only make the next cut start too high */
        uint32_t step = self->limit_cps / 16, cap = (uint32_t)(2 * offered);
        uint32_t next = self->limit_cps + (step ? step : 1);
        if (next > cap)
            next = cap > self->limit_cps ? cap : self->limit_cps;
        self->limit_cps = next;
        self->calm = self->win_shed ? 0 : self->calm + 1;
        if (self->calm >= CALM_WINDOWS) {
            self->limit_cps = 0;
            self->overloaded = 0;
            self->calm = 0;
            ev = SIP_LOAD_ENDED;
        }
    }
    self->win_start_us = now_us;
    self->win_cpu_us = cpu_us;
    self->win_admitted = self->win_shed = self->win_offered = 0;
    self->queue_min_us = UINT64_MAX;
    return ev;
}

sip_load_event_t sip_load_sample(sip_load_t *self, uint64_t now_us, uint64_t lag_us,
                                 uint64_t queue_us, uint64_t cpu_us)
{
    /* EWMA with weight 1/4: a single late timer does not make an episode */
    if (lag_us >= self->lag_us)
        self->lag_us += (lag_us - self->lag_us) / 4;
    else
        self->lag_us -= (self->lag_us - lag_us) / 4;
    if (queue_us && queue_us < self->queue_min_us)
        self->queue_min_us = queue_us;
    if (now_us - self->win_start_us < CONTROL_US)
        return SIP_LOAD_SAME;
    return s_control(self, now_us, cpu_us);
}

int sip_load_admit(sip_load_t *self, uint64_t now_us)
{
    self->offered++;
    self->win_offered++;
    uint32_t rate = s_rate(self);
    if (rate) {
        uint64_t depth = (uint64_t)rate * UNIT / 10;    /* a tenth of a second */
        if (depth < UNIT)
            depth = UNIT;
        uint64_t dt = now_us - self->bucket_us;
        self->bucket_us = now_us;
        /* dt * rate: fine in 64 bits for any dt below hours at 1e6 calls/s */
        uint64_t add = dt > 3600ULL * UNIT ? depth : dt * rate;
        self->tokens = self->tokens + add > depth ? depth : self->tokens + add;
        if (self->tokens < UNIT) {
            self->shed++;
            self->win_shed++;
            self->episode_shed++;
            return 1 + (int)(self->shed % 4);
        }
        self->tokens -= UNIT;
    } else {
        /* no limit: keep the bucket full for when one starts */
        self->bucket_us = now_us;
        self->tokens = UNIT;
    }
    self->admitted++;
    self->win_admitted++;
    return 0;
}

void sip_load_stats(const sip_load_t *self, sip_load_stats_t *out)
{
    out->lag_us = (uint32_t)self->lag_us;
    out->queue_us = (uint32_t)self->queue_us;
    out->busy_pct = self->busy_pct;
    out->limit_cps = s_rate(self);
    out->overloaded = self->overloaded;
    out->offered = self->offered;
    out->admitted = self->admitted;
    out->shed = self->shed;
    out->episodes = self->episodes;
    out->episode_shed = self->episode_shed;
}
