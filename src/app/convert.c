/* convert.c — nl_convert_checkpoint: a PyTorch CLIP checkpoint
 * (torch_ckpt.c) to a folder neglabel reads (safetensors_write.c):
 *
 * - OpenAI's checkpoints (TorchScript .pt, or a state dict in its names) to
 *   an OpenCLIP folder, the config inferred as open_clip infers it
 *   (openai_config.c) before any tensor data is read, so an archive that is
 *   not a CLIP fails fast;
 * - a Hugging Face CLIPModel state dict (pytorch_model.bin, all many
 *   fine-tunes on the Hub have) to a Hugging Face folder: the tensors, names
 *   and dtypes unchanged, in model.safetensors, and the config, tokenizer and
 *   preprocessing files of the .bin's folder copied beside it (its config is
 *   checked first, as the model load will). */
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

/* The files of a Hugging Face folder neglabel reads besides the weights. */
static const char *const HF_FILES[] = {"config.json",    "vocab.json",   "merges.txt",
                                       "tokenizer.json", "preprocessor_config.json", "processor_config.json"};

static int convert_hf(nli_ckpt *ck, const char *src, const char *dst_dir, nli_st_out *o) {
    char *dir = nli_dirname(src);
    char *cfg = dir ? nli_path_join(dir, "config.json") : NULL, *st_path = NULL;
    nli_clip_config c;
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
    if (nli_ckpt_load_data(ck) != 0) goto out;
    size_t bytes = 0;
    for (size_t i = 0; i < ck->n; i++) {
        o[i] = (nli_st_out){ck->t[i].name, nli_dtype_st_name(ck->t[i].dtype), ck->t[i].ndim, ck->t[i].shape,
                            ck->t[i].data, ck->t[i].nbytes};
        bytes += ck->t[i].nbytes;
    }
    if (nli_mkdir_p(dst_dir) != 0 || !(st_path = nli_path_join(dst_dir, "model.safetensors"))) goto out;
    if (nli_st_write(st_path, o, ck->n) != 0) goto out;
    for (size_t k = 0; k < sizeof HF_FILES / sizeof *HF_FILES; k++) {
        char *from = nli_path_join(dir, HF_FILES[k]), *to = nli_path_join(dst_dir, HF_FILES[k]), *data = NULL;
        size_t len = 0;
        int ok = from && to;
        if (ok && nli_file_exists(from) && !same_file(from, to))
            ok = nli_read_file(from, (size_t)256 << 20, &data, &len) == 0 && nl_write_file_atomic(to, data, len) == 0;
        free(data);
        free(from);
        free(to);
        if (!ok) goto out;
    }
    nli_log(NL_LOG_INFO, "%s: Hugging Face state dict, %zu tensors (%.1f MB) -> %s in %.1f s", src, ck->n,
            bytes / 1e6, dst_dir, nli_now() - t0);
    rc = 0;
out:
    free(st_path);
    free(cfg);
    free(dir);
    return rc;
}

static int find_vit(const nli_ckpt *ck) {
    for (size_t i = 0; i < ck->n; i++)
        if (strcmp(ck->t[i].name, "visual.proj") == 0) return 1;
    return 0;
}

int nl_convert_checkpoint(const char *src, const char *dst_dir) {
    if (!src || !dst_dir) { nli_seterr("nl_convert_checkpoint: NULL argument"); return -1; }
    nli_ckpt ck;
    if (nli_ckpt_open(src, &ck) != 0) return -1;
    int rc = -1;
    nli_buf cfg = {0};
    char *st_path = NULL, *cfg_path = NULL;
    nli_sd_entry *e = nli_mallocarray(ck.n, sizeof *e);
    nli_st_out *o = nli_mallocarray(ck.n, sizeof *o);
    if (!e || !o) goto out;
    if (is_hf(&ck)) {
        rc = convert_hf(&ck, src, dst_dir, o);
        goto out;
    }
    for (size_t i = 0; i < ck.n; i++) e[i] = (nli_sd_entry){ck.t[i].name, ck.t[i].ndim, ck.t[i].shape};
    if (nli_openai_config_json(e, ck.n, src, &cfg) != 0) goto out;
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
        !(cfg_path = nli_path_join(dst_dir, "open_clip_config.json")))
        goto out;
    if (nli_st_write(st_path, o, n) != 0 || nl_write_file_atomic(cfg_path, cfg.s, cfg.len) != 0) goto out;
    nli_log(NL_LOG_INFO, "%s: %s %s, %zu tensors (%.1f MB) -> %s in %.1f s", src,
            ck.torchscript ? "TorchScript" : "state dict", find_vit(&ck) ? "ViT" : "ModifiedResNet", n, bytes / 1e6,
            dst_dir, nli_now() - t0);
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
