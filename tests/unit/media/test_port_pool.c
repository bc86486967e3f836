/* test_port_pool - RTP/RTCP port pairs: range, exhaustion, reuse, binding,
 * random order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "port_pool.h"

/* A 32-port range of our own below Linux's ephemeral ports (32768+), so
 * parallel test runs rarely meet. */
static uint16_t s_base(void)
{
    return (uint16_t)(21000 + (getpid() % 300) * 32);
}

static struct in_addr s_loopback(void)
{
    struct in_addr a;
    a.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int s_bind_udp(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static uint16_t s_local_port(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    getsockname(fd, (struct sockaddr *)&sin, &len);
    return ntohs(sin.sin_port);
}

static void test_range_from_config(void **state)
{
    (void)state;
    port_pool_t *pool = port_pool_new(10000, 10011);
    assert_non_null(pool);
    assert_int_equal(port_pool_size(pool), 6);          /* 10000/1 ... 10010/11 */
    assert_int_equal(port_pool_free_count(pool), 6);
    port_pool_destroy(&pool);
    assert_null(pool);

    /* Odd start rounds up; a lone port at the top is left out. */
    pool = port_pool_new(10001, 10010);
    assert_non_null(pool);
    assert_int_equal(port_pool_size(pool), 4);          /* 10002 ... 10008 */
    for (int i = 0; i < 4; i++) {
        uint16_t p = port_pool_take(pool);
        assert_true(p >= 10002 && p <= 10008 && p % 2 == 0);
    }
    port_pool_destroy(&pool);

    /* Top of the port space. */
    pool = port_pool_new(65534, 65535);
    assert_non_null(pool);
    assert_int_equal(port_pool_take(pool), 65534);
    port_pool_destroy(&pool);

    assert_null(port_pool_new(10000, 10000));
    assert_null(port_pool_new(10001, 10002));
    assert_null(port_pool_new(20000, 10000));
    port_pool_destroy(NULL);
    port_pool_destroy(&pool);
}

static void test_pairs_and_exhaustion(void **state)
{
    (void)state;
    port_pool_t *pool = port_pool_new(10000, 10007);
    uint16_t got[4];
    int seen[4] = { 0 };
    for (int i = 0; i < 4; i++) {
        got[i] = port_pool_take(pool);
        assert_true(got[i] >= 10000 && got[i] <= 10006);
        assert_int_equal(got[i] % 2, 0);                /* even */
        assert_int_equal(seen[(got[i] - 10000) / 2]++, 0);   /* each once */
    }
    assert_int_equal(port_pool_free_count(pool), 0);
    assert_int_equal(port_pool_take(pool), 0);          /* exhausted */
    assert_int_equal(port_pool_take(pool), 0);
    port_pool_destroy(&pool);
}

static void test_free_and_reuse(void **state)
{
    (void)state;
    port_pool_t *pool = port_pool_new(10000, 10005);   /* 3 pairs */
    uint16_t a = port_pool_take(pool), b = port_pool_take(pool);
    uint16_t never = (uint16_t)(3 * 10002 - a - b);    /* the third pair */
    assert_int_equal(port_pool_put(pool, a), 0);
    /* The pair never used (the older half of the two free) comes before the
     * one just freed. */
    assert_int_equal(port_pool_take(pool), never);
    assert_int_equal(port_pool_take(pool), a);
    assert_int_equal(port_pool_take(pool), 0);
    assert_int_equal(port_pool_put(pool, b), 0);
    assert_int_equal(port_pool_take(pool), b);

    /* What is not a taken pair is refused and changes nothing. */
    assert_int_equal(port_pool_put(pool, 10001), -1);   /* odd: an RTCP port */
    assert_int_equal(port_pool_put(pool, 9998), -1);    /* below */
    assert_int_equal(port_pool_put(pool, 10006), -1);   /* above */
    assert_int_equal(port_pool_put(pool, a), 0);
    assert_int_equal(port_pool_put(pool, a), -1);       /* twice */
    assert_int_equal(port_pool_free_count(pool), 1);
    port_pool_destroy(&pool);
}

static void test_open_binds_pair(void **state)
{
    (void)state;
    uint16_t base = s_base();
    struct in_addr lo = s_loopback();
    port_pool_t *pool = port_pool_new(base, (uint16_t)(base + 5));   /* 3 pairs */
    int fds[2];
    int port = port_pool_open(pool, &lo, fds);
    assert_true(port == base || port == base + 2 || port == base + 4);
    assert_true(fds[0] >= 0 && fds[1] >= 0);
    assert_int_equal(s_local_port(fds[0]), port);
    assert_int_equal(s_local_port(fds[1]), port + 1);
    /* Bound: nobody else gets the ports. */
    assert_int_equal(s_bind_udp((uint16_t)port), -1);
    port_pool_close(pool, (uint16_t)port, fds);
    assert_int_equal(fds[0], -1);
    assert_int_equal(fds[1], -1);
    /* Closed: free to bind again. */
    int fd = s_bind_udp((uint16_t)port);
    assert_true(fd >= 0);
    close(fd);
    fd = s_bind_udp((uint16_t)(port + 1));
    assert_true(fd >= 0);
    close(fd);
    port_pool_destroy(&pool);
}

static void test_open_skips_busy_ports(void **state)
{
    (void)state;
    uint16_t base = s_base();
    struct in_addr lo = s_loopback();
    port_pool_t *pool = port_pool_new(base, (uint16_t)(base + 5));   /* 3 pairs */
    int rtp_blocker = s_bind_udp(base);             /* pair 1: RTP port taken */
    int rtcp_blocker = s_bind_udp((uint16_t)(base + 3));   /* pair 2: RTCP port taken */
    assert_true(rtp_blocker >= 0 && rtcp_blocker >= 0);

    int fds[2];
    int port = port_pool_open(pool, &lo, fds);
    assert_int_equal(port, base + 4);              /* the only usable pair */
    int more[2];
    assert_int_equal(port_pool_open(pool, &lo, more), -ENOSPC);
    assert_int_equal(more[0], -1);
    assert_int_equal(port_pool_free_count(pool), 2);   /* the busy pairs stay free */

    /* Once the other program lets go, the skipped pairs are usable. */
    close(rtp_blocker);
    close(rtcp_blocker);
    int a = port_pool_open(pool, &lo, more);
    assert_true(a == base || a == base + 2);
    port_pool_close(pool, (uint16_t)a, more);
    port_pool_close(pool, (uint16_t)port, fds);
    assert_int_equal(port_pool_free_count(pool), 3);
    port_pool_destroy(&pool);
}

/* RTP Bleed: the order cannot be guessed. A pool of 500 pairs hands out
 * every pair exactly once (none twice while taken), not in port order, and
 * two pools (two processes' seeds) not in the same order; with pairs freed
 * and taken again, a pair in use is never handed out and a freed pair waits
 * for a good part of the free ones before it comes back. */
static void test_random_order(void **state)
{
    (void)state;
    enum { N = 500 };
    static uint16_t one[N], two[N];
    port_pool_t *p1 = port_pool_new(20000, 20000 + 2 * N - 1);
    port_pool_t *p2 = port_pool_new(20000, 20000 + 2 * N - 1);
    uint8_t seen[N] = { 0 };
    int in_order = 0, same = 0;
    for (int i = 0; i < N; i++) {
        one[i] = port_pool_take(p1);
        two[i] = port_pool_take(p2);
        assert_true(one[i] >= 20000 && one[i] < 20000 + 2 * N && one[i] % 2 == 0);
        assert_int_equal(seen[(one[i] - 20000) / 2]++, 0);
        if (i && one[i] == one[i - 1] + 2)
            in_order++;
        same += one[i] == two[i];
    }
    assert_int_equal(port_pool_take(p1), 0);
    assert_true(in_order < 20);     /* ~1 expected at random */
    assert_true(same < 20);         /* ~1 expected */

    /* Churn: free a tenth, take as many again, many times: never a pair in
     * use. */
    memset(seen, 1, sizeof seen);   /* all taken */
    for (int round = 0; round < 200; round++) {
        for (int k = 0; k < N / 10; k++) {
            int i = (round * 37 + k * 11) % N;
            if (seen[(one[i] - 20000) / 2]) {
                assert_int_equal(port_pool_put(p1, one[i]), 0);
                seen[(one[i] - 20000) / 2] = 0;
            }
        }
        while (port_pool_free_count(p1) > 0) {
            uint16_t p = port_pool_take(p1);
            assert_int_equal(seen[(p - 20000) / 2], 0);
            seen[(p - 20000) / 2] = 1;
        }
    }
    /* A freed pair waits: 400 free, one more freed goes to the tail and is
     * out of the older half for the next ~400 takes. */
    for (int i = 0; i < 400; i++)
        assert_int_equal(port_pool_put(p1, one[i]), 0);
    uint16_t last = one[450];
    assert_int_equal(port_pool_put(p1, last), 0);
    for (int i = 0; i < 300; i++)
        assert_int_not_equal(port_pool_take(p1), last);
    port_pool_destroy(&p1);
    port_pool_destroy(&p2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_from_config),
        cmocka_unit_test(test_pairs_and_exhaustion),
        cmocka_unit_test(test_free_and_reuse),
        cmocka_unit_test(test_open_binds_pair),
        cmocka_unit_test(test_open_skips_busy_ports),
        cmocka_unit_test(test_random_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
