/* td_hash - see td_hash.h. SipHash-2-4 written from the paper's
 * description: a 256-bit state v0..v3 initialised from the key and four
 * constants; each 8-byte little-endian message word m is mixed in as
 * v3 ^= m, two SipRounds, v0 ^= m; the last word holds the remaining
 * bytes and the message length mod 256 in its top byte; then v2 ^= 0xff,
 * four SipRounds, and the result is v0 ^ v1 ^ v2 ^ v3. */
#include "td_hash.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>

#define S_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint8_t s_seed[16];
static pthread_once_t s_seed_once = PTHREAD_ONCE_INIT;

static void s_round(td_hash_t *h)
{
    h->v0 += h->v1; h->v1 = S_ROTL(h->v1, 13); h->v1 ^= h->v0; h->v0 = S_ROTL(h->v0, 32);
    h->v2 += h->v3; h->v3 = S_ROTL(h->v3, 16); h->v3 ^= h->v2;
    h->v0 += h->v3; h->v3 = S_ROTL(h->v3, 21); h->v3 ^= h->v0;
    h->v2 += h->v1; h->v1 = S_ROTL(h->v1, 17); h->v1 ^= h->v2; h->v2 = S_ROTL(h->v2, 32);
}

static void s_word(td_hash_t *h, uint64_t m)
{
    h->v3 ^= m;
    s_round(h);
    s_round(h);
    h->v0 ^= m;
}

static uint64_t s_load64(const uint8_t *p)
{
    uint64_t m = 0;
    for (int i = 7; i >= 0; i--)
        m = (m << 8) | p[i];
    return m;
}

/* The seed: getrandom(), else /dev/urandom, else (never seen on Linux
 * since 3.17) the clock, the pid and an address, which at least differ
 * between runs. */
static void s_seed_read(void)
{
    size_t got = 0;
    while (got < sizeof s_seed) {
        ssize_t n = getrandom(s_seed + got, sizeof s_seed - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < sizeof s_seed) {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            got = 0;
            while (got < sizeof s_seed) {
                ssize_t n = read(fd, s_seed + got, sizeof s_seed - got);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    break;
                got += (size_t)n;
            }
            close(fd);
        }
    }
    if (got < sizeof s_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t a = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)getpid();
        uint64_t b = (uint64_t)(uintptr_t)&ts ^ ((uint64_t)time(NULL) << 20);
        memcpy(s_seed, &a, 8);
        memcpy(s_seed + 8, &b, 8);
    }
}

void td_hash_init(void)
{
    pthread_once(&s_seed_once, s_seed_read);
}

void td_hash_begin_key(td_hash_t *h, const uint8_t key[16])
{
    uint64_t k0 = s_load64(key), k1 = s_load64(key + 8);
    h->v0 = k0 ^ 0x736f6d6570736575ULL;     /* "somepseudorandomlygeneratedbytes" */
    h->v1 = k1 ^ 0x646f72616e646f6dULL;
    h->v2 = k0 ^ 0x6c7967656e657261ULL;
    h->v3 = k1 ^ 0x7465646279746573ULL;
    h->tail = 0;
    h->len = 0;
}

void td_hash_begin(td_hash_t *h)
{
    td_hash_init();
    td_hash_begin_key(h, s_seed);
}

/* Add bytes, folding ASCII A-Z to a-z when lower is set. */
static void s_add(td_hash_t *h, const uint8_t *p, size_t n, int lower)
{
    size_t fill = h->len & 7;
    h->len += n;
    /* Finish a partial word byte by byte. */
    while (fill && n) {
        uint8_t c = *p++;
        if (lower && c >= 'A' && c <= 'Z')
            c |= 0x20;
        h->tail |= (uint64_t)c << (8 * fill);
        n--;
        if (++fill == 8) {
            s_word(h, h->tail);
            h->tail = 0;
            fill = 0;
        }
    }
    /* Whole words. */
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t m = s_load64(p);
        if (lower) {
            /* Fold A-Z in all eight bytes at once: a byte gets 0x20 when
             * it lies in 0x41..0x5a (the classic SWAR range test). */
            uint64_t hi = 0x8080808080808080ULL;
            uint64_t b7 = m & ~hi;                                  /* low 7 bits */
            uint64_t ge_a = (b7 + 0x3f3f3f3f3f3f3f3fULL) & hi;      /* >= 'A' */
            uint64_t gt_z = (b7 + 0x2525252525252525ULL) & hi;      /* > 'Z' */
            uint64_t upper = ge_a & ~gt_z & ~m;                     /* top bit clear */
            m |= upper >> 2;                                        /* 0x80 >> 2 = 0x20 */
        }
        s_word(h, m);
    }
    /* The rest waits in tail. */
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (lower && c >= 'A' && c <= 'Z')
            c |= 0x20;
        h->tail |= (uint64_t)c << (8 * (fill + i));
    }
}

void td_hash_add(td_hash_t *h, const void *p, size_t n)
{
    s_add(h, p, n, 0);
}

void td_hash_add_lower(td_hash_t *h, const void *p, size_t n)
{
    s_add(h, p, n, 1);
}

void td_hash_add_str(td_hash_t *h, const char *s)
{
    if (s)
        s_add(h, (const uint8_t *)s, strlen(s), 0);
}

uint64_t td_hash_end(td_hash_t *h)
{
    uint64_t b = ((uint64_t)(h->len & 0xff) << 56) | h->tail;
    s_word(h, b);
    h->v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        s_round(h);
    return h->v0 ^ h->v1 ^ h->v2 ^ h->v3;
}

uint64_t td_hash_bytes(const void *p, size_t n)
{
    td_hash_t h;
    td_hash_begin(&h);
    s_add(&h, p, n, 0);
    return td_hash_end(&h);
}

uint64_t td_hash_str(const char *s)
{
    td_hash_t h;
    td_hash_begin(&h);
    td_hash_add_str(&h, s);
    return td_hash_end(&h);
}

uint64_t td_hash_str_lower(const char *s)
{
    td_hash_t h;
    td_hash_begin(&h);
    if (s)
        s_add(&h, (const uint8_t *)s, strlen(s), 1);
    return td_hash_end(&h);
}

uint64_t td_hash_addr(const struct sockaddr *sa)
{
    td_hash_t h;
    td_hash_begin(&h);
    if (sa) {
        uint16_t family = sa->sa_family;
        td_hash_add(&h, &family, sizeof family);
        if (sa->sa_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
            td_hash_add(&h, &in->sin_port, sizeof in->sin_port);
            td_hash_add(&h, &in->sin_addr, sizeof in->sin_addr);
        } else if (sa->sa_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
            td_hash_add(&h, &in6->sin6_port, sizeof in6->sin6_port);
            td_hash_add(&h, &in6->sin6_addr, sizeof in6->sin6_addr);
        }
    }
    return td_hash_end(&h);
}

uint64_t td_siphash24(const uint8_t key[16], const void *p, size_t n)
{
    td_hash_t h;
    td_hash_begin_key(&h, key);
    s_add(&h, p, n, 0);
    return td_hash_end(&h);
}
