/* chanvars - one channel's variables, as Asterisk keeps them.
 *
 * Names are case-sensitive. A name may be written with one or two leading
 * underscores (Set(_VAR=x), Set(__VAR=x)): the store keeps the name as
 * written, because that is what inheritance reads, but every lookup and
 * every replacement ignores the stored name's underscores, so ${VAR} finds
 * "__VAR" (but ${__VAR} finds nothing, as in Asterisk).
 *
 * Inheritance into a dialled channel (Asterisk's
 * ast_channel_inherit_variables): "_VAR" is copied as plain "VAR" (one
 * generation only), "__VAR" is copied as "__VAR" (every generation), any
 * other variable stays behind.
 *
 * LOCAL scope: each Gosub pushes a frame. The first LOCAL(x) write inside a
 * frame saves x's value from outside the frame; popping the frame (Return)
 * puts every saved value back, so LOCAL variables vanish and the caller's
 * variables of the same name reappear, as app_stack.c does.
 *
 * Values are malloc'd copies owned by the store; chanvars_destroy frees them
 * with the call. A short array, searched linearly: a channel has tens of
 * variables, so this beats a hash on size and is fast enough. */
#ifndef CHANVARS_H
#define CHANVARS_H

#include <stddef.h>

typedef struct chanvars chanvars_t;

chanvars_t *chanvars_new(void);
void chanvars_destroy(chanvars_t **self_p);

/* Set name (with or without leading underscores) to value, replacing the
 * variable under the same bare name. NULL or "" deletes it (Asterisk keeps
 * an empty variable instead, which no ${} or function can tell from a
 * missing one). 0, or -1 on ENOMEM or an empty name. */
int chanvars_set(chanvars_t *self, const char *name, const char *value);
/* As set, but "" is stored as a value (globals: GLOBAL(X)= must hide a
 * [globals] X, so an empty value is not the same as no value there). */
int chanvars_put(chanvars_t *self, const char *name, const char *value);

/* The value of name (compared with the stored names' bare forms, so
 * "__X" finds nothing), or NULL. Borrowed until
 * the variable changes. */
const char *chanvars_get(const chanvars_t *self, const char *name);
size_t chanvars_count(const chanvars_t *self);

/* Visit each variable in the order they were set, with its name as written
 * ("__VAR"). The store must not change meanwhile. */
void chanvars_foreach(const chanvars_t *self,
                      void (*fn)(void *arg, const char *name, const char *value), void *arg);

/* Copy parent's "_VAR" (as "VAR") and "__VAR" (as "__VAR") variables into
 * child. 0, or -1 on ENOMEM. */
int chanvars_inherit(const chanvars_t *parent, chanvars_t *child);

/* Gosub: open a LOCAL frame. Return: close it and restore the variables
 * the frame made local. push 0/-1 (ENOMEM); pop -1 if no frame is open. */
int chanvars_push_frame(chanvars_t *self);
int chanvars_pop_frame(chanvars_t *self);
/* How many frames are open (0: not inside a Gosub). */
int chanvars_depth(const chanvars_t *self);
/* LOCAL(name)=value: make name local to the innermost frame (saving its
 * outer value the first time) and set it. -1 outside any frame (Asterisk:
 * "Tried to set LOCAL(...), but we aren't within a Gosub routine") or ENOMEM. */
int chanvars_set_local(chanvars_t *self, const char *name, const char *value);
/* LOCAL(name): the value if name is local to the innermost frame, else
 * NULL (app_stack.c reads only the frame's own variables). */
const char *chanvars_get_local(const chanvars_t *self, const char *name);

#endif
