/* rtp_load - G.711 RTP for N bridged calls through Tandem, with round trip
 * and loss. The phones' media side of bench/media_scale.sh.
 *
 *   rtp_load -n CALLS -o DIR [-b ADDR] [-s SETUP_S] [-S SETTLE_S] [-w WINDOW_S]
 *            [-p NAME=PID]...
 *
 * At start it binds CALLS caller and CALLS callee UDP sockets on ADDR
 * (default 127.0.0.1, ports chosen by the kernel) and writes them as sipp
 * injection files DIR/caller.csv and DIR/callee.csv (SEQUENTIAL, one port a
 * line), then prints "ready". sipp puts field0 in its SDP (the UAC's offer,
 * the UAS's answer) and, through <log>, appends "PORT ADDR MPORT" to
 * DIR/caller.targets (from the 200's SDP: where the caller sends) and
 * DIR/callee.targets (from the INVITE's SDP: where the callee sends).
 *
 * Each caller sends a 172-byte RTP packet (12-byte header, 160-byte PCMU
 * payload) every 20 ms to its target, carrying its index, a sequence number
 * and the send time; each callee sends every packet it gets back to its own
 * target (the worker's other side); the caller takes the round trip. Sends
 * are spread over 40 slots of 0.5 ms, so CALLS/40 packets leave together.
 * After a stall the slots missed are caught up at no more than twice the
 * rate (one extra slot a tick; at most 100 ms of them, the rest are
 * dropped), so a stall of ours does not become a burst at the worker.
 *
 * The round trip (p50_us, p99_us) runs from the send to the kernel's arrival
 * time at the caller (SO_TIMESTAMPNS) less the callee's time from arrival to
 * its send back (carried in the packet), so this process's own scheduling
 * delays (it shares the cores) are not counted; raw_p50_us/raw_p99_us run
 * from the send to our reading it back.
 *
 * Once every call has both targets (within SETUP_S seconds, else it fails),
 * it lets SETTLE_S seconds pass, then counts the packets sent in a
 * WINDOW_S-second window: how many reached a callee (forward loss), how many
 * of those came back (return loss), and their round trips (histograms in
 * 10 us buckets: nothing is allocated after start). It stops sending at the
 * window's end, waits 0.5 s for the last packets, and prints:
 *   result ...     counts, losses (%), round trips (us), offered (% of the
 *                  packets due that were sent)
 *   cpu ...        utime+stime over the window, % of one core, of itself and
 *                  of each -p NAME=PID, and how busy the host was (% of all)
 *   held ...       for each NAME starting with "media": the calls it held
 *                  (its socket descriptors at the window's start less those
 *                  at our start, over 4: a call holds two RTP/RTCP pairs)
 *   addresses ...  calls per worker address (the callers' targets)
 * Exit 0 when it measured, 2 when the calls did not come up in time.
 *
 * One process, one epoll loop (no libevent: one timerfd and the sockets are
 * all it waits on), one socket per leg, no allocation per packet. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#define LOAD_PKT       172               /* 12 RTP + 160 PCMU (20 ms) */
#define LOAD_SLOTS     40                /* 40 x 0.5 ms = 20 ms */
#define LOAD_TICK_NS   500000L
#define LOAD_BUCKET_NS 10000L            /* RTT histogram: 10 us buckets */
#define LOAD_BUCKETS   10000             /* up to 100 ms; beyond: the last */
#define LOAD_MAGIC     0x54444c44u       /* "TDLD" */
#define LOAD_PIDS      16
#define LOAD_ADDRS     16

enum { SIDE_CALLER = 0, SIDE_CALLEE = 1 };
enum { PH_SETUP, PH_SETTLE, PH_MEASURE, PH_GRACE };

typedef struct {
    int fd;
    uint16_t port;
    int has_target;
    struct sockaddr_in target;
    uint32_t seq;
} leg_t;

typedef struct {                         /* our payload, after the RTP header */
    uint32_t magic, call, seq, pad;
    uint64_t sent_ns;                    /* the caller's send time */
    uint64_t held_ns;                    /* callee: kernel arrival to its send back */
} stamp_t;

typedef struct {
    char name[32];
    int pid;
    unsigned long long cpu0, cpu1;
    int sockets_start, sockets_w0;
} watch_t;

typedef struct {
    struct in_addr addr;
    int calls;
} addr_count_t;

typedef struct {
    const char *path;
    FILE *fp;
    char line[256];
    size_t len;
    int side;
} targets_t;

typedef struct {
    int n;
    leg_t *legs[2];
    int32_t *by_port[2];                 /* local port -> call index, -1 */
    int with_target[2];
    targets_t targets[2];
    int ep, tfd;
    int phase;
    uint64_t t_start, t_phase;           /* ns, CLOCK_MONOTONIC */
    uint64_t w0, w1;
    int setup_s, settle_s, window_s;
    unsigned slot;
    /* window counters */
    uint64_t sent, fwd, back, misrouted, late_target, bad, send_err;
    uint64_t hist[LOAD_BUCKETS];         /* round trip less our own delays */
    uint64_t raw[LOAD_BUCKETS];          /* send to our reading it back */
    uint64_t rtt_max, raw_max;
    uint64_t backlog;                    /* slots due, not yet sent */
    watch_t watch[LOAD_PIDS];
    int nwatch;
    int done;
    uint64_t ticks;
    unsigned long long self_cpu0, self_cpu1, idle0, idle1;
    uint64_t cpu_t0, cpu_t1;             /* when the CPU counters were read */
    addr_count_t addrs[LOAD_ADDRS];
    int naddrs;
} load_t;

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static uint64_t s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);     /* the clock of SO_TIMESTAMPNS */
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* utime + stime of PID (0: ourselves), in clock ticks. */
static unsigned long long s_cpu(int pid)
{
    char path[64], buf[1024];
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
    else
        snprintf(path, sizeof path, "/proc/self/stat");
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    char *p = strrchr(buf, ')');         /* comm may hold spaces */
    if (!p)
        return 0;
    unsigned long long ut = 0, st = 0;
    /* after ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return ut + st;
}

/* Idle (and iowait) clock ticks of all CPUs, /proc/stat's first line. The
 * busy share is 1 - idle / elapsed: under a tickless kernel the idle time is
 * exact, while the busy counters are sampled at ticks and miss the short
 * wake-ups that packet work is made of. */
static unsigned long long s_host_idle(void)
{
    unsigned long long v[5] = { 0 };
    FILE *fp = fopen("/proc/stat", "r");
    if (!fp)
        return 0;
    int n = fscanf(fp, "cpu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4]);
    fclose(fp);
    return n == 5 ? v[3] + v[4] : 0;
}

static int s_sockets(int pid)
{
    char path[64], target[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        ssize_t k = readlinkat(dirfd(d), e->d_name, target, sizeof target - 1);
        if (k > 7 && strncmp(target, "socket:", 7) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static int s_bind(const struct in_addr *addr, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = *addr };
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        fprintf(stderr, "rtp_load: socket/bind: %s\n", strerror(errno));
        return -1;
    }
    socklen_t len = sizeof sin;
    getsockname(fd, (struct sockaddr *)&sin, &len);
    *port = ntohs(sin.sin_port);
    int size = 1 << 18, on = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    return fd;
}

static int s_write_csv(const char *dir, const char *name, const leg_t *legs, int n)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *fp = fopen(tmp, "w");
    if (!fp)
        return -1;
    fprintf(fp, "SEQUENTIAL\n");
    for (int i = 0; i < n; i++)
        fprintf(fp, "%u;\n", legs[i].port);
    if (fclose(fp) != 0 || rename(tmp, path) != 0)
        return -1;
    return 0;
}

static void s_count_addr(load_t *self, struct in_addr a)
{
    for (int i = 0; i < self->naddrs; i++)
        if (self->addrs[i].addr.s_addr == a.s_addr) {
            self->addrs[i].calls++;
            return;
        }
    if (self->naddrs < LOAD_ADDRS)
        self->addrs[self->naddrs++] = (addr_count_t){ a, 1 };
}

/* One line "PORT ADDR MPORT" of a targets file. */
static void s_target_line(load_t *self, int side, const char *line)
{
    unsigned port, mport;
    char addr[64];
    struct in_addr a;
    if (sscanf(line, "%u %63s %u", &port, addr, &mport) != 3 || port > 65535 ||
        mport == 0 || mport > 65535 || inet_pton(AF_INET, addr, &a) != 1) {
        fprintf(stderr, "rtp_load: bad target line '%s'\n", line);
        return;
    }
    int i = self->by_port[side][port];
    if (i < 0) {
        fprintf(stderr, "rtp_load: target for unknown port %u\n", port);
        return;
    }
    leg_t *leg = &self->legs[side][i];
    if (!leg->has_target) {
        self->with_target[side]++;
        if (side == SIDE_CALLER)
            s_count_addr(self, a);
    }
    leg->target = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr = a,
                                        .sin_port = htons((uint16_t)mport) };
    leg->has_target = 1;
}

/* New lines of a targets file (sipp appends; we read what is there). */
static void s_poll_targets(load_t *self, targets_t *t)
{
    if (!t->fp) {
        t->fp = fopen(t->path, "r");
        if (!t->fp)
            return;
    }
    int c;
    clearerr(t->fp);
    while ((c = getc(t->fp)) != EOF) {
        if (c == '\n') {
            t->line[t->len] = 0;
            if (t->len)
                s_target_line(self, t->side, t->line);
            t->len = 0;
        } else if (t->len < sizeof t->line - 1) {
            t->line[t->len++] = (char)c;
        }
    }
}

static void s_send(load_t *self, int i, uint64_t now)
{
    leg_t *leg = &self->legs[SIDE_CALLER][i];
    unsigned char pkt[LOAD_PKT];
    uint32_t seq = leg->seq++;
    pkt[0] = 0x80;
    pkt[1] = 0;                          /* PT 0, PCMU */
    uint16_t s16 = htons((uint16_t)seq);
    uint32_t ts = htonl(seq * 160u), ssrc = htonl(0x10000u + (uint32_t)i);
    memcpy(pkt + 2, &s16, 2);
    memcpy(pkt + 4, &ts, 4);
    memcpy(pkt + 8, &ssrc, 4);
    stamp_t st = { LOAD_MAGIC, (uint32_t)i, seq, 0, now, 0 };
    memcpy(pkt + 12, &st, sizeof st);
    memset(pkt + 12 + sizeof st, 0xff, LOAD_PKT - 12 - sizeof st);   /* PCMU silence */
    if (sendto(leg->fd, pkt, sizeof pkt, 0, (struct sockaddr *)&leg->target,
               sizeof leg->target) != (ssize_t)sizeof pkt) {
        self->send_err++;
        return;
    }
    if (now >= self->w0 && now < self->w1)
        self->sent++;
}

static int s_in_window(const load_t *self, uint64_t t)
{
    return self->w0 && t >= self->w0 && t < self->w1;
}

static void s_hist(uint64_t *hist, uint64_t *max, uint64_t ns)
{
    size_t b = ns / LOAD_BUCKET_NS;
    hist[b < LOAD_BUCKETS ? b : LOAD_BUCKETS - 1]++;
    if (ns > *max)
        *max = ns;
}

/* Packets on one of our sockets. The kernel's arrival time (SO_TIMESTAMPNS)
 * takes our own wake-up delay out: a callee adds the time from arrival to
 * its send back (held_ns), and the caller subtracts it, so the round trip is
 * the switch's (and the kernel's), not this process's scheduling. */
static void s_readable(load_t *self, int side, int i)
{
    leg_t *leg = &self->legs[side][i];
    unsigned char pkt[2048];
    union {
        char buf[CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
    } ctl;
    /* One packet a wake-up: a leg gets one each 20 ms, and a second recvmsg
     * would mostly cost a syscall for EAGAIN (epoll is level-triggered, so a
     * second packet, if any, wakes us again). */
    for (int k = 0; k < 1; k++) {
        struct iovec iov = { pkt, sizeof pkt };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                             .msg_controllen = sizeof ctl.buf };
        ssize_t n = recvmsg(leg->fd, &mh, 0);
        if (n < 0)
            return;
        uint64_t now = s_now(), arrived = now;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(cm), sizeof ts);
            arrived = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        }
        stamp_t st;
        if (n < (ssize_t)(12 + sizeof st)) {
            self->bad++;
            continue;
        }
        memcpy(&st, pkt + 12, sizeof st);
        if (st.magic != LOAD_MAGIC || st.call >= (uint32_t)self->n) {
            self->bad++;
            continue;
        }
        int win = s_in_window(self, st.sent_ns);
        if (side == SIDE_CALLEE) {
            if (win)
                self->fwd++;
            if (!leg->has_target) {
                self->late_target++;
                continue;
            }
            st.held_ns = s_now() - arrived;
            memcpy(pkt + 12, &st, sizeof st);
            if (sendto(leg->fd, pkt, (size_t)n, 0, (struct sockaddr *)&leg->target,
                       sizeof leg->target) != n)
                self->send_err++;
            continue;
        }
        if (st.call != (uint32_t)i) {
            self->misrouted++;
            continue;
        }
        if (!win)
            continue;
        self->back++;
        uint64_t rtt = arrived - st.sent_ns;
        rtt = rtt > st.held_ns ? rtt - st.held_ns : 0;
        s_hist(self->hist, &self->rtt_max, rtt);
        s_hist(self->raw, &self->raw_max, now - st.sent_ns);
    }
}

static double s_percentile(const load_t *self, const uint64_t *hist, uint64_t max, double p)
{
    if (!self->back)
        return -1;
    uint64_t want = (uint64_t)(p * (double)self->back + 0.999999), seen = 0;
    for (int b = 0; b < LOAD_BUCKETS; b++) {
        seen += hist[b];
        if (seen >= want)
            return (double)(b + 1) * LOAD_BUCKET_NS / 1000.0;   /* upper edge, us */
    }
    return (double)max / 1000.0;
}

static void s_window_start(load_t *self)
{
    self->cpu_t0 = s_now();
    self->self_cpu0 = s_cpu(0);
    self->idle0 = s_host_idle();
    for (int k = 0; k < self->nwatch; k++) {
        self->watch[k].cpu0 = s_cpu(self->watch[k].pid);
        self->watch[k].sockets_w0 = s_sockets(self->watch[k].pid);
    }
}

static void s_window_end(load_t *self)
{
    self->cpu_t1 = s_now();
    self->self_cpu1 = s_cpu(0);
    self->idle1 = s_host_idle();
    for (int k = 0; k < self->nwatch; k++)
        self->watch[k].cpu1 = s_cpu(self->watch[k].pid);
}

static void s_report(load_t *self)
{
    double wall = (double)(self->w1 - self->w0) / 1e9;
    double tck = (double)sysconf(_SC_CLK_TCK);
    double cpu_wall = (double)(self->cpu_t1 - self->cpu_t0) / 1e9;
    double cores = (double)sysconf(_SC_NPROCESSORS_ONLN);
    double lf = self->sent ? 100.0 * (double)(self->sent - self->fwd) / (double)self->sent : 100;
    double lb = self->fwd ? 100.0 * (double)(self->fwd - self->back) / (double)self->fwd : 100;
    double lt = self->sent ? 100.0 * (double)(self->sent - self->back) / (double)self->sent : 100;
    double offered = 100.0 * (double)self->sent / (50.0 * self->n * wall);
    printf("result calls=%d window_s=%.1f sent=%llu fwd=%llu back=%llu loss_fwd=%.4f "
           "loss_back=%.4f loss=%.4f p50_us=%.0f p99_us=%.0f max_us=%.0f raw_p50_us=%.0f "
           "raw_p99_us=%.0f raw_max_us=%.0f offered=%.2f misrouted=%llu bad=%llu send_err=%llu "
           "unreflected=%llu\n",
           self->n, wall, (unsigned long long)self->sent, (unsigned long long)self->fwd,
           (unsigned long long)self->back, lf, lb, lt,
           s_percentile(self, self->hist, self->rtt_max, 0.50),
           s_percentile(self, self->hist, self->rtt_max, 0.99), (double)self->rtt_max / 1000.0,
           s_percentile(self, self->raw, self->raw_max, 0.50),
           s_percentile(self, self->raw, self->raw_max, 0.99), (double)self->raw_max / 1000.0,
           offered, (unsigned long long)self->misrouted, (unsigned long long)self->bad,
           (unsigned long long)self->send_err, (unsigned long long)self->late_target);
    double idle = (double)(self->idle1 - self->idle0) / tck / cpu_wall / cores;
    printf("cpu host_busy=%.1f generator=%.1f", self->idle1 ? 100.0 * (1.0 - idle) : -1.0,
           100.0 * (double)(self->self_cpu1 - self->self_cpu0) / tck / cpu_wall);
    for (int k = 0; k < self->nwatch; k++) {
        watch_t *w = &self->watch[k];
        printf(" %s=%.1f", w->name,
               w->cpu1 ? 100.0 * (double)(w->cpu1 - w->cpu0) / tck / cpu_wall : -1.0);
    }
    printf("\n");
    printf("held");
    for (int k = 0; k < self->nwatch; k++) {
        watch_t *w = &self->watch[k];
        if (strncmp(w->name, "media", 5) != 0)
            continue;
        if (w->sockets_start < 0 || w->sockets_w0 < 0)
            printf(" %s=?", w->name);
        else
            printf(" %s=%d", w->name, (w->sockets_w0 - w->sockets_start) / 4);
    }
    printf("\n");
    printf("addresses");
    for (int k = 0; k < self->naddrs; k++)
        printf(" %s=%d", inet_ntoa(self->addrs[k].addr), self->addrs[k].calls);
    printf("\n");
    fflush(stdout);
}

static void s_tick(load_t *self, uint64_t expirations)
{
    uint64_t now = s_now();
    self->backlog += expirations;
    if (self->backlog > 5 * LOAD_SLOTS)   /* over 100 ms behind: drop the rest */
        self->backlog = 5 * LOAD_SLOTS;
    unsigned todo = self->backlog < 2 ? (unsigned)self->backlog : 2;
    self->backlog -= todo;
    if (self->phase == PH_GRACE)
        todo = 0;
    for (unsigned e = 0; e < todo; e++) {
        unsigned slot = self->slot;
        self->slot = (self->slot + 1) % LOAD_SLOTS;
        for (int i = (int)slot; i < self->n; i += LOAD_SLOTS)
            if (self->legs[SIDE_CALLER][i].has_target)
                s_send(self, i, s_now());
    }
    switch (self->phase) {
    case PH_SETUP:
        self->ticks += expirations;
        if (self->ticks >= 20) {         /* every 10 ms */
            self->ticks = 0;
            s_poll_targets(self, &self->targets[0]);
            s_poll_targets(self, &self->targets[1]);
        }
        if (self->with_target[0] == self->n && self->with_target[1] == self->n) {
            fprintf(stderr, "rtp_load: %d calls up after %.1f s; settling %d s, measuring %d s\n",
                    self->n, (double)(now - self->t_start) / 1e9, self->settle_s, self->window_s);
            self->phase = PH_SETTLE;
            self->w0 = now + (uint64_t)self->settle_s * 1000000000ull;
            self->w1 = self->w0 + (uint64_t)self->window_s * 1000000000ull;
        } else if (now - self->t_start > (uint64_t)self->setup_s * 1000000000ull) {
            printf("result calls=%d up=%d/%d setup_timeout=%d\n", self->n,
                   self->with_target[0], self->with_target[1], self->setup_s);
            fflush(stdout);
            s_stop = 2;
        }
        break;
    case PH_SETTLE:
        if (now >= self->w0) {
            s_window_start(self);
            self->phase = PH_MEASURE;
        }
        break;
    case PH_MEASURE:
        if (now >= self->w1) {
            s_window_end(self);
            self->phase = PH_GRACE;
        }
        break;
    case PH_GRACE:
        if (now >= self->w1 + 500000000ull) {
            s_report(self);
            self->done = 1;
            s_stop = 1;
        }
        break;
    }
}

static void s_usage(void)
{
    fprintf(stderr, "usage: rtp_load -n CALLS -o DIR [-b ADDR] [-s SETUP_S] [-S SETTLE_S] "
            "[-w WINDOW_S] [-p NAME=PID]...\n");
    exit(1);
}

int main(int argc, char **argv)
{
    static load_t self;                  /* big (the histogram): not on the stack */
    const char *dir = NULL, *bind_to = "127.0.0.1";
    self.setup_s = 30;
    self.settle_s = 2;
    self.window_s = 10;
    int c;
    while ((c = getopt(argc, argv, "n:o:b:s:S:w:p:")) != -1) {
        switch (c) {
        case 'n': self.n = atoi(optarg); break;
        case 'o': dir = optarg; break;
        case 'b': bind_to = optarg; break;
        case 's': self.setup_s = atoi(optarg); break;
        case 'S': self.settle_s = atoi(optarg); break;
        case 'w': self.window_s = atoi(optarg); break;
        case 'p': {
            char *eq = strchr(optarg, '=');
            if (!eq || self.nwatch == LOAD_PIDS)
                s_usage();
            watch_t *w = &self.watch[self.nwatch++];
            snprintf(w->name, sizeof w->name, "%.*s", (int)(eq - optarg), optarg);
            w->pid = atoi(eq + 1);
            break;
        }
        default: s_usage();
        }
    }
    struct in_addr addr;
    if (!dir || self.n < 1 || self.n > 30000 || self.window_s < 1 || self.setup_s < 1 ||
        inet_pton(AF_INET, bind_to, &addr) != 1)
        s_usage();
    signal(SIGTERM, s_on_signal);
    signal(SIGINT, s_on_signal);
    for (int k = 0; k < self.nwatch; k++)
        self.watch[k].sockets_start = s_sockets(self.watch[k].pid);

    self.ep = epoll_create1(EPOLL_CLOEXEC);
    for (int side = 0; side < 2; side++) {
        self.legs[side] = calloc((size_t)self.n, sizeof *self.legs[side]);
        self.by_port[side] = malloc(65536 * sizeof *self.by_port[side]);
        if (!self.legs[side] || !self.by_port[side])
            return 1;
        memset(self.by_port[side], 0xff, 65536 * sizeof *self.by_port[side]);
        for (int i = 0; i < self.n; i++) {
            leg_t *leg = &self.legs[side][i];
            leg->fd = s_bind(&addr, &leg->port);
            if (leg->fd < 0)
                return 1;
            self.by_port[side][leg->port] = i;
            struct epoll_event ev = { .events = EPOLLIN,
                                      .data.u64 = ((uint64_t)side << 32) | (uint32_t)i };
            epoll_ctl(self.ep, EPOLL_CTL_ADD, leg->fd, &ev);
        }
    }
    char path[2][PATH_MAX];
    snprintf(path[0], sizeof path[0], "%s/caller.targets", dir);
    snprintf(path[1], sizeof path[1], "%s/callee.targets", dir);
    for (int side = 0; side < 2; side++)
        self.targets[side] = (targets_t){ .path = path[side], .side = side };
    if (s_write_csv(dir, "caller.csv", self.legs[0], self.n) < 0 ||
        s_write_csv(dir, "callee.csv", self.legs[1], self.n) < 0) {
        fprintf(stderr, "rtp_load: cannot write the csv files in %s\n", dir);
        return 1;
    }
    self.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec its = { .it_interval = { 0, LOAD_TICK_NS }, .it_value = { 0, LOAD_TICK_NS } };
    timerfd_settime(self.tfd, 0, &its, NULL);
    struct epoll_event tev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
    epoll_ctl(self.ep, EPOLL_CTL_ADD, self.tfd, &tev);
    self.t_start = s_now();
    printf("ready %d calls on %s\n", self.n, bind_to);
    fflush(stdout);

    struct epoll_event evs[256];
    while (!s_stop) {
        int n = epoll_wait(self.ep, evs, 256, 100);
        for (int k = 0; k < n; k++) {
            uint64_t d = evs[k].data.u64;
            if (d == UINT64_MAX) {
                uint64_t exp;
                if (read(self.tfd, &exp, sizeof exp) == sizeof exp)
                    s_tick(&self, exp);
                continue;
            }
            s_readable(&self, (int)(d >> 32), (int)(uint32_t)d);
        }
    }
    int rc = self.done ? 0 : 2;
    for (int side = 0; side < 2; side++) {
        for (int i = 0; i < self.n; i++)
            close(self.legs[side][i].fd);
        free(self.legs[side]);
        free(self.by_port[side]);
        if (self.targets[side].fp)
            fclose(self.targets[side].fp);
    }
    close(self.tfd);
    close(self.ep);
    return rc;
}
