/* Fuzz harness: SIP over TCP/TLS stream framing (signaling/sip_transport.c,
 * sip_transport_frame), run as a connection's read loop runs it: frame the
 * bytes, step past each message, a rejected or closed stream ends. The first
 * byte picks the size limit (small ones reach the "longer than max" paths),
 * the rest is the stream. Each result must lie inside the buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "sip_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const size_t maxes[] = { 65535, 4096, 512, 64 };
    size_t max = maxes[data[0] & 3];
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    /* Fed in pieces too: the first half, then all of it, as TCP delivers. */
    for (int pass = 0; pass < 2; pass++) {
        size_t at = 0, end = pass == 0 ? len / 2 : len;
        while (at < end) {
            size_t skip = 0, n = 0;
            sip_frame_t f = sip_transport_frame(buf + at, end - at, max, &skip, &n);
            if (skip > end - at)
                abort();
            if (f == SIP_FRAME_WAIT) {
                if (skip == 0)
                    break;
                at += skip;
                continue;
            }
            if (f == SIP_FRAME_CLOSE)
                break;
            if (n == 0 || n > end - at - skip)
                abort();                /* a message or a header block outside the bytes */
            if (f == SIP_FRAME_REJECT)
                break;
            at += skip + n;
        }
    }
    return 0;
}
