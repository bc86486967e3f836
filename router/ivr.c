/* ivr - the applications that play, listen and record on the caller's
 * side through the media worker (Progress, Ringing, Playback, Background,
 * WaitExten, Read, ReadExten, SayDigits, SayNumber, SayAlpha, SayAlphaCase,
 * Record, MusicOnHold), and the
 * worker's answers (MediaPlayed, MediaDtmf, MediaRecorded). See apps.c for
 * the flows; behaviour follows Asterisk's app_playback, app_read,
 * app_record, pbx_builtins and the pbx loop's digit collection.
 *
 * Media needs a session and, for most applications, an answered caller:
 * Playback, Background, Read and Record answer first (unless told not to);
 * Progress, WaitExten, SayDigits, SayNumber and MusicOnHold do not answer,
 * so they send 183 with the session's SDP (early media) instead: without
 * it the caller would hear nothing. */
#define TD_LOG_SUBSYS TD_LOG_DIALPLAN   /* td_log() here: [logging] dialplan= */
#include "call_int.h"
#include "td_log.h"
#include "td_path.h"
#include "td_str.h"
#include "vars.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_MAX_FILES 64                  /* files in one MediaPlay */
#define S_READ_MAX 255                  /* Read's maxdigits limit */

/* The call's TIMEOUT(digit) and TIMEOUT(response): 5 s and 10 s unless the
 * dialplan set them (func.h). */
static unsigned s_digit_ms(const call_t *self)
{
    return func_timeout_ms(self->ivr_timeout_ms, self->ivr_timeout_set, FUNC_TIMEOUT_DIGIT);
}

static unsigned s_response_ms(const call_t *self)
{
    return func_timeout_ms(self->ivr_timeout_ms, self->ivr_timeout_set, FUNC_TIMEOUT_RESPONSE);
}

static void s_fail(call_t *self)
{
    call_fail(self);            /* ends the call, unless TryExec runs it */
}

/* --- signalling ------------------------------------------------------------------------ */

void call_ivr_progress(call_t *self, uint32_t code, const char *sdp)
{
    if (self->sig_lost)
        return;
    Tandem__Progress m = TANDEM__PROGRESS__INIT;
    m.code = code;
    m.sdp = (char *)sdp;
    td_bus_send_progress(self->env->bus, self->sig_peer, self->id, 0, &m);
}

/* 1: media reaches the caller; 0: the session is being made and the
 * application will run again; -1: the call ended. answer: answer the caller
 * (else 183 with SDP, once). */
int call_ivr_media(call_t *self, int answer)
{
    if (self->answered)
        return 1;
    if (!self->sdp_caller) {
        if (call_media_offer(self, self->app) < 0) {
            call_end(self, 34, 16);
            return -1;
        }
        return 0;
    }
    if (answer) {
        call_answer_caller(self, self->sdp_caller);
    } else if (!self->ivr.early) {
        call_ivr_progress(self, 183, self->sdp_caller);
        self->ivr.early = 1;
    }
    return 1;
}

/* --- IVR ------------------------------------------------------------------------------- */

static void s_stop_media(call_t *self)
{
    if (self->worker_lost || !self->worker)
        return;
    Tandem__MediaStop m = TANDEM__MEDIA_STOP__INIT;
    td_bus_send_media_stop(self->env->bus, worker_ref_identity(self->worker), self->id, 0, &m);
}

/* Stop the prompt (or music) the application plays, if any; its
 * MediaPlayed is not waited for. */
static void s_stop_playing(call_t *self)
{
    if (!self->ivr.playing)
        return;
    s_stop_media(self);
    self->ivr.playing = 0;
    self->ivr.play_id = 0;
}

/* MediaPlay of files[n]; the id to wait for goes into ivr.play_id. */
static void s_play_files(call_t *self, char **files, size_t n, int moh, int loop)
{
    Tandem__MediaPlay m = TANDEM__MEDIA_PLAY__INIT;
    m.files = files;
    m.n_files = n;
    m.moh = moh;
    m.loop = loop;
    m.id = ++self->ivr.next_id;
    self->ivr.play_id = m.id;
    self->ivr.playing = 1;
    td_bus_send_media_play(self->env->bus, worker_ref_identity(self->worker), self->id, 0, &m);
}

/* The media worker's directories, as far as this router knows them
 * (router_set_media_dirs): file names are checked here too, so the
 * dialplan's author gets the warning. */
static char s_sounds_dir[512], s_recordings_dir[512];

void router_set_media_dirs(const char *sounds, const char *recordings)
{
    snprintf(s_sounds_dir, sizeof s_sounds_dir, "%s", sounds ? sounds : "");
    snprintf(s_recordings_dir, sizeof s_recordings_dir, "%s", recordings ? recordings : "");
}

/* 0 if the media worker may use name (record: to write), else -1 with a
 * dialplan warning. Unlike Asterisk (main/file.c takes an absolute name as
 * it is), an absolute name must lie in sounds= or recordings= (record:
 * recordings= only) and ".." is refused: the worker enforces the same. */
static int s_name_ok(const char *app, const char *name, int record)
{
    const char *dirs[2] = { s_recordings_dir, s_sounds_dir };
    char why[200];
    if (td_path_confined(name, dirs, record ? 1 : 2, why, sizeof why) == 0)
        return 0;
    td_log(LOG_WARNING, "%s: file name '%s' refused: %s (tandem.conf [media] %s)", app, name,
           why, record ? "recordings=" : "sounds=, recordings=");
    return -1;
}

/* "a&b&c" */
static void s_play(call_t *self, char *list)
{
    char *files[S_MAX_FILES];
    size_t n = 0;
    char *save = NULL;
    self->ivr.refused = 0;
    for (char *f = strtok_r(list, "&", &save); f && n < S_MAX_FILES; f = strtok_r(NULL, "&", &save))
        if (*(f = td_str_trim(f))) {
            if (s_name_ok(self->ivr.mode == IVR_BACKGROUND ? "Background"
                          : self->ivr.mode == IVR_READ ? "Read" : "Playback", f, 0) < 0)
                self->ivr.refused = 1;        /* played as missing: *STATUS=FAILED */
            else
                files[n++] = f;
        }
    s_play_files(self, files, n, 0, 0);
}

/* Has the option list (comma or letter options) this word? */
static int s_option(const char *options, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = options; (p = strcasestr(p, word)); p += n)
        if ((p == options || p[-1] == ',' || p[-1] == '|') && (!p[n] || p[n] == ','))
            return 1;
    return 0;
}

/* Playback(file[&file2...][,options]): options skip, noanswer. */
static void s_app_playback(call_t *self, char *args)
{
    char *argv[2] = { "", "" };
    int n = vars_split_args(args, ',', argv, 2);
    if (n < 1 || !*argv[0]) {
        td_log(LOG_WARNING, "Playback requires an argument (filename)");
        s_fail(self);
        return;
    }
    const char *opts = n > 1 ? argv[1] : "";
    if (!self->answered && s_option(opts, "skip")) {
        chanvars_set(self->chanvars, "PLAYBACKSTATUS", "SUCCESS");
        return;
    }
    if (call_ivr_media(self, !s_option(opts, "noanswer")) <= 0)
        return;
    self->ivr.mode = IVR_PLAYBACK;
    self->ivr.set_status = 1;
    self->state = CALL_PLAYING;
    s_play(self, argv[0]);
}

static void s_say(call_t *self, char **files, size_t n)
{
    if (call_ivr_media(self, 0) <= 0)
        return;
    self->ivr.mode = IVR_PLAYBACK;
    self->ivr.set_status = 0;
    self->state = CALL_PLAYING;
    s_play_files(self, files, n, 0, 0);
}

/* SayDigits(digits): digits/N, digits/star, digits/pound, digits/minus. */
static void s_app_saydigits(call_t *self, char *args)
{
    static char names[S_MAX_FILES][16];
    char *files[S_MAX_FILES];
    size_t n = 0;
    for (const char *d = td_str_trim(args); *d && n < S_MAX_FILES; d++) {
        if (isdigit((unsigned char)*d))
            snprintf(names[n], sizeof names[n], "digits/%c", *d);
        else if (*d == '*')
            snprintf(names[n], sizeof names[n], "digits/star");
        else if (*d == '#')
            snprintf(names[n], sizeof names[n], "digits/pound");
        else if (*d == '-')
            snprintf(names[n], sizeof names[n], "digits/minus");
        else
            continue;
        files[n] = names[n];
        n++;
    }
    if (!n)
        return;
    s_say(self, files, n);
}

/* SayAlpha(string) and SayAlphaCase(a|l|n|u,string), as say.c's
 * ast_get_character_str: letters/x, digits/N, names for * # ! @ $ - . = + /
 * and space, letters/asciiNN for other characters (Asterisk plays only the
 * files that exist: the worker reports the missing ones and goes on);
 * with case sensitivity, "uppercase"/"lowercase" before each letter of
 * that case. */
static void s_say_chars(call_t *self, const char *str, char sensitivity)
{
    static char names[S_MAX_FILES][24];
    static const struct { char c; const char *file; } special[] = {
        { '*', "digits/star" }, { '#', "digits/pound" }, { '!', "letters/exclaimation-point" },
        { '@', "letters/at" }, { '$', "letters/dollar" }, { '-', "letters/dash" },
        { '.', "letters/dot" }, { '=', "letters/equals" }, { '+', "letters/plus" },
        { '/', "letters/slash" }, { ' ', "letters/space" },
    };
    char *files[S_MAX_FILES];
    size_t n = 0;
    for (const char *p = str; *p && n + 2 < S_MAX_FILES; p++) {
        char c = *p;
        const char *fn = NULL;
        for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
            if (special[i].c == c)
                fn = special[i].file;
        if (fn) {
            snprintf(names[n], sizeof names[n], "%s", fn);
        } else if (isdigit((unsigned char)c)) {
            snprintf(names[n], sizeof names[n], "digits/%c", c);
        } else if (isalpha((unsigned char)c)) {
            int up = isupper((unsigned char)c);
            if ((up && (sensitivity == 'u' || sensitivity == 'a'))
                || (!up && (sensitivity == 'l' || sensitivity == 'a'))) {
                snprintf(names[n], sizeof names[n], "%s", up ? "uppercase" : "lowercase");
                files[n] = names[n];
                n++;
            }
            snprintf(names[n], sizeof names[n], "letters/%c", tolower((unsigned char)c));
        } else {
            snprintf(names[n], sizeof names[n], "letters/ascii%d", c);
        }
        files[n] = names[n];
        n++;
    }
    if (n)
        s_say(self, files, n);
}

static void s_app_sayalphacase(call_t *self, char *args)
{
    char *argv[2] = { "", "" };
    if (!*args) {
        td_log(LOG_WARNING, "SayAlphaCase requires two arguments (options, characters)");
        return;
    }
    int n = vars_split_args(args, ',', argv, 2);
    if (n < 1 || strlen(argv[0]) != 1) {
        td_log(LOG_WARNING, "SayAlphaCase options are mutually exclusive and required");
        return;
    }
    if (!strchr("alnu", argv[0][0])) {
        td_log(LOG_WARNING, "Invalid option: '%s'", argv[0]);
        return;
    }
    s_say_chars(self, n > 1 ? argv[1] : "", argv[0][0]);
}

/* English, as Asterisk's ast_say_number_full_en. */
static void s_number_files(long long num, char names[][24], size_t *n)
{
    int hundred = 0;
    if (num == 0) {
        snprintf(names[(*n)++], 24, "digits/0");
        return;
    }
    while ((num || hundred) && *n < S_MAX_FILES - 2) {
        if (num < 0) {
            snprintf(names[(*n)++], 24, "digits/minus");
            num = -num;
        } else if (hundred) {
            snprintf(names[(*n)++], 24, "digits/hundred");
            hundred = 0;
        } else if (num < 20) {
            snprintf(names[(*n)++], 24, "digits/%lld", num);
            num = 0;
        } else if (num < 100) {
            snprintf(names[(*n)++], 24, "digits/%lld", num / 10 * 10);
            num %= 10;
        } else if (num < 1000) {
            snprintf(names[(*n)++], 24, "digits/%lld", num / 100);
            hundred = 1;
            num %= 100;
        } else if (num < 1000000) {
            s_number_files(num / 1000, names, n);
            snprintf(names[(*n)++], 24, "digits/thousand");
            num %= 1000;
        } else if (num < 1000000000) {
            s_number_files(num / 1000000, names, n);
            snprintf(names[(*n)++], 24, "digits/million");
            num %= 1000000;
        } else {
            s_number_files(num / 1000000000, names, n);
            snprintf(names[(*n)++], 24, "digits/billion");
            num %= 1000000000;
        }
    }
}

/* SayNumber(digits[,gender]) */
static void s_app_saynumber(call_t *self, char *args)
{
    static char names[S_MAX_FILES][24];
    char *argv[2];
    int n = vars_split_args(args, ',', argv, 2);
    char *end;
    long long num = n ? strtoll(argv[0], &end, 10) : 0;
    if (!n || end == argv[0] || *end || num > INT_MAX || num < -INT_MAX) {
        td_log(LOG_WARNING, "SayNumber: first argument must be a number between %d and %d",
               -INT_MAX, INT_MAX);
        return;
    }
    size_t count = 0;
    s_number_files(num, names, &count);
    char *files[S_MAX_FILES];
    for (size_t i = 0; i < count; i++)
        files[i] = names[i];
    s_say(self, files, count);
}

/* Background(file[&file2...][,options[,langoverride[,context]]])
 * (pbx_builtin_background): options "skip" or s (skip if not answered),
 * "noanswer" or n (do not answer), m (only a key that is a one-key
 * extension of context stops the prompt: ast_waitstream_exten), p (no key
 * does: ast_waitstream with none). A first key that is a whole extension of context
 * (default ${MACRO_CONTEXT}, else the current one) and the start of no
 * longer one goes there; any other key starts an extension in the current
 * context (see s_collect_digit). BACKGROUNDSTATUS: FAILED if a file is
 * missing, else SUCCESS. */
static void s_app_background(call_t *self, char *args)
{
    char *argv[4] = { "", "", "", "" };
    int n = vars_split_args(args, ',', argv, 4);
    if (n < 1 || !*argv[0]) {
        td_log(LOG_WARNING, "Background requires an argument (filename)");
        s_fail(self);
        return;
    }
    const char *opts = argv[1];
    int skip = strcasecmp(opts, "skip") == 0, noanswer = strcasecmp(opts, "noanswer") == 0;
    char keys = 0;
    if (!skip && !noanswer) {
        skip = strchr(opts, 's') != NULL;
        noanswer = strchr(opts, 'n') != NULL;
        keys = strchr(opts, 'p') ? 'p' : strchr(opts, 'm') ? 'm' : 0;
    }
    if (!self->answered && skip) {
        chanvars_set(self->chanvars, "BACKGROUNDSTATUS", "SUCCESS");
        return;
    }
    const char *ctx = argv[3];
    if (!*ctx && !(ctx = chanvars_get(self->chanvars, "MACRO_CONTEXT")))
        ctx = self->context;
    if (strlen(ctx) >= sizeof self->ivr.context) {
        td_log(LOG_WARNING, "Background: context name too long");
        s_fail(self);
        return;
    }
    snprintf(self->ivr.context, sizeof self->ivr.context, "%s", ctx);
    if (call_ivr_media(self, !noanswer) <= 0)
        return;
    self->ivr.mode = IVR_BACKGROUND;
    self->ivr.bg_keys = keys;
    self->ivr.digits[0] = '\0';
    self->state = CALL_COLLECTING;
    s_play(self, argv[0]);
}

/* WaitExten([seconds[,options]]): option m[(class)] plays music on hold
 * while it waits (a key stops it). */
static void s_app_waitexten(call_t *self, char *args)
{
    char *argv[2] = { "", "" };
    int n = vars_split_args(args, ',', argv, 2);
    double s = n && *argv[0] ? strtod(argv[0], NULL) : 0;
    char *opts = n > 1 ? argv[1] : "", *moh = strchr(opts, 'm'), cls[80] = "";
    if (moh && moh[1] == '(') {
        char *close = strchr(moh + 2, ')');
        snprintf(cls, sizeof cls, "%.*s", close ? (int)(close - moh - 2) : 0, moh + 2);
    }
    if (*opts && !moh)
        td_log(LOG_NOTICE, "WaitExten: options '%s' are not supported; ignored", opts);
    if (call_ivr_media(self, 0) <= 0)
        return;
    self->ivr.mode = IVR_WAITEXTEN;
    self->ivr.digits[0] = '\0';
    self->ivr.playing = 0;
    self->ivr.play_id = 0;
    self->state = CALL_COLLECTING;
    if (moh) {
        char *c = cls;
        s_play_files(self, &c, *cls ? 1 : 0, 1, 1);
    }
    call_arm_timer(self, s > 0 ? (s > 86400 ? 86400000u : (unsigned)(s * 1000 + 0.5))
                               : s_response_ms(self));
}

static void s_read_attempt(call_t *self)
{
    self->ivr.digits[0] = '\0';
    self->state = CALL_COLLECTING;
    if (self->ivr.file[0]) {
        char list[sizeof self->ivr.file];
        memcpy(list, self->ivr.file, sizeof list);
        s_play(self, list);
    } else {
        self->ivr.playing = 0;
        self->ivr.play_id = 0;
        call_arm_timer(self, self->ivr.first_ms);
    }
}

/* Read(variable[,filename[&filename2...][,maxdigits[,options[,attempts[,timeout]]]]])
 * options s (skip if not answered), n (read without answering). */
static void s_app_read(call_t *self, char *args)
{
    char *argv[6] = { "", "", "", "", "", "" };
    int n = vars_split_args(args, ',', argv, 6);
    if (n < 1 || !*argv[0]) {
        td_log(LOG_WARNING, "Read requires a variable: Read(variable[,filename][,maxdigits]"
               "[,option][,attempts][,timeout])");
        return;
    }
    if (strlen(argv[0]) >= sizeof self->ivr.var || strlen(argv[1]) >= sizeof self->ivr.file) {
        td_log(LOG_WARNING, "Read: variable or file name too long");
        chanvars_set(self->chanvars, "READSTATUS", "ERROR");
        return;
    }
    const char *opts = argv[3];
    if (!self->answered && strchr(opts, 's')) {
        chanvars_set(self->chanvars, "READSTATUS", "SKIPPED");
        return;
    }
    if (call_ivr_media(self, !strchr(opts, 'n')) <= 0)
        return;
    int max = atoi(argv[2]);
    self->ivr.maxdigits = max <= 0 || max > S_READ_MAX ? S_READ_MAX : max;
    int attempts = atoi(argv[4]);
    self->ivr.attempts = attempts > 0 ? attempts : 1;
    double s = *argv[5] ? strtod(argv[5], NULL) : 0;
    if (s > 0) {
        unsigned ms = s > 86400 ? 86400000u : (unsigned)(s * 1000 + 0.5);
        self->ivr.first_ms = self->ivr.digit_ms = ms;
    } else {
        self->ivr.first_ms = s_response_ms(self);
        self->ivr.digit_ms = s_digit_ms(self);
    }
    snprintf(self->ivr.var, sizeof self->ivr.var, "%s", argv[0]);
    snprintf(self->ivr.file, sizeof self->ivr.file, "%s", argv[1]);
    self->ivr.mode = IVR_READ;
    s_read_attempt(self);
}

/* An attempt ended: complete ('#' or maxdigits) or timed out. */
static void s_read_done(call_t *self, int complete)
{
    event_del(self->timer);
    s_stop_playing(self);
    chanvars_set(self->chanvars, "READSTATUS", complete ? "OK" : "TIMEOUT");
    chanvars_set(self->chanvars, self->ivr.var, self->ivr.digits);
    if (self->ivr.digits[0]) {
        td_log(LOG_INFO, "User entered '%s'", self->ivr.digits);
    } else if (--self->ivr.attempts > 0) {
        td_log(LOG_INFO, "User entered nothing, %d chance%s left", self->ivr.attempts,
               self->ivr.attempts == 1 ? "" : "s");
        s_read_attempt(self);
        return;
    } else {
        td_log(LOG_INFO, "User entered nothing.");
    }
    self->ivr.mode = IVR_NONE;
    call_next(self);
}

static void s_record_start(call_t *self)
{
    Tandem__MediaRecord m = TANDEM__MEDIA_RECORD__INIT;
    m.path = self->ivr.file;
    m.silence_ms = self->ivr.silence_ms;
    m.max_ms = self->ivr.max_ms;
    m.dtmf_ends = 1;
    m.id = ++self->ivr.next_id;
    self->ivr.play_id = m.id;
    self->ivr.playing = 0;
    self->state = CALL_RECORDING;
    td_bus_send_media_record(self->env->bus, worker_ref_identity(self->worker), self->id, 0, &m);
}

/* Record(filename.format[,silence[,maxduration[,options]]]): options s
 * (skip if not answered), n (do not answer), q (no beep). Only WAV is
 * written: another format is warned about and recorded as WAV. */
static void s_app_record(call_t *self, char *args)
{
    char *argv[4] = { "", "", "", "" };
    int n = vars_split_args(args, ',', argv, 4);
    char *dot = n ? strrchr(argv[0], '.') : NULL;
    if (!dot || dot == argv[0] || strchr(dot, '/')) {
        td_log(LOG_WARNING, "No extension specified to filename!");
        s_fail(self);
        return;
    }
    *dot = '\0';
    if (strcasecmp(dot + 1, "wav") != 0)
        td_log(LOG_NOTICE, "Record: format '%s' is not supported; recording WAV", dot + 1);
    if (strlen(argv[0]) >= sizeof self->ivr.file) {
        td_log(LOG_WARNING, "Record: file name too long");
        chanvars_set(self->chanvars, "RECORD_STATUS", "ERROR");
        return;
    }
    if (s_name_ok("Record", argv[0], 1) < 0) {
        chanvars_set(self->chanvars, "RECORD_STATUS", "ERROR");
        return;
    }
    const char *opts = argv[3];
    if (!self->answered && strchr(opts, 's')) {
        chanvars_set(self->chanvars, "RECORD_STATUS", "SKIP");
        return;
    }
    if (call_ivr_media(self, !strchr(opts, 'n')) <= 0)
        return;
    snprintf(self->ivr.file, sizeof self->ivr.file, "%s", argv[0]);
    double silence = *argv[1] ? strtod(argv[1], NULL) : 0;
    double max = *argv[2] ? strtod(argv[2], NULL) : 0;
    self->ivr.silence_ms = silence > 0 && silence < 86400 ? (unsigned)(silence * 1000) : 0;
    self->ivr.max_ms = max > 0 && max < 86400 ? (unsigned)(max * 1000) : 0;
    self->ivr.mode = IVR_RECORD;
    if (strchr(opts, 'q')) {
        s_record_start(self);
        return;
    }
    char *beep = "beep";
    self->state = CALL_PLAYING;
    s_play_files(self, &beep, 1, 0, 0);
}

/* MusicOnHold([class[,duration]]) */
static void s_app_moh(call_t *self, char *args)
{
    char *argv[2] = { "", "" };
    int n = vars_split_args(args, ',', argv, 2);
    if (call_ivr_media(self, 0) <= 0)
        return;
    double s = n > 1 && *argv[1] ? strtod(argv[1], NULL) : 0;
    self->ivr.mode = IVR_MOH;
    self->state = CALL_MOH;
    char *cls = argv[0];
    s_play_files(self, &cls, *cls ? 1 : 0, 1, 1);
    if (s > 0)
        call_arm_timer(self, s > 86400 ? 86400000u : (unsigned)(s * 1000 + 0.5));
}

/* --- ReadExten (app_readexten.c) ------------------------------------------------------- */

/* ReadExten(variable[,filename[,context[,options[,timeout]]]]): options s
 * (skip if not answered), n (read without answering), p ('#' ends the
 * input); i (the file is an indication) is not supported: the file is
 * played. The timeout (default 10 s) runs from the start, the prompt
 * playing meanwhile; then 5 s between keys. The variable gets the
 * extension if it exists in context, else "i" (INVALID_EXTEN the keys),
 * or "t" when no key came; READEXTENSTATUS OK, INVALID, TIMEOUT, SKIP or
 * ERROR. */
static void s_app_readexten(call_t *self, char *args)
{
    char *argv[5] = { "", "", "", "", "" };
    if (!*args) {
        td_log(LOG_WARNING, "ReadExten requires at least one argument");
        chanvars_set(self->chanvars, "READEXTENSTATUS", "ERROR");
        return;
    }
    int n = vars_split_args(args, ',', argv, 5);
    if (n < 1 || !*argv[0]) {
        td_log(LOG_WARNING, "Usage: ReadExten(variable[,filename[,context[,options[,timeout]]]])");
        chanvars_set(self->chanvars, "READEXTENSTATUS", "ERROR");
        return;
    }
    const char *ctx = *argv[2] ? argv[2] : self->context, *opts = argv[3];
    if (strlen(argv[0]) >= sizeof self->ivr.var || strlen(argv[1]) >= sizeof self->ivr.file
        || strlen(ctx) >= sizeof self->ivr.context) {
        td_log(LOG_WARNING, "ReadExten: variable, file or context name too long");
        chanvars_set(self->chanvars, "READEXTENSTATUS", "ERROR");
        return;
    }
    if (!self->answered && strchr(opts, 's')) {
        chanvars_set(self->chanvars, argv[0], "");
        chanvars_set(self->chanvars, "READEXTENSTATUS", "SKIP");
        return;
    }
    if (strchr(opts, 'i'))
        td_log(LOG_NOTICE, "ReadExten: option i (indications) is not supported; playing '%s'",
               argv[1]);
    if (call_ivr_media(self, !strchr(opts, 'n')) <= 0)
        return;
    int t = *argv[4] ? atoi(argv[4]) : 0;
    self->ivr.first_ms = t > 0 && t < 86400 ? (unsigned)t * 1000 : s_response_ms(self);
    self->ivr.digit_ms = s_digit_ms(self);
    self->ivr.pound = strchr(opts, 'p') != NULL;
    snprintf(self->ivr.var, sizeof self->ivr.var, "%s", argv[0]);
    snprintf(self->ivr.context, sizeof self->ivr.context, "%s", ctx);
    self->ivr.digits[0] = '\0';
    self->ivr.mode = IVR_READEXTEN;
    self->state = CALL_COLLECTING;
    self->ivr.playing = 0;
    self->ivr.play_id = 0;
    if (*argv[1])
        s_play(self, argv[1]);
    call_arm_timer(self, self->ivr.first_ms);
}

/* The keys are in (or none came: timeout). */
static void s_readexten_done(call_t *self, int timeout)
{
    event_del(self->timer);
    s_stop_playing(self);
    self->ivr.mode = IVR_NONE;
    const char *digits = self->ivr.digits;
    if (timeout && !*digits) {
        chanvars_set(self->chanvars, self->ivr.var, "t");
        chanvars_set(self->chanvars, "READEXTENSTATUS", "TIMEOUT");
    } else if (call_find(self, self->ivr.context, digits)) {
        chanvars_set(self->chanvars, self->ivr.var, digits);
        chanvars_set(self->chanvars, "READEXTENSTATUS", "OK");
    } else {
        chanvars_set(self->chanvars, self->ivr.var, "i");
        chanvars_set(self->chanvars, "INVALID_EXTEN", digits);
        chanvars_set(self->chanvars, "READEXTENSTATUS", "INVALID");
    }
    call_next(self);
}

static void s_readexten_digit(call_t *self, char digit)
{
    if (self->ivr.pound && digit == '#') {
        s_readexten_done(self, 0);
        return;
    }
    size_t n = strlen(self->ivr.digits);
    self->ivr.digits[n] = digit;
    self->ivr.digits[n + 1] = '\0';
    if (!dialplan_matchmore(self->dialplan, self->ivr.context, self->ivr.digits,
                            self->caller_num)) {
        if (digit == '#' && !call_find(self, self->ivr.context, self->ivr.digits))
            self->ivr.digits[n] = '\0';
        s_readexten_done(self, 0);
        return;
    }
    if (n + 2 >= sizeof self->ivr.digits) {
        s_readexten_done(self, 0);      /* maxdigits */
        return;
    }
    call_arm_timer(self, self->ivr.digit_ms);
}

/* --- collecting an extension (Background, WaitExten) ------------------------------------- */

/* The digits are complete (__ast_pbx_run after collect_digits): their
 * extension at priority 1, else "i" (INVALID_EXTEN), else "e" (INVALID),
 * else the call ends. */
static void s_collect_done(call_t *self)
{
    event_del(self->timer);
    s_stop_playing(self);
    self->ivr.mode = IVR_NONE;
    self->fall_wait = 0;
    const char *digits = self->ivr.digits;
    if (call_find(self, self->context, digits)) {
        td_log(LOG_INFO, "Goto (%s,%s,1)", self->context, digits);
        call_jump(self, self->context, digits, 1);
        call_rerun(self);
        return;
    }
    if (call_find(self, self->context, "i")) {
        td_log(LOG_INFO, "Invalid extension '%s' in context '%s' on %s", digits, self->context,
               self->channel);
        chanvars_set(self->chanvars, "INVALID_EXTEN", digits);
        call_jump(self, self->context, "i", 1);
        call_rerun(self);
        return;
    }
    if (call_find(self, self->context, "e")) {
        call_raise(self, "INVALID", 1);
        call_rerun(self);
        return;
    }
    td_log(LOG_WARNING, "Invalid extension '%s', but no rule 'i' or 'e' in context '%s'", digits,
           self->context);
    s_fail(self);
}

static void s_collect_digit(call_t *self, char digit)
{
    size_t n = strlen(self->ivr.digits);
    if (n + 1 >= sizeof self->ivr.digits) {
        s_collect_done(self);
        return;
    }
    self->ivr.digits[n] = digit;
    self->ivr.digits[n + 1] = '\0';
    if (!dialplan_matchmore(self->dialplan, self->context, self->ivr.digits, self->caller_num)) {
        s_collect_done(self);
        return;
    }
    call_arm_timer(self, s_digit_ms(self));
}

/* --- events ----------------------------------------------------------------------------- */

void call_ivr_on_played(call_t *self, const Tandem__MediaPlayed *msg)
{
    if (!self->ivr.play_id || msg->id != self->ivr.play_id) {
        td_log(LOG_DEBUG, "MediaPlayed %u, not the one awaited (%u): ignored", msg->id,
               self->ivr.play_id);
        return;
    }
    self->ivr.play_id = 0;
    self->ivr.playing = 0;
    int failed = (msg->missing && *msg->missing) || self->ivr.refused;
    self->ivr.refused = 0;
    if (failed)
        td_log(LOG_WARNING, "Playback failed on %s for %s", self->channel, msg->missing);
    switch (self->ivr.mode) {
    case IVR_PLAYBACK:
        if (self->ivr.set_status)
            chanvars_set(self->chanvars, "PLAYBACKSTATUS", failed ? "FAILED" : "SUCCESS");
        self->ivr.mode = IVR_NONE;
        call_next(self);
        break;
    case IVR_BACKGROUND:
        chanvars_set(self->chanvars, "BACKGROUNDSTATUS", failed ? "FAILED" : "SUCCESS");
        self->ivr.mode = IVR_NONE;
        call_next(self);       /* no key during the prompt: the dialplan goes on */
        break;
    case IVR_READ:
        call_arm_timer(self, self->ivr.first_ms);
        break;
    case IVR_RECORD:
        s_record_start(self);  /* the beep is over */
        break;
    case IVR_MOH:
        td_log(LOG_WARNING, "Unable to start music on hold class '%s' on channel %s",
               msg->missing ? msg->missing : "", self->channel);
        event_del(self->timer);
        self->ivr.mode = IVR_NONE;
        call_next(self);
        break;
    default:
        break;
    }
}

void call_ivr_on_dtmf(call_t *self, const Tandem__MediaDtmf *msg)
{
    char digit = msg->digit && *msg->digit ? msg->digit[0] : '\0';
    if (!digit || self->state != CALL_COLLECTING) {
        td_log(LOG_DEBUG, "DTMF '%c' in state %s: ignored", digit ? digit : '?',
               call_state_name(self->state));
        return;
    }
    td_log(LOG_DEBUG, "DTMF '%c'", digit);
    if (self->ivr.mode == IVR_BACKGROUND && !self->ivr.digits[0] && self->ivr.bg_keys) {
        char one[2] = { digit, '\0' };
        if (self->ivr.bg_keys == 'p' || !call_find(self, self->ivr.context, one)) {
            td_log(LOG_DEBUG, "DTMF '%c' does not stop this Background: ignored", digit);
            return;
        }
    }
    s_stop_playing(self);
    switch (self->ivr.mode) {
    case IVR_BACKGROUND:
    case IVR_WAITEXTEN:
        if (!self->ivr.digits[0] && self->ivr.mode == IVR_BACKGROUND) {
            char one[2] = { digit, '\0' };
            chanvars_set(self->chanvars, "BACKGROUNDSTATUS", "SUCCESS");
            if (dialplan_canmatch(self->dialplan, self->ivr.context, one, self->caller_num)
                && !dialplan_matchmore(self->dialplan, self->ivr.context, one,
                                       self->caller_num)) {
                /* Background goes there itself; out of the context of the
                 * innermost macro, that macro ends (app_macro.c). */
                event_del(self->timer);
                self->ivr.mode = IVR_NONE;
                call_jump(self, self->ivr.context, one, 1);
                call_app_macro_check(self);
                call_rerun(self);
                break;
            }
        }
        if (!self->ivr.digits[0] && self->macros) {
            /* The key is the application's result: it leaves every macro
             * (app_macro.c breaks out on a digit, back at the caller's
             * priority) and the pbx loop collects the extension in the
             * caller's context. */
            call_app_macro_unwind(self);
        }
        s_collect_digit(self, digit);
        break;
    case IVR_READEXTEN:
        s_readexten_digit(self, digit);
        break;
    case IVR_READ: {
        if (digit == '#') {
            s_read_done(self, 1);
            return;
        }
        size_t n = strlen(self->ivr.digits);
        if (n + 1 < sizeof self->ivr.digits) {
            self->ivr.digits[n] = digit;
            self->ivr.digits[n + 1] = '\0';
        }
        if ((int)strlen(self->ivr.digits) >= self->ivr.maxdigits)
            s_read_done(self, 1);
        else
            call_arm_timer(self, self->ivr.digit_ms);
        break;
    }
    default:
        break;
    }
}

void call_ivr_on_recorded(call_t *self, const Tandem__MediaRecorded *msg)
{
    if (self->state != CALL_RECORDING || msg->id != self->ivr.play_id) {
        td_log(LOG_DEBUG, "MediaRecorded %u, not awaited: ignored", msg->id);
        return;
    }
    static const struct { const char *by, *status; } map[] = {
        { "silence", "SILENCE" }, { "dtmf", "DTMF" }, { "max", "TIMEOUT" },
        { "stopped", "HANGUP" }, { "error", "ERROR" },
    };
    const char *status = "ERROR";
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (msg->ended_by && strcmp(msg->ended_by, map[i].by) == 0)
            status = map[i].status;
    td_log(LOG_INFO, "Recorded %s (%u ms, ended by %s)", msg->path ? msg->path : "",
           msg->duration_ms, msg->ended_by ? msg->ended_by : "?");
    chanvars_set(self->chanvars, "RECORDED_FILE", self->ivr.file);
    chanvars_set(self->chanvars, "RECORD_STATUS", status);
    self->ivr.play_id = 0;
    self->ivr.mode = IVR_NONE;
    call_next(self);
}

void call_ivr_on_timer(call_t *self)
{
    switch (self->ivr.mode) {
    case IVR_MOH:
        s_stop_media(self);
        self->ivr.play_id = 0;
        self->ivr.playing = 0;
        self->ivr.mode = IVR_NONE;
        call_next(self);
        break;
    case IVR_READ:
        s_read_done(self, 0);
        break;
    case IVR_READEXTEN:
        s_readexten_done(self, 1);
        break;
    case IVR_BACKGROUND:
    case IVR_WAITEXTEN:
        s_stop_playing(self); /* WaitExten's music on hold */
        if (self->ivr.digits[0]) {
            s_collect_done(self);
            break;
        }
        /* No key (pbx_builtin_waitexten): the next priority if there is
         * one, else "t", else "e" (RESPONSETIMEOUT), else the call ends. */
        self->ivr.mode = IVR_NONE;
        if (dialplan_find_prio(self->dialplan, self->context, self->exten, self->caller_num,
                               self->priority + 1, NULL)) {
            td_log(LOG_INFO, "Timeout on %s, continuing...", self->channel);
            call_next(self);
        } else if (call_find(self, self->context, "t")) {
            td_log(LOG_INFO, "Timeout on %s, going to 't'", self->channel);
            call_jump(self, self->context, "t", 1);
            call_rerun(self);
        } else if (call_find(self, self->context, "e")) {
            call_raise(self, "RESPONSETIMEOUT", 1);
            call_rerun(self);
        } else {
            td_log(LOG_WARNING, "Timeout but no rule 't' or 'e' in context '%s'", self->context);
            s_fail(self);
        }
        break;
    default:
        break;
    }
}

/* --- dispatch ----------------------------------------------------------------------------- */

void call_ivr_exec(call_t *self, dialplan_app_t app, char *args)
{
    switch (app) {
    case DIALPLAN_APP_PROGRESS:
        call_ivr_media(self, 0);
        break;
    case DIALPLAN_APP_RINGING:
        if (!self->answered)
            call_ivr_progress(self, 180, "");
        break;
    case DIALPLAN_APP_PLAYBACK:    s_app_playback(self, args); break;
    case DIALPLAN_APP_BACKGROUND:  s_app_background(self, args); break;
    case DIALPLAN_APP_WAITEXTEN:   s_app_waitexten(self, args); break;
    case DIALPLAN_APP_READ:        s_app_read(self, args); break;
    case DIALPLAN_APP_SAYDIGITS:   s_app_saydigits(self, args); break;
    case DIALPLAN_APP_SAYNUMBER:   s_app_saynumber(self, args); break;
    case DIALPLAN_APP_SAYALPHA:    s_say_chars(self, args, 'n'); break;
    case DIALPLAN_APP_SAYALPHACASE: s_app_sayalphacase(self, args); break;
    case DIALPLAN_APP_READEXTEN:   s_app_readexten(self, args); break;
    case DIALPLAN_APP_RECORD:      s_app_record(self, args); break;
    case DIALPLAN_APP_MUSICONHOLD: s_app_moh(self, args); break;
    default:
        td_log(LOG_WARNING, "Application %s is not an IVR application", dialplan_app_name(app));
        break;
    }
}
