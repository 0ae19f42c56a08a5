/* fuzz_safetensors.c — libFuzzer harness for the safetensors header
 * parser: the input is written to an in-memory file (the loader maps
 * paths), opened, and every accepted tensor converted if its dtype allows.
 * Not part of ctest. Build with clang, from the repository root:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc fuzz/fuzz_safetensors.c \
 *     src/clip/safetensors.c src/base/util.c $(pkg-config --cflags --libs jansson) -lm -o build/fuzz_safetensors
 * Without libFuzzer, -DFUZZ_MAIN gives a driver that runs files given as
 * arguments. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("fuzz.safetensors", 0);
    if (fd < 0) return 0;
    if (write(fd, data, size) == (ssize_t)size) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        nli_st st;
        if (nli_st_open_file(path, &st) == 0) {
            for (size_t i = 0; i < st.n; i++) {
                if (st.t[i].numel > (1u << 20)) continue;
                float *out = malloc(st.t[i].numel * sizeof(float) + 1);
                if (out) nli_st_to_f32(&st, &st.t[i], out);
                free(out);
            }
            nli_st_close(&st);
        }
    }
    close(fd);
    return 0;
}

#include "fuzz_main.h"
