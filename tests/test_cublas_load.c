/* test_cublas_load.c — cuBLAS is opened the first time a GPU is used, not
 * linked (src/base/cuda/cublas_load.cu):
 *   - a process has no libcublas mapped at start, nor after asking for
 *     devices where there is no GPU (a CUDA build used to map libcublasLt's
 *     ~540 MB at every start, ~180 MB of it resident);
 *   - in a CUDA build, loading finds the toolkit's libcublas and takes every
 *     function the library calls from it, once, from any number of threads;
 *   - NEGLABEL_CUBLAS naming a missing file, a library that is not cuBLAS,
 *     or a file that is not a library gives one message naming it, and the
 *     same message to every later caller;
 *   - in a build without CUDA it says so; in the emulator build the table
 *     holds the emulator's functions.
 * Each case that depends on what was loaded runs in a child process of its
 * own (loading happens once per process). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "cuda/cuda_device.h"
#include "neglabel.h"
#include "util.h"

/* Whether a file whose name contains what is mapped in this process. */
static int mapped(const char *what) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    char line[4096];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, what)) found = 1;
    fclose(f);
    return found;
}

/* Runs fn in a child process with NEGLABEL_CUBLAS=env (unset when NULL);
 * the child's exit status (0: its checks passed). */
static int in_child(const char *env, void (*fn)(void)) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (env) setenv("NEGLABEL_CUBLAS", env, 1);
        else unsetenv("NEGLABEL_CUBLAS");
        fn();
        fflush(NULL);
        _exit(check_failed ? 1 : 0);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int is_emulator(void) { return nli_cublas_path() && strstr(nli_cublas_path(), "emulator") != NULL; }

/* A GPU found or not: cuBLAS is mapped exactly when one was. */
static void child_lazy(void) {
    CHECK(mapped("libcublas") == 0, "libcublas is mapped before any GPU was looked for");
    int n = nl_cuda_device_count();
    char *json = nl_devices_info_json();
    CHECK(json != NULL, "nl_devices_info_json: %s", nl_last_error());
    if (n == 0) {
        CHECK(mapped("libcublas") == 0, "libcublas was mapped although no GPU is usable (%s)",
              json ? json : "?");
        CHECK(nli_cublas_path() == NULL, "nli_cublas_path is %s without a GPU", nli_cublas_path());
        CHECK(json && !strstr(json, "\"cublas\""), "devices names a cuBLAS without a GPU: %s", json);
    } else if (!is_emulator()) {
        CHECK(mapped("libcublas") == 1, "%d GPU(s) but libcublas is not mapped", n);
        CHECK(json && strstr(json, "\"cublas\":"), "devices does not say where cuBLAS came from: %s", json);
    } else {
        CHECK(json && strstr(json, "\"cublas\":\"(the CUDA emulator)\""), "emulator: %s", json ? json : "?");
    }
    free(json);
}

#define N_THREADS 8
static int thread_rc[N_THREADS];
static const char *thread_path[N_THREADS];
static void *load_thread(void *arg) {
    int i = (int)(intptr_t)arg;
    thread_rc[i] = nli_cublas_load();
    thread_path[i] = nli_cublas_path();
    return NULL;
}

/* The default search finds the toolkit's cuBLAS (this build's major
 * version); many threads at once load it once. */
static void child_load(void) {
    pthread_t t[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) pthread_create(&t[i], NULL, load_thread, (void *)(intptr_t)i);
    for (int i = 0; i < N_THREADS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < N_THREADS; i++) {
        CHECK(thread_rc[i] == 0, "thread %d: nli_cublas_load failed", i);
        CHECK(thread_path[i] && thread_path[i] == thread_path[0], "thread %d: another path", i);
    }
    const char *p = nli_cublas_path();
    CHECK(p != NULL, "no path after loading: %s", nli_geterr());
    if (!p) return;
    printf("cuBLAS loaded from %s\n", p);
    if (is_emulator()) return;
    const char *base = strrchr(p, '/');
    base = base ? base + 1 : p;
    CHECK(strncmp(base, "libcublas.so.", 13) == 0, "loaded %s, not a libcublas.so.N", p);
    CHECK(p[0] == '/', "the path %s is not absolute", p);
    CHECK(access(p, R_OK) == 0, "%s cannot be read", p);
    CHECK(mapped(base) == 1, "%s is not mapped after loading", base);
    CHECK(nli_cublas_load() == 0, "a second load failed");
}

/* Exit status 2 in the emulator build (the parent must not load). */
static void child_kind(void) {
    if (nli_cublas_load() == 0 && is_emulator()) _exit(2);
}

static const char *expect_a, *expect_b;
/* NEGLABEL_CUBLAS names something that is not cuBLAS: -1, a message with
 * expect_a and expect_b, the same for a second caller; nothing loaded. */
static void child_refused(void) {
    CHECK(nli_cublas_load() == -1, "loaded from NEGLABEL_CUBLAS=%s", getenv("NEGLABEL_CUBLAS"));
    char first[2048];
    snprintf(first, sizeof first, "%s", nli_geterr());
    printf("message: %s\n", first);
    CHECK(strstr(first, "NEGLABEL_CUBLAS=") && strstr(first, getenv("NEGLABEL_CUBLAS")),
          "the message does not name the variable and its value: %s", first);
    CHECK(strstr(first, expect_a) && strstr(first, expect_b), "expected '%s' and '%s' in: %s", expect_a, expect_b,
          first);
    CHECK(nl_last_status() == NL_ERR_DEVICE, "status %d, not NL_ERR_DEVICE", (int)nl_last_status());
    nli_seterr("something else");
    CHECK(nli_cublas_load() == -1 && strcmp(nli_geterr(), first) == 0, "second call: %s", nli_geterr());
    CHECK(nli_cublas_path() == NULL, "a path after a failed load: %s", nli_cublas_path());
    CHECK(mapped("libcublas") == 0, "libcublas is mapped after a refused load");
}

int main(void) {
    CHECK(in_child(NULL, child_lazy) == 0, "start-up / no-GPU case (above)");
    if (!nl_cuda_built()) {
        CHECK(nli_cublas_load() == -1 && strstr(nli_geterr(), "without CUDA"), "no-CUDA build: %s", nli_geterr());
        CHECK(nli_cublas_path() == NULL, "no-CUDA build: a path");
        return check_done();
    }
    CHECK(in_child(NULL, child_load) == 0, "loading (above)");
    if (in_child(NULL, child_kind) == 2) {
        printf("emulator build: NEGLABEL_CUBLAS is not read; its cases are for CUDA builds\n");
        return check_done();
    }
    expect_a = "/nonexistent/libcublas.so.13";
    expect_b = "No such file";
    CHECK(in_child("/nonexistent/libcublas.so.13", child_refused) == 0, "missing file (above)");
    expect_a = "has no function cublasCreate_v2";
    expect_b = "libm.so.6";
    CHECK(in_child("libm.so.6", child_refused) == 0, "a library that is not cuBLAS (above)");
    char junk[] = "/tmp/nl-cublas-junk-XXXXXX";
    int fd = mkstemp(junk);
    CHECK(fd >= 0, "mkstemp");
    if (fd >= 0) {
        char text[512];
        memset(text, 'x', sizeof text); /* long enough for an ELF header: refused for what it says */
        CHECK(write(fd, text, sizeof text) == (ssize_t)sizeof text, "write");
        close(fd);
        expect_a = junk;
        expect_b = "ELF";
        CHECK(in_child(junk, child_refused) == 0, "a file that is not a library (above)");
        unlink(junk);
    }
    return check_done();
}
