/* bench_gpu.h — what bench_gpu.c (the command and the model benchmarks)
 * and bench_gpu_methods.c (mining and scoring) share. */
#ifndef NEGLABEL_BENCH_GPU_H
#define NEGLABEL_BENCH_GPU_H
#include <stddef.h>

/* Print "bench_gpu: what: <the library's last error>" to stderr; 1. */
int fail(const char *what);
/* The value after --name in argv, or def; whether --name is there; as a long. */
const char *opt(int argc, char **argv, const char *name, const char *def);
int flag(int argc, char **argv, const char *name);
long opt_long(int argc, char **argv, const char *name, long def);
/* n x dim standard normal floats from the benchmark's seeded generator. */
void randn_rows(float *x, size_t n, size_t dim);

/* bench_gpu minescore (bench_gpu_methods.c). */
int bench_cmd_minescore(int argc, char **argv);
#endif
