/* convert.c — nl_convert_checkpoint: a PyTorch CLIP checkpoint
 * (torch_ckpt.c) to a folder neglabel reads (safetensors_write.c):
 *
 * - OpenAI's checkpoints (TorchScript .pt, or a state dict in its names,
 *   which are OpenCLIP's: open_clip_pytorch_model.bin, or open_clip_train's
 *   epoch_N.pt) to an OpenCLIP folder, read as open_clip's load_state_dict
 *   reads them: a training checkpoint's 'state_dict' entry, DDP's 'module.'
 *   prefix stripped (torch_ckpt.h). The config is the open_clip_config.json
 *   beside the checkpoint (or already in the output folder), checked against
 *   the tensors' shapes; without one, it is inferred as open_clip infers
 *   OpenAI's (openai_config.c: QuickGELU, OpenAI's preprocessing), and the
 *   summary says so. Either way
 *   before any tensor data is read, so an archive that is not a CLIP fails
 *   fast, and a config already in the output folder is never replaced by a
 *   different one;
 * - a Hugging Face CLIPModel state dict (pytorch_model.bin, all many
 *   fine-tunes on the Hub have) to a Hugging Face folder: the tensors, names
 *   and dtypes unchanged, in model.safetensors, and the config, tokenizer and
 *   preprocessing files of the .bin's folder copied beside it (its config is
 *   checked first, as the model load will). transformers loads the .bin as
 *   the state dict itself (modeling_utils.load_state_dict: torch.load, no
 *   'state_dict' entry taken, no 'module.' prefix stripped), so Hugging Face
 *   names in a training checkpoint or under 'module.' are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clip.h"
#include "neglabel.h"
#include "openai_config.h"
#include "safetensors.h"
#include "torch_ckpt.h"
#include "util.h"

static int is_hf(const nli_ckpt *ck) {
    for (size_t i = 0; i < ck->n; i++)
        if (!strncmp(ck->t[i].name, "text_model.", 11) || !strncmp(ck->t[i].name, "vision_model.", 13)) return 1;
    return 0;
}

static int same_file(const char *a, const char *b) {
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* The files of a Hugging Face folder neglabel reads besides the weights
 * (added_tokens.json, tokenizer_config.json, special_tokens_map.json: the
 * tokens added to the tokenizer, LAION's pad_token "!" say, matched whole
 * as transformers does; left behind, the converted folder would tokenize
 * them as plain BPE). */
static const char *const HF_FILES[] = {"config.json",
                                       "vocab.json",
                                       "merges.txt",
                                       "added_tokens.json",
                                       "tokenizer_config.json",
                                       "special_tokens_map.json",
                                       "tokenizer.json",
                                       "preprocessor_config.json",
                                       "processor_config.json"};

/* Write data to a's temporary file for path and sync it, not yet renamed
 * (published with the others by nli_atomic_publish_set). */
static int finish_copy(nli_atomic *a, const char *path, const void *data, size_t len) {
    if (nli_atomic_open(a, path) != 0) return -1;
    if (len) (void)fwrite(data, 1, len, a->f); /* a short write: nli_atomic_finish reports it, with its errno */
    return nli_atomic_finish(a);
}

/* nck archives (one pytorch_model.bin, or the shards of an index; src names
 * it) of one Hugging Face state dict to a folder. */
static int convert_hf(nli_ckpt *ck, size_t nck, const char *src, const char *dst_dir) {
    char *dir = nli_dirname(src);
    char *cfg = dir ? nli_path_join(dir, "config.json") : NULL, *st_path = NULL;
    nli_st_out *o = NULL;
    nli_clip_config c;
    nli_atomic files[1 + sizeof HF_FILES / sizeof *HF_FILES];
    size_t nf = 0;
    int rc = -1;
    if (!cfg) goto out;
    if (!nli_file_exists(cfg)) {
        nli_seterr("%s: a Hugging Face CLIP state dict, but no config.json beside it (the model folder's files "
                   "are copied with the weights)",
                   src);
        goto out;
    }
    if (nli_hf_config_load(dir, &c) != 0) goto out;
    char *oc = nli_path_join(dst_dir, "open_clip_config.json");
    int clash = oc && nli_file_exists(oc);
    free(oc);
    if (clash) {
        nli_seterr("%s holds open_clip_config.json, so it would be read as an OpenCLIP folder: choose another folder",
                   dst_dir);
        goto out;
    }
    /* a file of an earlier model in the output folder that the source has
     * no copy of would be read with these weights (vocab.json before the
     * source's tokenizer.json, say) */
    for (size_t k = 0; k < sizeof HF_FILES / sizeof *HF_FILES && !clash; k++) {
        char *from = nli_path_join(dir, HF_FILES[k]), *to = nli_path_join(dst_dir, HF_FILES[k]);
        clash = !from || !to || (nli_file_exists(to) && !nli_file_exists(from));
        if (clash && from && to)
            nli_seterr("%s holds %s, which %s does not: it would be read with the converted weights; remove it or "
                       "choose another folder",
                       dst_dir, HF_FILES[k], dir);
        free(from);
        free(to);
    }
    if (clash) goto out;
    double t0 = nli_now();
    size_t n = 0, bytes = 0;
    for (size_t k = 0; k < nck; k++) {
        if (nli_ckpt_load_data(&ck[k]) != 0) goto out;
        n += ck[k].n;
    }
    if (!(o = nli_mallocarray(n, sizeof *o))) goto out;
    n = 0;
    for (size_t k = 0; k < nck; k++)
        for (size_t i = 0; i < ck[k].n; i++) {
            const nli_ckpt_tensor *t = &ck[k].t[i];
            o[n++] = (nli_st_out){t->name, nli_dtype_st_name(t->dtype), t->ndim, t->shape, t->data, t->nbytes};
            bytes += t->nbytes;
        }
    if (nli_mkdir_p(dst_dir) != 0 || !(st_path = nli_path_join(dst_dir, "model.safetensors"))) goto out;
    /* The weights and the files beside them are published together: a
     * failure or a kill before the last one is written leaves the earlier
     * folder as it was, never new weights with an earlier model's config or
     * tokenizer (which would load without a word and embed wrongly). */
    if (nli_st_write_finish(&files[nf], st_path, o, n) != 0) goto out;
    nf++;
    for (size_t k = 0; k < sizeof HF_FILES / sizeof *HF_FILES; k++) {
        char *from = nli_path_join(dir, HF_FILES[k]), *to = nli_path_join(dst_dir, HF_FILES[k]), *data = NULL;
        size_t len = 0;
        int ok = from && to;
        if (ok && nli_file_exists(from) && !same_file(from, to)) {
            ok = nli_read_file(from, (size_t)256 << 20, &data, &len) == 0 && finish_copy(&files[nf], to, data, len) == 0;
            if (ok) nf++;
        }
        free(data);
        free(from);
        free(to);
        if (!ok) goto out;
    }
    int published = nli_atomic_publish_set(files, nf); /* frees them */
    nf = 0;
    if (published != 0) goto out;
    char shards[40] = "";
    if (nck > 1) snprintf(shards, sizeof shards, " in %zu shards", nck);
    nli_log(NL_LOG_INFO, "%s: Hugging Face state dict%s, %zu tensors (%.1f MB) -> %s in %.1f s", src, shards, n,
            bytes / 1e6, dst_dir, nli_now() - t0);
    rc = 0;
out:
    for (size_t k = 0; k < nf; k++) nli_atomic_abort(&files[k]);
    free(o);
    free(st_path);
    free(cfg);
    free(dir);
    return rc;
}

/* ------------------------------------------------------------ sharded .bin */

#define BIN_INDEX "pytorch_model.bin.index.json"

/* 1, with the error set, when src is one of the shards that the
 * pytorch_model.bin.index.json beside it names: alone it is part of the
 * model, which would convert into a folder that cannot load. */
static int shard_of_index(const char *src) {
    char *dir = nli_dirname(src), *ix_path = dir ? nli_path_join(dir, BIN_INDEX) : NULL;
    const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
    int hit = 0;
    nli_st_index ix;
    if (ix_path && nli_file_exists(ix_path) && nli_st_index_read_ext(ix_path, ".bin", &ix) == 0) {
        for (int s = 0; s < ix.n_shards && !hit; s++) hit = strcmp(ix.shards[s], base) == 0;
        nli_st_index_free(&ix);
        if (hit)
            nli_seterr("%s: one shard of the model that %s lists: convert the index (`neglabel convert %s -o DIR`), "
                       "which reads every shard",
                       src, ix_path, ix_path);
    }
    free(ix_path);
    free(dir);
    return hit;
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const nli_st_index_entry *)a)->tensor, ((const nli_st_index_entry *)b)->tensor);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* transformers' sharded pytorch_model.bin (save_pretrained with
 * safe_serialization=False past max_shard_size): the index's weight_map
 * names each tensor's shard, each shard a torch.save zip of part of the
 * state dict. Every shard is read (in order of first mention), every tensor
 * must be in the shard the index names, and every tensor the index names
 * must be in one (position_ids buffers excepted, as for safetensors
 * indexes); then the tensors are one Hugging Face state dict. */
static int convert_hf_sharded(const char *index, const char *dst_dir) {
    nli_st_index ix;
    if (nli_st_index_read_ext(index, ".bin", &ix) != 0) return -1;
    char *dir = nli_dirname(index);
    nli_ckpt *ck = nli_calloc((size_t)ix.n_shards, sizeof *ck);
    char **names = NULL; /* every shard's tensor names, sorted */
    size_t n = 0, cap = 0;
    int rc = -1;
    if (!dir || !ck) goto out;
    qsort(ix.map, ix.n_map, sizeof *ix.map, cmp_entry); /* looked up by name below */
    for (int s = 0; s < ix.n_shards; s++) {
        char *p = nli_path_join(dir, ix.shards[s]);
        if (!p) goto out;
        if (!nli_file_exists(p)) {
            nli_seterr("%s: shard '%s' does not exist", index, ix.shards[s]);
            free(p);
            goto out;
        }
        int r = nli_ckpt_open(p, &ck[s]);
        free(p);
        if (r != 0) goto out;
        if (ck[s].training || !is_hf(&ck[s])) {
            nli_seterr("%s: shard '%s' is not part of a Hugging Face CLIPModel state dict (%s)", index, ix.shards[s],
                       ck[s].training ? "a training checkpoint" : "no text_model. or vision_model. tensors");
            goto out;
        }
        for (size_t i = 0; i < ck[s].n; i++) {
            nli_st_index_entry key = {.tensor = ck[s].t[i].name};
            const nli_st_index_entry *e = bsearch(&key, ix.map, ix.n_map, sizeof *ix.map, cmp_entry);
            if (!e || e->shard != s) {
                char k[256];
                nli_sanitize(k, sizeof k, ck[s].t[i].name);
                if (e)
                    nli_seterr("%s: tensor '%s' is in shard '%s', but the index maps it to '%s'", index, k,
                               ix.shards[s], ix.shards[e->shard]);
                else
                    nli_seterr("%s: tensor '%s' of shard '%s' is not in the index's weight_map", index, k,
                               ix.shards[s]);
                goto out;
            }
            if (nli_grow((void **)&names, &cap, n + 1, sizeof *names) != 0) goto out;
            names[n++] = ck[s].t[i].name;
        }
    }
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < ix.n_map; i++) {
        const nli_st_index_entry *e = &ix.map[i];
        if (nli_ends_with(e->tensor, "position_ids") || bsearch(&e->tensor, names, n, sizeof *names, cmp_str)) continue;
        char k[256];
        nli_sanitize(k, sizeof k, e->tensor);
        nli_seterr("%s: tensor '%s' is mapped to '%s' but not found there", index, k, ix.shards[e->shard]);
        goto out;
    }
    rc = convert_hf(ck, (size_t)ix.n_shards, index, dst_dir);
out:
    if (ck)
        for (int s = 0; s < ix.n_shards; s++) nli_ckpt_free(&ck[s]);
    free(ck);
    free(names);
    free(dir);
    nli_st_index_free(&ix);
    return rc;
}

static int find_vit(const nli_ckpt *ck) {
    for (size_t i = 0; i < ck->n; i++)
        if (strcmp(ck->t[i].name, "visual.proj") == 0) return 1;
    return 0;
}

#define OC_CONFIG "open_clip_config.json"

/* The config of an OpenCLIP-named state dict (d: its shapes): the
 * open_clip_config.json beside src, else the one already in dst_dir, else
 * OpenAI's inferred. *cfg gets the bytes to write, *write whether dst_dir
 * needs them (not when its own config is the one used), *how a phrase for
 * the summary. */
static int openclip_config(const nli_sd_dims *d, const char *src, const char *dst_dir, nli_buf *cfg, int *write,
                           const char **how) {
    char *sdir = nli_dirname(src);
    char *beside = sdir ? nli_path_join(sdir, OC_CONFIG) : NULL, *in_dst = nli_path_join(dst_dir, OC_CONFIG);
    char *data = NULL, *other = NULL;
    size_t len = 0, olen = 0;
    int rc = -1;
    if (!beside || !in_dst) goto out;
    int have_beside = nli_file_exists(beside), have_dst = nli_file_exists(in_dst);
    int same = have_beside && have_dst && same_file(beside, in_dst);
    if (!have_beside && !have_dst) {
        nli_log(NL_LOG_INFO, "%s: no %s beside it: assuming OpenAI's QuickGELU and preprocessing (what OpenAI's "
                             "checkpoints need; an OpenCLIP model trained with GELU needs its own %s there)",
                src, OC_CONFIG, OC_CONFIG);
        rc = nli_openai_config_json(d, src, cfg);
        *write = 1;
        *how = "config inferred (OpenAI's QuickGELU and preprocessing)";
        goto out;
    }
    const char *use = have_beside ? beside : in_dst;
    nli_clip_config c;
    if (nli_openclip_config_load(have_beside ? sdir : dst_dir, &c) != 0) goto out;
    if (nli_openai_config_check(d, &c, use, src) != 0) goto out;
    if (nli_read_file(use, (size_t)16 << 20, &data, &len) != 0) goto out;
    if (have_beside && have_dst && !same) {
        if (nli_read_file(in_dst, (size_t)16 << 20, &other, &olen) != 0) goto out;
        if (olen != len || memcmp(data, other, len) != 0) {
            nli_seterr("%s already holds an %s that differs from %s: it would be replaced; remove it or choose "
                       "another folder",
                       dst_dir, OC_CONFIG, beside);
            goto out;
        }
    }
    *write = !have_dst;
    *how = have_beside ? "config from the " OC_CONFIG " beside it" : "config from the " OC_CONFIG " in the output folder";
    rc = nli_buf_append(cfg, data, len);
out:
    free(data);
    free(other);
    free(beside);
    free(in_dst);
    free(sdir);
    return rc;
}

int nl_convert_checkpoint(const char *src, const char *dst_dir) {
    if (!src || !dst_dir) { nli_seterr("nl_convert_checkpoint: NULL argument"); return -1; }
    if (nli_ends_with(src, ".bin.index.json")) return convert_hf_sharded(src, dst_dir);
    nli_ckpt ck;
    if (nli_ckpt_open(src, &ck) != 0) return -1;
    int rc = -1, write_cfg = 0;
    const char *how = "";
    nli_buf cfg = {0};
    nli_sd_dims dims;
    char *st_path = NULL, *cfg_path = NULL;
    nli_sd_entry *e = nli_mallocarray(ck.n, sizeof *e);
    nli_st_out *o = nli_mallocarray(ck.n, sizeof *o);
    if (!e || !o) goto out;
    if (is_hf(&ck) && !ck.training) {
        rc = shard_of_index(src) ? -1 : convert_hf(&ck, 1, src, dst_dir);
        goto out;
    }
    int stripped = nli_ckpt_strip_module(&ck, src);
    if (stripped < 0) goto out;
    if (is_hf(&ck)) {
        nli_seterr("%s: Hugging Face CLIPModel names%s%s: transformers loads a pytorch_model.bin as the state dict "
                   "itself (no 'state_dict' entry taken, no 'module.' prefix stripped), so it would not find these "
                   "weights; save the model's own state_dict() (or save_pretrained) instead",
                   src, ck.training ? " in a training checkpoint's 'state_dict'" : "",
                   stripped ? " under DDP's 'module.' prefix" : "");
        goto out;
    }
    if (ck.training) {
        char epoch[48] = "";
        if (ck.epoch >= 0) snprintf(epoch, sizeof epoch, " (epoch %lld)", (long long)ck.epoch);
        nli_log(NL_LOG_INFO, "%s: a training checkpoint%s: its 'state_dict' entry taken, as open_clip does; its %zu "
                "other entries (optimizer state ...) are not read", src, epoch, ck.ignored);
    }
    if (stripped)
        nli_log(NL_LOG_INFO, "%s: DDP's 'module.' prefix stripped from its %zu tensor names, as open_clip does",
                src, ck.n);
    for (size_t i = 0; i < ck.n; i++) e[i] = (nli_sd_entry){ck.t[i].name, ck.t[i].ndim, ck.t[i].shape};
    if (nli_openai_dims(e, ck.n, src, &dims) != 0 || openclip_config(&dims, src, dst_dir, &cfg, &write_cfg, &how) != 0)
        goto out;
    double t0 = nli_now();
    if (nli_ckpt_load_data(&ck) != 0) goto out;
    size_t n = 0, bytes = 0;
    for (size_t i = 0; i < ck.n; i++) {
        if (nli_openai_extra_key(ck.t[i].name)) continue;
        o[n++] = (nli_st_out){ck.t[i].name, nli_dtype_st_name(ck.t[i].dtype), ck.t[i].ndim, ck.t[i].shape,
                              ck.t[i].data, ck.t[i].nbytes};
        bytes += ck.t[i].nbytes;
    }
    if (nli_mkdir_p(dst_dir) != 0) goto out;
    if (!(st_path = nli_path_join(dst_dir, "open_clip_model.safetensors")) ||
        !(cfg_path = nli_path_join(dst_dir, OC_CONFIG)))
        goto out;
    /* weights and config published together (see convert_hf) */
    nli_atomic files[2];
    size_t nf = 0;
    if (nli_st_write_finish(&files[0], st_path, o, n) != 0) goto out;
    nf = 1;
    if (write_cfg && finish_copy(&files[nf], cfg_path, cfg.s, cfg.len) != 0) {
        nli_atomic_abort(&files[0]);
        goto out;
    }
    if (write_cfg) nf++;
    if (nli_atomic_publish_set(files, nf) != 0) goto out; /* frees them */
    nli_log(NL_LOG_INFO, "%s: %s %s, %zu tensors (%.1f MB), %s -> %s in %.1f s", src,
            ck.torchscript ? "TorchScript" : ck.training ? "training checkpoint's state dict" : "state dict",
            find_vit(&ck) ? "ViT" : "ModifiedResNet", n, bytes / 1e6, how, dst_dir, nli_now() - t0);
    rc = 0;
out:
    free(e);
    free(o);
    free(st_path);
    free(cfg_path);
    nli_buf_free(&cfg);
    nli_ckpt_free(&ck);
    return rc;
}
