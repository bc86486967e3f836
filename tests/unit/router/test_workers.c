/* workers: least-loaded choice among live media workers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "workers.h"

static void test_choose(void **state)
{
    (void)state;
    workers_t *ws = workers_new();
    assert_null(workers_choose(ws));                       /* none yet */
    worker_ref_t *a = workers_up(ws, "media-1", 0);
    worker_ref_t *b = workers_up(ws, "media-2", 0);
    assert_ptr_equal(workers_choose(ws), a);               /* tie: the first */
    assert_ptr_equal(workers_choose(ws), b);
    assert_ptr_equal(workers_choose(ws), a);
    assert_int_equal(worker_ref_assigned(a), 2);
    workers_release(ws, a);
    workers_release(ws, a);
    assert_ptr_equal(workers_choose(ws), a);               /* a 0, b 1 -> a */
    assert_ptr_equal(workers_choose(ws), a);               /* a 1, b 1 -> the first */
    assert_ptr_equal(workers_choose(ws), b);               /* a 2, b 1 -> b */
    assert_int_equal(worker_ref_assigned(a), 2);
    assert_int_equal(worker_ref_assigned(b), 2);
    workers_destroy(&ws);
    assert_null(ws);
}

static void test_down_and_back(void **state)
{
    (void)state;
    workers_t *ws = workers_new();
    worker_ref_t *a = workers_up(ws, "media-1", 0);
    worker_ref_t *b = workers_up(ws, "media-2", 0);
    assert_ptr_equal(workers_down(ws, "media-1"), a);
    assert_false(worker_ref_alive(a));
    assert_null(workers_down(ws, "media-9"));
    assert_ptr_equal(workers_choose(ws), b);
    assert_ptr_equal(workers_choose(ws), b);
    assert_ptr_equal(workers_up(ws, "media-1", 10), a);    /* the same record comes back */
    assert_true(worker_ref_alive(a));
    assert_ptr_equal(workers_choose(ws), a);
    assert_ptr_equal(workers_find(ws, "media-2"), b);
    assert_string_equal(worker_ref_identity(b), "media-2");
    workers_down(ws, "media-1");
    workers_down(ws, "media-2");
    assert_null(workers_choose(ws));
    workers_destroy(&ws);
}

static void test_capacity(void **state)
{
    (void)state;
    workers_t *ws = workers_new();
    worker_ref_t *a = workers_up(ws, "media-1", 1);
    assert_ptr_equal(workers_choose(ws), a);
    assert_null(workers_choose(ws));                       /* full */
    workers_release(ws, a);
    assert_ptr_equal(workers_choose(ws), a);
    workers_release(ws, a);
    workers_release(ws, a);                                /* never below zero */
    assert_int_equal(worker_ref_assigned(a), 0);
    workers_destroy(&ws);
}

/* A draining worker gets no new call, even as the least loaded; it drains
 * until it is down and a new process comes up under its name. */
static void test_draining(void **state)
{
    (void)state;
    workers_t *ws = workers_new();
    worker_ref_t *a = workers_up(ws, "media-1", 0);
    worker_ref_t *b = workers_up(ws, "media-2", 0);
    assert_ptr_equal(workers_choose(ws), a);
    assert_ptr_equal(workers_choose(ws), b);
    assert_ptr_equal(workers_choose(ws), a);
    worker_ref_set_draining(a);
    assert_ptr_equal(workers_choose(ws), b);
    workers_release(ws, a);
    workers_release(ws, a);
    assert_ptr_equal(workers_choose(ws), b);                /* a 0, but draining */
    assert_ptr_equal(workers_up(ws, "media-1", 0), a);     /* its own Hello again */
    assert_true(worker_ref_draining(a));
    workers_down(ws, "media-1");
    workers_up(ws, "media-1", 0);                          /* a new process */
    assert_false(worker_ref_draining(a));
    assert_ptr_equal(workers_choose(ws), a);
    workers_hold(ws, a);
    assert_int_equal(worker_ref_assigned(a), 2);
    workers_destroy(&ws);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choose),
        cmocka_unit_test(test_down_and_back),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_draining),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
