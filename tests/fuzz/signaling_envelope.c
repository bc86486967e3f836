/* Fuzz harness: bus envelopes into signaling: the input is an Envelope as
 * a peer would send it (protobuf-c unpack, as lib/td_bus.c does), dispatched
 * by body to the core's handlers (the bus fake's dispatch, the same switch
 * over TD_BUS_MESSAGES) as if the router had sent it; then packed again.
 * There is a live call (an INVITE from the trunk, waiting for the router):
 * an envelope without a call id, or with one starting "sig-f", is sent for
 * it, so that Progress, Answer, MediaOffered, Reinvite, Hangup... reach a
 * leg that exists. Every 16 inputs (or after a Hangup) a new call. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sig_t *fx = fuzz_sig_get();
    static unsigned n;
    Tandem__Envelope *env = tandem__envelope__unpack(NULL, size, data);
    if (!env)
        return 0;
    size_t len = tandem__envelope__get_packed_size(env);
    uint8_t *buf = malloc(len ? len : 1);
    tandem__envelope__pack(env, buf);
    free(buf);
    if (++n % 16 == 0 && fx->call_id[0]) {
        Tandem__Hangup h = TANDEM__HANGUP__INIT;
        h.cause = 16;
        Tandem__Envelope end = TANDEM__ENVELOPE__INIT;
        end.call_id = fx->call_id;
        end.body_case = TANDEM__ENVELOPE__BODY_HANGUP;
        end.hangup = &h;
        td_bus_fake_deliver(fx->bus, "router", &end);
        fuzz_sig_pump(fx);
        fx->call_id[0] = '\0';
    }
    if (!fx->call_id[0])
        fuzz_sig_call(fx);
    char *own = env->call_id;
    if (!own || !own[0] || strncmp(own, "sig-f", 5) == 0)
        env->call_id = fx->call_id;
    td_bus_fake_deliver(fx->bus, (size & 1) ? "router" : "media-1", env);
    if (env->call_id == fx->call_id && env->body_case == TANDEM__ENVELOPE__BODY_HANGUP)
        fx->call_id[0] = '\0';
    env->call_id = own;
    tandem__envelope__free_unpacked(env, NULL);
    fuzz_sig_pump(fx);
    return 0;
}
