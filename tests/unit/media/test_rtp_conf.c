/* test_rtp_conf - rtp.conf: defaults, values, and file:line errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtp_conf.h"
#include "td_log.h"

static char s_dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/test_rtp_conf.XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/rtp.conf", s_dir);
    unlink(path);
    return rmdir(s_dir);
}

static void s_write(const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/rtp.conf", s_dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

typedef struct {
    const char *text;
    int start, end;        /* expected on success */
    const char *error;     /* expected after "<dir>/rtp.conf", or NULL */
    int strict, probation; /* expected on success when probation > 0 */
} row_t;

static const row_t s_rows[] = {
    { "[general]\nrtpstart=10000\nrtpend=20000\n", 10000, 20000, NULL, 0, 0 },
    { "[general]\nrtpstart = 30000 ; ours\nrtpend=30100\nstrictrtp=yes\nicesupport=no\n",
      30000, 30100, NULL, 0, 0 },
    { "[general]\nrtpend=12000\n", 10000, 12000, NULL, 0, 0 },
    { "; nothing set\n[general]\n", 10000, 20000, NULL, 0, 0 },
    { "[ice_host_candidates]\n192.168.1.1 => 203.0.113.1\n[general]\nrtpstart=5000\nrtpend=5001\n",
      5000, 5001, NULL, 0, 0 },
    { "[general]\nrtpstart=abc\nrtpend=20000\n", 0, 0,
      ":2: rtpstart must be a port number (1-65535), not 'abc'", 0, 0 },
    { "[general]\nrtpstart=10000\nrtpend=70000\n", 0, 0,
      ":3: rtpend must be a port number (1-65535), not '70000'", 0, 0 },
    { "[general]\nrtpstart=20000\nrtpend=10000\n", 0, 0,
      ":3: rtpstart=20000 and rtpend=10000 leave no even/odd port pair", 0, 0 },
    { "[general]\nrtpend=10002\nrtpstart=10001\n", 0, 0,
      ":3: rtpstart=10001 and rtpend=10002 leave no even/odd port pair", 0, 0 },
    { "[general]\nrtpstart=25000\n", 0, 0,
      ":2: rtpstart=25000 and rtpend=20000 leave no even/odd port pair", 0, 0 },
    /* strictrtp= and probation= (Asterisk 20: yes and 4 by default) */
    { "[general]\n", 10000, 20000, NULL, RTP_STRICT_YES, 4 },
    { "[general]\nstrictrtp=seqno\nprobation=8\n", 10000, 20000, NULL, RTP_STRICT_SEQNO, 8 },
    { "[general]\nstrictrtp=no\n", 10000, 20000, NULL, RTP_STRICT_NO, 4 },
    { "[general]\nstrictrtp=On\nprobation=2\n", 10000, 20000, NULL, RTP_STRICT_YES, 2 },
    { "[general]\nstrictrtp=maybe\n", 10000, 20000, NULL, RTP_STRICT_NO, 4 },
    { "[general]\nprobation=1\n", 0, 0, ":2: probation must be a number of packets (2-1000), "
      "not '1'", 0, 0 },
    { "[general]\nstrictrtp=yes\nprobation=many\n", 0, 0,
      ":3: probation must be a number of packets (2-1000), not 'many'", 0, 0 },
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_rows / sizeof s_rows[0]; i++) {
        const row_t *row = &s_rows[i];
        s_write(row->text);
        rtp_conf_t rtp;
        char err[512] = "";
        int rc = rtp_conf_load(&rtp, s_dir, err, sizeof err);
        print_message("row %zu: %s\n", i, row->error ? row->error : "ok");
        if (!row->error) {
            if (rc < 0)
                fail_msg("row %zu: %s", i, err);
            assert_int_equal(rtp.start, row->start);
            assert_int_equal(rtp.end, row->end);
            if (row->probation) {
                assert_int_equal(rtp.strictrtp, row->strict);
                assert_int_equal(rtp.probation, row->probation);
            }
        } else {
            char want[512];
            snprintf(want, sizeof want, "%s/rtp.conf%s", s_dir, row->error);
            assert_int_equal(rc, -1);
            assert_string_equal(err, want);
        }
    }
}

static void test_missing_file_means_defaults(void **state)
{
    (void)state;
    rtp_conf_t rtp = { 0, 0, RTP_STRICT_NO, 0 };
    char err[256];
    assert_int_equal(rtp_conf_load(&rtp, s_dir, err, sizeof err), 0);
    assert_int_equal(rtp.start, RTP_CONF_DEFAULT_START);
    assert_int_equal(rtp.end, RTP_CONF_DEFAULT_END);
    assert_int_equal(rtp.strictrtp, RTP_STRICT_YES);
    assert_int_equal(rtp.probation, RTP_STRICT_PROBATION_DEFAULT);
}

int main(void)
{
    td_log_level = LOG_ERR;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_file_means_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
