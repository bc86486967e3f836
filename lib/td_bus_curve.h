/* td_bus_curve - the bus's security: ZeroMQ CURVE keys, the ZAP handler that
 * admits only known client keys, and the loopback-only rule without keys.
 *
 * Keys are Z85 text (40 characters, zmq_curve_keypair). One keypair per
 * process (tandem.conf [bus] curve_secret= / curve_public=, or a
 * curve_keyfile= holding those two lines; a process's own section may set
 * its own). The routers of one bus share the server keypair: a connecting
 * process names its public key in curve_server=. A router lists the client
 * keys it admits in curve_clients=, each with the bus name (a shell pattern:
 * "sig-1", "media-*") that key may use; a Hello under any other name is
 * refused, so a key of one node cannot take another node's identity (and
 * its traffic). tandemctl keygen prints a keypair.
 *
 * Without keys the bus is plain: a router binds loopback only (a wildcard
 * address, 0.0.0.0 or the star, becomes 127.0.0.1; any other non-loopback
 * address is refused) unless [bus] insecure=yes (TANDEM_BUS_INSECURE=yes)
 * says the network is private. */
#ifndef TD_BUS_CURVE_H
#define TD_BUS_CURVE_H

#include <stddef.h>
#include <event2/event.h>

#define TD_BUS_KEY_LEN     40          /* a Z85 key, without its '\0' */
#define TD_BUS_MAX_CLIENTS 128         /* curve_clients entries */

typedef struct {
    char name[64];                     /* the bus names this key may use: a shell pattern */
    char key[TD_BUS_KEY_LEN + 1];      /* its public key */
} td_bus_client_t;

typedef struct {
    char secret[TD_BUS_KEY_LEN + 1];   /* this process's keypair ("": no CURVE) */
    char public_key[TD_BUS_KEY_LEN + 1];
    char server[TD_BUS_KEY_LEN + 1];   /* CONNECT: the routers' public key */
    td_bus_client_t clients[TD_BUS_MAX_CLIENTS];   /* BIND: the keys admitted */
    size_t nclients;
    int insecure;                      /* no keys, and any address allowed */
} td_bus_keys_t;

/* 1 if text is a Z85 key (40 characters of the Z85 alphabet). */
int td_bus_key_valid(const char *text);

/* Parse one tandem.conf [bus] setting into keys: curve_secret, curve_public,
 * curve_server, curve_keyfile (a path, relative to confdir unless absolute:
 * lines curve_secret=/curve_public=), curve_clients (a comma list of
 * NAME:KEY, or a path to a file of "NAME KEY" lines, '#' or ';' comments),
 * insecure (yes/no). Returns 1 if key was one of these, 0 if not ours, -1
 * on a bad value (err says why; a file's errors name file:line). */
int td_bus_keys_set(td_bus_keys_t *keys, const char *confdir, const char *key,
                    const char *value, char *err, size_t errlen);

/* Complete and check keys once every setting is read: the public key is
 * derived from the secret when not given (and must match when given).
 * process: "router" (needs curve_clients), else a connecting one (needs
 * curve_server). Returns 0, or -1 (err). Nothing configured is fine. */
int td_bus_keys_check(td_bus_keys_t *keys, const char *process, char *err, size_t errlen);

/* 1 if the client entry's pattern admits this bus name. */
int td_bus_keys_allows(const char *pattern, const char *name);

/* Print a new keypair as tandem.conf lines (curve_secret=, curve_public=)
 * to out. Returns 0, or -1 (libzmq without CURVE: the reason on stderr). */
int td_bus_keygen(void *out_file);

/* The bus's use of these, for td_bus.c: ------------------------------------ */

/* Set CURVE options on a socket before bind/connect: server (a ROUTER) or
 * client (a DEALER). No-op (0) when keys is NULL or holds no secret.
 * Returns 0, or -1 (logged). */
int td_bus_curve_apply(void *sock, int server, const td_bus_keys_t *keys);

/* 1 when keys turn CURVE on. */
int td_bus_curve_on(const td_bus_keys_t *keys);

/* The endpoint a router binds (into out): endpoint itself with keys, with
 * insecure, or when it is local (ipc, inproc, a loopback address); a
 * wildcard address made loopback; NULL (logged) for another address.
 * Warns at start whenever the bus is plain beyond loopback. */
const char *td_bus_bind_endpoint(const td_bus_keys_t *keys, const char *endpoint, char *out,
                                 size_t outlen);

/* A connecting process without keys: warn once if endpoint is not local. */
void td_bus_connect_check(const td_bus_keys_t *keys, const char *endpoint);

/* The ZAP handler: a REP socket on inproc://zeromq.zap.01 of zctx, served
 * on base's loop. Answers each handshake: 200 with the key's name pattern as
 * User-Id for a listed key, 400 for any other (logged once per address).
 * Must exist before the ROUTER binds. */
typedef struct td_bus_zap td_bus_zap_t;
td_bus_zap_t *td_bus_zap_new(struct event_base *base, void *zctx, const td_bus_keys_t *keys);
void td_bus_zap_destroy(td_bus_zap_t **self_p);
/* Handshakes refused so far (for tests and metrics). */
unsigned long td_bus_zap_refused(const td_bus_zap_t *self);

#endif
