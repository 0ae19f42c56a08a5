/* cublas_load.cu — loading cuBLAS the first time a GPU is used
 * (cublas_load.h says why it is not linked).
 *
 * Where it is looked for, in order:
 *   1. NEGLABEL_CUBLAS, when set: that file only;
 *   2. libcublas.so.<major of the headers built with> as the loader finds it
 *      (already loaded in the process, e.g. by PyTorch; LD_LIBRARY_PATH; the
 *      CUDA installer's ld.so.conf entry);
 *   3. the same file in the toolkit folder found at build time.
 * libcublas finds its libcublasLt beside itself (its RUNPATH is $ORIGIN).
 * Loaded once per process (also when it failed: the reason is kept and
 * given again to every caller); never unloaded. */
#include "cublas_load.h"
#include "neglabel.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "util.h"
}

#define NLI_STR(x) #x
#define NLI_XSTR(x) NLI_STR(x) /* the macro's expansion: cublasCreate -> "cublasCreate_v2" */

struct nli_cublas_fns nli_cublas;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc = -1;
static char load_err[1536];
static char load_path[1024];

#ifdef NLEMU
static void load(void) {
    if (getenv("NLEMU_NO_CUBLAS")) { /* the tests' stand-in for a machine without libcublas */
        snprintf(load_err, sizeof load_err, "cuBLAS could not be loaded (NLEMU_NO_CUBLAS: the emulator plays a "
                                            "machine without it)");
        return;
    }
#define NLI_CUBLAS_EMU(m, f, type) nli_cublas.m = &f;
    NLI_CUBLAS_FUNCS(NLI_CUBLAS_EMU)
#undef NLI_CUBLAS_EMU
    snprintf(load_path, sizeof load_path, "(the CUDA emulator)");
    load_rc = 0;
}
#else
#define SONAME "libcublas.so." NLI_XSTR(CUBLAS_VER_MAJOR)

/* Never called: does not compile when a type in the table is not the
 * header's declaration of its function. */
static void __attribute__((unused)) check_types(void) {
#define NLI_CUBLAS_TYPE(m, f, type) [[maybe_unused]] nli_fn_ptr<type> m = &f;
    NLI_CUBLAS_FUNCS(NLI_CUBLAS_TYPE)
#undef NLI_CUBLAS_TYPE
}

/* Appends "; " and a reason to load_err. */
static void __attribute__((format(printf, 1, 2))) note(const char *fmt, ...) {
    size_t n = strlen(load_err);
    if (n + 3 >= sizeof load_err) return;
    if (n) {
        memcpy(load_err + n, "; ", 3);
        n += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(load_err + n, sizeof load_err - n, fmt, ap);
    va_end(ap);
}

/* Every function from an opened library, or 0 with the first missing one noted. */
static int resolve(void *h, const char *file) {
    struct nli_cublas_fns t;
    memset(&t, 0, sizeof t);
#define NLI_CUBLAS_SYM(m, f, type)                                                                              \
    {                                                                                                       \
        void *p = dlsym(h, NLI_XSTR(f));                                                                    \
        if (!p) {                                                                                           \
            note("%s has no function %s (is it cuBLAS %d?)", file, NLI_XSTR(f), CUBLAS_VER_MAJOR);         \
            return 0;                                                                                       \
        }                                                                                                   \
        memcpy(&t.m, &p, sizeof p);                                                                         \
    }
    NLI_CUBLAS_FUNCS(NLI_CUBLAS_SYM)
#undef NLI_CUBLAS_SYM
    nli_cublas = t;
    return 1;
}

/* Opens file and takes every function from it; on failure notes why. */
static int try_open(const char *file) {
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        note("%s", e ? e : file);
        return 0;
    }
    if (!resolve(h, file)) {
        dlclose(h);
        return 0;
    }
    /* the file the loader took (a bare soname names no folder) */
    void *any;
    Dl_info info;
    memcpy(&any, &nli_cublas.Create, sizeof any);
    snprintf(load_path, sizeof load_path, "%s",
             dladdr(any, &info) && info.dli_fname && *info.dli_fname ? info.dli_fname : file);
    return 1;
}

static void load(void) {
    const char *env = getenv("NEGLABEL_CUBLAS");
    if (env && *env) {
        if (try_open(env)) load_rc = 0;
        else {
            char why[sizeof load_err];
            snprintf(why, sizeof why, "%s", load_err);
            snprintf(load_err, sizeof load_err, "cuBLAS could not be loaded from NEGLABEL_CUBLAS=%s: %s", env,
                     why);
        }
        return;
    }
    if (try_open(SONAME)) {
        load_rc = 0;
        return;
    }
#ifdef NEGLABEL_CUBLAS_DIR
    if (try_open(NEGLABEL_CUBLAS_DIR "/" SONAME)) {
        load_rc = 0;
        return;
    }
#endif
    char why[sizeof load_err];
    snprintf(why, sizeof why, "%s", load_err);
    snprintf(load_err, sizeof load_err,
             "cuBLAS %d (%s) could not be loaded: %s. Install the CUDA %d toolkit or its cuBLAS library, or point "
             "LD_LIBRARY_PATH at its folder, or NEGLABEL_CUBLAS at the file",
             CUBLAS_VER_MAJOR, SONAME, why, CUBLAS_VER_MAJOR);
}
#endif

extern "C" int nli_cublas_load(void) {
    pthread_once(&load_once, load);
    if (load_rc != 0) nli_seterr_code(NL_ERR_DEVICE, "%s", load_err);
    return load_rc;
}

extern "C" const char *nli_cublas_path(void) { return load_rc == 0 ? load_path : NULL; }
