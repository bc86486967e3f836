/* sip_auth - HTTP digest for SIP (RFC 2617 with qop=auth, RFC 3261 22.4),
 * with SHA-256 beside MD5 (RFC 7616, RFC 8760).
 *
 * Nonces are "<serial, 16 hex><MAC, 32 hex>": MAC is HMAC-SHA-256 (RFC 2104),
 * keyed with a secret drawn at random per process, over the serial and the
 * source address the challenge went to, cut to 128 bits. So a nonce is good
 * only from the address it was sent to and only in the process that minted
 * it. The address, not address:port: a phone behind NAT may answer from
 * another port (a NAT rebinding between challenge and answer, a new TCP
 * connection, a second socket), and the attack this closes is a replay from
 * elsewhere on the path; a replay from behind the same NAT is left to the
 * one-time use below.
 *
 * Each nonce is kept in a fixed table of SIP_AUTH_NONCES slots (slot =
 * serial % SIP_AUTH_NONCES: O(1) lookup, the oldest nonce gives way to a new
 * one, memory never grows). A nonce is good for `nonce_lifetime` seconds
 * (tandem.conf [security], 30 by default) and for one request, or with
 * qop=auth for one request per increasing nc (RFC 7616 3.4.5): a replayed
 * Authorization is not current. The digest uri must name the Request-URI's
 * number (RFC 2617 3.2.2.5), or the answer is wrong whatever its hash. The right
 * answer to a nonce that is not current (expired, used up, evicted, not ours
 * or from another address) is "stale" (the client retries with a fresh one
 * without asking its user), a wrong one gets a new challenge, as chan_sip
 * answers a nonce that is not its current one. */
#ifndef SIP_AUTH_H
#define SIP_AUTH_H

#include <stddef.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <osipparser2/osip_message.h>

#define SIP_AUTH_NONCE_TTL 30           /* default seconds a challenge waits for its answer */
#define SIP_AUTH_NONCE_LEN 48           /* hex characters, without the NUL */
#define SIP_AUTH_NONCES 4096            /* nonces outstanding at once (about 100 kB) */

/* Digest algorithms, as bits (a nonce's set) and as ids (a 0-terminated
 * preference list, e.g. { SIP_AUTH_SHA256, SIP_AUTH_MD5, 0 }). */
typedef enum { SIP_AUTH_MD5 = 1, SIP_AUTH_SHA256 = 2 } sip_auth_alg_t;
#define SIP_AUTH_ALGS_MAX 2

/* "MD5" / "SHA-256"; and back: "" or NULL is MD5 (RFC 2617 3.2.1), 0 for an
 * algorithm we do not do (MD5-sess, SHA-512-256, ...). */
const char *sip_auth_alg_name(sip_auth_alg_t alg);
sip_auth_alg_t sip_auth_alg_parse(const char *name);

typedef struct sip_auth sip_auth_t;

typedef enum {
    SIP_AUTH_OK = 0,
    SIP_AUTH_MISSING,     /* no credentials for our realm: challenge */
    SIP_AUTH_STALE,       /* the right answer to a nonce that is not current (expired, or
                           * not ours): challenge again with stale=true */
    SIP_AUTH_NONCE,       /* a wrong answer to a nonce that is not current: challenge
                           * again (chan_sip's "one more try with a new challenge") */
    SIP_AUTH_FAILED       /* a wrong answer to a current nonce (wrong password, unknown
                           * user, bad fields): 403 */
} sip_auth_result_t;

/* realm is copied. NULL on failure. */
sip_auth_t *sip_auth_new(const char *realm);
void sip_auth_destroy(sip_auth_t **self_p);
const char *sip_auth_realm(const sip_auth_t *self);
/* Seconds a nonce stays current (tandem.conf [security] nonce_lifetime=;
 * 0: SIP_AUTH_NONCE_TTL). */
void sip_auth_set_lifetime(sip_auth_t *self, unsigned seconds);
unsigned sip_auth_lifetime(const sip_auth_t *self);

/* The hook for counting failed authentications per source (the ban part):
 * called for every wrong answer sip_auth_verify sees (SIP_AUTH_FAILED and
 * SIP_AUTH_NONCE: a wrong answer to a stale nonce counts too, or a password
 * guesser would use stale nonces, whose stale=true flag tells a right guess
 * from a wrong one, and never be counted), and by sip_core through
 * sip_auth_on_failure for refusals decided before any digest check. user is
 * the digest user name ("" when none), why a short reason; both valid during
 * the call. */
typedef void (*sip_auth_failure_fn)(void *arg, const struct sockaddr_in *from,
                                    const char *user, const char *method, const char *why);
void sip_auth_set_on_failure(sip_auth_t *self, sip_auth_failure_fn fn, void *arg);
/* Report one failed authentication to the hook (nothing if none is set). */
void sip_auth_on_failure(sip_auth_t *self, const struct sockaddr_in *from, const char *user,
                         const char *method, const char *why);

/* HA1 = MD5(user:realm:password), 32 lowercase hex digits. */
void sip_auth_ha1(const char *user, const char *realm, const char *password, char out[33]);
/* HA1 = H(user:realm:password) for alg: 32 hex digits (MD5) or 64 (SHA-256);
 * out holds at least 65 bytes for SHA-256. */
void sip_auth_ha1_alg(sip_auth_alg_t alg, const char *user, const char *realm,
                      const char *password, char *out);

/* The request-digest (RFC 2617 3.2.2.1) for HA1 ha1. qop "auth" uses nc and
 * cnonce; qop NULL or "" gives the RFC 2069 form MD5(HA1:nonce:HA2). */
void sip_auth_response(const char *ha1, const char *nonce, const char *nc,
                       const char *cnonce, const char *qop, const char *method,
                       const char *uri, char out[33]);
/* The same with alg's hash (RFC 7616 3.4.1): out holds 65 bytes for SHA-256. */
void sip_auth_response_alg(sip_auth_alg_t alg, const char *ha1, const char *nonce,
                           const char *nc, const char *cnonce, const char *qop,
                           const char *method, const char *uri, char *out);

/* A nonce minted at `now` (seconds) for the source address of `from` (NULL:
 * 0.0.0.0), to be answered with one of the algorithms in `offered`
 * (SIP_AUTH_* bits; 0: MD5), into buf (at least SIP_AUTH_NONCE_LEN+1). It
 * takes the table's oldest slot. */
void sip_auth_nonce(sip_auth_t *self, const struct sockaddr_in *from, long now,
                    unsigned offered, char *buf, size_t len);

/* Add a challenge to the response (a 401): one WWW-Authenticate per
 * algorithm of algs (a 0-terminated preference list; NULL or empty: MD5
 * only), in that order (RFC 8760 2.4), all with realm, the same fresh
 * nonce (minted for the address of `from`, the request's source),
 * qop="auth", and stale=true when asked. Never Proxy-Authenticate:
 * chan_sip 20's check_auth "Always auth[s] with WWW-auth since we're NOT a
 * proxy", for every method. Returns 0 or -1. */
int sip_auth_challenge(sip_auth_t *self, osip_message_t *resp, const struct sockaddr_in *from,
                       int stale, long now, const unsigned char *algs);

/* The credentials in req for our realm, or NULL: Authorization first, then
 * Proxy-Authorization. (chan_sip reads only the header it asked for,
 * Authorization; a phone that answers a 401 with Proxy-Authorization would
 * loop on challenges there. Accepting it too is harmless: the digest is
 * checked the same way whichever header carries it, and we never challenge
 * as a proxy, so no proxy's credentials are meant for us.) The user name,
 * unquoted, goes to user. Borrowed from req. */
osip_authorization_t *sip_auth_credentials(const sip_auth_t *self, osip_message_t *req,
                                           char *user, size_t len);

/* Check credentials of a request (`method` to Request-URI `req_uri`, from
 * `from`) against the HA1 of the algorithm they use (ha1_md5 or ha1_sha256;
 * NULL or "": unknown user or no such HA1, which fails exactly like a wrong
 * password, after the same work: chan_sip's bogus peer). An algorithm the
 * nonce was not offered with fails too, and so does a digest uri that does
 * not name req_uri's scheme and user (the number; host and port aside, as
 * proxies rewrite them). The
 * answer follows chan_sip's check_auth: a nonce that is not current
 * (expired, evicted, not ours, minted for another address, or already used:
 * a replay) gives STALE or NONCE (challenge again), a current one OK or
 * FAILED (403). OK uses the nonce up (or its nc with qop=auth). cred NULL
 * gives SIP_AUTH_MISSING. A wrong answer is reported to the failure hook. */
sip_auth_result_t sip_auth_verify(sip_auth_t *self, osip_authorization_t *cred,
                                  const osip_uri_t *req_uri, const struct sockaddr_in *from,
                                  const char *method, const char *ha1_md5,
                                  const char *ha1_sha256, long now);
/* Why the last sip_auth_verify answered as it did, for the log ("ok",
 * "wrong response", "digest uri is not the Request-URI", "nonce expired",
 * ...). Static text. */
const char *sip_auth_why(const sip_auth_t *self);

/* ---- the client side: answering a server's challenge -------------------- */

/* A challenge from a server we send requests to: a 401's WWW-Authenticate
 * or a 407's Proxy-Authenticate (chan_sip's do_proxy_auth / reply_digest
 * keep the same fields). nc counts the requests answered with this nonce
 * (chan_sip's noncecount), so a registration refreshed with the stored
 * nonce sends nc=00000002 and so on. */
typedef struct {
    char realm[128];
    char nonce[256];
    char opaque[256];
    int qop_auth;               /* qop offered and it lists "auth": answer with qop, nc, cnonce */
    int proxy;                  /* from a 407: answer in Proxy-Authorization */
    sip_auth_alg_t alg;         /* the algorithm answered (0 is MD5) */
    unsigned nc;
} sip_auth_remote_t;

/* Read the Digest challenge of resp we answer (407: Proxy-Authenticate,
 * else WWW-Authenticate) into out, nc 0: the first SHA-256 one if any,
 * else the first MD5 one. -1 when there is none we can answer (no realm or
 * nonce, or only other algorithms). */
int sip_auth_remote_read(const osip_message_t *resp, sip_auth_remote_t *out);

/* The credentials for method and uri as a header value into buf ("Digest
 * username=..., response=..."): HA1 from user, the challenge's realm and
 * secret, hashed with the challenge's algorithm; with qop=auth, nc is
 * incremented first and cnonce used (NULL: a random one). Returns 0, or -1 if buf is too small. */
int sip_auth_remote_value(sip_auth_remote_t *ch, const char *method, const char *uri,
                          const char *user, const char *secret, const char *cnonce,
                          char *buf, size_t len);

/* The same, added to req as Authorization (or Proxy-Authorization for a
 * 407) for req's method and Request-URI. 0 or -1. */
int sip_auth_remote_answer(sip_auth_remote_t *ch, osip_message_t *req, const char *user,
                           const char *secret);

/* Copy a header parameter without its surrounding quotes; "" for NULL. */
char *sip_auth_unquote(const char *value, char *buf, size_t len);

#endif
