/* td_settings - see td_settings.h. */
#include "td_settings.h"
#include "td_conf.h"
#include "td_log.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static void s_usage(const char *process)
{
    fprintf(stderr, "usage: tandem-%s [-c CONFDIR] [-i IDENTITY] [-l LEVEL]\n"
                    "  -c CONFDIR   folder with sip.conf, extensions.conf, rtp.conf, tandem.conf (default etc)\n"
                    "  -i IDENTITY  this process's name on the bus (default from tandem.conf)\n"
                    "  -l LEVEL     error, warning, notice, info or debug\n", process);
}

static int s_copy(char *dst, size_t len, const td_conf_var_t *v, const char *what)
{
    if (strlen(v->value) >= len) {
        fprintf(stderr, "%s:%d: %s is too long\n", v->file, v->line, what);
        return -1;
    }
    snprintf(dst, len, "%s", v->value);
    return 0;
}

/* Read CONFDIR/tandem.conf if it exists; unknown keys are errors, since
 * this file is ours and a typo would otherwise pass silently. */
static int s_read_file(td_settings_t *out, const char *process)
{
    char path[600];
    td_conf_path(path, sizeof path, out->confdir, "tandem.conf");
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    char err[700];
    td_conf_t *conf = td_conf_load(path, err, sizeof err);
    if (!conf) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    int rc = 0;
    /* tandem.conf is Tandem's own file: what config.c would only warn
     * about is an error here, as an unknown setting is. */
    for (const td_conf_warning_t *w = td_conf_warnings(conf); w; w = w->next) {
        fprintf(stderr, "%s:%d: %s\n", w->file, w->line, w->text);
        rc = -1;
    }
    for (td_conf_section_t *sec = td_conf_first(conf); sec && rc == 0; sec = sec->next) {
        for (td_conf_var_t *v = sec->vars; v && rc == 0; v = v->next) {
            const char *s = sec->name, *k = v->name;
            long n;
            if (!strcmp(s, "general") && !strcasecmp(k, "loglevel")) {
                int level = td_log_level_parse(v->value);
                if (level < 0) {
                    fprintf(stderr, "%s:%d: unknown loglevel '%s'\n", v->file, v->line, v->value);
                    rc = -1;
                } else
                    out->loglevel = level;
            } else if (!strcmp(s, "bus") && !strcasecmp(k, "endpoint")) {
                rc = s_copy(out->endpoint, sizeof out->endpoint, v, "endpoint");
            } else if (!strcmp(s, "router") && !strcasecmp(k, "cdrdir")) {
                rc = s_copy(out->cdrdir, sizeof out->cdrdir, v, "cdrdir");
            } else if (!strcmp(s, "media") && !strcasecmp(k, "sounds")) {
                rc = s_copy(out->sounds_dir, sizeof out->sounds_dir, v, "sounds");
            } else if (!strcmp(s, "media") && !strcasecmp(k, "moh")) {
                rc = s_copy(out->moh_dir, sizeof out->moh_dir, v, "moh");
            } else if (!strcmp(s, "media") && !strcasecmp(k, "recordings")) {
                rc = s_copy(out->recordings_dir, sizeof out->recordings_dir, v, "recordings");
            } else if (!strcmp(s, "router") && !strcasecmp(k, "astdb")) {
                rc = s_copy(out->astdb, sizeof out->astdb, v, "astdb");
            } else if (!strcmp(s, "media") && !strcasecmp(k, "address")) {
                struct in_addr a;
                if (inet_pton(AF_INET, v->value, &a) != 1) {
                    fprintf(stderr, "%s:%d: address '%s' is not an IPv4 address\n",
                            v->file, v->line, v->value);
                    rc = -1;
                } else
                    rc = s_copy(out->media_address, sizeof out->media_address, v, "address");
            } else if ((!strcmp(s, "media") || !strcmp(s, "signaling")) && !strcasecmp(k, "capacity")) {
                if (td_conf_int(v->value, 1, 1000000, &n) < 0) {
                    fprintf(stderr, "%s:%d: capacity must be a number from 1 to 1000000\n",
                            v->file, v->line);
                    rc = -1;
                } else if (!strcmp(s, process))
                    out->capacity = (uint32_t)n;
            } else if ((!strcmp(s, "media") || !strcmp(s, "signaling") || !strcmp(s, "router"))
                       && !strcasecmp(k, "identity")) {
                if (!strcmp(s, process))
                    rc = s_copy(out->identity, sizeof out->identity, v, "identity");
            } else {
                fprintf(stderr, "%s:%d: unknown setting '%s' in [%s]\n", v->file, v->line, k, s);
                rc = -1;
            }
        }
    }
    td_conf_destroy(&conf);
    return rc;
}

int td_settings_load(td_settings_t *out, const char *process, int argc, char **argv)
{
    memset(out, 0, sizeof *out);
    snprintf(out->confdir, sizeof out->confdir, "etc");
    snprintf(out->endpoint, sizeof out->endpoint, "tcp://127.0.0.1:5570");
    snprintf(out->cdrdir, sizeof out->cdrdir, "var/cdr-csv");
    /* sounds_dir and moh_dir stay "" unless set: the media worker then
     * searches where Debian and Asterisk put them (media/sound_dir.h). */
    snprintf(out->recordings_dir, sizeof out->recordings_dir, "var/recordings");
    snprintf(out->astdb, sizeof out->astdb, "var/astdb");
    out->loglevel = LOG_INFO;
    out->capacity = 2000;
    if (!strcmp(process, "router"))
        snprintf(out->identity, sizeof out->identity, "router");
    else
        snprintf(out->identity, sizeof out->identity, "%s-1",
                 !strcmp(process, "signaling") ? "sig" : process);

    const char *opt_identity = NULL, *opt_level = NULL;
    int c;
    optind = 1;
    while ((c = getopt(argc, argv, "c:i:l:h")) != -1) {
        switch (c) {
        case 'c':
            if (strlen(optarg) >= sizeof out->confdir) {
                fprintf(stderr, "tandem-%s: config path too long\n", process);
                return -1;
            }
            snprintf(out->confdir, sizeof out->confdir, "%s", optarg);
            break;
        case 'i': opt_identity = optarg; break;
        case 'l': opt_level = optarg; break;
        default:
            s_usage(process);
            return -1;
        }
    }
    if (optind < argc) {
        s_usage(process);
        return -1;
    }
    struct stat st;
    if (stat(out->confdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "tandem-%s: config directory '%s' not found\n", process, out->confdir);
        return -1;
    }
    if (s_read_file(out, process) < 0)
        return -1;
    if (opt_identity) {
        if (!*opt_identity || strlen(opt_identity) >= sizeof out->identity) {
            fprintf(stderr, "tandem-%s: bad identity '%s'\n", process, opt_identity);
            return -1;
        }
        snprintf(out->identity, sizeof out->identity, "%s", opt_identity);
    }
    if (opt_level) {
        int level = td_log_level_parse(opt_level);
        if (level < 0) {
            fprintf(stderr, "tandem-%s: unknown log level '%s'\n", process, opt_level);
            return -1;
        }
        out->loglevel = level;
    }
    return 0;
}

char *td_settings_local_ip(char *buf, size_t len)
{
    snprintf(buf, len, "127.0.0.1");
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0)
        return buf;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK)
            || !(i->ifa_flags & IFF_UP))
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, (socklen_t)len);
        break;
    }
    freeifaddrs(ifs);
    return buf;
}
