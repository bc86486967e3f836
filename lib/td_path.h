/* td_path - file names that come off the bus (MediaPlay, MediaRecord) or out
 * of the dialplan (Playback, Record), confined to the directories they are
 * meant for.
 *
 * Asterisk takes an absolute name as it is and a relative one under its
 * sounds directory, and never checks for "..": a dialplan (or, here, a
 * forged bus message) can then read or write any file the process may.
 * Tandem allows a relative name without any ".." component (it lands in
 * the directory), and an absolute name only inside one of the directories
 * (lexically: symbolic links inside them are the operator's business). */
#ifndef TD_PATH_H
#define TD_PATH_H

#include <stddef.h>

/* 0 when name may be used: relative without a ".." component, or absolute
 * and inside one of dirs[0..n-1] (each absolute, or relative to the current
 * directory; NULL or "" entries skipped). -1 otherwise, with the reason in
 * why (for a log line). */
int td_path_confined(const char *name, const char *const *dirs, size_t n, char *why,
                     size_t whylen);

#endif
