/* fuzz_unpickler.c — libFuzzer harness for PyTorch checkpoints: the
 * restricted unpickler (pickle.c), the state-dict walk (torch_ckpt.c) and
 * the zip reader (zipread.c). The first byte picks the mode:
 *   'P' the rest is a data.pkl: unpickled, then walked (TorchScript objects
 *       without code: every tensor attribute counts; a training checkpoint's
 *       'state_dict'), then open_clip's 'module.' rule applied to the names;
 *   'Z' the rest is a whole archive: opened from memory, walked against its
 *       code/ declarations, the 'module.' rule applied, and its tensors read
 *       (when under 64 MB).
 * Seeds: fuzz/corpus/unpickler (fuzz/make_corpus.py, from the archives of
 * tests/data/torchscript). Not part of ctest; .ci/run runs it.
 * Without libFuzzer, -DFUZZ_MAIN gives a driver that runs files given as
 * arguments. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pickle.h"
#include "torch_ckpt.h"
#include "zipread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] == 'P') {
        nli_pk_arena *a;
        nli_pk *root;
        if (nli_unpickle(data + 1, size - 1, "fuzz.pkl", &a, &root) == 0) {
            nli_ckpt ck;
            memset(&ck, 0, sizeof ck);
            if (nli_ckpt_walk(&ck, root, "fuzz.pkl") == 0) nli_ckpt_strip_module(&ck, "fuzz.pkl");
            for (size_t i = 0; i < ck.n; i++) free(ck.t[i].name);
            free(ck.t);
            nli_pk_free(a);
        }
    } else if (data[0] == 'Z') {
        nli_zip *z;
        if (nli_zip_open_buffer(data + 1, size - 1, "fuzz.pt", &z) != 0) return 0;
        nli_ckpt ck;
        if (nli_ckpt_open_zip(z, &ck) != 0) return 0; /* frees z */
        if (nli_ckpt_strip_module(&ck, "fuzz.pt") < 0) { nli_ckpt_free(&ck); return 0; }
        size_t total = 0;
        for (size_t i = 0; i < ck.n; i++) total += ck.t[i].nbytes;
        if (total <= ((size_t)64 << 20)) nli_ckpt_load_data(&ck);
        nli_ckpt_free(&ck);
    }
    return 0;
}

#include "fuzz_main.h"
