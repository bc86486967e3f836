/* Unit tests for sip_cause: Q.850 <-> SIP as Asterisk's chan_sip maps them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sip_cause.h"

static void test_cause_to_status(void **state)
{
    (void)state;
    static const struct { unsigned cause; int status; } rows[] = {
        { 1, 404 }, { 2, 404 }, { 3, 404 }, { 17, 486 }, { 18, 408 }, { 19, 480 },
        { 20, 480 }, { 31, 480 }, { 21, 403 }, { 22, 410 }, { 27, 502 }, { 28, 484 },
        { 29, 501 }, { 34, 503 }, { 42, 503 }, { 66, 503 }, { 38, 500 }, { 58, 488 },
        { 65, 488 }, { 102, 504 }, { 127, 500 },
        { 16, 603 }, { 0, 603 }, { 41, 603 }, { 999, 603 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        print_message("cause %u\n", rows[i].cause);
        assert_int_equal(sip_cause_to_status(rows[i].cause), rows[i].status);
    }
}

static void test_status_to_cause(void **state)
{
    (void)state;
    static const struct { int status; unsigned cause; } rows[] = {
        { 401, 21 }, { 403, 21 }, { 407, 21 }, { 603, 21 }, { 404, 1 }, { 485, 1 },
        { 604, 1 }, { 408, 18 }, { 409, 41 }, { 410, 22 }, { 420, 3 }, { 480, 19 },
        { 483, 19 }, { 484, 28 }, { 486, 17 }, { 600, 17 }, { 487, 127 }, { 488, 58 },
        { 606, 58 }, { 500, 38 }, { 501, 29 }, { 502, 27 }, { 503, 34 }, { 504, 102 },
        { 405, 127 }, { 481, 127 }, { 491, 127 }, { 505, 127 }, { 499, 127 },
        { 599, 34 }, { 580, 34 }, { 699, 127 }, { 302, 16 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        print_message("status %d\n", rows[i].status);
        assert_int_equal(sip_cause_from_status(rows[i].status), rows[i].cause);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cause_to_status),
        cmocka_unit_test(test_status_to_cause),
    };
    return cmocka_run_group_tests_name("sip_cause", tests, NULL, NULL);
}
