/* fuzz_safetensors.c - bv_st_open on arbitrary bytes (a .safetensors file: u64 header length, JSON
 * header, data). On success every entry's bytes are read, so an entry pointing outside the file
 * is caught by ASan even if the header check missed it. */
#include "fuzz_common.h"   /* first: it defines _GNU_SOURCE */

#include <string.h>

#include "../src/io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64], err[512];
    int fd = fuzz_memfd(data, size, path);
    bv_safetensors st;
    if (bv_st_open(&st, path, err, sizeof err) == 0) {
        unsigned sum = 0;
        for (int i = 0; i < st.n; i++) {
            const bv_st_entry *e = &st.entries[i];
            const unsigned char *p = e->data;
            for (size_t k = 0; k < e->nbytes; k++) sum += p[k];
            if (bv_st_find(&st, e->name) == NULL) abort();
            (void)bv_st_dtype_name(e->dtype);
        }
        fuzz_sink = sum;
        bv_st_close(&st);
    }
    close(fd);
    return 0;
}
