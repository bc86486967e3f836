/* transfer - blind transfer (REFER) on a bridged call; see call.h.
 *
 * Asterisk (chan_sip handle_request_refer -> get_refer_info ->
 * ast_bridge_transfer_blind) looks the target up in the transferor's
 * TRANSFER_CONTEXT, else its macro context, else its sip.conf context,
 * answers 404 in the NOTIFY sipfrag when the extension does not exist there,
 * 503 when the transferor is not in a two-party bridge, and otherwise sends
 * the transferee to (context, exten, 1) and hangs up the transferor.
 *
 * Here the transferee's dialplan run is a new call: signaling makes the
 * transferee's dialog leg 0 of a new call id and sends ChannelNew, so the
 * new run has its own CDR, as Asterisk's transferee gets a new CDR. This
 * call ends at once: no Hangup goes to the two legs (signaling keeps one
 * and releases the other), the media session is released, the CDR written. */
#include "call_int.h"

#include <stdio.h>
#include <string.h>

#include "td_log.h"

static void s_result(call_t *self, uint32_t leg, uint32_t status, uint32_t transferee,
                     const char *exten, const char *context)
{
    const char *peer = call_leg_peer(self, leg);
    /* Several signaling nodes: a transferee on another node than the
     * transferor's gets the same result there, where signaling finds no
     * REFER for it and starts the transferee's new call (as when the
     * transferor hung up meanwhile, sip_legs_on_transfer_result). */
    const char *other = status == 200 ? call_leg_peer(self, transferee) : NULL;
    if (!peer && !other)
        return;
    Tandem__TransferResult m = TANDEM__TRANSFER_RESULT__INIT;
    m.status = status;
    m.transferee = transferee;
    m.exten = (char *)(exten ? exten : "");
    m.context = (char *)(context ? context : "");
    if (peer)
        td_bus_send_transfer_result(self->env->bus, peer, self->id, leg, &m);
    if (other && (!peer || strcmp(other, peer) != 0))
        td_bus_send_transfer_result(self->env->bus, other, self->id, leg, &m);
}

/* chanvars_foreach: TRANSFER_CONTEXT set with "_" or "__" (inherited). */
static void s_inherited(void *arg, const char *name, const char *value)
{
    const char **out = arg;
    if (name[0] == '_' && strcmp(name + (name[1] == '_' ? 2 : 1), "TRANSFER_CONTEXT") == 0)
        *out = value;
}

void call_on_transfer(call_t *self, uint32_t leg, const Tandem__Transfer *msg)
{
    const char *exten = msg->exten ? msg->exten : "";
    uint32_t other = UINT32_MAX;
    if (self->state == CALL_BRIDGED && self->answered && !self->leg0_gone
        && self->winner && self->winner->state == LEG_UP) {
        if (leg == 0)
            other = self->winner->number;
        else if (leg == self->winner->number)
            other = 0;
    }
    if (other == UINT32_MAX) {
        /* AST_BRIDGE_TRANSFER_INVALID */
        td_log(LOG_NOTICE, "Transfer from leg %u to %s: not in a two-party bridge", leg, exten);
        s_result(self, leg, 503, 0, NULL, NULL);
        return;
    }
    /* TRANSFER_CONTEXT is a variable of the transferor's channel. Leg 0's
     * variables are this call's; an outgoing channel has only what it
     * inherited from the caller (_VAR, __VAR), so for a callee transferor
     * only an inherited TRANSFER_CONTEXT counts. */
    char buf[CALL_MAX_CONTEXT];
    const char *context = NULL;
    if (leg == 0)
        context = call_var(self, "TRANSFER_CONTEXT", buf, sizeof buf);
    else
        chanvars_foreach(self->chanvars, s_inherited, &context);
    if (!context || !*context)
        context = msg->context && *msg->context ? msg->context : "default";
    char ctx[CALL_MAX_CONTEXT];
    snprintf(ctx, sizeof ctx, "%s", context);
    if (!*exten || !call_find(self, ctx, exten)) {
        td_log(LOG_NOTICE, "Failed SIP Transfer to non-existing extension %s in context %s",
               exten, ctx);
        s_result(self, leg, 404, 0, NULL, NULL);
        return;
    }
    td_log(LOG_INFO, "Blind transfer by leg %u: leg %u to %s@%s%s%s", leg, other, exten, ctx,
           msg->referred_by && *msg->referred_by ? " referred by " : "",
           msg->referred_by ? msg->referred_by : "");
    s_result(self, leg, 200, other, exten, ctx);
    /* Neither leg gets a Hangup: signaling owns both from here. */
    self->winner->state = LEG_GONE;
    self->winner->cause = 16;
    self->leg0_gone = 1;
    call_end(self, 16, 16);
}
