/* cuda_device.h — the CUDA devices as the rest of the library sees them: plain C
 * declarations, defined in base/cuda/device.cu in a CUDA build
 * (NEGLABEL_HAVE_CUDA) and by stubs in base/device.c otherwise.
 * Every function sets nli_seterr on failure; nothing aborts. */
#ifndef NEGLABEL_CUDA_DEVICE_H
#define NEGLABEL_CUDA_DEVICE_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Usable CUDA devices; 0 with the reason in nli_geterr() when none (also
 * when there are GPUs but cuBLAS cannot be loaded). */
int nli_cuda_count(void);
/* Make device index current after checking that it exists, that the
 * kernels run there and that cuBLAS is loaded; *prev receives the device
 * that was current (restore it with cudaSetDevice). 0, or -1 with the reason. */
int nli_cuda_select(int index, int *prev);
/* 0 when this build's kernels run on device index (compute capability 8.0
 * or newer), else -1 with the reason (NL_ERR_UNSUPPORTED: which GPU, its
 * capability, what is needed). */
int nli_cuda_supported(int index);
/* What NL_DEVICE_AUTO means for the GPU: 1 with *index the first supported
 * device (cuBLAS loaded), 0 for the CPU with the reason set; with warn, a
 * machine that has GPUs but none to run on (all unsupported, or no cuBLAS)
 * also logs a warning (once per process). */
int nli_cuda_auto(int *index, int warn);
/* Name, memory and compute capability of device index. */
int nli_cuda_describe(int index, char *name, size_t cap, size_t *free_bytes, size_t *total_bytes, int *cc_major,
                     int *cc_minor);

/* cuBLAS, loaded the first time nli_cuda_count finds a GPU (not linked:
 * base/cuda/cublas_load.h): 0, or -1 with the reason. Once per process. */
int nli_cublas_load(void);
/* The file cuBLAS was loaded from; NULL until nli_cublas_load succeeded. */
const char *nli_cublas_path(void);

/* What every stub of a build without CUDA does (base/device.c,
 * clip/clip_cuda_stubs.c, method/score_cuda_stubs.c; needs util.h). */
#define NL_NO_CUDA() nli_seterr_code(NL_ERR_UNSUPPORTED, "this neglabel was built without CUDA (rebuild with the CUDA toolkit, NEGLABEL_CUDA=ON)")

#ifdef __cplusplus
}
#endif
#endif
