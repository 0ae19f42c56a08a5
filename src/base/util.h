/* util.h — error reporting, bounded allocation, files, progress.
 * Every library function reports failure by returning an error value and
 * leaving one message in a thread-local buffer (nli_seterr); callers add
 * context with nli_prefixerr ("model.safetensors: ..."). Nothing here exits. */
#ifndef NEGLABEL_UTIL_H
#define NEGLABEL_UTIL_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Largest single allocation the library will attempt (bytes). Guards against
 * sizes read from hostile headers; real models need far less per buffer. */
#define NL_ALLOC_LIMIT ((size_t)16 << 30)
/* The longest text the model embeds (a label, a prompt): BPE tokenises a
 * text whole before the cut to the context, at ~26 bytes per byte, so a
 * 60 MB label line took 1.6 GB; text files' lines are checked on reading. */
#define NLI_TEXT_EMBED_MAX ((size_t)1 << 20)

void nli_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* NL_ERR_INVALID */
/* The same with a status (nl_status in neglabel.h). */
void nli_seterr_code(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepend "prefix: " to the current message (e.g. the file name). */
void nli_prefixerr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *nli_geterr(void);
/* "path: " before the message, unless it already begins so (an error from
 * deeper down that named the file itself). */
void nli_prefixerr_file(const char *path);
/* An error kept to be raised again: one from a worker thread (the message
 * and status are thread-local), or across calls that overwrite it. */
typedef struct {
    int status;
    char msg[2048];
} nli_saved_err;
void nli_err_save(nli_saved_err *e);
void nli_err_restore(const nli_saved_err *e);
/* A public entry point given NULL where it needs a pointer: the error
 * "<fn>: NULL argument" (NL_ERR_INVALID), and -1 to return. */
int nli_null_arg(const char *fn);

/* Allocation: NULL (with error set) on overflow, over NL_ALLOC_LIMIT or OOM. */
void *nli_malloc(size_t n);
void *nli_calloc(size_t count, size_t size);
void *nli_mallocarray(size_t count, size_t size);
void *nli_realloc(void *p, size_t n);
char *nli_strdup(const char *s);
char *nli_strndup(const char *s, size_t n);
/* A string from a file or a server made safe to quote in a message: bytes
 * outside printable ASCII become '?', and after 200 characters "..." ends
 * it (also cut to fit cap). in NULL gives "". */
void nli_sanitize(char *out, size_t cap, const char *in);
/* Grow *p (capacity *cap elements of size sz) to hold at least need. */
int nli_grow(void **p, size_t *cap, size_t need, size_t sz);
/* A growing list of token ids (the tokenizers' outputs). */
typedef struct {
    int32_t *v;
    size_t n, cap;
} nli_ivec;
/* Append x: 0, or -1 (error set) when out of memory. */
int nli_ivec_push(nli_ivec *v, int32_t x);

struct stat;
/* path opened read-only when it is a regular file (*st its stat), else -1
 * with the error set; never waits (a FIFO is refused, not opened for a
 * writer that may never come). */
int nli_open_regular(const char *path, struct stat *st);
/* The same as a stdio stream ("rb"); NULL with the error set. */
FILE *nli_fopen_regular(const char *path, struct stat *st);
/* Whole-file read; result NUL-terminated; files larger than max are refused. */
int nli_read_file(const char *path, size_t max, char **out, size_t *len);
/* The same for a file the user names as input (labels, negatives, scores,
 * image lists): also a pipe or character device, read to its end (`<(cmd)`,
 * /dev/stdin); a FIFO without a writer reads as empty, never waits. */
int nli_read_input(const char *path, size_t max, char **out, size_t *len);
/* The same input read piece by piece (a score file of millions of rows
 * need not be held whole): nli_input_open applies nli_read_input's rules
 * (a regular file over max refused at once; a pipe or device past max
 * refused when read; a FIFO without a writer empty; Ctrl-C polled while a
 * pipe waits); nli_input_read gives up to want bytes, 0 at the end, -1
 * with the error set. */
typedef struct { int fd, stream; const char *path; size_t max, total; } nli_input;
int nli_input_open(nli_input *in, const char *path, size_t max);
long long nli_input_read(nli_input *in, char *buf, size_t want);
void nli_input_close(nli_input *in);
/* Length of a UTF-8 byte order mark (EF BB BF) at the start of a text of
 * len bytes: 3, or 0 if there is none. Every text input skips it (Windows
 * Notepad writes one). */
size_t nli_bom_len(const char *s, size_t len);
/* 1 when s ends with suffix. */
int nli_ends_with(const char *s, const char *suffix);

/* Numbers in the files the library writes and reads (results.json,
 * scores.csv, report.html, negatives files, score files, model info) are
 * C-locale text, '.' as the decimal point, whatever the process's
 * LC_NUMERIC is (a Python program that called
 * locale.setlocale(locale.LC_ALL, "") in a German locale wrote "0,5"):
 * nli_numeric_c_begin switches this thread to the C locale and returns
 * what nli_numeric_c_end puts back (NULL: left as it was). */
void *nli_numeric_c_begin(void);
void nli_numeric_c_end(void *saved);

/* Read-only memory map of a whole file. */
typedef struct { const uint8_t *data; size_t len; } nli_map;
int nli_map_file(const char *path, nli_map *m);
void nli_unmap(nli_map *m);
/* Give back the resident pages lying wholly inside [p, p + len) (partial
 * pages at the ends stay). For a nli_map (read-only, private) a later read
 * faults the file's bytes in again, so this only bounds memory; for
 * nli_pages_alloc memory the contents are gone (they read as zeros). */
void nli_pages_drop(const void *p, size_t len);
/* Zero-filled anonymous pages (mmap) that nli_pages_drop can give back in
 * part; the limits and errors of nli_malloc. Free with the same n. */
void *nli_pages_alloc(size_t n);
void nli_pages_free(void *p, size_t n);

/* Crash-safe output (atomic.c): write to "<path>.tmp.<pid>.<n>.<tag>" (n: a number of this
 * process, so concurrent writers of one path never share it; tag: nli_temp_tag), then fsync + rename + fsync
 * of the folder. On any error the temp file is removed and the message
 * names path; whatever was at path before is left as it was. Open removes
 * the temp files of the same target that killed runs left (their pid is
 * gone). Several files that belong together are finished first (every
 * write error found) and published after. A symbolic link to a file: the
 * file is replaced, the link kept. A pipe or a device (/dev/stdout, a
 * FIFO): written in place, tmp NULL. A dangling link: refused. */
typedef struct nli_atomic_io nli_atomic_io; /* the descriptor and the first write error */
typedef struct { FILE *f; char *path; char *tmp; nli_atomic_io *io; } nli_atomic;
/* "<path>.<kind>.<pid>.<n>.<tag>", n from a process-wide counter: a name of this
 * call's own, also among threads (malloc'd; NULL: error set). */
char *nli_temp_name(const char *path, const char *kind);
/* 8 hex digits naming this host and pid namespace: a sweep of temporary
 * names removes a dead pid's only under its own tag (another container's
 * or NFS client's pids cannot be checked from here). */
const char *nli_temp_tag(void);
int nli_atomic_open(nli_atomic *a, const char *path);
int nli_atomic_finish(nli_atomic *a);  /* flush, fsync, close; -1: aborted */
int nli_atomic_publish(nli_atomic *a); /* rename into place, fsync the folder; frees */
int nli_atomic_commit(nli_atomic *a);  /* finish + publish */
/* Publish n finished files that belong together, all or none: each
 * earlier version is kept as a hard link ("<path>.old.<pid>.<n>.<tag>") until every
 * rename has worked; when one fails, those already renamed are put back
 * and the message says no file was changed. Where that cannot be done
 * (no hard links, the putting back fails too) the message ends with
 * "already replaced: " and the base names of the files that are new.
 * Frees all n. */
int nli_atomic_publish_set(nli_atomic *a, size_t n);
void nli_atomic_abort(nli_atomic *a);  /* closes and removes the temp file; frees */
int nl_write_file_atomic(const char *path, const void *data, size_t len);

/* 1 when s can be one field of a TSV line: no TAB, CR or LF. */
int nli_tsv_field_ok(const char *s);
/* The first of v[0..n) that cannot (NULL entries skipped), or NULL. */
const char *nli_tsv_first_bad(const char *const *v, size_t n);

/* Growable string buffer. */
typedef struct { char *s; size_t len, cap; } nli_buf;
int nli_buf_append(nli_buf *b, const char *s, size_t n);
int nli_buf_puts(nli_buf *b, const char *s);
int nli_buf_printf(nli_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal (quotes included, escapes applied). */
int nli_buf_json_string(nli_buf *b, const char *s);
void nli_buf_free(nli_buf *b);

char *nli_path_join(const char *dir, const char *name); /* malloc'd */
/* The folder holding path ("/" for "/x", "." for a bare name); malloc'd. */
char *nli_dirname(const char *path);
int nli_file_exists(const char *path);
/* data (a file's first len bytes, or all of it) is a Git LFS pointer: a
 * repository cloned without git-lfs has these small text files in place
 * of its weights. */
int nli_is_lfs_pointer(const void *data, size_t len);
/* JSON text parsed whole (jansson 2.14) costs 40 bytes a value for
 * "[0,0,...]" (20x the text), 136 for "[[],[],...]", 232 for "[{},{},...]"
 * (77x). Before parsing a file its values are counted (commas and opening
 * brackets outside strings: a cheap upper estimate) and past max_values it
 * is refused: -1 and "<what>: more than N JSON values ...".
 * NLI_JSON_MAX_VALUES suits model files (a safetensors header has ~10 values
 * a tensor, CLIP's tokenizer.json ~100,000, a config with 21k labels
 * ~42,000) and bounds a parse to ~250 MB. */
#define NLI_JSON_MAX_VALUES ((size_t)1 << 20)
int nli_json_check_values(const char *what, const char *text, size_t len, size_t max_values);
int nli_mkdir_p(const char *path);

/* Thread count: NEGLABEL_THREADS, else OMP_NUM_THREADS, else online CPUs
 * (values outside 1..NLI_MAX_THREADS ignored, the CPUs capped). */
#define NLI_MAX_THREADS 1024
int nli_num_threads(void);
/* A params struct's n_threads: 0 or less, nli_num_threads(); else at most
 * NLI_MAX_THREADS (OpenMP's threads each take a stack). */
int nli_threads(int requested);
double nli_now(void); /* monotonic seconds */

/* A message to the nl_set_log callback (none set: dropped). One line, no
 * trailing newline. */
void nli_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Progress of long work, to the nl_set_progress callback (none: silent):
 * at most a few updates a second, and the final one for jobs over 0.2 s. */
typedef struct {
    const char *label;
    size_t total, done;
    double t0, last;
    int quiet; /* this job reports nothing */
} nli_progress;
/* 1, with the error "cancelled" (NL_ERR_CANCELLED), when the nl_set_cancel
 * callback asks long work to stop; polled between batches. */
int nli_cancelled(void);
/* What an embedding that is not finite means, and what to try. */
#define NLI_OVERFLOW_HINT "the model's forward pass overflowed; in fp16, try bf16 or fp32"
/* Sleep for `seconds` in steps of 100 ms, asking nli_cancelled() before
 * each step and at the end (a blocking wait would outlive a Ctrl-C, as the
 * CLI's handler restarts system calls). 0, or -1 when cancelled. */
int nli_sleep_cancellable(double seconds);
/* 1 when none of the n values is NaN or infinite. */
int nli_all_finite(const float *v, size_t n);
void nli_progress_start(nli_progress *p, const char *label, size_t total);
void nli_progress_update(nli_progress *p, size_t done);
void nli_progress_end(nli_progress *p);
/* The final call of a job that ends with rc (0, or -1 with the error set:
 * the error survives whatever the callback does). */
void nli_progress_finish(nli_progress *p, int rc);
/* Mute (on 1) or unmute the progress of jobs this thread starts from now
 * on, as a job that runs another as its part does; returns the previous
 * setting, to restore. */
int nli_progress_mute(int on);

/* 64-bit FNV-1a, for cache keys and checksums. */
uint64_t nli_fnv1a(const void *data, size_t len, uint64_t h);
#define NL_FNV_INIT 0xcbf29ce484222325ULL

/* A fast 64-bit hash of every byte (four multiply-rotate lanes over 8-byte
 * words, ~8 bytes per cycle), for whole weight files: a model fingerprint
 * must see every byte, and FNV-1a's byte at a time would cost a second per
 * GB. Not cryptographic: it tells files apart, it does not resist forgery. */
uint64_t nli_hash64(const void *data, size_t len, uint64_t seed);

#endif
