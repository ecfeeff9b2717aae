/* fuzz_wav.c - audio readers on arbitrary bytes: bv_wav_read_mem (libsndfile virtual I/O, float
 * normalisation) and, on the same bytes as a file, bv_load_wav (the data loader's scipy-style
 * reader: raw integer values, mono only). The decoded samples are summed so every one is read. */
#include "fuzz_common.h"   /* first: it defines _GNU_SOURCE */

#include <string.h>

#include "../src/data/dataset.h"
#include "../src/io/wav.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    float *x = NULL;
    bv_wav_info info;
    float sum = 0;
    if (bv_wav_read_mem(data, size, "fuzz.wav", &x, &info, err, sizeof err) == 0) {
        for (int64_t i = 0; i < info.frames * info.channels; i++) sum += x[i];
        (void)bv_wav_encoding_name(info.encoding);
    }
    free(x);

    char path[64];
    int fd = fuzz_memfd(data, size, path);
    float *y = NULL;
    int64_t n = 0, sr = 0;
    if (bv_load_wav(path, &y, &n, &sr, err, sizeof err) == 0) {
        for (int64_t i = 0; i < n; i++) sum += y[i];
        free(y);
    }
    close(fd);
    fuzz_sink = sum;
    return 0;
}
