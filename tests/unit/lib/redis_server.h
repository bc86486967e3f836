/* A redis-server of a unit test's own: forked on a free loopback port, no
 * persistence, its folder under /tmp (header-only: test_td_store.c, test_dbsync.c,
 * test_adopt.c and test_sip_state.c include it). */
#ifndef TEST_REDIS_SERVER_H
#define TEST_REDIS_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint16_t g_port;
static pid_t g_redis;
static char g_dir[] = "/tmp/td-redis-test-XXXXXX";

static uint16_t s_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0
        || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        return 0;
    close(fd);
    return ntohs(a.sin_port);
}

static int s_port_open(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Start redis-server on g_port; 0 once it accepts connections. */
static int s_redis_start(void)
{
    char port[16];
    snprintf(port, sizeof port, "%u", g_port);
    g_redis = fork();
    if (g_redis == 0) {
        freopen("/dev/null", "w", stdout);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", "--dir", g_dir, "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        int status;
        if (waitpid(g_redis, &status, WNOHANG) == g_redis) {
            g_redis = 0;
            return -1;
        }
        if (s_port_open(g_port))
            return 0;
        s_sleep_ms(50);
    }
    return -1;
}

static void s_redis_kill(void)
{
    if (g_redis > 0) {
        kill(g_redis, SIGCONT);
        kill(g_redis, SIGKILL);
        waitpid(g_redis, NULL, 0);
    }
    g_redis = 0;
}

/* Check for redis-server, start it; 0, or -1 after saying why on stderr. */
static int s_redis_setup(const char *test)
{
    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        fprintf(stderr, "%s: redis-server is not installed (apt-get install redis-server; "
                        "`make test` installs it via tools/deps.sh)\n", test);
        return -1;
    }
    if (!mkdtemp(g_dir) || !(g_port = s_free_port()) || s_redis_start() < 0) {
        fprintf(stderr, "%s: cannot start redis-server on port %u: %s\n", test, g_port,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* Stop it and remove its folder; 0, or -1. */
static int s_redis_teardown(void)
{
    s_redis_kill();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
