/* Fuzz harness: WAV reading (media/wav.c), what the worker does with every
 * prompt and music file it loads (sound_cache): parse the header and chunks,
 * then copy the samples out and encode them as the caller's law. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "g711.h"
#include "wav.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        g711_init();
        once = 1;
    }
    const uint8_t *samples = NULL;
    size_t count = 0;
    char err[128];
    if (wav_parse(data, size, &samples, &count, err, sizeof err) < 0)
        return 0;
    if (count == 0)
        return 0;
    int16_t *pcm = malloc(count * sizeof *pcm);
    uint8_t *law = malloc(count);
    wav_copy_samples(samples, pcm, count);
    g711_encode(G711_PT_PCMU, pcm, law, count);
    g711_encode(G711_PT_PCMA, pcm, law, count);
    free(law);
    free(pcm);
    return 0;
}
