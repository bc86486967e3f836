/* rtp_stats_cost - the CPU a media worker spends per received packet on call
 * quality (media/session.c's s_quality: a clock read and rtp_stats_rtp),
 * measured in thread CPU time so that other load on the host matters less.
 *
 *   cc -O2 -Imedia -o build/bench/rtp_stats_cost bench/rtp_stats_cost.c media/rtp_stats.c
 *   build/bench/rtp_stats_cost [PACKETS]
 *
 * Prints ns per packet for the quality update and, for scale, for one
 * sendto() of 172 bytes on loopback (the relay's own per-packet syscall). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rtp_stats.h"

static double s_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000000;
    uint8_t pkt[172];
    memset(pkt, 0, sizeof pkt);
    pkt[0] = 0x80;
    rtp_stats_t st;
    rtp_stats_init(&st);
    double t0 = s_cpu_ns();
    for (long i = 0; i < n; i++) {
        uint16_t seq = (uint16_t)i;
        uint32_t ts32 = (uint32_t)i * 160u;
        pkt[2] = (uint8_t)(seq >> 8);
        pkt[3] = (uint8_t)seq;
        pkt[4] = (uint8_t)(ts32 >> 24);
        pkt[5] = (uint8_t)(ts32 >> 16);
        pkt[6] = (uint8_t)(ts32 >> 8);
        pkt[7] = (uint8_t)ts32;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
        rtp_stats_rtp(&st, pkt, sizeof pkt, ns, (pkt[1] & 0x7F) != 101);
    }
    double per = (s_cpu_ns() - t0) / (double)n;
    printf("quality update: %.1f ns/packet over %ld packets (expected %llu, lost %lld)\n", per, n,
           (unsigned long long)rtp_stats_expected(&st), (long long)rtp_stats_lost(&st));

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    long m = n / 100 > 10000 ? n / 100 : 10000;
    t0 = s_cpu_ns();
    for (long i = 0; i < m; i++)
        sendto(fd, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to);
    printf("sendto, for scale: %.1f ns/packet\n", (s_cpu_ns() - t0) / (double)m);
    close(fd);
    return 0;
}
