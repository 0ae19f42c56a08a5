/* hub.h — models by name: a Hugging Face Hub id "org/name[@revision]"
 * resolved to a snapshot folder of the Hugging Face cache, laid out exactly
 * as huggingface_hub lays it out (so transformers and neglabel share it):
 *
 *   <cache>/models--org--name/refs/<revision>          the commit, 40 hex
 *   <cache>/models--org--name/blobs/<etag>             file contents
 *   <cache>/models--org--name/snapshots/<commit>/<f>   -> ../../blobs/<etag>
 *   <cache>/models--org--name/.no_exist/<commit>/<f>   "not in the repo"
 *
 * Missing files are downloaded with libcurl from HF_ENDPOINT unless
 * HF_HUB_OFFLINE is set. Everything from the network is treated as hostile
 * (docs/hub.md). The public entry point is nl_model_resolve (neglabel.h).
 * The code: hub_cache.c, hub_http.c and hub_download.c (what they share:
 * hub_impl.h). */
#ifndef NEGLABEL_HUB_H
#define NEGLABEL_HUB_H
#include <stddef.h>

#include "clip.h" /* nli_layout */

/* Bounds on what a server may make us do. */
#define NL_HUB_SMALL_FILE_MAX ((long long)64 << 20)   /* config, vocab, merges, index */
#define NL_HUB_WEIGHTS_FILE_MAX ((long long)128 << 30) /* one safetensors file */

/* Parse "org/name[@revision]". 1: a valid Hub id (*repo_id "org/name" and
 * *revision, "main" when absent, malloc'd); 0: not one (error set saying
 * why); -1: out of memory. The rules are huggingface_hub's for repo ids
 * (letters, digits, '-', '_', '.'; no "--" or ".."; at most 96 characters)
 * and git's safe subset for revisions (components of [A-Za-z0-9._-] joined
 * by '/', none starting with '.'). */
int nli_hub_parse_id(const char *name, char **repo_id, char **revision);

/* The cache folder, as huggingface_hub finds it: HF_HUB_CACHE, else
 * HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
 * $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub; a leading
 * "~/" is the home folder. malloc'd; NULL (error set) without any. */
char *nli_hub_cache_dir(void);

/* "models--org--name" for "org/name" (malloc'd). */
char *nli_hub_repo_folder(const char *repo_id);

/* 1 when s is 40 lowercase hex digits (a commit). */
int nli_hub_is_commit(const char *s);

/* The commit a revision names in the cache folder of one repo: the revision
 * itself when it is a commit, else the content of refs/<revision> (at most
 * 1 KiB, surrounding white space ignored), which must be a commit. 1 found,
 * 0 no such ref (error set), -1 a damaged ref (error set). */
int nli_hub_read_ref(const char *repo_dir, const char *revision, char commit[41]);

/* The snapshot folder of repo_id at revision when the cache already holds
 * every file neglabel needs in one layout (Hugging Face: config.json,
 * vocab.json, merges.txt and the weights, model.safetensors or the index
 * and each shard it names; OpenCLIP: open_clip_config.json and
 * open_clip_model.safetensors), else NULL with the error naming what is
 * missing. The layout read (*layout, when asked for): prefer (HF or
 * OPENCLIP) when the snapshot has its config (a CLIP config.json, for HF,
 * where open_clip_config.json is there too), else the other when it has
 * that one's. *fallback (when asked for): 1 when the other was taken
 * without a record (.no_exist) that the repository lacks prefer's config,
 * so that the Hub may have it. */
char *nli_hub_find_cached(const char *cache_dir, const char *repo_id, const char *revision, nli_layout prefer,
                          nli_layout *layout, int *fallback);

/* Hex digest of a file: SHA-256 (git_blob 0; 64 digits) or git's blob id,
 * SHA-1 of "blob <size>\0" + contents (git_blob 1; 40 digits). */
int nli_hub_file_digest(const char *path, int git_blob, char hex[65]);

/* Resolve repo_id at revision to a complete snapshot folder (malloc'd),
 * downloading what is missing unless HF_HUB_OFFLINE (or
 * TRANSFORMERS_OFFLINE) is set. NULL with the error set on failure. The
 * layout (prefer: HF or OPENCLIP; *layout: the one read): prefer's when the
 * repository has its config (for HF, a CLIP config.json: timm's config.json
 * beside open_clip_config.json is not one), else the other's. */
char *nli_hub_resolve(const char *repo_id, const char *revision, nli_layout prefer, nli_layout *layout);

/* ---- hub_openai.c: OpenAI's checkpoints by clip.load's names, and *.pt
 * files by path, converted once into <neglabel cache>/openai-clip. */

/* The index of one of clip.available_models()' names ("ViT-B/16"), or -1. */
int nli_openai_clip_index(const char *name);
/* That model's folder: its conversion of the published file when the cache
 * has it, else ~/.cache/clip/<file> converted (malloc'd; NULL with the error
 * naming where the file was looked for). */
char *nli_openai_clip_resolve(int index);
/* The conversion of the checkpoint file pt (with the open_clip_config.json
 * beside it, if any), made once, keyed by their SHA-256; index >= 0 when pt
 * is that model's file (its published digest is checked, a mismatch
 * warned). malloc'd; NULL with the error set. */
char *nli_checkpoint_resolve(const char *pt, int index);

#endif
