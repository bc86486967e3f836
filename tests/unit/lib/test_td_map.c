/* Unit tests for td_map: insert, find, take, remove, iterate (with removal),
 * several nodes under one key (newest first, kept across growth), growth
 * by doubling with no allocation per node; and keys that all collide under
 * the old unseeded FNV-1a (or the old address hash) keep chains short. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "td_hash.h"
#include "td_map.h"

typedef struct {
    char key[24];
    int value;
    td_map_node_t node;
} s_item_t;

static int s_eq(const td_map_node_t *n, const void *key)
{
    return strcmp(TD_MAP_ENTRY(n, s_item_t, node)->key, key) == 0;
}

static s_item_t *s_find(td_map_t *m, const char *key)
{
    td_map_node_t *n = td_map_find(m, td_hash_str(key), key);
    return n ? TD_MAP_ENTRY(n, s_item_t, node) : NULL;
}

#define N 5000

static void test_basic(void **state)
{
    (void)state;
    td_map_t m;
    assert_int_equal(td_map_init(&m, 0, s_eq), 0);
    s_item_t *items = calloc(N, sizeof *items);
    assert_non_null(items);
    assert_null(s_find(&m, "nothing"));
    for (int i = 0; i < N; i++) {
        snprintf(items[i].key, sizeof items[i].key, "k%d", i);
        items[i].value = i;
        td_map_insert(&m, &items[i].node, td_hash_str(items[i].key));
    }
    assert_int_equal(td_map_size(&m), N);
    assert_true(m.mask + 1 >= N);               /* grew by doubling */
    assert_true(td_map_max_chain(&m) <= 12);
    for (int i = 0; i < N; i++) {
        char k[24];
        snprintf(k, sizeof k, "k%d", i);
        s_item_t *it = s_find(&m, k);
        assert_non_null(it);
        assert_int_equal(it->value, i);
    }
    /* take and remove */
    td_map_node_t *t = td_map_take(&m, td_hash_str("k7"), "k7");
    assert_ptr_equal(t, &items[7].node);
    assert_null(s_find(&m, "k7"));
    assert_null(td_map_take(&m, td_hash_str("k7"), "k7"));
    td_map_remove(&m, &items[8].node);
    assert_null(s_find(&m, "k8"));
    assert_int_equal(td_map_size(&m), N - 2);
    /* a walk that removes every odd value as it goes sees each node once */
    size_t cur, seen = 0;
    for (td_map_node_t *n = td_map_first(&m, &cur), *next; n; n = next) {
        next = td_map_next(&m, n, &cur);
        seen++;
        if (TD_MAP_ENTRY(n, s_item_t, node)->value & 1)
            td_map_remove(&m, n);
    }
    assert_int_equal(seen, N - 2);
    assert_int_equal(td_map_size(&m), N / 2 - 1);
    assert_null(s_find(&m, "k1"));
    assert_non_null(s_find(&m, "k2"));
    td_map_fini(&m);
    td_map_fini(&m);                            /* twice is harmless */
    assert_null(td_map_find(&m, td_hash_str("k2"), "k2"));
    free(items);
}

static void test_duplicates(void **state)
{
    (void)state;
    td_map_t m;
    assert_int_equal(td_map_init(&m, 4, s_eq), 0);
    static s_item_t dup[3], other[200];
    for (int i = 0; i < 3; i++) {
        strcpy(dup[i].key, "same");
        dup[i].value = i;
        td_map_insert(&m, &dup[i].node, td_hash_str("same"));
    }
    /* enough others to force several doublings */
    for (int i = 0; i < 200; i++) {
        snprintf(other[i].key, sizeof other[i].key, "o%d", i);
        td_map_insert(&m, &other[i].node, td_hash_str(other[i].key));
    }
    td_map_node_t *n = td_map_find(&m, td_hash_str("same"), "same");
    for (int want = 2; want >= 0; want--) {
        assert_non_null(n);
        assert_int_equal(TD_MAP_ENTRY(n, s_item_t, node)->value, want);   /* newest first */
        n = td_map_find_next(&m, n, "same");
    }
    assert_null(n);
    td_map_fini(&m);
}

static void test_append_and_move(void **state)
{
    (void)state;
    td_map_t m;
    assert_int_equal(td_map_init(&m, 0, s_eq), 0);
    static s_item_t same[4], other[100];
    for (int i = 0; i < 3; i++) {
        strcpy(same[i].key, "same");
        same[i].value = i;
        td_map_append(&m, &same[i].node, td_hash_str("same"));
    }
    for (int i = 0; i < 100; i++) {            /* grows: order kept */
        snprintf(other[i].key, sizeof other[i].key, "o%d", i);
        td_map_append(&m, &other[i].node, td_hash_str(other[i].key));
    }
    /* same[1] moves to same[3] (a struct copy, as an array compacts) */
    same[3] = same[1];
    td_map_moved(&m, &same[1].node, &same[3].node);
    memset(&same[1], 0, sizeof same[1]);
    const int want[] = { 0, 1, 2 };
    td_map_node_t *n = td_map_find(&m, td_hash_str("same"), "same");
    for (int i = 0; i < 3; i++) {
        assert_non_null(n);
        assert_int_equal(TD_MAP_ENTRY(n, s_item_t, node)->value, want[i]);   /* oldest first */
        n = td_map_find_next(&m, n, "same");
    }
    assert_null(n);
    td_map_remove(&m, &same[3].node);
    assert_int_equal(td_map_size(&m), 102);
    for (int i = 0; i < 100; i++)
        assert_ptr_equal(s_find(&m, other[i].key), &other[i]);
    td_map_fini(&m);
}

/* FNV-1a, 64 bits: the hash every table used before td_hash. */
static uint64_t s_fnv(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void test_flood_strings(void **state)
{
    (void)state;
    /* 2,000 branches whose FNV-1a agrees in its low 12 bits: under the old
     * hash every one lands in one bucket of a 4,096-bucket table. */
    enum { KEYS = 2000 };
    s_item_t *items = calloc(KEYS, sizeof *items);
    assert_non_null(items);
    int n = 0;
    for (unsigned long i = 0; n < KEYS; i++) {
        char k[24];
        snprintf(k, sizeof k, "z9hG4bK%lx", i);
        if ((s_fnv(k) & 4095) == 0)
            strcpy(items[n++].key, k);
    }
    td_map_t m;
    assert_int_equal(td_map_init(&m, 4096, s_eq), 0);
    for (int i = 0; i < KEYS; i++) {
        assert_int_equal(s_fnv(items[i].key) & 4095, 0);
        td_map_insert(&m, &items[i].node, td_hash_str(items[i].key));
    }
    assert_int_equal(m.mask + 1, 4096);
    assert_true(td_map_max_chain(&m) <= 10);
    for (int i = 0; i < KEYS; i++)
        assert_ptr_equal(s_find(&m, items[i].key), &items[i]);
    td_map_fini(&m);
    free(items);
}

typedef struct {
    struct sockaddr_in addr;
    td_map_node_t node;
} s_peer_t;

static int s_addr_eq(const td_map_node_t *n, const void *key)
{
    const struct sockaddr_in *a = &TD_MAP_ENTRY(n, s_peer_t, node)->addr, *b = key;
    return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static void test_flood_addresses(void **state)
{
    (void)state;
    /* 10,000 sources of one /16, differing only in their low bytes, port
     * 5060: the old peer-by-address key ((addr << 16 | port) * golden >> 20,
     * network order) gave them few distinct buckets. */
    enum { ADDRS = 10000 };
    s_peer_t *peers = calloc(ADDRS, sizeof *peers);
    assert_non_null(peers);
    td_map_t m;
    assert_int_equal(td_map_init(&m, 0, s_addr_eq), 0);
    for (int i = 0; i < ADDRS; i++) {
        peers[i].addr.sin_family = AF_INET;
        peers[i].addr.sin_port = htons(5060);
        peers[i].addr.sin_addr.s_addr = htonl(0xc0a80000u | (uint32_t)i);
        td_map_insert(&m, &peers[i].node, td_hash_addr((struct sockaddr *)&peers[i].addr));
    }
    assert_true(td_map_max_chain(&m) <= 10);
    for (int i = 0; i < ADDRS; i++) {
        td_map_node_t *n = td_map_find(&m, td_hash_addr((struct sockaddr *)&peers[i].addr),
                                       &peers[i].addr);
        assert_ptr_equal(n, &peers[i].node);
    }
    td_map_fini(&m);
    free(peers);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_append_and_move),
        cmocka_unit_test(test_flood_strings),
        cmocka_unit_test(test_flood_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
