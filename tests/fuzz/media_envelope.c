/* Fuzz harness: bus envelopes into a media worker (media/worker.c, session,
 * ivr, sdp): the input is an Envelope as the router would send it
 * (protobuf-c unpack, as lib/td_bus.c does), dispatched by body to the
 * worker's handlers (the bus fake's dispatch over TD_BUS_MESSAGES). There is
 * a live call (a MediaOffer from a phone at the phone socket): an envelope
 * without a call id, or with one starting "sig-f", is sent for it, so that
 * MediaAnswer, MediaPlay, MediaReoffer... reach a session that exists; it is
 * released and opened again every 16 inputs. A call of another id is
 * released at once, so that ports do not run out. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_media.h"

static const char *const s_call = "fz-media";

static void s_open(fuzz_media_t *fx)
{
    char sdp[512];
    snprintf(sdp, sizeof sdp,
             "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             "m=audio %u RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n",
             fx->phone_port);
    Tandem__MediaOffer offer = TANDEM__MEDIA_OFFER__INIT;
    offer.sdp = sdp;
    fuzz_media_deliver(fx, s_call, TANDEM__ENVELOPE__BODY_MEDIA_OFFER, &offer);
}

static void s_release(fuzz_media_t *fx, const char *call_id)
{
    Tandem__MediaRelease rel = TANDEM__MEDIA_RELEASE__INIT;
    fuzz_media_deliver(fx, call_id, TANDEM__ENVELOPE__BODY_MEDIA_RELEASE, &rel);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_media_t *fx = fuzz_media_get();
    static unsigned n;
    static int open;
    Tandem__Envelope *env = tandem__envelope__unpack(NULL, size, data);
    if (!env)
        return 0;
    if (++n % 16 == 0 && open) {
        s_release(fx, s_call);
        open = 0;
    }
    if (!open) {
        s_open(fx);
        open = 1;
    }
    char *own = env->call_id;
    int ours = !own || !own[0] || strncmp(own, "sig-f", 5) == 0;
    if (ours)
        env->call_id = (char *)s_call;
    td_bus_fake_deliver(worker_bus(fx->worker), "router", env);
    fuzz_media_pump(fx);
    if (!ours)
        s_release(fx, own);
    else if (env->body_case == TANDEM__ENVELOPE__BODY_MEDIA_RELEASE)
        open = 0;
    env->call_id = own;
    tandem__envelope__free_unpacked(env, NULL);
    fuzz_media_pump(fx);
    td_bus_fake_reset();
    return 0;
}
