/* hub_impl.h — what the parts of the Hub resolver and downloader share
 * (hub.h is their interface to the rest of the library). Private to
 * src/app/hub_*.c:
 *
 *   hub_cache.c     names, the cache folder and its paths, refs, what a
 *                   snapshot holds, digests; small helpers for the others
 *   hub_http.c      settings from the environment, libcurl requests: HEAD
 *                   with every answer checked, GET with resume and retries
 *   hub_download.c  writing the cache (blobs, pointers, refs, .no_exist),
 *                   the download of a snapshot, nli_hub_resolve and
 *                   nl_model_resolve */
#ifndef NEGLABEL_HUB_IMPL_H
#define NEGLABEL_HUB_IMPL_H
#include <stddef.h>

#include "hub.h"

/* The files neglabel needs besides the weights, and the one it reads when
 * the repository has it. */
#define NL_HUB_N_REQUIRED 3
extern const char *const nli_hub_required[NL_HUB_N_REQUIRED]; /* config.json, vocab.json, merges.txt */
#define NL_HUB_OPTIONAL_FILE "preprocessor_config.json"
#define NL_HUB_OPTIONAL_FILE2 "processor_config.json" /* transformers 5, when the first is absent */
/* transformers 4's added tokens beside vocab.json + merges.txt, when the
 * repository has them (matched whole, as transformers does) */
#define NL_HUB_ADDED_TOKENS "added_tokens.json"
#define NL_HUB_TOKENIZER_JSON "tokenizer.json" /* when a repo has no vocab.json */
#define NL_HUB_VOCAB_TXT "vocab.txt"           /* BERT's (ALIGN), when it has neither */
#define NL_HUB_SPIECE "spiece.model"           /* SentencePiece's (SigLIP), when it has none of them */
/* What else the tokenizer reads when a repo has them: the tokens added to
 * it (LAION's pad_token "!", matched whole as transformers does), and
 * spiece.model (SigLIP's tokenizer, also where a tokenizer.json is there:
 * transformers' SiglipTokenizer reads the SentencePiece model). */
#define NL_HUB_N_TOKENIZER_EXTRAS 3
extern const char *const nli_hub_tokenizer_extras[NL_HUB_N_TOKENIZER_EXTRAS];
/* OpenCLIP repositories (no config.json): their config and weights */
#define NL_HUB_OPENCLIP_CONFIG "open_clip_config.json"
#define NL_HUB_OPENCLIP_WEIGHTS "open_clip_model.safetensors"
/* A repository without safetensors weights (older fine-tunes): fetched and
 * converted to model.safetensors in the snapshot (nli_hub_convert_bin) */
#define NL_HUB_BIN "pytorch_model.bin"
#define NL_HUB_BIN_INDEX "pytorch_model.bin.index.json"
#define NL_HUB_OPENCLIP_BIN "open_clip_pytorch_model.bin" /* to open_clip_model.safetensors */

/* One resolve: where from, as whom, into which cache folder. */
typedef struct {
    char *endpoint;       /* no trailing '/' */
    const char *repo_id, *revision;
    char *token;
    long etag_timeout, dl_timeout;
    char *cache, *repo;   /* cache root and models--org--name within it */
} nli_hub_ctx;

/* What a HEAD on /resolve/ tells about one file. */
typedef struct {
    char name[256];
    char etag[65];
    char commit[41];
    char *url;          /* where to GET it: the resolve URL, or the CDN location */
    long long size;
    int lfs;            /* etag is a SHA-256 (64 hex) */
} nli_hub_file;

/* ---- hub_cache.c */

/* snap/from (NL_HUB_BIN or NL_HUB_BIN_INDEX) to snap/model.safetensors
 * (NL_HUB_OPENCLIP_BIN to snap/open_clip_model.safetensors), as
 * `neglabel convert` writes it (the restricted unpickler runs no code);
 * the .bin stays, the Hub's file in huggingface_hub's cache. Logged; the
 * error names the repository and commit. 0 or -1. */
int nli_hub_convert_bin(const char *repo_id, const char *snap, const char *from);

/* 1 when s is n lowercase hex digits and nothing more. */
int nli_hub_is_hex(const char *s, size_t n);
/* An environment variable set to 1, on, yes or true (any case). */
int nli_hub_env_true(const char *name);
/* An environment variable's value, NULL when unset or empty. */
const char *nli_hub_env(const char *name);
/* "~/x" -> "$HOME/x" (malloc'd). */
char *nli_hub_expand_user(const char *p);
/* root/a/b/... up to the NULL argument (malloc'd). */
char *nli_hub_path(const char *root, ...) __attribute__((sentinel));
/* A regular file, following symbolic links. */
int nli_hub_is_regular(const char *path);
/* Write all n bytes (retrying after EINTR); -1 with errno set. */
int nli_hub_write_all(int fd, const char *p, size_t n);
/* The Hugging Face home folder, which holds the cache and the token file,
 * as huggingface_hub finds it: HF_HOME ("~/" expanded), else
 * $XDG_CACHE_HOME/huggingface, else $HOME/.cache/huggingface. 0 with *home
 * malloc'd, or NULL when none of them is set; -1 out of memory. */
int nli_hub_home(char **home);
/* 1 when snap holds every file neglabel needs in layout (HF or OPENCLIP);
 * else 0 with *missing set (static string or error message); -1 on a bad
 * index. */
int nli_hub_snapshot_complete(const char *snap, nli_layout layout, const char **missing);
/* snap/name is a regular file (following links). */
int nli_hub_in_snapshot(const char *snap, const char *name);
/* repo_dir/.no_exist/commit/file is there: huggingface_hub's record that
 * the repository has no such file at that commit. */
int nli_hub_no_exist_marked(const char *repo_dir, const char *commit, const char *file);
/* The config file of a layout: config.json or open_clip_config.json. */
const char *nli_hub_layout_config(nli_layout layout);
/* The error for a cache that cannot be written (path, errno err). */
void nli_hub_cache_error(const nli_hub_ctx *h, const char *path, int err);

/* ---- hub_http.c */

/* The connection settings as huggingface_hub reads them: HF_ENDPOINT
 * (default https://huggingface.co, must be http(s)), the token (HF_TOKEN,
 * HUGGING_FACE_HUB_TOKEN or the file of `hf auth login`; none with
 * HF_HUB_DISABLE_IMPLICIT_TOKEN), HF_HUB_ETAG_TIMEOUT and
 * HF_HUB_DOWNLOAD_TIMEOUT (seconds, default 10). Sets h->endpoint and
 * h->token (malloc'd; the caller frees them) and the timeouts. */
int nli_hub_settings(nli_hub_ctx *h);
/* <endpoint>/<repo_id>/resolve/<revision, quoted>/<file> (malloc'd). */
char *nli_hub_resolve_url(const nli_hub_ctx *h, const char *revision, const char *file);
/* HEAD url following redirects that stay on the Hub (a renamed repo), as
 * huggingface_hub does; a redirect elsewhere (the CDN, for LFS files) is
 * where the content will come from. 0 on success with *m filled (m->url
 * malloc'd); -1 with the error set; *status receives the HTTP status (0: no
 * response) and *error_code, when asked for, the Hub's X-Error-Code
 * (malloc'd, or NULL). */
int nli_hub_head(const nli_hub_ctx *h, const char *url, nli_hub_file *m, long *status, char **error_code);
/* GET m->url into fd (opened O_APPEND on the file part, which holds *have
 * bytes) until it holds all m->size bytes: resuming with Range requests,
 * starting over when the server ignores the range or answers 416, retrying
 * transient failures, with a progress line. 0 when *have == m->size; else
 * -1 with the error set (part named when its bytes are kept). */
int nli_hub_get(const nli_hub_ctx *h, const nli_hub_file *m, int fd, const char *part, long long *have);
/* url as messages show it (nli_sanitize'd into out, n bytes), its query
 * string left out: a storage host's signature there lets whoever reads a
 * log fetch the file, a private or gated one too, until it expires. */
void nli_hub_url_text(char *out, size_t n, const char *url);

#endif
