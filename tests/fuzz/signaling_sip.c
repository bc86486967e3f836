/* Fuzz harness: the SIP path through signaling's core (signaling/sip_txn.c,
 * sip_core.c, sip_legs.c, sip_auth.c, sip_registrar.c, ... on osip's parser)
 * with the bus fake for the routers. The input is one or more datagrams,
 * separated by four NUL bytes, fed to sip_transport_input_udp(): the entry
 * point the UDP listener uses, from the "phone" socket's address (the
 * answers come back there). State carries over between inputs, as in a
 * process: dialogs, registrations and transactions a message made. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sig_t *fx = fuzz_sig_get();
    static const char sep[4] = { 0, 0, 0, 0 };
    const char *p = (const char *)data;
    size_t left = size;
    for (int i = 0; i < 8 && left; i++) {
        const char *end = memmem(p, left, sep, sizeof sep);
        size_t n = end ? (size_t)(end - p) : left;
        if (n) {
            /* A datagram of its own, exactly n bytes: an over-read is ASan's. */
            char *dgram = malloc(n);
            memcpy(dgram, p, n);
            sip_transport_input_udp(fx->tp, dgram, n, &fx->ph);
            free(dgram);
            fuzz_sig_pump(fx);
        }
        if (!end)
            break;
        p = end + sizeof sep;
        left -= n + sizeof sep;
    }
    return 0;
}
