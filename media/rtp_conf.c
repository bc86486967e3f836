/* rtp_conf - rtp.conf reader; see rtp_conf.h. */
#include "rtp_conf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "td_conf.h"
#include "td_log.h"

int rtp_conf_load(rtp_conf_t *out, const char *confdir, char *err, size_t errlen)
{
    char path[1024];
    td_conf_path(path, sizeof path, confdir, "rtp.conf");
    out->start = RTP_CONF_DEFAULT_START;
    out->end = RTP_CONF_DEFAULT_END;
    out->strictrtp = RTP_STRICT_YES;
    out->probation = RTP_STRICT_PROBATION_DEFAULT;
    if (access(path, F_OK) < 0 && errno == ENOENT) {
        td_log(LOG_NOTICE, "%s not found: RTP ports %u-%u", path, out->start, out->end);
        return 0;
    }
    td_conf_t *conf = td_conf_load(path, err, errlen);
    if (!conf)
        return -1;
    td_conf_log_warnings(conf);

    int rc = 0;
    td_conf_var_t *start_var = NULL, *end_var = NULL;
    td_conf_section_t *general = td_conf_section(conf, "general");
    for (td_conf_var_t *v = general ? general->vars : NULL; v; v = v->next) {
        long value;
        if (strcasecmp(v->name, "rtpstart") == 0 || strcasecmp(v->name, "rtpend") == 0) {
            if (td_conf_int(v->value, 1, 65535, &value) < 0) {
                snprintf(err, errlen, "%s:%d: %s must be a port number (1-65535), not '%s'",
                         v->file, v->line, v->name, v->value);
                rc = -1;
                break;
            }
            if (strcasecmp(v->name, "rtpstart") == 0) {
                out->start = (uint16_t)value;
                start_var = v;
            } else {
                out->end = (uint16_t)value;
                end_var = v;
            }
        } else if (strcasecmp(v->name, "strictrtp") == 0) {
            out->strictrtp = rtp_strict_mode_parse(v->value);
            if (out->strictrtp == RTP_STRICT_NO && td_conf_bool(v->value) != 0)
                td_log(LOG_WARNING, "%s:%d: strictrtp=%s is neither yes, seqno nor no: "
                       "taken as no (as Asterisk does)", v->file, v->line, v->value);
        } else if (strcasecmp(v->name, "probation") == 0) {
            /* Asterisk warns and keeps its default; a config error here,
             * as every other bad value in Tandem's files */
            if (td_conf_int(v->value, 2, 1000, &value) < 0) {
                snprintf(err, errlen, "%s:%d: probation must be a number of packets "
                         "(2-1000), not '%s'", v->file, v->line, v->value);
                rc = -1;
                break;
            }
            out->probation = (unsigned)value;
        } else {
            td_log(LOG_NOTICE, "%s:%d: %s is not used by tandem-media; ignored",
                   v->file, v->line, v->name);
        }
    }
    if (rc == 0) {
        /* Blame the line written last of the two (or the one that is set). */
        td_conf_var_t *blame = end_var ? end_var : start_var;
        if (start_var && end_var && start_var->line > end_var->line)
            blame = start_var;
        uint32_t first_even = ((uint32_t)out->start + 1) & ~1u;
        if (out->start >= out->end || first_even + 1 > out->end) {
            if (blame)
                snprintf(err, errlen, "%s:%d: rtpstart=%u and rtpend=%u leave no even/odd "
                         "port pair", blame->file, blame->line, out->start, out->end);
            else
                snprintf(err, errlen, "%s: no usable RTP port range", path);
            rc = -1;
        }
    }
    td_conf_destroy(&conf);
    return rc;
}
