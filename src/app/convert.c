/* convert.c — nl_convert_checkpoint: a PyTorch CLIP checkpoint
 * (torch_ckpt.c) to an OpenCLIP folder (safetensors_write.c,
 * openai_config.c). The config is inferred before any tensor data is read,
 * so an archive that is not a CLIP fails fast. */
#include <stdlib.h>
#include <string.h>

#include "neglabel.h"
#include "openai_config.h"
#include "safetensors.h"
#include "torch_ckpt.h"
#include "util.h"

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
