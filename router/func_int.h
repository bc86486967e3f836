/* func_int - what the function files (func.c, func_str.c, func_time.c,
 * func_num.c, func_group.c, func_chan.c) share: the reader/writer shapes, Asterisk's argument
 * splitting and escape decoding, and every function's entry point. The one
 * table of names lives in func.c. Nothing else includes this. */
#ifndef FUNC_INT_H
#define FUNC_INT_H

#include <stddef.h>
#include <stdio.h>

#include "func.h"

/* A reader gets the arguments (its own copy, may be cut up) and writes its
 * value into buf (len bytes) or returns a string borrowed from env; NULL
 * is Asterisk's "the read failed" (the reference expands to ""). A writer
 * returns 0 or -1. */
typedef const char *(*func_read_fn)(func_env_t *env, char *args, char *buf, size_t len);
typedef int (*func_write_fn)(func_env_t *env, char *args, const char *value);


/* ast_get_encoded_char: one character of s, with \n \r \t \xHH \0ooo and
 * \<c> decoded, into *c; *used is how many bytes it took. -1 on "" or a bad
 * \x. func_encoded_str decodes a whole string into out (len bytes). */
int func_encoded_char(const char *s, char *c, size_t *used);
void func_encoded_str(const char *s, char *out, size_t len);

/* ${name} as the dialplan would expand it (variables, built-ins, globals,
 * functions); NULL if empty. */
const char *func_var(func_env_t *env, const char *name, char *buf, size_t len);

/* s (NULL reads as "") copied into buf; returns buf: a reader's usual end. */
static inline const char *func_out(char *buf, size_t len, const char *s)
{
    snprintf(buf, len, "%s", s ? s : "");
    return buf;
}

/* func.c */
int func_true(const char *s);   /* pbx_checkcondition */
/* ast_strip_quoted(s, "\"", "\""): trim, then drop one pair of quotes;
 * returns a pointer into s. */
char *func_strip_quoted(char *s);
/* ast_callerid_split: "Name" <num>, Name <num>, <num>, a number, or a name
 * into name and num ("" when absent). */
void func_callerid_split(const char *value, char *name, size_t nlen, char *num, size_t mlen);

/* func_str.c */
const char *func_str_toupper(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_tolower(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_fieldqty(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_fieldnum(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_replace(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_filter(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_shift(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_pop(func_env_t *env, char *args, char *buf, size_t len);
int func_str_push_w(func_env_t *env, char *args, const char *value);
int func_str_unshift_w(func_env_t *env, char *args, const char *value);
const char *func_str_sprintf(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_math(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_hash(func_env_t *env, char *args, char *buf, size_t len);
int func_str_hash_w(func_env_t *env, char *args, const char *value);
int func_str_array_w(func_env_t *env, char *args, const char *value);
const char *func_str_hashkeys(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_trim(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_ltrim(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_rtrim(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_strreplace(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_strbetween(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_listfilter(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_quote(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_csv_quote(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_eval(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_keypadhash(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_passthru(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_uriencode(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_uridecode(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_base64_encode(func_env_t *env, char *args, char *buf, size_t len);
const char *func_str_base64_decode(func_env_t *env, char *args, char *buf, size_t len);

/* func_num.c */
const char *func_num_inc(func_env_t *env, char *args, char *buf, size_t len);
const char *func_num_dec(func_env_t *env, char *args, char *buf, size_t len);
const char *func_num_min(func_env_t *env, char *args, char *buf, size_t len);
const char *func_num_max(func_env_t *env, char *args, char *buf, size_t len);
const char *func_num_abs(func_env_t *env, char *args, char *buf, size_t len);
const char *func_num_sort(func_env_t *env, char *args, char *buf, size_t len);

/* func_time.c */
const char *func_time_strftime(func_env_t *env, char *args, char *buf, size_t len);
const char *func_time_strptime(func_env_t *env, char *args, char *buf, size_t len);

/* func_group.c */
const char *func_group_read(func_env_t *env, char *args, char *buf, size_t len);
int func_group_write(func_env_t *env, char *args, const char *value);
const char *func_group_count(func_env_t *env, char *args, char *buf, size_t len);
const char *func_group_match_count(func_env_t *env, char *args, char *buf, size_t len);
const char *func_group_list(func_env_t *env, char *args, char *buf, size_t len);

/* func_chan.c */
const char *func_chan_channel(func_env_t *env, char *args, char *buf, size_t len);
int func_chan_channel_w(func_env_t *env, char *args, const char *value);
const char *func_chan_cdr(func_env_t *env, char *args, char *buf, size_t len);
int func_chan_cdr_w(func_env_t *env, char *args, const char *value);
const char *func_chan_timeout(func_env_t *env, char *args, char *buf, size_t len);
int func_chan_timeout_w(func_env_t *env, char *args, const char *value);
const char *func_chan_dialplan_exists(func_env_t *env, char *args, char *buf, size_t len);
const char *func_chan_db_keys(func_env_t *env, char *args, char *buf, size_t len);
const char *func_chan_sippeer(func_env_t *env, char *args, char *buf, size_t len);
const char *func_chan_valid_exten(func_env_t *env, char *args, char *buf, size_t len);
const char *func_chan_iftime(func_env_t *env, char *args, char *buf, size_t len);
const char *func_chan_env(func_env_t *env, char *args, char *buf, size_t len);

#endif
