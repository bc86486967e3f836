/* call - see call.h. The interpreter, the applications other than Dial
 * (dial.c), variables, and the end of a call. */
#include "call_int.h"
#include "dbsync.h"
#include "func.h"
#include "td_log.h"
#include "vars.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S_STEP_BUDGET 1000   /* priorities run before yielding to other calls */

static void s_on_timer(evutil_socket_t fd, short what, void *arg);
static void s_run(call_t *self);

/* --- lifecycle ------------------------------------------------------- */

/* Copy src into dst[size], cut to fit (lastdata is kept short, as Asterisk's). */
static void s_copy(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

call_t *call_new(call_env_t *env, const char *call_id, const char *sig_peer,
                 const Tandem__ChannelNew *msg, const char *context, const char *exten,
                 const dialplan_ext_t *ext)
{
    if (strlen(context) >= CALL_MAX_CONTEXT || strlen(exten) >= CALL_MAX_EXTEN)
        return NULL;
    call_t *self = malloc(sizeof *self);
    if (!self)
        return NULL;
    memset(self, 0, offsetof(call_t, arena_buf));
    self->env = env;
    self->dialplan = dialplan_ref(env->dialplan);
    self->chanvars = chanvars_new();
    self->state = CALL_RUNNING;
    arena_init(&self->arena, self->arena_buf, sizeof self->arena_buf, 2048);
    self->timer = event_new(env->base, -1, 0, s_on_timer, self);
    self->id = arena_strdup(&self->arena, call_id);
    self->sig_peer = arena_strdup(&self->arena, sig_peer);
    self->channel = arena_strdup(&self->arena, msg->channel ? msg->channel : "");
    self->caller_num = arena_strdup(&self->arena, msg->caller_num ? msg->caller_num : "");
    self->caller_name = arena_strdup(&self->arena, msg->caller_name ? msg->caller_name : "");
    self->ani = self->caller_num;     /* CALLERID(num)= does not change it */
    self->dnid = arena_strdup(&self->arena, strcmp(exten, "s") ? exten : "");   /* sip_new */
    self->sdp_offer = arena_strdup(&self->arena, msg->sdp ? msg->sdp : "");
    for (size_t i = 0; i < msg->n_codecs && self->ncodecs < CALL_MAX_CODECS; i++)
        self->codecs[self->ncodecs++] = msg->codecs[i];
    self->rtp_timeout[0] = msg->rtp_timeout;
    self->rtp_hold_timeout[0] = msg->rtp_hold_timeout;
    self->comedia = msg->comedia;
    if (!self->timer || !self->chanvars || !self->id || !self->sig_peer || !self->channel || !self->caller_num
        || !self->caller_name || !self->sdp_offer) {
        call_destroy(&self);
        return NULL;
    }
    snprintf(self->context, sizeof self->context, "%s", context);
    snprintf(self->exten, sizeof self->exten, "%s", exten);
    /* The best match whatever its priorities (call_current looks each priority
     * up from there); ext, the one holding priority 1, may come later. */
    self->ext = dialplan_find_cid(self->dialplan, context, exten, self->caller_num);
    if (!self->ext)
        self->ext = ext;
    self->priority = 1;
    gettimeofday(&self->start, NULL);
    return self;
}

void call_destroy(call_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    call_t *self = *self_p;
    if (self->timer)
        event_free(self->timer);
    if (self->reinvite_timer)
        event_free(self->reinvite_timer);
    call_app_free(self);
    move_free(self);
    func_group_forget(self->chanvars);   /* GROUP() memberships end with the call */
    chanvars_destroy(&self->chanvars);
    dialplan_destroy(&self->dialplan);
    free(self->legs);
    arena_clear(&self->arena);
    free(self);
    *self_p = NULL;
}

const char *call_id(const call_t *self) { return self->id; }
const char *call_sig_peer(const call_t *self) { return self->sig_peer; }
worker_ref_t *call_worker(const call_t *self) { return self->worker; }
call_state_t call_state(const call_t *self) { return self->state; }

void call_describe(const call_t *self, call_desc_t *out)
{
    out->channel = self->channel;
    out->callee = self->winner && self->winner->state == LEG_UP ? self->winner->channel : "";
    out->context = self->context;
    out->exten = self->exten;
    out->priority = self->priority;
    out->app = self->lastapp;
    out->data = self->lastdata;
    out->caller_num = self->caller_num;
    out->answered = self->answered && !self->leg0_gone;
    out->seconds = call_age_s(self);
    out->worker = self->worker ? worker_ref_identity(self->worker) : "";
    out->ndialing = 0;
    for (size_t i = 0; i < self->nlegs && out->ndialing < 8; i++) {
        const leg_t *l = &self->legs[i];
        if (self->state == CALL_DONE || (l->state != LEG_NEW && l->state != LEG_RINGING)
            || !l->channel[0])
            continue;
        out->dialing[out->ndialing] = l->channel;
        out->dialing_state[out->ndialing++] = l->state == LEG_RINGING ? "Ringing" : "Down";
    }
}

int call_has_channel(const call_t *self, const char *channel)
{
    if (strcmp(self->channel, channel) == 0)
        return 1;
    for (size_t i = 0; i < self->nlegs; i++)
        if ((self->legs[i].state == LEG_UP || self->legs[i].state == LEG_RINGING)
            && strcmp(self->legs[i].channel, channel) == 0)
            return 1;
    return 0;
}

int call_answered(const call_t *self)
{
    return self->answered && !self->leg0_gone && self->state != CALL_DONE;
}

uint32_t call_age_s(const call_t *self)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    return now.tv_sec > self->start.tv_sec ? (uint32_t)(now.tv_sec - self->start.tv_sec) : 0;
}

const char *call_state_name(call_state_t state)
{
    static const char *const names[] = {
        "RUNNING", "WAIT_MEDIA", "DIALING", "CONNECTING", "BRIDGED", "WAITING", "ECHO",
        "PLAYING", "COLLECTING", "RECORDING", "MOH", "DONE"
    };
    return state <= CALL_DONE ? names[state] : "?";
}

/* --- variables ------------------------------------------------------- */

static const char *s_lookup(void *arg, const char *name, char *buf, size_t len);

static const char *s_dialplan_global(const void *dialplan, const char *name)
{
    return dialplan_global(dialplan, name);
}

void call_func_env(call_t *self, func_env_t *env)
{
    *env = (func_env_t){
        .vars = self->chanvars,
        .globals = self->env->globals,
        .dialplan_global = s_dialplan_global,
        /* the plan in force, not the one the call started on: Asterisk's
         * globals and dialplan are process-wide, a reload changes them for
         * calls in flight too */
        .dialplan = self->env->dialplan ? self->env->dialplan : self->dialplan,
        .exten_plan = self->dialplan,
        .db = self->env->astdb,
        .global_changed = self->env->dbsync ? dbsync_global_changed : NULL,
        .global_arg = self->env->dbsync,
        .caller_num = &self->caller_num,
        .caller_name = &self->caller_name,
        .arena = &self->arena,
        .lookup = s_lookup,
        .lookup_arg = self,
        .chan_name = self->channel,
        .uniqueid = self->id,
        .context = self->context,
        .exten = self->exten,
        .peer = self->dstchannel,
        .lastapp = self->lastapp,
        .lastdata = self->lastdata,
        .answered = self->answered,
        .start = &self->start,
        .answer = &self->answer_time,
        .accountcode = self->accountcode,
        .accountcode_len = sizeof self->accountcode,
        .userfield = self->userfield,
        .userfield_len = sizeof self->userfield,
        .timeout_ms = self->ivr_timeout_ms,
        .timeout_set = &self->ivr_timeout_set,
        .ani = self->ani,
        .dnid = self->dnid,
    };
}

int call_set_var(call_t *self, const char *name, const char *value)
{
    func_env_t env;
    call_func_env(self, &env);
    return func_set(&env, name, value);
}

/* EXCEPTION(field): what the last exception (the "e" extension) was about,
 * as pbx.c's acf_exception_read: REASON, CONTEXT, EXTEN, PRIORITY; nothing
 * before any exception. arg is "field)". */
static const char *s_exception(call_t *self, const char *arg, char *buf, size_t len)
{
    char field[16];
    size_t n = strcspn(arg, ")");
    if (!self->exc_reason[0] || n >= sizeof field)
        return NULL;
    memcpy(field, arg, n);
    field[n] = '\0';
    if (strcasecmp(field, "REASON") == 0)
        return self->exc_reason;
    if (strcasecmp(field, "CONTEXT") == 0)
        return self->exc_context;
    if (strncasecmp(field, "EXTEN", 5) == 0)
        return self->exc_exten;
    if (strcasecmp(field, "PRIORITY") == 0) {
        snprintf(buf, len, "%d", self->exc_priority);
        return buf;
    }
    return NULL;
}

/* Whole seconds from a to b (b unset: now), as Dial's time() arithmetic. */
static const char *s_seconds(const struct timeval *a, const struct timeval *b, char *buf,
                             size_t len)
{
    struct timeval now;
    if (!b->tv_sec)
        gettimeofday(&now, NULL);
    long s = (long)((b->tv_sec ? b->tv_sec : now.tv_sec) - a->tv_sec);
    snprintf(buf, len, "%ld", s < 0 ? 0 : s);
    return buf;
}

const char *call_var(call_t *self, const char *name, char *buf, size_t len)
{
    func_env_t env;
    call_func_env(self, &env);
    if (strncasecmp(name, "EXCEPTION(", 10) == 0)
        return s_exception(self, name + 10, buf, len);
    if (func_is_call(name))
        return func_read(&env, name, buf, len);
    /* Asterisk's pbx_retrieve_variable: these built-ins come first, then
     * the channel's variables, then the globals. */
    if (strcmp(name, "EXTEN") == 0)
        return self->exten;
    if (strcmp(name, "CONTEXT") == 0)
        return self->context;
    if (strcmp(name, "PRIORITY") == 0) {
        snprintf(buf, len, "%d", self->priority);
        return buf;
    }
    if (strcmp(name, "CHANNEL") == 0)
        return self->channel;
    if (strcmp(name, "UNIQUEID") == 0)
        return self->id;
    if (strcmp(name, "HANGUPCAUSE") == 0) {   /* "0" before any cause, as Asterisk's %d */
        snprintf(buf, len, "%u", self->hangup_cause);
        return buf;
    }
    if (strncmp(name, "CALLING", 7) == 0 && (strcmp(name + 7, "PRES") == 0
        || strcmp(name + 7, "ANI2") == 0 || strcmp(name + 7, "TON") == 0
        || strcmp(name + 7, "TNS") == 0))
        return "0";   /* presentation allowed, no ANI2, unknown plan, no TNS */
    if (strcmp(name, "EPOCH") == 0) {
        snprintf(buf, len, "%ld", (long)time(NULL));
        return buf;
    }
    const char *v = chanvars_get(self->chanvars, name);
    if (v)
        return v;
    /* Channel variables Dial sets in Asterisk, kept as call fields here (a
     * Set() of the same name above wins, as it would in Asterisk).
     * ANSWEREDTIME and DIALEDTIME exist once a Dial was answered: seconds
     * from the answer / from the start of Dial to the end of the bridge
     * (now, while it lasts). */
    if (strcmp(name, "DIALSTATUS") == 0)
        return self->dialstatus[0] ? self->dialstatus : NULL;
    if (strcmp(name, "ANSWEREDTIME") == 0 && self->dial_answer.tv_sec)
        return s_seconds(&self->dial_answer, &self->dial_end, buf, len);
    if (strcmp(name, "DIALEDTIME") == 0 && self->dial_answer.tv_sec)
        return s_seconds(&self->call_dial_start, &self->dial_end, buf, len);
    return func_global(&env, name);
}

static const char *s_lookup(void *arg, const char *name, char *buf, size_t len)
{
    return call_var(arg, name, buf, len);
}

void call_set_dialstatus(call_t *self, const char *status)
{
    snprintf(self->dialstatus, sizeof self->dialstatus, "%s", status);
}

/* --- bus helpers ------------------------------------------------------ */

static void s_send_hangup(call_t *self, uint32_t leg, uint32_t cause)
{
    if (self->sig_lost)
        return;
    Tandem__Hangup m = TANDEM__HANGUP__INIT;
    m.cause = cause;
    td_bus_send_hangup(self->env->bus, self->sig_peer, self->id, leg, &m);
}

int call_media_offer(call_t *self, dialplan_app_t then)
{
    if (!self->worker) {
        self->worker = workers_choose(self->env->workers);
        if (!self->worker) {
            td_log(LOG_WARNING, "No live media worker for '%s'", self->channel);
            return -1;
        }
    }
    Tandem__MediaOffer m = TANDEM__MEDIA_OFFER__INIT;
    m.sdp = (char *)self->sdp_offer;
    m.codecs = self->codecs;
    m.n_codecs = self->ncodecs;
    m.comedia = self->comedia;
    if (td_bus_send_media_offer(self->env->bus, worker_ref_identity(self->worker), self->id, 0,
                                &m) < 0) {
        workers_release(self->env->workers, self->worker);
        self->worker = NULL;
        return -1;
    }
    self->state = CALL_WAIT_MEDIA;
    self->after_media = then;
    return 0;
}

void call_answer_caller(call_t *self, const char *sdp)
{
    Tandem__Answer m = TANDEM__ANSWER__INIT;
    m.sdp = (char *)sdp;
    if (!self->sig_lost)
        td_bus_send_answer(self->env->bus, self->sig_peer, self->id, 0, &m);
    call_sdp_sent(self, 0, sdp);
    self->answered = 1;
    call_rtp_timeouts(self, 0);
    gettimeofday(&self->answer_time, NULL);
    call_journal(self);
}

void call_rtp_timeouts(call_t *self, int side)
{
    if (!self->rtp_timeout[side] || !self->worker || self->worker_lost)
        return;
    uint32_t leg = side == 0 ? 0 : self->winner ? self->winner->number : 1;
    Tandem__MediaTimeouts m = TANDEM__MEDIA_TIMEOUTS__INIT;
    m.rtp_timeout = self->rtp_timeout[side];
    m.rtp_hold_timeout = self->rtp_hold_timeout[side];
    td_bus_send_media_timeouts(self->env->bus, worker_ref_identity(self->worker), self->id, leg, &m);
}

static void s_echo(call_t *self)
{
    Tandem__MediaEcho m = TANDEM__MEDIA_ECHO__INIT;
    td_bus_send_media_echo(self->env->bus, worker_ref_identity(self->worker), self->id, 0, &m);
    self->state = CALL_ECHO;
}

void call_arm_timer(call_t *self, unsigned ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    event_add(self->timer, &tv);
}

/* --- the end ------------------------------------------------------------- */

const char *call_disp_name(call_disp_t disp)
{
    static const char *const names[] = { "ANSWERED", "NO ANSWER", "BUSY", "FAILED",
                                         "CONGESTION" };
    return (unsigned)disp < CALL_DISP_COUNT ? names[disp] : "NO ANSWER";
}

static call_disp_t s_disposition(const call_t *self)
{
    if (self->answered)
        return CALL_DISP_ANSWERED;
    if (strcmp(self->dialstatus, "BUSY") == 0)
        return CALL_DISP_BUSY;
    if (strcmp(self->dialstatus, "CONGESTION") == 0)
        return CALL_DISP_CONGESTION;
    /* A Dial whose every ast_call failed publishes no dial status: the CDR
     * takes the caller's hangup cause (cdr.c's hangup_cause_to_cdr_disposition),
     * USER_BUSY for a peer at its call-limit. */
    if (strcmp(self->dialstatus, "CHANUNAVAIL") == 0)
        return self->hangup_cause == 17 ? CALL_DISP_BUSY : CALL_DISP_FAILED;
    return CALL_DISP_NO_ANSWER;
}

/* The CDR fields as they stand (end left zero); clid is their buffer. */
static void s_cdr_record(const call_t *self, cdr_record_t *out, char *clid, size_t len)
{
    call_disp_t disp = s_disposition(self);
    cdr_record_t r = {
        .accountcode = self->accountcode,
        .uniqueid = self->id,
        .userfield = self->userfield,
        .src = self->caller_num,
        .dst = self->exten,
        .dcontext = self->context,
        .clid = cdr_clid(self->caller_name, self->caller_num, clid, len),
        .channel = self->channel,
        .dstchannel = self->dstchannel,
        .lastapp = self->lastapp,
        .lastdata = self->lastdata,
        .start = self->start,
        .answer = self->answer_time,
        .disposition = call_disp_name(disp),
        .amaflags = "DOCUMENTATION",
    };
    *out = r;
}

void call_journal(call_t *self)
{
    if (!self->env->journal || self->in_h || self->cdr_done)
        return;
    char clid[256];
    cdr_record_t r;
    s_cdr_record(self, &r, clid, sizeof clid);
    journal_update(self->env->journal, &r);
}

/* The CDR line, then at once its end in the journal: a router killed
 * between the two writes writes this line again when it restarts (it never
 * loses one); killed any later, it does not. */
static void s_write_cdr(call_t *self)
{
    self->env->counts.ended[s_disposition(self)]++;
    if (self->env->cdr) {
        char clid[256];
        cdr_record_t r;
        s_cdr_record(self, &r, clid, sizeof clid);
        gettimeofday(&r.end, NULL);
        if (cdr_write(self->env->cdr, &r) == 0)
            self->env->counts.cdrs_written++;
        else
            self->env->counts.cdr_failures++;
    }
    self->cdr_done = 1;
    journal_end(self->env->journal, self->id);
    journal_flush(self->env->journal);
}

/* The h extension of the call's context, after the channel is gone, with
 * the call's variables (HANGUPCAUSE, DIALSTATUS...). Only applications that
 * need no channel run (call_app_instant); the first other one ends the run, as
 * does a Hangup. The CDR is already written, so h changes nothing in it (as
 * Asterisk with endbeforehexten=yes). */
static void s_run_h(call_t *self)
{
    const dialplan_ext_t *h = call_find(self, self->context, "h");
    if (!h || self->in_h)
        return;
    self->in_h = 1;
    self->h_stop = 0;
    snprintf(self->exten, sizeof self->exten, "h");
    self->ext = dialplan_find_cid(self->dialplan, self->context, "h", self->caller_num);
    self->priority = 1;
    self->state = CALL_RUNNING;
    s_run(self);
}

/* Hang up leg 0 with cause (unless it is already gone), every other live leg
 * with legs_cause, release the media session, write the CDR, and hand the
 * call back to its owner. */
void call_end(call_t *self, uint32_t cause, uint32_t legs_cause)
{
    if (self->in_h) {
        self->h_stop = 1;      /* Hangup() inside h: the h run ends */
        return;
    }
    if (self->state == CALL_DONE)
        return;
    event_del(self->timer);
    if (self->move_timer)
        event_del(self->move_timer);
    self->moving = 0;
    for (size_t i = 0; i < self->nlegs; i++) {
        leg_t *leg = &self->legs[i];
        if (leg->state != LEG_RINGING && leg->state != LEG_UP)
            continue;
        s_send_hangup(self, leg->number, legs_cause);
        leg->state = LEG_GONE;
        leg->cause = legs_cause;
    }
    if (!self->leg0_gone)
        s_send_hangup(self, 0, cause);
    self->leg0_gone = 1;
    if (self->worker) {
        if (!self->worker_lost) {
            Tandem__MediaRelease m = TANDEM__MEDIA_RELEASE__INIT;
            td_bus_send_media_release(self->env->bus, worker_ref_identity(self->worker), self->id, 0,
                                      &m);
        }
        workers_release(self->env->workers, self->worker);
        self->worker = NULL;
    }
    self->hangup_cause = cause;
    if (self->dial_answer.tv_sec && !self->dial_end.tv_sec)
        gettimeofday(&self->dial_end, NULL);
    td_log(LOG_INFO, "Hungup '%s' (cause %u)", self->channel, cause);
    call_app_macro_unwind(self);
    s_write_cdr(self);
    s_run_h(self);
    self->state = CALL_DONE;
    self->env->on_done(self->env->arg, self);
}

/* --- applications other than Dial ------------------------------------------ */

static uint32_t s_cause_parse(const char *text)
{
    static const struct { const char *name; uint32_t cause; } names[] = {
        { "UNALLOCATED", 1 }, { "NO_ROUTE_DESTINATION", 3 }, { "NORMAL_CLEARING", 16 },
        { "USER_BUSY", 17 }, { "BUSY", 17 }, { "NO_USER_RESPONSE", 18 }, { "NO_ANSWER", 19 },
        { "SUBSCRIBER_ABSENT", 20 }, { "CALL_REJECTED", 21 }, { "NUMBER_CHANGED", 22 },
        { "DESTINATION_OUT_OF_ORDER", 27 }, { "INVALID_NUMBER_FORMAT", 28 },
        { "NORMAL_UNSPECIFIED", 31 }, { "NORMAL_CIRCUIT_CONGESTION", 34 }, { "CONGESTION", 34 },
        { "NETWORK_OUT_OF_ORDER", 38 }, { "NORMAL_TEMPORARY_FAILURE", 41 },
        { "SWITCH_CONGESTION", 42 }, { "CHANNEL_UNACCEPTABLE", 6 },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(text, names[i].name) == 0)
            return names[i].cause;
    char *end;
    long n = strtol(text, &end, 10);
    if (*text && !*end && n > 0 && n < 128)
        return (uint32_t)n;
    return 0;
}

static void s_app_hangup(call_t *self, char *args)
{
    char *argv[1];
    uint32_t cause = 0;
    if (vars_split_args(args, ',', argv, 1) == 1 && *argv[0]) {
        cause = s_cause_parse(argv[0]);
        if (!cause)
            td_log(LOG_WARNING, "Invalid cause given to Hangup(): \"%s\"", argv[0]);
    }
    if (!cause)
        cause = self->hangup_cause ? self->hangup_cause : 16;
    call_end(self, cause, 16);
}

static void s_app_answer(call_t *self, dialplan_app_t then)
{
    if (self->answered) {
        if (then == DIALPLAN_APP_ECHO)
            s_echo(self);
        return;
    }
    if (self->sdp_caller) {
        call_answer_caller(self, self->sdp_caller);
        if (then == DIALPLAN_APP_ECHO)
            s_echo(self);
        return;
    }
    if (call_media_offer(self, then) < 0)
        call_end(self, 34, 16);
}

static void s_app_wait(call_t *self, char *args)
{
    char *argv[1];
    if (vars_split_args(args, ',', argv, 1) < 1)
        return;
    char *end;
    double s = strtod(argv[0], &end);
    if (end == argv[0] || s <= 0)
        return;
    if (s > 86400.0 * 365)
        s = 86400.0 * 365;
    self->state = CALL_WAITING;
    call_arm_timer(self, (unsigned)(s * 1000 + 0.5));
}

const dialplan_ext_t *call_find(call_t *self, const char *context, const char *exten)
{
    return dialplan_find_prio(self->dialplan, context, exten, self->caller_num, 1, NULL);
}

const dialplan_prio_t *call_current(call_t *self)
{
    const dialplan_prio_t *p = self->ext ? dialplan_priority(self->ext, self->priority) : NULL;
    if (p)
        return p;              /* the best match has it: it is the first that has it */
    const dialplan_ext_t *e = dialplan_find_prio(self->dialplan, self->context, self->exten,
                                                 self->caller_num, self->priority, NULL);
    return e ? dialplan_priority(e, self->priority) : NULL;
}

void call_jump(call_t *self, const char *context, const char *exten, int priority)
{
    char ctx[CALL_MAX_CONTEXT], ex[CALL_MAX_EXTEN];
    snprintf(ctx, sizeof ctx, "%s", context);
    snprintf(ex, sizeof ex, "%s", exten);
    memcpy(self->context, ctx, sizeof ctx);
    memcpy(self->exten, ex, sizeof ex);
    self->ext = dialplan_find_cid(self->dialplan, self->context, self->exten, self->caller_num);
    self->priority = priority;
    self->jumped = 1;
    self->fall_wait = 0;
}

int call_raise(call_t *self, const char *reason, int priority)
{
    snprintf(self->exc_reason, sizeof self->exc_reason, "%s", reason);
    memcpy(self->exc_context, self->context, sizeof self->exc_context);
    memcpy(self->exc_exten, self->exten, sizeof self->exc_exten);
    self->exc_priority = self->priority;
    call_jump(self, self->context, "e", priority);
    return 0;
}

void call_fail(call_t *self)
{
    if (self->trying) {
        self->try_failed = 1;
        return;
    }
    call_end(self, self->hangup_cause ? self->hangup_cause : 16, 16);
}

/* Goto([[context,]exten,]priority|label) */
static void s_app_goto(call_t *self, char *args)
{
    if (call_goto(self, args) < 0)
        call_fail(self);
    else
        td_log(LOG_INFO, "Goto (%s,%s,%d)", self->context, self->exten, self->priority);
}

/* As pbx.c's pbx_parse_location and pbx_parseable_goto: the fields are cut
 * at commas (no quoting); "+N"/"-N" is relative to the current priority; a
 * priority that is not a number is a label of the target extension. The
 * target need not exist: the interpreter finds that out ("i", "e"). */
int call_goto(call_t *self, char *args)
{
    if (!args || !*args) {
        td_log(LOG_WARNING, "Goto requires an argument ([[context,]extension,]priority)");
        return -1;
    }
    char *f[3] = { NULL, NULL, NULL };
    char *rest = args;
    for (int i = 0; i < 3 && rest; i++)
        f[i] = strsep(&rest, ",");
    char *context = f[0], *exten = f[1], *pri = f[2];
    if (!exten) {
        pri = context;
        context = exten = NULL;
    } else if (!pri) {
        pri = exten;
        exten = context;
        context = NULL;
    }
    if (!context || !*context)
        context = self->context;
    if (!exten || !*exten)
        exten = self->exten;
    if (strlen(context) >= CALL_MAX_CONTEXT || strlen(exten) >= CALL_MAX_EXTEN) {
        td_log(LOG_WARNING, "Goto (%s,%s,%s): name too long", context, exten, pri);
        return -1;
    }
    int mode = 0, n;
    if (*pri == '+' || *pri == '-')
        mode = *pri++ == '+' ? 1 : -1;
    char more[2];
    if (sscanf(pri, "%30d%1s", &n, more) != 1) {
        const dialplan_ext_t *e = dialplan_find_prio(self->dialplan, context, exten,
                                                     self->caller_num, 0, pri);
        const dialplan_prio_t *p = e ? dialplan_label(e, pri) : NULL;
        if (!p) {
            td_log(LOG_WARNING, "Priority '%s' must be a number > 0, or valid label", pri);
            return -1;
        }
        n = p->priority;
        mode = 0;
    }
    if (mode)
        n = self->priority + n * mode;
    /* context may point into self->context: call_jump copies through a buffer. */
    call_jump(self, context, exten, n);
    return 0;
}

static void s_exec(call_t *self, dialplan_app_t app, char *args)
{
    if (self->in_h && !call_app_instant(app)) {
        td_log(LOG_INFO, "%s cannot run in the h extension: it ends here",
               dialplan_app_name(app));
        self->h_stop = 1;
        return;
    }
    switch (app) {
    case DIALPLAN_APP_NOOP:
        break;
    case DIALPLAN_APP_ANSWER:
        s_app_answer(self, DIALPLAN_APP_ANSWER);
        break;
    case DIALPLAN_APP_ECHO:
        s_app_answer(self, DIALPLAN_APP_ECHO);
        break;
    case DIALPLAN_APP_WAIT:
        s_app_wait(self, args);
        break;
    case DIALPLAN_APP_HANGUP:
        s_app_hangup(self, args);
        break;
    case DIALPLAN_APP_GOTO:
        s_app_goto(self, args);
        break;
    case DIALPLAN_APP_DIAL:
        call_dial_start(self, args);
        break;
    case DIALPLAN_APP_COUNT:
        break;
    default:
        call_app_exec(self, app, args);
        break;
    }
}

void call_exec(call_t *self, dialplan_app_t app, char *args)
{
    s_exec(self, app, args);
}

/* --- the interpreter ------------------------------------------------------- */

/* Auto fallthrough (pbx.c __ast_pbx_run): the extension exists but has no
 * next priority. The last DIALSTATUS (a Set one too) says how the call
 * ends: BUSY as Busy(10), CONGESTION or CHANUNAVAIL as Congestion(10),
 * anything else a plain hangup. Unanswered, Busy and Congestion answer the
 * caller at once (486, 503; chan_sip's indicate), so the 10 s only matter
 * once answered. */
static void s_fall_through(call_t *self)
{
    char buf[64];
    const char *status = call_var(self, "DIALSTATUS", buf, sizeof buf);
    if (!status)
        status = "UNKNOWN";
    td_log(LOG_INFO, "Auto fallthrough, channel '%s' status is '%s'", self->channel, status);
    char ten[] = "10";
    if (strcasecmp(status, "BUSY") == 0)
        call_app_refuse(self, ten, 17);
    else if (strcasecmp(status, "CONGESTION") == 0 || strcasecmp(status, "CHANUNAVAIL") == 0)
        call_app_refuse(self, ten, 34);
    else
        call_end(self, self->hangup_cause ? self->hangup_cause : 16, 16);
}

/* No priority where the call is: what __ast_pbx_run does next. */
static void s_fall_off(call_t *self)
{
    if (self->in_h) {
        self->h_stop = 1;
        return;
    }
    if (!call_find(self, self->context, self->exten)) {
        /* Not a valid extension (no priority 1): "i", else "e", else the end. */
        if (call_find(self, self->context, "i")) {
            td_log(LOG_INFO, "Channel '%s' sent to invalid extension: "
                   "context,exten,priority=%s,%s,%d", self->channel, self->context, self->exten,
                   self->priority);
            chanvars_set(self->chanvars, "INVALID_EXTEN", self->exten);
            call_jump(self, self->context, "i", 1);
        } else if (call_find(self, self->context, "e")) {
            call_raise(self, "INVALID", 1);
        } else {
            td_log(LOG_WARNING, "Channel '%s' sent to invalid extension but no invalid handler: "
                   "context,exten,priority=%s,%s,%d", self->channel, self->context, self->exten,
                   self->priority);
            call_end(self, self->hangup_cause ? self->hangup_cause : 16, 16);
        }
        return;
    }
    if (dialplan_autofallthrough(self->dialplan)) {
        s_fall_through(self);
        return;
    }
    /* autofallthrough=no: wait for an extension to be dialled (ivr.c
     * collects the digits as for WaitExten) for Asterisk's response timeout
     * (10 s); no digit: s_fall_timeout. */
    td_log(LOG_INFO, "No more priorities on '%s': waiting 10 s for digits (autofallthrough=no)",
           self->channel);
    memset(self->ivr.digits, 0, sizeof self->ivr.digits);
    self->ivr.mode = IVR_WAITEXTEN;
    self->state = CALL_COLLECTING;
    self->fall_wait = 1;
    call_arm_timer(self, 10000);
}

/* autofallthrough=no and no digit came: "t", else "e" (RESPONSETIMEOUT),
 * else the end (__ast_pbx_run's "simple timeout"). */
static void s_fall_timeout(call_t *self)
{
    self->fall_wait = 0;
    self->ivr.mode = IVR_NONE;
    self->state = CALL_RUNNING;
    if (call_find(self, self->context, "t")) {
        td_log(LOG_INFO, "Timeout on %s", self->channel);
        call_jump(self, self->context, "t", 1);
    } else if (call_find(self, self->context, "e")) {
        call_raise(self, "RESPONSETIMEOUT", 1);
    } else {
        td_log(LOG_WARNING, "Timeout, but no rule 't' or 'e' in context '%s'", self->context);
        call_end(self, self->hangup_cause ? self->hangup_cause : 16, 16);
        return;
    }
    s_run(self);
}

static void s_run(call_t *self)
{
    for (unsigned budget = S_STEP_BUDGET; self->state == CALL_RUNNING; budget--) {
        if (self->in_h && (self->h_stop || !budget))
            return;
        if (!budget) {
            /* A long run of priorities (a Goto loop): let other calls in. */
            call_arm_timer(self, 0);
            return;
        }
        const dialplan_prio_t *p = call_current(self);
        if (!p) {
            if (call_app_macro_fell(self))
                continue;      /* a macro ran out of priorities: back to its caller */
            s_fall_off(self);
            if (self->state == CALL_RUNNING && self->jumped && !self->in_h)
                continue;      /* sent to "i" or "e" */
            return;
        }
        if (p->app == DIALPLAN_APP_UNKNOWN) {
            /* pbx_extension_helper: the spawn fails, the call ends (h runs). */
            td_log(LOG_WARNING, "No application '%s' for extension (%s, %s, %d)", p->app_name,
                   self->context, self->exten, self->priority);
            if (self->in_h)
                self->h_stop = 1;
            else
                call_end(self, self->hangup_cause ? self->hangup_cause : 16, 16);
            return;
        }
        char args[VARS_MAX];
        vars_substitute(p->args, args, sizeof args, s_lookup, self);
        const char *name = dialplan_app_name(p->app);
        td_log(LOG_INFO, "Executing [%s@%s:%d] %s(\"%s\", \"%s\")", self->exten, self->context,
               self->priority, name, self->channel, args);
        if (!self->in_h) {
            s_copy(self->lastapp, sizeof self->lastapp, name);
            s_copy(self->lastdata, sizeof self->lastdata, args);
            call_journal(self);
        }
        self->app = p->app;
        self->jumped = 0;
        s_exec(self, p->app, args);
        if (self->macros && self->state == CALL_RUNNING)
            call_app_macro_check(self);
        if (self->state == CALL_RUNNING && !self->jumped)
            self->priority++;
    }
}

void call_next(call_t *self)
{
    self->state = CALL_RUNNING;
    self->priority++;
    s_run(self);
}

void call_start(call_t *self)
{
    s_run(self);
}

void call_rerun(call_t *self)
{
    self->state = CALL_RUNNING;
    s_run(self);
}

static void s_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    call_t *self = arg;
    td_log_set_context(self->id);
    switch (self->state) {
    case CALL_WAITING:
        if (self->ivr.mode == IVR_BUSY)
            call_app_on_timer(self);
        else
            call_next(self);
        break;
    case CALL_DIALING:
        call_dial_on_timeout(self);
        break;
    case CALL_RUNNING:
        s_run(self);
        break;
    case CALL_COLLECTING:
        if (self->fall_wait && !self->ivr.digits[0])
            s_fall_timeout(self);
        else
            call_ivr_on_timer(self);
        break;
    case CALL_MOH:
    case CALL_PLAYING:
    case CALL_RECORDING:
        call_ivr_on_timer(self);
        break;
    default:
        break;
    }
    td_log_set_context(NULL);
}

void call_fire_timer(call_t *self)
{
    event_del(self->timer);
    s_on_timer(-1, EV_TIMEOUT, self);
}

/* --- messages ------------------------------------------------------------- */

/* A message for an outgoing leg this call does not have (alive): tell
 * signaling to drop it. */
static leg_t *s_live_leg(call_t *self, uint32_t leg, const char *what)
{
    leg_t *l = leg ? call_dial_leg(self, leg) : NULL;
    if (!l) {
        td_log(LOG_DEBUG, "%s for leg %u, which is not live: hanging it up", what, leg);
        if (leg)
            s_send_hangup(self, leg, 16);
    }
    return l;
}

void call_on_progress(call_t *self, uint32_t leg, const Tandem__Progress *msg)
{
    leg_t *l = s_live_leg(self, leg, "Progress");
    if (l)
        call_dial_on_progress(self, l, msg);
}

void call_on_answer(call_t *self, uint32_t leg, const Tandem__Answer *msg)
{
    leg_t *l = s_live_leg(self, leg, "Answer");
    if (l)
        call_dial_on_answer(self, l, msg);
}

void call_on_hangup(call_t *self, uint32_t leg, const Tandem__Hangup *msg)
{
    if (leg == 0) {
        int dialing = self->app == DIALPLAN_APP_DIAL
                      && (self->state == CALL_WAIT_MEDIA || self->state == CALL_DIALING
                          || self->state == CALL_CONNECTING);
        if (dialing)
            call_set_dialstatus(self, "CANCEL");
        self->leg0_gone = 1;
        call_end(self, msg->cause ? msg->cause : 16, 16);
        return;
    }
    leg_t *l = call_dial_leg(self, leg);
    if (!l) {
        td_log(LOG_DEBUG, "Hangup for leg %u, which is not live", leg);
        return;
    }
    l->not_called = msg->not_called;
    call_dial_on_leg_hangup(self, l, msg->cause);
}

static int s_from_worker(call_t *self, const char *peer, const char *what)
{
    if (self->worker && strcmp(worker_ref_identity(self->worker), peer) == 0)
        return 1;
    td_log(LOG_DEBUG, "%s from %s, which does not serve this call: ignored", what, peer);
    return 0;
}

void call_on_media_offered(call_t *self, const char *peer, const Tandem__MediaOffered *msg)
{
    if (!s_from_worker(self, peer, "MediaOffered"))
        return;
    if (self->state != CALL_WAIT_MEDIA) {
        td_log(LOG_DEBUG, "MediaOffered in state %s: ignored", call_state_name(self->state));
        return;
    }
    self->sdp_caller = arena_strdup(&self->arena, msg->sdp_caller ? msg->sdp_caller : "");
    self->sdp_callee = arena_strdup(&self->arena, msg->sdp_callee ? msg->sdp_callee : "");
    if (!self->sdp_caller || !self->sdp_callee) {
        call_end(self, 41, 16);
        return;
    }
    self->state = CALL_RUNNING;
    switch (self->after_media) {
    case DIALPLAN_APP_DIAL:
        call_dial_originate(self);
        break;
    case DIALPLAN_APP_ECHO:
        call_answer_caller(self, self->sdp_caller);
        s_echo(self);
        break;
    case DIALPLAN_APP_ANSWER:
        call_answer_caller(self, self->sdp_caller);
        call_next(self);
        break;
    default:
        /* An application that needed the session (Playback, Progress...):
         * it runs again and finds it. */
        call_rerun(self);
        break;
    }
}

void call_on_media_answered(call_t *self, const char *peer, const Tandem__MediaAnswered *msg)
{
    if (s_from_worker(self, peer, "MediaAnswered"))
        call_dial_on_media_answered(self, msg);
}

void call_on_media_error(call_t *self, const char *peer, const Tandem__MediaError *msg)
{
    if (!s_from_worker(self, peer, "MediaError"))
        return;
    if (move_on_media_error(self, msg))
        return;
    uint32_t cause = msg->cause ? msg->cause : 41;
    td_log(LOG_WARNING, "Media error on '%s': %s (cause %u)", self->channel,
           msg->reason ? msg->reason : "", cause);
    call_end(self, cause, 16);
}

/* chan_sip's check_rtp_timeout: "Disconnecting call ... for lack of RTP
 * activity", the channel hung up with cause 44 (AST_CAUSE_REQUESTED_CHAN_UNAVAIL,
 * as Cisco does for RTP timeouts); the other leg goes with it. */
void call_on_media_timeout(call_t *self, const char *peer, const Tandem__MediaTimeout *msg)
{
    if (!s_from_worker(self, peer, "MediaTimeout") || self->state == CALL_DONE)
        return;
    td_log(LOG_NOTICE, "Disconnecting call '%s' for lack of RTP activity in %u seconds",
           self->channel, msg->seconds);
    call_end(self, 44, 44);
}

void call_on_media_played(call_t *self, const char *peer, const Tandem__MediaPlayed *msg)
{
    if (s_from_worker(self, peer, "MediaPlayed"))
        call_ivr_on_played(self, msg);
}

void call_on_media_dtmf(call_t *self, const char *peer, const Tandem__MediaDtmf *msg)
{
    if (s_from_worker(self, peer, "MediaDtmf"))
        call_ivr_on_dtmf(self, msg);
}

void call_on_media_recorded(call_t *self, const char *peer, const Tandem__MediaRecorded *msg)
{
    if (s_from_worker(self, peer, "MediaRecorded"))
        call_ivr_on_recorded(self, msg);
}

void call_on_peer_lost(call_t *self, int media)
{
    if (media)
        self->worker_lost = 1;
    else
        self->sig_lost = 1;
    td_log(LOG_WARNING, "%s peer of '%s' is gone: hanging up", media ? "Media" : "Signaling",
           self->channel);
    call_end(self, 38, 38);
}

void call_on_sig_silent(call_t *self)
{
    td_log(LOG_WARNING, "Signaling peer of '%s' stayed silent: hanging up", self->channel);
    call_end(self, 38, 38);
}

void call_shutdown(call_t *self, uint32_t cause)
{
    call_end(self, cause, cause);
}
