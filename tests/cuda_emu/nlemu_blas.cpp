/* nlemu_blas.cpp — the CUDA emulator's cuBLAS: handles on streams, GEMMs
 * queued like kernels and computed with OpenBLAS (16-bit inputs widened to
 * fp32, fp32 accumulation), every operand checked to lie in one device
 * allocation. */
#include "nlemu_rt.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include <vector>

struct nlemu_blas {
    nlemu_stream *st = nullptr;
    int dev = 0; /* the device current at cublasCreate: the handle's for good */
};

namespace nlemu_rt {
namespace {

std::set<nlemu_blas *> handles;

/* Elements of a matrix of type t as float. */
float elem(const void *p, cudaDataType t, size_t i) {
    switch (t) {
    case CUDA_R_32F: return ((const float *)p)[i];
    case CUDA_R_16F: return h2f(((const uint16_t *)p)[i]);
    case CUDA_R_16BF: return bf2f(((const uint16_t *)p)[i]);
    default: fatal("cublasGemmEx: data type %d not emulated", (int)t);
    }
}

void set_elem(void *p, cudaDataType t, size_t i, float v) {
    switch (t) {
    case CUDA_R_32F: ((float *)p)[i] = v; break;
    case CUDA_R_16F: ((uint16_t *)p)[i] = f2h(v); break;
    case CUDA_R_16BF: ((uint16_t *)p)[i] = f2bf(v); break;
    default: fatal("cublasGemmEx: data type %d not emulated", (int)t);
    }
}

size_t type_size(cudaDataType t) {
    return t == CUDA_R_32F ? 4 : t == CUDA_R_64F ? 8 : t == CUDA_R_16F || t == CUDA_R_16BF ? 2 : 0;
}

/* Elements spanned by a column-major rows x cols matrix with leading dim ld. */
size_t span(int rows, int cols, int ld) { return rows && cols ? (size_t)ld * (cols - 1) + rows : 0; }

} // namespace
} // namespace nlemu_rt

using namespace nlemu_rt;

extern "C" {

/* ------------------------------------------------------------ cuBLAS */

cublasStatus_t cublasCreate(cublasHandle_t *h) {
    LOCK;
    if (device_count() <= 0) return CUBLAS_STATUS_NOT_INITIALIZED;
    *h = new nlemu_blas;
    (*h)->st = stream_of(NULL);
    (*h)->dev = current();
    handles.insert(*h);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t h) {
    LOCK;
    if (!handles.count(h)) fatal("cublasDestroy(%p): not a live handle", (void *)h);
    handles.erase(h);
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t st) {
    LOCK;
    if (!handles.count(h)) fatal("cublasSetStream(%p): not a live handle", (void *)h);
    h->st = stream_of(st);
    if (h->st->dev >= 0 && h->st->dev != h->dev)
        fatal("cublasSetStream: a stream of device %d on a handle of device %d", h->st->dev, h->dev);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t m) {
    (void)h;
    (void)m;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t s) {
    return s == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_(emulated error)";
}

static cublasStatus_t check_gemm(const char *who, cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                 int n, int k, const void *A, size_t as, int lda, const void *B, size_t bs, int ldb,
                                 const void *C, size_t cs, int ldc) {
    if (!handles.count(h)) fatal("%s: not a live handle", who);
    /* a handle belongs to the device current at cublasCreate; cuBLAS wants
     * that device current at every call (one handle per device) */
    if (h->dev != current())
        fatal("%s: a handle of device %d used while device %d is current", who, h->dev, current());
    if (m < 0 || n < 0 || k < 0) return CUBLAS_STATUS_INVALID_VALUE;
    int ar = ta == CUBLAS_OP_N ? m : k, ac = ta == CUBLAS_OP_N ? k : m;
    int br = tb == CUBLAS_OP_N ? k : n, bc = tb == CUBLAS_OP_N ? n : k;
    if (lda < (ar > 1 ? ar : 1) || ldb < (br > 1 ? br : 1) || ldc < (m > 1 ? m : 1)) return CUBLAS_STATUS_INVALID_VALUE;
    if (m && n) {
        char what[64];
        snprintf(what, sizeof what, "%s operand A", who);
        if (k) need_device(A, span(ar, ac, lda) * as, what);
        snprintf(what, sizeof what, "%s operand B", who);
        if (k) need_device(B, span(br, bc, ldb) * bs, what);
        snprintf(what, sizeof what, "%s operand C", who);
        need_device(C, span(m, n, ldc) * cs, what);
        const void *ops[3] = {k ? A : C, k ? B : C, C};
        for (int i = 0; i < 3; i++)
            if (device_of(ops[i]) != h->dev)
                fatal("%s: operand %c is memory of device %d, the handle's device is %d", who, "ABC"[i],
                      device_of(ops[i]), h->dev);
    }
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType at, int lda, const void *B,
                            cudaDataType bt, int ldb, const void *beta, void *C, cudaDataType ct, int ldc,
                            cublasComputeType_t comp, cublasGemmAlgo_t algo) {
    LOCK;
    (void)algo;
    if (comp != CUBLAS_COMPUTE_32F && comp != CUBLAS_COMPUTE_32F_PEDANTIC) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (!type_size(at) || !type_size(bt) || !type_size(ct) || at == CUDA_R_64F || at != bt)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (at == CUDA_R_32F && ct != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    cublasStatus_t s = check_gemm("cublasGemmEx", h, ta, tb, m, n, k, A, type_size(at), lda, B, type_size(bt), ldb, C,
                                  type_size(ct), ldc);
    if (s != CUBLAS_STATUS_SUCCESS || !m || !n) return s;
    const float al = *(const float *)alpha, be = *(const float *)beta;
    const int ar = ta == CUBLAS_OP_N ? m : k, ac = ta == CUBLAS_OP_N ? k : m;
    const int br = tb == CUBLAS_OP_N ? k : n, bc = tb == CUBLAS_OP_N ? n : k;
    enqueue(h->st, [=]() {
        std::vector<float> fa(span(ar, ac, lda)), fb(span(br, bc, ldb)), fc((size_t)m * n);
        for (size_t i = 0; i < fa.size(); i++) fa[i] = elem(A, at, i);
        for (size_t i = 0; i < fb.size(); i++) fb[i] = elem(B, bt, i);
        if (k)
            cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
                        tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k, 1.0f, fa.data(), lda, fb.data(), ldb,
                        0.0f, fc.data(), m);
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                size_t ci = (size_t)j * ldc + i;
                float v = al * fc[(size_t)j * m + i];
                if (be != 0.0f) v += be * elem(C, ct, ci); /* beta 0: C is not read */
                set_elem(C, ct, ci, v);
            }
    });
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const double *alpha, const double *A, int lda, const double *B, int ldb,
                           const double *beta, double *C, int ldc) {
    LOCK;
    cublasStatus_t s = check_gemm("cublasDgemm", h, ta, tb, m, n, k, A, 8, lda, B, 8, ldb, C, 8, ldc);
    if (s != CUBLAS_STATUS_SUCCESS || !m || !n) return s;
    const double al = *alpha, be = *beta;
    enqueue(h->st, [=]() {
        if (be == 0.0)
            for (int j = 0; j < n; j++) memset(C + (size_t)j * ldc, 0, (size_t)m * sizeof(double));
        if (k)
            cblas_dgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
                        tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k, al, A, lda, B, ldb,
                        be == 0.0 ? 0.0 : be, C, ldc);
        else if (be != 0.0)
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++) C[(size_t)j * ldc + i] *= be;
    });
    return CUBLAS_STATUS_SUCCESS;
}

} /* extern "C" */

