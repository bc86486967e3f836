/* Fuzz harness: bus envelopes into a media worker (media/worker.c, session,
 * ivr, sdp): the input is an Envelope as the router would send it
 * (protobuf-c unpack, as lib/td_bus.c does), dispatched by body to the
 * worker's handlers (the bus fake's dispatch over TD_BUS_MESSAGES). The
 * call it names is released afterwards, so that ports do not run out. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_media_t *fx = fuzz_media_get();
    Tandem__Envelope *env = tandem__envelope__unpack(NULL, size, data);
    if (!env)
        return 0;
    td_bus_fake_deliver(worker_bus(fx->worker), "router", env);
    fuzz_media_pump(fx);
    if (env->call_id && env->call_id[0]) {
        Tandem__MediaRelease rel = TANDEM__MEDIA_RELEASE__INIT;
        fuzz_media_deliver(fx, env->call_id, TANDEM__ENVELOPE__BODY_MEDIA_RELEASE, &rel);
    }
    tandem__envelope__free_unpacked(env, NULL);
    fuzz_media_pump(fx);
    td_bus_fake_reset();
    return 0;
}
