/* srtp_peer - a phone's media side for the SRTP integration tests (libsrtp2).
 *
 *   srtp_peer --port P --target-file F --out JSON [--key B64] [--plain]
 *             [--ssrc N] [--count N] [--bad N] [--replay N] [--wait S] [--pidfile F]
 *
 * Binds 127.0.0.1:P (RTP) and P+1 (RTCP). Waits (at most --wait s) for the
 * file F, written by sipp from the other side's SDP:
 *     <ip> <port> [<taglen> <base64 key>]
 * then sends --count RTP packets of 160 bytes, PCMU, one per 20 ms, to
 * ip:port, and an RTCP sender report every 25 packets to ip:port+1. Unless
 * --plain, they are protected with --key (the key this phone put in its
 * a=crypto) and the suite of the file (the other side's answer), and what
 * arrives is unprotected with the file's key. --bad N makes N more packets
 * whose auth tag is spoiled, spread among the good ones: the switch must
 * drop them. --replay N sends N of the good packets twice, byte for byte
 * (a replay: the switch must drop the copy).
 *
 * Every payload byte is a function of the packet's SSRC and sequence
 * number, so a receiver checks each packet it gets, whoever sent it. At the
 * end (1 s after the last send) it writes JSON: sent, bad_sent, received
 * (RTP that unprotected and checked out), decrypted (RTP that unprotected,
 * whatever its payload: the switch's own prompts too), unprotect_failed,
 * payload_bad, ssrcs (decrypted packets per SSRC),
 * bad_echoed (packets with our SSRC and the sequence number of a spoiled
 * one: must be 0), replay_sent, dup_received (packets of our SSRC whose
 * sequence number came back before), rtcp_received, ssrcs seen, and target. Exit 0 when it
 * ran (the test judges the numbers), 1 on a usage or setup error. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <srtp2/srtp.h>

#include "sdp_crypto.h"           /* the worker's base64: unit-tested against RFC 4648 */

#define PAYLOAD 160
#define MAX_SSRCS 8

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint8_t s_byte(uint32_t ssrc, uint16_t seq, int i)
{
    return (uint8_t)(ssrc * 31u + seq * 7u + (unsigned)i * 13u);
}

static int s_create(srtp_t *ctx, int taglen, uint8_t *key, int inbound)
{
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    if (taglen == 32)
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p.rtp);
    else
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
    p.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
    p.key = key;
    p.window_size = 128;
    return srtp_create(ctx, &p) == srtp_err_status_ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    int port = 0, plain = 0, count = 100, bad = 0, replay = 0, wait_s = 15;
    uint32_t ssrc = 0x5150;
    const char *target_file = NULL, *out_file = NULL, *key64 = NULL, *pidfile = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--plain")) {
            plain = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "srtp_peer: %s needs a value\n", a);
            return 1;
        }
        i++;
        if (!strcmp(a, "--port"))
            port = atoi(v);
        else if (!strcmp(a, "--target-file"))
            target_file = v;
        else if (!strcmp(a, "--out"))
            out_file = v;
        else if (!strcmp(a, "--key"))
            key64 = v;
        else if (!strcmp(a, "--ssrc"))
            ssrc = (uint32_t)strtoul(v, NULL, 0);
        else if (!strcmp(a, "--count"))
            count = atoi(v);
        else if (!strcmp(a, "--bad"))
            bad = atoi(v);
        else if (!strcmp(a, "--replay"))
            replay = atoi(v);
        else if (!strcmp(a, "--wait"))
            wait_s = atoi(v);
        else if (!strcmp(a, "--pidfile"))
            pidfile = v;
        else {
            fprintf(stderr, "srtp_peer: unknown option %s\n", a);
            return 1;
        }
    }
    if (!port || !target_file || !out_file || (!plain && !key64) || count <= 0 ||
        count > 30000 || bad < 0 || bad > count) {
        fprintf(stderr, "usage: srtp_peer --port P --target-file F --out JSON "
                        "(--key B64 | --plain) [--ssrc N] [--count N] [--bad N] [--replay N] "
                        "[--wait S]\n");
        return 1;
    }
    if (pidfile) {
        FILE *f = fopen(pidfile, "w");
        if (f) {
            fprintf(f, "%d\n", (int)getpid());
            fclose(f);
        }
    }
    uint8_t our_key[64], their_key[64];
    if (!plain && sdp_base64_decode(key64, strlen(key64), our_key, sizeof our_key) != 30) {
        fprintf(stderr, "srtp_peer: --key is not 30 bytes of base64\n");
        return 1;
    }

    int fd[2];
    for (int k = 0; k < 2; k++) {
        fd[k] = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons((uint16_t)(port + k)) };
        me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd[k] < 0 || bind(fd[k], (struct sockaddr *)&me, sizeof me) < 0) {
            fprintf(stderr, "srtp_peer: bind %d: %s\n", port + k, strerror(errno));
            return 1;
        }
    }

    /* Wait for where to send (and the other side's key). */
    char ip[64] = "", their64[128] = "", line[512];
    int tport = 0, taglen = 80, got = 0;
    double give_up = s_now() + wait_s;
    while (s_now() < give_up) {
        FILE *f = fopen(target_file, "r");
        if (f) {
            int n = fgets(line, sizeof line, f) ? sscanf(line, "%63s %d %d %127s", ip, &tport,
                                                         &taglen, their64) : 0;
            fclose(f);
            if (n >= 2) {
                got = n;
                break;
            }
        }
        usleep(50000);
    }
    const char *error = NULL;
    srtp_t tx = NULL, rx = NULL;
    if (!got)
        error = "no target file";
    else if (!plain && got < 4)
        error = "the other side's SDP had no a=crypto";
    else if (!plain && sdp_base64_decode(their64, strlen(their64), their_key, sizeof their_key) != 30)
        error = "the other side's key is not 30 bytes of base64";
    else if (!plain && (srtp_init() != srtp_err_status_ok || s_create(&tx, taglen, our_key, 0) < 0 ||
                        s_create(&rx, taglen, their_key, 1) < 0))
        error = "libsrtp setup failed";

    int sent = 0, bad_sent = 0, received = 0, unprotect_failed = 0, payload_bad = 0;
    int bad_echoed = 0, decrypted = 0, replay_sent = 0, dup_received = 0;
    int rtcp_received = 0, rtcp_failed = 0, nssrc = 0;
    uint32_t ssrcs[MAX_SSRCS];
    int per_ssrc[MAX_SSRCS];
    static uint8_t bad_seq[65536 / 8], seen_seq[65536 / 8];
    if (!error) {
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)tport) };
        inet_pton(AF_INET, ip, &to.sin_addr);
        struct sockaddr_in to_rtcp = to;
        to_rtcp.sin_port = htons((uint16_t)(tport + 1));
        int total = count + bad, every = bad ? total / bad : 0;
        uint16_t seq = 1000;
        uint32_t ts = 0;
        double next = s_now(), end = 0;
        int n = 0;
        for (;;) {
            double now = s_now();
            if (n < total && now >= next) {
                uint8_t pkt[12 + PAYLOAD + 64];
                int spoil = bad_sent < bad && every && n % every == every / 2;
                pkt[0] = 0x80;
                pkt[1] = 0;
                pkt[2] = (uint8_t)(seq >> 8);
                pkt[3] = (uint8_t)seq;
                pkt[4] = (uint8_t)(ts >> 24);
                pkt[5] = (uint8_t)(ts >> 16);
                pkt[6] = (uint8_t)(ts >> 8);
                pkt[7] = (uint8_t)ts;
                pkt[8] = (uint8_t)(ssrc >> 24);
                pkt[9] = (uint8_t)(ssrc >> 16);
                pkt[10] = (uint8_t)(ssrc >> 8);
                pkt[11] = (uint8_t)ssrc;
                for (int i = 0; i < PAYLOAD; i++)
                    pkt[12 + i] = s_byte(ssrc, seq, i);
                int len = 12 + PAYLOAD;
                if (!plain && srtp_protect(tx, pkt, &len) != srtp_err_status_ok)
                    break;
                if (spoil) {
                    pkt[len - 1] ^= 0x55;        /* the auth tag */
                    bad_seq[seq / 8] |= (uint8_t)(1u << (seq % 8));
                    bad_sent++;
                } else {
                    sent++;
                }
                sendto(fd[0], pkt, (size_t)len, 0, (struct sockaddr *)&to, sizeof to);
                if (!spoil && replay_sent < replay && n % 20 == 10) {
                    sendto(fd[0], pkt, (size_t)len, 0, (struct sockaddr *)&to, sizeof to);
                    replay_sent++;
                }
                if (n % 25 == 24) {               /* an RTCP SR, no report blocks */
                    uint8_t sr[28 + 64] = { 0x80, 200, 0, 6 };
                    sr[4] = pkt[8];
                    sr[5] = pkt[9];
                    sr[6] = pkt[10];
                    sr[7] = pkt[11];
                    int rlen = 28;
                    if (plain || srtp_protect_rtcp(tx, sr, &rlen) == srtp_err_status_ok)
                        sendto(fd[1], sr, (size_t)rlen, 0, (struct sockaddr *)&to_rtcp,
                               sizeof to_rtcp);
                }
                seq++;
                ts += PAYLOAD;
                n++;
                next += 0.020;
                if (n == total)
                    end = now + 1.0;
            }
            if (n == total && now >= end)
                break;
            struct pollfd pfd[2] = { { fd[0], POLLIN, 0 }, { fd[1], POLLIN, 0 } };
            double until = n < total ? next : end;
            int ms = (int)((until - now) * 1000);
            if (poll(pfd, 2, ms < 0 ? 0 : ms) <= 0)
                continue;
            for (int k = 0; k < 2; k++) {
                if (!(pfd[k].revents & POLLIN))
                    continue;
                uint8_t buf[2048];
                ssize_t r = recv(fd[k], buf, sizeof buf, 0);
                if (r <= 0)
                    continue;
                int len = (int)r;
                if (k == 1) {
                    if (!plain && srtp_unprotect_rtcp(rx, buf, &len) != srtp_err_status_ok)
                        rtcp_failed++;
                    else if (len >= 8 && (buf[0] & 0xC0) == 0x80)
                        rtcp_received++;
                    continue;
                }
                if (!plain && srtp_unprotect(rx, buf, &len) != srtp_err_status_ok) {
                    unprotect_failed++;
                    continue;
                }
                if (len < 12 || (buf[0] & 0xC0) != 0x80) {
                    payload_bad++;
                    continue;
                }
                decrypted++;
                uint16_t rseq = (uint16_t)(buf[2] << 8 | buf[3]);
                uint32_t rssrc = (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 |
                                 (uint32_t)buf[10] << 8 | buf[11];
                int okp = len == 12 + PAYLOAD;
                for (int i = 0; i < PAYLOAD && okp; i++)
                    okp = buf[12 + i] == s_byte(rssrc, rseq, i);
                if (!okp)
                    payload_bad++;
                else
                    received++;
                if (okp && rssrc == ssrc && (bad_seq[rseq / 8] & (1u << (rseq % 8))))
                    bad_echoed++;
                if (okp && rssrc == ssrc) {
                    if (seen_seq[rseq / 8] & (1u << (rseq % 8)))
                        dup_received++;
                    seen_seq[rseq / 8] |= (uint8_t)(1u << (rseq % 8));
                }
                int s = 0;
                while (s < nssrc && ssrcs[s] != rssrc)
                    s++;
                if (s == nssrc && nssrc < MAX_SSRCS) {
                    ssrcs[nssrc] = rssrc;
                    per_ssrc[nssrc++] = 0;
                }
                if (s < nssrc)
                    per_ssrc[s]++;
            }
        }
    }
    FILE *o = fopen(out_file, "w");
    if (!o)
        return 1;
    fprintf(o, "{\"error\": \"%s\", \"target\": \"%s:%d\", \"srtp\": %s, \"taglen\": %d, "
               "\"sent\": %d, \"bad_sent\": %d, \"received\": %d, \"decrypted\": %d, "
               "\"unprotect_failed\": %d, "
               "\"payload_bad\": %d, \"bad_echoed\": %d, \"replay_sent\": %d, "
               "\"dup_received\": %d, \"rtcp_received\": %d, "
               "\"rtcp_failed\": %d, \"ssrcs\": {",
            error ? error : "", ip, tport, plain ? "false" : "true", plain ? 0 : taglen, sent,
            bad_sent, received, decrypted, unprotect_failed, payload_bad, bad_echoed, replay_sent,
            dup_received, rtcp_received,
            rtcp_failed);
    for (int s = 0; s < nssrc; s++)
        fprintf(o, "%s\"0x%x\": %d", s ? ", " : "", ssrcs[s], per_ssrc[s]);
    fprintf(o, "}}\n");
    fclose(o);
    if (tx)
        srtp_dealloc(tx);
    if (rx)
        srtp_dealloc(rx);
    return 0;
}
