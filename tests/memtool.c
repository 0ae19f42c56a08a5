/* memtool.c — helper of tests/cli_memory.sh (not a test itself):
 *   memtool checkpoint DIR F32|F16|BF16
 *     writes a random-weight ViT-B/16 CLIP (random_clip.h) into DIR and
 *     prints the weight bytes the CPU engine computes from, from the shapes
 *     written (not from the engine): "params N fp32_bytes B bf16_bytes B"
 *     (fp32 path: 4 bytes a parameter; bf16 path: 2 bytes a parameter of
 *     the matrices the bf16 kernels multiply by, 4 for the rest);
 *   memtool bomb DIR
 *     writes a 4 MB random CLIP whose config asks for far more working
 *     memory than its weights take: 2048-pixel images in 16-pixel patches
 *     (16,385 tokens), width 8 and an MLP 32,768 wide (before the engine
 *     blocked attention and the MLP, one image took 1.1 GB of scores per
 *     thread and a 2.1 GB MLP activation);
 *   memtool peak FILE CMD [ARG]...
 *     runs CMD, writes its peak resident set (getrusage's ru_maxrss, KiB,
 *     what GNU time's %M prints) to FILE, exits with CMD's status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "random_clip.h"

/* Parameter counts of random_clip.h's ViT-B/16: all, and those of the
 * matrices packed for bf16 (q/k/v/out/fc1/fc2 weights, the patch embedding). */
static void counts(size_t *all, size_t *packed) {
    const size_t V = 49408, Tt = 77, Dt = 512, It = 2048, P = 512, Dv = 768, Iv = 3072, Tv = 197, L = 12;
    size_t blk_t = 4 * Dt * Dt + 2 * Dt * It, blk_v = 4 * Dv * Dv + 2 * Dv * Iv;
    size_t patch = Dv * 3 * 16 * 16;
    *packed = L * blk_t + L * blk_v + patch;
    size_t rest_t = V * Dt + Tt * Dt + L * (4 * Dt + It + Dt + 4 * Dt) + 2 * Dt + P * Dt;
    size_t rest_v = Dv + Tv * Dv + 2 * Dv + L * (4 * Dv + Iv + Dv + 4 * Dv) + 2 * Dv + P * Dv;
    *all = *packed + rest_t + rest_v + 1; /* + logit_scale */
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "checkpoint")) {
        nli_st_dtype d = !strcmp(argv[3], "F32") ? NL_ST_F32 : !strcmp(argv[3], "BF16") ? NL_ST_BF16 : NL_ST_F16;
        if (strcmp(argv[3], nli_st_dtype_name(d))) { fprintf(stderr, "memtool: unknown dtype %s\n", argv[3]); return 2; }
        if (random_clip_write_dtype(argv[2], d) != 0) { fprintf(stderr, "memtool: cannot write %s\n", argv[2]); return 1; }
        size_t all, packed;
        counts(&all, &packed);
        printf("params %zu fp32_bytes %zu bf16_bytes %zu\n", all, 4 * all, 2 * packed + 4 * (all - packed));
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "bomb")) {
        const random_clip_shape sh = {1, 8, 32, 1, 8, 1, 32768, 2048, 16, 8};
        if (random_clip_write_shape(argv[2], NL_ST_F16, &sh) != 0) { fprintf(stderr, "memtool: cannot write %s\n", argv[2]); return 1; }
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "peak")) {
        pid_t pid = fork();
        if (pid < 0) { perror("memtool: fork"); return 1; }
        if (pid == 0) {
            execvp(argv[3], argv + 3);
            perror("memtool: exec");
            _exit(127);
        }
        int st;
        struct rusage ru;
        if (wait4(pid, &st, 0, &ru) != pid) { perror("memtool: wait4"); return 1; }
        FILE *f = fopen(argv[2], "w");
        if (!f || fprintf(f, "%ld\n", ru.ru_maxrss) < 0 || fclose(f) != 0) { perror(argv[2]); return 1; }
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    fprintf(stderr, "usage: memtool checkpoint DIR F32|F16|BF16 | memtool bomb DIR | memtool peak FILE CMD [ARG]...\n");
    return 2;
}
