/* td_bus_curve - see td_bus_curve.h. With td_bus.c, the only files that
 * include zmq.h. */
#define TD_LOG_SUBSYS TD_LOG_BUS   /* td_log() here: [logging] bus= */
#include "td_bus_curve.h"
#include "td_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zmq.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_ZAP_DOMAIN   "tandem"
#define S_SEEN_MAX     64             /* refused addresses remembered (logged once each) */

static const char s_z85_chars[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

int td_bus_key_valid(const char *text)
{
    return text && strlen(text) == TD_BUS_KEY_LEN
           && strspn(text, s_z85_chars) == TD_BUS_KEY_LEN;
}

static void s_trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    size_t k = strspn(s, " \t");
    memmove(s, s + k, strlen(s + k) + 1);
}

static void s_path(char *out, size_t len, const char *confdir, const char *value)
{
    if (value[0] == '/' || !confdir || !*confdir)
        snprintf(out, len, "%s", value);
    else
        snprintf(out, len, "%s/%s", confdir, value);
}

static int s_copy_key(char *dst, const char *value, const char *what, char *err, size_t errlen)
{
    if (!td_bus_key_valid(value)) {
        snprintf(err, errlen, "%.32s must be a Z85 key of 40 characters (tandemctl keygen)", what);
        return -1;
    }
    memcpy(dst, value, TD_BUS_KEY_LEN + 1);
    return 0;
}

static int s_add_client(td_bus_keys_t *keys, const char *name, size_t name_len, const char *key,
                        char *err, size_t errlen)
{
    if (keys->nclients == TD_BUS_MAX_CLIENTS) {
        snprintf(err, errlen, "more than %d client keys", TD_BUS_MAX_CLIENTS);
        return -1;
    }
    if (name_len == 0 || name_len >= sizeof keys->clients[0].name) {
        snprintf(err, errlen, "a client key needs a bus name (1 to 63 characters)");
        return -1;
    }
    if (!td_bus_key_valid(key)) {
        snprintf(err, errlen, "'%.*s': the key must be a Z85 public key of 40 characters",
                 (int)name_len, name);
        return -1;
    }
    td_bus_client_t *c = &keys->clients[keys->nclients++];
    memcpy(c->name, name, name_len);
    c->name[name_len] = '\0';
    memcpy(c->key, key, TD_BUS_KEY_LEN + 1);
    return 0;
}

/* A comma list of NAME:KEY (':' is a Z85 character too, so the key is the
 * last 40 characters of each entry). 1 if value is such a list. */
static int s_is_client_list(const char *value)
{
    const char *p = value;
    while (*p) {
        size_t n = strcspn(p, ",");
        char one[200];
        if (n >= sizeof one)
            return 0;
        memcpy(one, p, n);
        one[n] = '\0';
        s_trim(one);
        size_t m = strlen(one);
        if (m < TD_BUS_KEY_LEN + 2 || one[m - TD_BUS_KEY_LEN - 1] != ':'
            || !td_bus_key_valid(one + m - TD_BUS_KEY_LEN))
            return 0;
        p += n;
        if (*p == ',')
            p++;
    }
    return 1;
}

static int s_clients_list(td_bus_keys_t *keys, const char *value, char *err, size_t errlen)
{
    const char *p = value;
    while (*p) {
        size_t n = strcspn(p, ",");
        char one[200];
        memcpy(one, p, n);
        one[n] = '\0';
        s_trim(one);
        size_t m = strlen(one);
        if (s_add_client(keys, one, m - TD_BUS_KEY_LEN - 1, one + m - TD_BUS_KEY_LEN, err,
                         errlen) < 0)
            return -1;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int s_clients_file(td_bus_keys_t *keys, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "curve_clients: cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char line[512], sub[400];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        /* a comment: '#' or ';' at the start or after a blank ('#' is a Z85
         * character, a blank is not) */
        for (char *c = line; *c; c++)
            if ((*c == '#' || *c == ';') && (c == line || c[-1] == ' ' || c[-1] == '\t')) {
                *c = '\0';
                break;
            }
        s_trim(line);
        if (!*line)
            continue;
        size_t n = strcspn(line, " \t");
        const char *key = line + n + strspn(line + n, " \t");
        if (!*key) {
            snprintf(err, errlen, "%s:%d: want NAME KEY (a bus name, a Z85 public key)", path,
                     lineno);
            rc = -1;
        } else if (s_add_client(keys, line, n, key, sub, sizeof sub) < 0) {
            snprintf(err, errlen, "%.300s:%d: %s", path, lineno, sub);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

static int s_keyfile(td_bus_keys_t *keys, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "curve_keyfile: cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char line[512], sub[400];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        s_trim(line);
        if (!*line || line[0] == '#' || line[0] == ';' || line[0] == '[')
            continue;
        char *eq = strchr(line, '=');
        if (!eq) {
            snprintf(err, errlen, "%.300s:%d: want curve_secret=KEY or curve_public=KEY", path,
                     lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *k = line, *v = eq + 1;
        s_trim(k);
        v[strcspn(v, " \t;")] = '\0';         /* a trailing comment (';' is not Z85) */
        s_trim(v);
        if (!strcasecmp(k, "curve_secret"))
            rc = s_copy_key(keys->secret, v, k, sub, sizeof sub);
        else if (!strcasecmp(k, "curve_public"))
            rc = s_copy_key(keys->public_key, v, k, sub, sizeof sub);
        else {
            snprintf(sub, sizeof sub, "unknown setting '%.200s' (curve_secret, curve_public)", k);
            rc = -1;
        }
        if (rc < 0)
            snprintf(err, errlen, "%.300s:%d: %s", path, lineno, sub);
    }
    fclose(f);
    if (rc == 0 && !keys->secret[0]) {
        snprintf(err, errlen, "%s: no curve_secret= line", path);
        rc = -1;
    }
    return rc;
}

int td_bus_keys_set(td_bus_keys_t *keys, const char *confdir, const char *key,
                    const char *value, char *err, size_t errlen)
{
    char path[1024];
    if (!strcasecmp(key, "curve_secret"))
        return s_copy_key(keys->secret, value, key, err, errlen) < 0 ? -1 : 1;
    if (!strcasecmp(key, "curve_public"))
        return s_copy_key(keys->public_key, value, key, err, errlen) < 0 ? -1 : 1;
    if (!strcasecmp(key, "curve_server"))
        return s_copy_key(keys->server, value, key, err, errlen) < 0 ? -1 : 1;
    if (!strcasecmp(key, "curve_keyfile")) {
        s_path(path, sizeof path, confdir, value);
        keys->secret[0] = keys->public_key[0] = '\0';
        return s_keyfile(keys, path, err, errlen) < 0 ? -1 : 1;
    }
    if (!strcasecmp(key, "curve_clients")) {
        keys->nclients = 0;
        if (s_is_client_list(value))
            return s_clients_list(keys, value, err, errlen) < 0 ? -1 : 1;
        s_path(path, sizeof path, confdir, value);
        return s_clients_file(keys, path, err, errlen) < 0 ? -1 : 1;
    }
    if (!strcasecmp(key, "insecure")) {
        if (!strcasecmp(value, "yes") || !strcasecmp(value, "true") || !strcmp(value, "1")
            || !strcasecmp(value, "on"))
            keys->insecure = 1;
        else if (!strcasecmp(value, "no") || !strcasecmp(value, "false") || !strcmp(value, "0")
                 || !strcasecmp(value, "off"))
            keys->insecure = 0;
        else {
            snprintf(err, errlen, "insecure must be yes or no");
            return -1;
        }
        return 1;
    }
    return 0;
}

int td_bus_keys_check(td_bus_keys_t *keys, const char *process, char *err, size_t errlen)
{
    int router = process && !strcmp(process, "router");
    if (!keys->secret[0]) {
        if (keys->public_key[0] || (!router && keys->server[0]) || (router && keys->nclients)) {
            snprintf(err, errlen, "[bus] CURVE keys without this process's curve_secret= (or "
                                  "curve_keyfile=)");
            return -1;
        }
        return 0;
    }
    if (!zmq_has("curve")) {
        snprintf(err, errlen, "[bus] CURVE keys are configured but this libzmq has no CURVE "
                              "support (build it with libsodium)");
        return -1;
    }
    char derived[TD_BUS_KEY_LEN + 1];
    if (zmq_curve_public(derived, keys->secret) != 0) {
        snprintf(err, errlen, "[bus] curve_secret is not a valid key");
        return -1;
    }
    if (keys->public_key[0] && strcmp(derived, keys->public_key) != 0) {
        snprintf(err, errlen, "[bus] curve_public does not belong to curve_secret");
        return -1;
    }
    memcpy(keys->public_key, derived, sizeof derived);
    if (!router && !keys->server[0] && process && !strcmp(process, "ctl"))
        /* tandemctl on a router's host, with the router's keypair: the
         * router admits its own key for tandemctl's names (below) */
        memcpy(keys->server, keys->public_key, sizeof keys->server);
    if (router && keys->nclients) {
        int listed = 0;
        for (size_t i = 0; i < keys->nclients && !listed; i++)
            listed = !strcmp(keys->clients[i].key, keys->public_key)
                     && td_bus_keys_allows(keys->clients[i].name, "ctl-1");
        if (!listed && s_add_client(keys, "ctl-*", 5, keys->public_key, err, errlen) < 0)
            return -1;
    }
    if (router && !keys->nclients) {
        snprintf(err, errlen, "[bus] a router with curve_secret= needs curve_clients= (the "
                              "keys it admits, each with its bus name)");
        return -1;
    }
    if (!router && !keys->server[0]) {
        snprintf(err, errlen, "[bus] curve_server= (the routers' public key) is needed with "
                              "curve_secret=");
        return -1;
    }
    return 0;
}

int td_bus_keys_allows(const char *pattern, const char *name)
{
    return fnmatch(pattern, name, 0) == 0;
}

int td_bus_keygen(void *out_file)
{
    FILE *out = out_file;
    char pub[TD_BUS_KEY_LEN + 1], sec[TD_BUS_KEY_LEN + 1];
    /* tandem.conf reads "key=>value" as Asterisk's "key => value": a key
     * beginning with '>' would lose it there. Draw again (1 in 85). */
    do {
        if (!zmq_has("curve") || zmq_curve_keypair(pub, sec) != 0) {
            fprintf(stderr, "this libzmq has no CURVE support (build it with libsodium)\n");
            return -1;
        }
    } while (pub[0] == '>' || sec[0] == '>');
    fprintf(out, "; a bus keypair (tandemctl keygen): keep curve_secret private. Put both\n"
                 "; lines in this process's tandem.conf [bus] (or a curve_keyfile=); give\n"
                 "; curve_public to the routers: curve_clients (NAME KEY), or, for a router's\n"
                 "; pair, to every process as curve_server=\n"
                 "curve_secret=%s\ncurve_public=%s\n", sec, pub);
    return 0;
}

/* --- the bus's use -------------------------------------------------------- */

int td_bus_curve_on(const td_bus_keys_t *keys)
{
    return keys && keys->secret[0];
}

int td_bus_curve_apply(void *sock, int server, const td_bus_keys_t *keys)
{
    if (!td_bus_curve_on(keys))
        return 0;
    int one = 1, rc = 0;
    if (server) {
        rc |= zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, S_ZAP_DOMAIN, strlen(S_ZAP_DOMAIN));
        rc |= zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one);
        rc |= zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, keys->secret, TD_BUS_KEY_LEN + 1);
    } else {
        rc |= zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, keys->server, TD_BUS_KEY_LEN + 1);
        rc |= zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, keys->public_key, TD_BUS_KEY_LEN + 1);
        rc |= zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, keys->secret, TD_BUS_KEY_LEN + 1);
    }
    if (rc != 0) {
        td_log(LOG_ERR, "bus: cannot set the CURVE keys: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

typedef enum { S_LOCAL, S_WILDCARD, S_REMOTE } s_reach_t;

/* Where an endpoint's address reaches: this host only, every interface, or
 * beyond. host (if given) gets the tcp host part, port its port. */
static s_reach_t s_reach(const char *endpoint, char *port, size_t portlen)
{
    if (!strncmp(endpoint, "ipc://", 6) || !strncmp(endpoint, "inproc://", 9))
        return S_LOCAL;
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return S_REMOTE;
    const char *hp = endpoint + 6;
    const char *colon = strrchr(hp, ':');
    if (!colon)
        return S_REMOTE;
    char host[256];
    size_t n = (size_t)(colon - hp);
    if (n >= sizeof host)
        return S_REMOTE;
    memcpy(host, hp, n);
    host[n] = '\0';
    if (port)
        snprintf(port, portlen, "%s", colon + 1);
    if (host[0] == '[') {                     /* [::1] */
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    if (!strcmp(host, "*") || !strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
        return S_WILDCARD;
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) == 1)
        return (ntohl(a.s_addr) >> 24) == 127 ? S_LOCAL : S_REMOTE;
    if (!strcmp(host, "::1") || !strcasecmp(host, "localhost") || !strcmp(host, "lo"))
        return S_LOCAL;
    return S_REMOTE;
}

const char *td_bus_bind_endpoint(const td_bus_keys_t *keys, const char *endpoint, char *out,
                                 size_t outlen)
{
    char port[32] = "";
    s_reach_t reach = s_reach(endpoint, port, sizeof port);
    snprintf(out, outlen, "%s", endpoint);
    if (td_bus_curve_on(keys)) {
        size_t n = 0;
        for (size_t i = 0; i < keys->nclients; i++)
            n++;
        td_log(LOG_NOTICE, "bus: CURVE on %s: %zu client key%s admitted ([bus] curve_clients)",
               endpoint, n, n == 1 ? "" : "s");
        return out;
    }
    if (reach == S_LOCAL) {
        td_log(LOG_NOTICE, "bus: no CURVE keys: a plain bus on %s, this host only ([bus] "
                           "curve_keyfile= to reach other hosts)", endpoint);
        return out;
    }
    if (keys && keys->insecure) {
        td_log(LOG_WARNING, "bus: [bus] insecure=yes: %s is a plain bus, open to anyone who "
                            "reaches it (no CURVE keys): keep it on a private network", endpoint);
        return out;
    }
    if (reach == S_WILDCARD) {
        snprintf(out, outlen, "tcp://127.0.0.1:%s", port);
        td_log(LOG_WARNING, "bus: no CURVE keys: binding %s instead of %s, this host only; "
                            "give the bus keys ([bus] curve_keyfile=, tandemctl keygen) or set "
                            "[bus] insecure=yes (TANDEM_BUS_INSECURE=yes) on a private network",
               out, endpoint);
        return out;
    }
    td_log(LOG_ERR, "bus: no CURVE keys: refusing to bind %s beyond loopback; give the bus "
                    "keys ([bus] curve_keyfile=, tandemctl keygen) or set [bus] insecure=yes "
                    "(TANDEM_BUS_INSECURE=yes) on a private network", endpoint);
    return NULL;
}

void td_bus_connect_check(const td_bus_keys_t *keys, const char *endpoint)
{
    if (td_bus_curve_on(keys) || (keys && keys->insecure)
        || s_reach(endpoint, NULL, 0) == S_LOCAL)
        return;
    td_log_limited(LOG_WARNING, 1, "bus: no CURVE keys: talking to %s in the clear ([bus] "
                                   "curve_keyfile=, curve_server=; or insecure=yes on a private "
                                   "network)", endpoint);
}

/* --- ZAP ------------------------------------------------------------------ */

typedef struct {
    uint8_t key[32];
    const char *name;                  /* keys->clients[i].name (copied below) */
} s_admit_t;

struct td_bus_zap {
    void *sock;
    struct event *ev;
    s_admit_t *admit;
    td_bus_client_t *clients;          /* our copy: the names answered as User-Id */
    size_t n;
    char seen[S_SEEN_MAX][64];         /* refused addresses already logged */
    size_t nseen, seen_next;
    unsigned long refused;
};

static int s_seen(td_bus_zap_t *self, const char *addr)
{
    for (size_t i = 0; i < self->nseen; i++)
        if (!strcmp(self->seen[i], addr))
            return 1;
    snprintf(self->seen[self->seen_next], sizeof self->seen[0], "%s", addr);
    self->seen_next = (self->seen_next + 1) % S_SEEN_MAX;
    if (self->nseen < S_SEEN_MAX)
        self->nseen++;
    return 0;
}

static void s_zap_send(void *sock, const char *text, size_t len, int more)
{
    zmq_send(sock, text, len, more ? ZMQ_SNDMORE : 0);
}

/* One request: version, request id, domain, address, identity, mechanism,
 * credentials (CURVE: the client's 32-byte public key). */
static int s_zap_one(td_bus_zap_t *self)
{
    zmq_msg_t part[8];
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, self->sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&m);
            if (n == 0)
                return -1;
            break;
        }
        more = zmq_msg_more(&m);
        if (n < 8)
            part[n++] = m;
        else
            zmq_msg_close(&m);
    }
    char addr[64] = "?", mech[16] = "";
    if (n > 3)
        snprintf(addr, sizeof addr, "%.*s", (int)zmq_msg_size(&part[3]),
                 (const char *)zmq_msg_data(&part[3]));
    if (n > 5)
        snprintf(mech, sizeof mech, "%.*s", (int)zmq_msg_size(&part[5]),
                 (const char *)zmq_msg_data(&part[5]));
    const char *name = NULL;
    if (n >= 7 && !strcmp(mech, "CURVE") && zmq_msg_size(&part[6]) == 32) {
        const uint8_t *key = zmq_msg_data(&part[6]);
        for (size_t i = 0; i < self->n && !name; i++)
            if (!memcmp(self->admit[i].key, key, 32))
                name = self->admit[i].name;
    }
    if (!name) {
        self->refused++;
        if (!s_seen(self, addr)) {
            char z85[TD_BUS_KEY_LEN + 1] = "none";
            if (n >= 7 && zmq_msg_size(&part[6]) == 32)
                zmq_z85_encode(z85, zmq_msg_data(&part[6]), 32);
            td_log(LOG_WARNING, "bus: refused a connection from %s: unknown key %s (%s); "
                                "admit it in [bus] curve_clients", addr, z85,
                   mech[0] ? mech : "no mechanism");
        }
    }
    /* Reply: version, request id (echoed), status, text, user id, metadata. */
    s_zap_send(self->sock, "1.0", 3, 1);
    if (n > 1)
        zmq_send(self->sock, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
    else
        s_zap_send(self->sock, "", 0, 1);
    s_zap_send(self->sock, name ? "200" : "400", 3, 1);
    s_zap_send(self->sock, name ? "OK" : "unknown key", name ? 2 : 11, 1);
    s_zap_send(self->sock, name ? name : "", name ? strlen(name) : 0, 1);
    s_zap_send(self->sock, "", 0, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&part[i]);
    return 0;
}

static void s_on_zap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    td_bus_zap_t *self = arg;
    for (int budget = 256; budget > 0; budget--) {
        int events = 0;
        size_t len = sizeof events;
        if (zmq_getsockopt(self->sock, ZMQ_EVENTS, &events, &len) != 0
            || !(events & ZMQ_POLLIN))
            return;
        if (s_zap_one(self) < 0)
            return;
    }
    event_active(self->ev, EV_READ, 0);
}

td_bus_zap_t *td_bus_zap_new(struct event_base *base, void *zctx, const td_bus_keys_t *keys)
{
    td_bus_zap_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->n = keys->nclients;
    self->admit = calloc(self->n ? self->n : 1, sizeof *self->admit);
    self->clients = calloc(self->n ? self->n : 1, sizeof *self->clients);
    if (!self->admit || !self->clients)
        goto fail;
    for (size_t i = 0; i < self->n; i++) {
        self->clients[i] = keys->clients[i];
        self->admit[i].name = self->clients[i].name;
        if (!zmq_z85_decode(self->admit[i].key, self->clients[i].key)) {
            td_log(LOG_ERR, "bus: client key of %s is not Z85", self->clients[i].name);
            goto fail;
        }
    }
    self->sock = zmq_socket(zctx, ZMQ_REP);
    int zero = 0, fd;
    size_t len = sizeof fd;
    if (!self->sock || zmq_setsockopt(self->sock, ZMQ_LINGER, &zero, sizeof zero) != 0
        || zmq_bind(self->sock, S_ZAP_ENDPOINT) != 0
        || zmq_getsockopt(self->sock, ZMQ_FD, &fd, &len) != 0) {
        td_log(LOG_ERR, "bus: cannot start the ZAP handler: %s", zmq_strerror(errno));
        goto fail;
    }
    self->ev = event_new(base, fd, EV_READ | EV_PERSIST, s_on_zap, self);
    if (!self->ev || event_add(self->ev, NULL) != 0)
        goto fail;
    return self;
fail:
    td_bus_zap_destroy(&self);
    return NULL;
}

void td_bus_zap_destroy(td_bus_zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    td_bus_zap_t *self = *self_p;
    if (self->ev)
        event_free(self->ev);
    if (self->sock)
        zmq_close(self->sock);
    free(self->clients);
    free(self->admit);
    free(self);
    *self_p = NULL;
}

unsigned long td_bus_zap_refused(const td_bus_zap_t *self)
{
    return self ? self->refused : 0;
}
