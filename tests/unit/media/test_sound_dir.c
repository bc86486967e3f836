/* test_sound_dir - where the media worker looks for prompts and music on
 * hold: a configured directory as given, else the first of a search list
 * that holds .wav files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sound_dir.h"
#include "td_log.h"

static char s_root[64];

static void s_path(char *out, size_t len, const char *rel)
{
    snprintf(out, len, "%s/%s", s_root, rel);
}

static void s_mkdir(const char *rel)
{
    char p[256];
    s_path(p, sizeof p, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void s_touch(const char *rel)
{
    char p[256];
    s_path(p, sizeof p, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
}

/* empty/           nothing
 * gsm/             hello-world.gsm only (Debian's -gsm package, not played)
 * en_US/           hello-world.wav, beep.WAV, .hidden.wav
 * moh/             default/a.wav, jazz/b.wav, jazz/c.wav, notes.txt */
static int s_setup(void **state)
{
    (void)state;
    snprintf(s_root, sizeof s_root, "/tmp/test_sound_dir.XXXXXX");
    assert_non_null(mkdtemp(s_root));
    s_mkdir("empty");
    s_mkdir("gsm");
    s_touch("gsm/hello-world.gsm");
    s_mkdir("en_US");
    s_touch("en_US/hello-world.wav");
    s_touch("en_US/beep.WAV");
    s_touch("en_US/.hidden.wav");
    s_mkdir("moh");
    s_mkdir("moh/default");
    s_mkdir("moh/jazz");
    s_touch("moh/default/a.wav");
    s_touch("moh/jazz/b.wav");
    s_touch("moh/jazz/c.wav");
    s_touch("moh/notes.txt");
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_root);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void test_count(void **state)
{
    (void)state;
    char p[256];
    s_path(p, sizeof p, "empty");
    assert_int_equal(sound_dir_count(p, 0), 0);
    s_path(p, sizeof p, "gsm");
    assert_int_equal(sound_dir_count(p, 0), 0);
    s_path(p, sizeof p, "en_US");
    assert_int_equal(sound_dir_count(p, 0), 2);          /* not the hidden one */
    s_path(p, sizeof p, "moh");
    assert_int_equal(sound_dir_count(p, 0), 0);
    assert_int_equal(sound_dir_count(p, 1), 3);          /* the classes' files */
    s_path(p, sizeof p, "missing");
    assert_int_equal(sound_dir_count(p, 1), -1);
}

static void test_find_takes_the_first_with_wav(void **state)
{
    (void)state;
    char missing[256], empty[256], gsm[256], en[256], out[512];
    s_path(missing, sizeof missing, "missing");
    s_path(empty, sizeof empty, "empty");
    s_path(gsm, sizeof gsm, "gsm");
    s_path(en, sizeof en, "en_US");
    const char *const search[] = { missing, empty, gsm, en, NULL };
    assert_int_equal(sound_dir_find(search, 0, out, sizeof out), 2);
    assert_string_equal(out, en);

    /* None holds a .wav: the first is named, and 0 says it will not work. */
    const char *const none[] = { missing, gsm, empty, NULL };
    assert_int_equal(sound_dir_find(none, 0, out, sizeof out), 0);
    assert_string_equal(out, missing);

    const char *const nothing[] = { NULL };
    assert_int_equal(sound_dir_find(nothing, 0, out, sizeof out), 0);
    assert_string_equal(out, "");
}

static void test_resolve(void **state)
{
    (void)state;
    char gsm[256], en[256], moh[256], dir[512];
    s_path(gsm, sizeof gsm, "gsm");
    s_path(en, sizeof en, "en_US");
    s_path(moh, sizeof moh, "moh");
    const char *const search[] = { gsm, en, NULL };

    /* Not set: searched. */
    dir[0] = '\0';
    assert_int_equal(sound_dir_resolve(dir, sizeof dir, search, 0, "prompts", "sounds", "pkg"), 2);
    assert_string_equal(dir, en);

    /* Set: used as given, even when it cannot work (a WARNING says so). */
    snprintf(dir, sizeof dir, "%s", gsm);
    assert_int_equal(sound_dir_resolve(dir, sizeof dir, search, 0, "prompts", "sounds", "pkg"), 0);
    assert_string_equal(dir, gsm);
    snprintf(dir, sizeof dir, "%s/missing", s_root);
    assert_int_equal(sound_dir_resolve(dir, sizeof dir, search, 0, "prompts", "sounds", "pkg"), 0);
    assert_true(strstr(dir, "/missing") != NULL);

    /* Music on hold counts its classes. */
    const char *const mohs[] = { gsm, moh, NULL };
    dir[0] = '\0';
    assert_int_equal(sound_dir_resolve(dir, sizeof dir, mohs, 1, "music on hold", "moh", "pkg"), 3);
    assert_string_equal(dir, moh);
}

static void test_default_search_order(void **state)
{
    (void)state;
    /* Debian's link first, then what asterisk-core-sounds-en-wav installs
     * without it, then Asterisk's own ASTDATADIR. */
    assert_string_equal(sound_dir_prompts[0], "/usr/share/asterisk/sounds/en");
    assert_string_equal(sound_dir_prompts[1], "/usr/share/asterisk/sounds/en_US_f_Allison");
    assert_string_equal(sound_dir_prompts[2], "/var/lib/asterisk/sounds/en");
    assert_null(sound_dir_prompts[3]);
    assert_string_equal(sound_dir_moh[0], "/usr/share/asterisk/moh");
    assert_string_equal(sound_dir_moh[1], "/var/lib/asterisk/moh");
    assert_null(sound_dir_moh[2]);
}

int main(void)
{
    td_log_init("test", LOG_ERR);                     /* the resolve warnings are expected */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_find_takes_the_first_with_wav),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_default_search_order),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
