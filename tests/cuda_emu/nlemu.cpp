/* nlemu.cpp — the CUDA emulator's host API: devices, memory, streams and
 * events (see nlemu.h for what it models and checks; nlemu_exec.cpp runs
 * kernels, nlemu_blas.cpp is cuBLAS). Test-only code: a misuse of the API
 * that a GPU would punish unpredictably (an operand outside its allocation)
 * stops the process here with a message. */
#include "nlemu_rt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <memory>
#include <vector>

namespace nlemu_rt {
namespace { /* this file's state */

/* per host thread, as in CUDA: the last error (cudaGetLastError) and the
 * current device */
thread_local cudaError_t last_error = cudaSuccess;
thread_local int current_device = 0;

struct alloc {
    size_t size;
    int kind;
    int dev; /* DEVICE: the device current at cudaMalloc */
};
std::map<uintptr_t, alloc> allocs;
size_t device_used[MAX_DEVICES];

size_t budget(void) {
    const char *s = getenv("NLEMU_MEM_BYTES");
    return s && *s ? (size_t)strtoull(s, NULL, 10) : (size_t)16 << 30;
}

nlemu_stream legacy;
std::set<nlemu_stream *> streams;
std::set<nlemu_event *> events;

/* Run the stream's work up to sequence number upto (all of it: UINT64_MAX). */
void drain(nlemu_stream *s, uint64_t upto = UINT64_MAX) {
    while (!s->q.empty() && s->q.front().seq <= upto) {
        op o = std::move(s->q.front());
        s->q.pop_front();
        o.fn();
    }
}

void drain_all(void) {
    drain(&legacy);
    for (nlemu_stream *s : streams) drain(s);
}

/* cudaDeviceSynchronize: the legacy stream and the current device's streams */
void drain_device(int dev) {
    drain(&legacy);
    for (nlemu_stream *s : streams)
        if (s->dev == dev) drain(s);
}

double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

} // namespace

[[noreturn]] void fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "nlemu (CUDA emulator): ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fflush(stderr);
    abort();
}

std::recursive_mutex mu;

int device_count(void) {
    const char *s = getenv("NLEMU_DEVICES");
    int n = s && *s ? atoi(s) : 1;
    return n < 0 ? 0 : n > MAX_DEVICES ? MAX_DEVICES : n;
}

int current(void) { return current_device; }

/* Device d's compute capability as major * 10 + minor, from NLEMU_CC
 * ("7.5,9.0": one per device, the last repeated; default 9.0). */
int compute_capability(int d) {
    const char *s = getenv("NLEMU_CC");
    int cc = 90;
    for (int i = 0; s && *s; i++) {
        char *end;
        long ma = strtol(s, &end, 10), mi = *end == '.' ? strtol(end + 1, &end, 10) : 0;
        if (end == s || ma < 1 || ma > 99 || mi < 0 || mi > 9) fatal("NLEMU_CC=%s: not major.minor[,major.minor...]", getenv("NLEMU_CC"));
        cc = (int)(ma * 10 + mi);
        if (i == d) break;
        s = *end == ',' ? end + 1 : end + strlen(end);
    }
    return cc;
}

cudaError_t fail(cudaError_t e) {
    last_error = e;
    return e;
}

/* ------------------------------------------------------------ memory */

int kind_of(const void *p, size_t n, const char *what) {
    uintptr_t a = (uintptr_t)p;
    auto it = allocs.upper_bound(a);
    if (it == allocs.begin()) return 0;
    --it;
    if (a < it->first || a - it->first >= it->second.size + (n == 0)) return 0;
    if (n > it->second.size - (a - it->first))
        fatal("%s: %zu bytes at offset %zu of a %zu-byte %s allocation run past its end", what, n,
              (size_t)(a - it->first), it->second.size, it->second.kind == DEVICE ? "device" : "pinned host");
    return it->second.kind;
}

void need_device(const void *p, size_t n, const char *what) {
    if (n && kind_of(p, n, what) != DEVICE) fatal("%s: %zu bytes at %p are not inside one device allocation", what, n, p);
}

int device_of(const void *p) {
    uintptr_t a = (uintptr_t)p;
    auto it = allocs.upper_bound(a);
    if (it == allocs.begin()) return -1;
    --it;
    return a - it->first < it->second.size && it->second.kind == DEVICE ? it->second.dev : -1;
}

/* ------------------------------------------------------------ streams */

nlemu_stream *stream_of(cudaStream_t st) {
    if (!st) return &legacy;
    if (!streams.count(st)) fatal("stream %p is not a live stream", (void *)st);
    return st;
}

void enqueue(nlemu_stream *s, std::function<void()> fn) { s->q.push_back(op{++s->seq, std::move(fn)}); }

} // namespace nlemu_rt

using namespace nlemu_rt;

/* ------------------------------------------------------------ host API */

extern "C" {

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNoKernelImageForDevice: return "no kernel image is available for execution on the device";
    default: return "unknown error (emulated)";
    }
}

cudaError_t cudaGetLastError(void) {
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void) {
    return last_error;
}

cudaError_t cudaGetDeviceCount(int *n) {
    int c = device_count();
    *n = c;
    return c > 0 ? cudaSuccess : fail(cudaErrorNoDevice);
}

cudaError_t cudaGetDevice(int *d) {
    if (device_count() <= 0) return fail(cudaErrorNoDevice);
    *d = current_device;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int d) {
    if (device_count() <= 0) return fail(cudaErrorNoDevice);
    if (d < 0 || d >= device_count()) return fail(cudaErrorInvalidDevice);
    current_device = d;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d) {
    if (d < 0 || d >= device_count()) return fail(cudaErrorInvalidDevice);
    memset(p, 0, sizeof *p);
    const int cc = compute_capability(d);
    snprintf(p->name, sizeof p->name, "nlemu CPU emulation of an sm_%d GPU", cc);
    p->totalGlobalMem = budget();
    p->sharedMemPerBlock = DEFAULT_SMEM;
    p->major = cc / 10;
    p->minor = cc % 10;
    p->multiProcessorCount = 132;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int d) {
    if (d < 0 || d >= device_count()) return fail(cudaErrorInvalidDevice);
    switch (a) {
    case cudaDevAttrMaxSharedMemoryPerBlock: *v = (int)DEFAULT_SMEM; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = (int)OPTIN_SMEM; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor: *v = (int)OPTIN_SMEM + 1024; return cudaSuccess; /* sm_90: 228 KiB */
    case cudaDevAttrMultiProcessorCount: *v = 132; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor: *v = compute_capability(d) / 10; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *v = compute_capability(d) % 10; return cudaSuccess;
    default: return fail(cudaErrorInvalidValue);
    }
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    LOCK;
    size_t b = budget(), used = device_used[current_device];
    *total_bytes = b;
    *free_bytes = used < b ? b - used : 0;
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
    LOCK;
    drain_device(current_device);
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t n) {
    LOCK;
    *p = NULL;
    if (device_count() <= 0) return fail(cudaErrorNoDevice);
    if (n == 0) return cudaSuccess;
    size_t &used = device_used[current_device]; /* each device its own budget */
    if (n > budget() || used > budget() - n) return fail(cudaErrorMemoryAllocation);
    /* Up to 1 GiB from malloc, so that AddressSanitizer sees a kernel that
     * reads or writes past a buffer; filled with 0xff because fresh device
     * memory is not zero on a GPU. Bigger blocks (the out-of-memory test's
     * hog) are mapped and left untouched. */
    const bool big = n > ((size_t)1 << 30);
    void *m = big ? mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) : malloc(n);
    if (m == MAP_FAILED || !m) return fail(cudaErrorMemoryAllocation);
    if (!big) memset(m, 0xff, n);
    allocs[(uintptr_t)m] = alloc{n, DEVICE, current_device};
    used += n;
    *p = m;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
    LOCK;
    if (!p) return cudaSuccess;
    drain_all(); /* cudaFree synchronises the device */
    auto it = allocs.find((uintptr_t)p);
    if (it == allocs.end() || it->second.kind != DEVICE) fatal("cudaFree(%p): not a device allocation", p);
    if (it->second.size > ((size_t)1 << 30)) munmap(p, it->second.size);
    else free(p);
    device_used[it->second.dev] -= it->second.size;
    allocs.erase(it);
    return cudaSuccess;
}

cudaError_t cudaHostAlloc(void **p, size_t n, unsigned flags) {
    LOCK;
    (void)flags;
    *p = NULL;
    if (device_count() <= 0) return fail(cudaErrorNoDevice);
    void *m = malloc(n ? n : 1);
    if (!m) return fail(cudaErrorMemoryAllocation);
    memset(m, 0xff, n);
    allocs[(uintptr_t)m] = alloc{n ? n : 1, PINNED, -1};
    *p = m;
    return cudaSuccess;
}

cudaError_t cudaMallocHost(void **p, size_t n) { return cudaHostAlloc(p, n, 0); }

cudaError_t cudaFreeHost(void *p) {
    LOCK;
    if (!p) return cudaSuccess;
    drain_all();
    auto it = allocs.find((uintptr_t)p);
    if (it == allocs.end() || it->second.kind != PINNED) fatal("cudaFreeHost(%p): not a pinned allocation", p);
    allocs.erase(it);
    free(p);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind k, cudaStream_t st) {
    LOCK;
    nlemu_stream *s = stream_of(st);
    if (n == 0) return cudaSuccess;
    switch (k) {
    case cudaMemcpyHostToDevice:
        need_device(dst, n, "cudaMemcpy host to device, destination");
        if (kind_of(src, 1) == DEVICE) fatal("cudaMemcpy host to device from device memory %p", src);
        if (kind_of(src, n) == PINNED) {
            enqueue(s, [=]() { memcpy(dst, src, n); });
        } else { /* pageable: the source is taken now, the device written later */
            std::shared_ptr<std::vector<char>> snap(new std::vector<char>((const char *)src, (const char *)src + n));
            enqueue(s, [=]() { memcpy(dst, snap->data(), n); });
        }
        return cudaSuccess;
    case cudaMemcpyDeviceToHost:
        need_device(src, n, "cudaMemcpy device to host, source");
        if (kind_of(dst, 1) == DEVICE) fatal("cudaMemcpy device to host into device memory %p", dst);
        if (kind_of(dst, n) == PINNED) {
            enqueue(s, [=]() { memcpy(dst, src, n); });
        } else { /* pageable: complete before returning */
            drain(s);
            memcpy(dst, src, n);
        }
        return cudaSuccess;
    case cudaMemcpyDeviceToDevice:
        need_device(src, n, "cudaMemcpy device to device, source");
        need_device(dst, n, "cudaMemcpy device to device, destination");
        enqueue(s, [=]() { memmove(dst, src, n); });
        return cudaSuccess;
    default: fatal("cudaMemcpy kind %d not emulated", (int)k);
    }
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind k) {
    LOCK;
    cudaError_t e = cudaMemcpyAsync(dst, src, n, k, NULL);
    drain(&legacy);
    return e;
}

cudaError_t cudaMemset(void *p, int v, size_t n) {
    LOCK;
    need_device(p, n, "cudaMemset");
    drain(&legacy);
    memset(p, v, n);
    return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *st, unsigned flags) {
    LOCK;
    (void)flags;
    if (device_count() <= 0) return fail(cudaErrorNoDevice);
    *st = new nlemu_stream;
    (*st)->dev = current_device;
    streams.insert(*st);
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *st) { return cudaStreamCreateWithFlags(st, 0); }

cudaError_t cudaStreamDestroy(cudaStream_t st) {
    LOCK;
    nlemu_stream *s = stream_of(st);
    if (s == &legacy) return fail(cudaErrorInvalidResourceHandle);
    drain(s); /* work already queued still completes */
    streams.erase(s);
    delete s;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t st) {
    LOCK;
    drain(stream_of(st));
    return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *ev, unsigned flags) {
    LOCK;
    (void)flags;
    *ev = new nlemu_event;
    (*ev)->dev = current_device;
    events.insert(*ev);
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *ev) { return cudaEventCreateWithFlags(ev, 0); }

cudaError_t cudaEventDestroy(cudaEvent_t ev) {
    LOCK;
    if (!events.count(ev)) fatal("cudaEventDestroy(%p): not a live event", (void *)ev);
    events.erase(ev);
    /* queued records of it may still run: keep them harmless */
    for (nlemu_stream *s : streams)
        if (ev->st == s) drain(s);
    if (ev->st == &legacy) drain(&legacy);
    delete ev;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t ev, cudaStream_t st) {
    LOCK;
    if (!events.count(ev)) fatal("cudaEventRecord(%p): not a live event", (void *)ev);
    nlemu_stream *s = stream_of(st);
    /* "cudaEventRecord() will fail if the input event and input stream are
     * associated to different devices" (CUDA Programming Guide) */
    if ((s == &legacy ? current_device : s->dev) != ev->dev) return fail(cudaErrorInvalidResourceHandle);
    ev->st = s;
    ev->recorded = true;
    ev->done = false;
    enqueue(s, [ev]() {
        ev->done = true;
        ev->t = now();
    });
    ev->seq = s->seq;
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t ev) {
    LOCK;
    if (!events.count(ev)) fatal("cudaEventSynchronize(%p): not a live event", (void *)ev);
    if (ev->recorded && streams.count(ev->st) + (ev->st == &legacy)) drain(ev->st, ev->seq);
    return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
    LOCK;
    if (!a->done || !b->done || a->dev != b->dev) return fail(cudaErrorInvalidResourceHandle);
    *ms = (float)((b->t - a->t) * 1e3);
    return cudaSuccess;
}

cudaError_t nlemu_func_set_attribute(const void *func, cudaFuncAttribute a, int v) {
    LOCK;
    if (a != cudaFuncAttributeMaxDynamicSharedMemorySize) return fail(cudaErrorInvalidValue);
    if (v < 0 || (size_t)v > OPTIN_SMEM) return fail(cudaErrorInvalidValue);
    max_dyn[func] = v;
    return cudaSuccess;
}

} /* extern "C" */
