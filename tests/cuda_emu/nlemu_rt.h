/* nlemu_rt.h — what the emulator's runtime files share (private to
 * tests/cuda_emu): the lock, errors, the allocation table, streams, and the
 * 16-bit conversions. nlemu.cpp: host API (devices, memory, streams,
 * events); nlemu_exec.cpp: fibers, the block scheduler, the device side and
 * launches; nlemu_blas.cpp: cuBLAS. */
#ifndef NLEMU_RT_H
#define NLEMU_RT_H
#include "nlemu.h"

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>

namespace nlemu_rt {

[[noreturn]] void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

extern std::recursive_mutex mu;
#define LOCK std::lock_guard<std::recursive_mutex> lock_(nlemu_rt::mu)

const size_t OPTIN_SMEM = 232448; /* H100/H200: 227 KiB per block, opted in */
const size_t DEFAULT_SMEM = 48 * 1024;

const int MAX_DEVICES = 16;
int device_count(void); /* NLEMU_DEVICES (default 1), at most MAX_DEVICES */
int current(void);      /* the calling thread's device (cudaSetDevice is per thread) */
int compute_capability(int d); /* major * 10 + minor, from NLEMU_CC (default 90) */
cudaError_t fail(cudaError_t e); /* record as the last error, return it */

enum { DEVICE = 1, PINNED = 2 };
/* The kind of the allocation that holds p, or 0 when none; one that holds p
 * but not all of [p, p + n) stops the process (what: the operand, for the
 * message). */
int kind_of(const void *p, size_t n, const char *what = "an operand");
void need_device(const void *p, size_t n, const char *what);
int device_of(const void *p); /* the device of the device allocation holding p, else -1 */

struct op {
    uint64_t seq;
    std::function<void()> fn;
};

nlemu_stream *stream_of(cudaStream_t st); /* NULL: the legacy stream */
void enqueue(nlemu_stream *s, std::function<void()> fn);

extern std::map<const void *, int> max_dyn; /* cudaFuncAttributeMaxDynamicSharedMemorySize */

float h2f(uint16_t h);
uint16_t f2h(float f);
float bf2f(uint16_t b);
uint16_t f2bf(float f);

} // namespace nlemu_rt

struct nlemu_stream {
    std::deque<nlemu_rt::op> q;
    uint64_t seq = 0;
    int dev = -1; /* the device current at creation; -1: the legacy stream (any) */
};
struct nlemu_event {
    nlemu_stream *st = nullptr;
    int dev = 0;
    uint64_t seq = 0;
    bool recorded = false, done = false;
    double t = 0;
};
#endif
