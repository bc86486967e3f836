/* Fuzz harness: bus envelopes into signaling: the input is an Envelope as
 * a peer would send it (protobuf-c unpack, as lib/td_bus.c does), dispatched
 * by body to the core's handlers (the bus fake's dispatch, the same switch
 * over TD_BUS_MESSAGES) as if the router had sent it; then packed again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sig_t *fx = fuzz_sig_get();
    Tandem__Envelope *env = tandem__envelope__unpack(NULL, size, data);
    if (!env)
        return 0;
    size_t n = tandem__envelope__get_packed_size(env);
    uint8_t *buf = malloc(n ? n : 1);
    tandem__envelope__pack(env, buf);
    free(buf);
    td_bus_fake_deliver(fx->bus, (size & 1) ? "router" : "media-1", env);
    tandem__envelope__free_unpacked(env, NULL);
    fuzz_sig_pump(fx);
    return 0;
}
