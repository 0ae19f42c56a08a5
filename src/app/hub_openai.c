/* hub_openai.c — OpenAI's CLIP checkpoints by the names of OpenAI's `clip`
 * package ("ViT-B/16", "RN50", …: clip.available_models()), and TorchScript
 * or torch.save'd checkpoints (`*.pt`) named by their path, as clip.load
 * takes them. Such a file is converted once, as nl_convert_checkpoint
 * converts it, into an OpenCLIP folder in neglabel's cache
 * (<cache>/openai-clip/<SHA-256 of the file>/), which is what loads.
 *
 * A name is looked up where clip.load keeps its downloads, ~/.cache/clip
 * (clip.load's default download_root), under the file name of OpenAI's URL.
 * clip.load checks the file against the SHA-256 in that URL and downloads it
 * again when it differs; neglabel downloads nothing from OpenAI's CDN: it
 * converts the file it finds, warning when its digest is not the published
 * one. A name whose published file was converted before loads without
 * reading ~/.cache/clip at all. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "neglabel.h"
#include "hub_impl.h"

#define OPENAI_CDN "https://openaipublic.azureedge.net/clip/models/"

/* clip.clip._MODELS (openai-clip 1.0.1): name, the file name of the URL, the
 * SHA-256 in it; and the Hugging Face conversion, where there is one. */
static const struct {
    const char *name, *file, *sha256, *hf;
} g_models[] = {
    {"RN50", "RN50.pt", "afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762", NULL},
    {"RN101", "RN101.pt", "8fa8567bab74a42d41c5915025a8e4538c3bdbe8804a470a72f30b0d94fab599", NULL},
    {"RN50x4", "RN50x4.pt", "7e526bd135e493cef0776de27d5f42653e6b4c8bf9e0f653bb11773263205fdd", NULL},
    {"RN50x16", "RN50x16.pt", "52378b407f34354e150460fe41077663dd5b39c54cd0bfd2b27167a4a06ec9aa", NULL},
    {"RN50x64", "RN50x64.pt", "be1cfb55d75a9666199fb2206c106743da0f6468c9d327f3e0d0a543a9919d9c", NULL},
    {"ViT-B/32", "ViT-B-32.pt", "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
     "openai/clip-vit-base-patch32"},
    {"ViT-B/16", "ViT-B-16.pt", "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f",
     "openai/clip-vit-base-patch16"},
    {"ViT-L/14", "ViT-L-14.pt", "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836",
     "openai/clip-vit-large-patch14"},
    {"ViT-L/14@336px", "ViT-L-14-336px.pt", "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02",
     "openai/clip-vit-large-patch14-336"},
};
#define N_MODELS (sizeof g_models / sizeof g_models[0])

int nli_openai_clip_index(const char *name) {
    for (size_t i = 0; i < N_MODELS; i++)
        if (!strcmp(name, g_models[i].name)) return (int)i;
    return -1;
}

/* <cache>/openai-clip (malloc'd), or NULL with the error set. */
static char *converted_root(void) {
    char *cache = nl_default_cache_dir();
    if (!cache) {
        nli_seterr_code(NL_ERR_IO, "no neglabel cache folder to convert the checkpoint into: set NEGLABEL_CACHE, "
                                   "XDG_CACHE_HOME or HOME");
        return NULL;
    }
    char *r = nli_path_join(cache, "openai-clip");
    free(cache);
    return r;
}

/* A finished conversion: the two files a rename put there together. */
static int converted(const char *dir) {
    char *a = nli_path_join(dir, "open_clip_config.json"), *b = nli_path_join(dir, "open_clip_model.safetensors");
    int ok = a && b && nli_hub_is_regular(a) && nli_hub_is_regular(b);
    free(a);
    free(b);
    return ok;
}

/* Remove a folder this process made and the plain files in it. */
static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char *p = nli_path_join(dir, e->d_name);
            if (p) unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Remove the temporary folders ".tmp.<pid>.<tag>.XXXXXX" that a killed
 * conversion left in root (its pid no longer runs; a live one's is another
 * run's, left alone): a ViT-L/14 leaves 0.9 GB. Only this host's and pid
 * namespace's tag (nli_temp_tag): a cache shared with containers or over
 * NFS holds other machines' live conversions, whose pids mean nothing here. */
static void remove_stale(const char *root) {
    DIR *d = opendir(root);
    struct dirent *e;
    const char *tag = nli_temp_tag();
    size_t tl = strlen(tag);
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, ".tmp.", 5) != 0 || e->d_name[5] < '0' || e->d_name[5] > '9') continue;
        char *end;
        long pid = strtol(e->d_name + 5, &end, 10);
        if (*end != '.' || strncmp(end + 1, tag, tl) != 0 || end[1 + tl] != '.') continue;
        if (pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char *p = nli_path_join(root, e->d_name);
        if (p) {
            remove_tree(p);
            nli_log(NL_LOG_INFO, "removed %s, left by an interrupted conversion", p);
        }
        free(p);
    }
    if (d) closedir(d);
}

/* Convert pt into root/key (a temporary folder renamed into place, so a
 * folder of that name is always whole; a concurrent run's finished one is
 * used). The folder (malloc'd) or NULL with the error set. */
static char *convert_into(const char *root, const char *key, const char *pt, const char *label,
                          const char *hint) {
    char *dst = nli_path_join(root, key), *tmp = NULL;
    if (!dst) return NULL;
    if (converted(dst)) return dst;
    if (nli_mkdir_p(root) != 0) goto fail;
    remove_stale(root);
    size_t n = strlen(root) + 64;
    if (!(tmp = nli_malloc(n))) goto fail;
    snprintf(tmp, n, "%s/.tmp.%ld.%s.XXXXXX", root, (long)getpid(), nli_temp_tag());
    if (!mkdtemp(tmp)) {
        nli_seterr_code(NL_ERR_IO, "%s: cannot create a folder in the neglabel cache: %s", root, strerror(errno));
        goto fail;
    }
    nli_log(NL_LOG_INFO, "%s: converting %s once into %s", label, pt, dst);
    if (nl_convert_checkpoint(pt, tmp) != 0) {
        nli_prefixerr("%s: converting %s", label, pt);
        if (hint) {
            char saved[2048];
            nl_status st = nl_last_status();
            snprintf(saved, sizeof saved, "%s", nli_geterr());
            nli_seterr_code(st, "%s%s", saved, hint);
        }
        remove_tree(tmp);
        goto fail;
    }
    if (rename(tmp, dst) != 0) {
        int err = errno;
        remove_tree(tmp);
        if (!converted(dst)) { /* not a concurrent run's finished folder */
            nli_seterr_code(NL_ERR_IO, "%s: cannot move the converted checkpoint into place: %s", dst, strerror(err));
            goto fail;
        }
    }
    free(tmp);
    return dst;
fail:
    free(tmp);
    free(dst);
    return NULL;
}

char *nli_checkpoint_resolve(const char *pt, int index) {
    const char *label = index >= 0 ? g_models[index].name : pt;
    char *root = converted_root(), *key = NULL, *result = NULL;
    if (!root) return NULL;
    char hex[65];
    if (nli_hub_file_digest(pt, 0, hex) != 0) {
        nli_prefixerr("%s", label);
        goto done;
    }
    int mismatch = index >= 0 && strcmp(hex, g_models[index].sha256) != 0;
    if (mismatch)
        nli_log(NL_LOG_WARN,
                "%s: %s has SHA-256 %s, not the %s OpenAI publishes (clip.load would download it again; neglabel "
                "does not): converting it as it is",
                label, pt, hex, g_models[index].sha256);
    /* a config beside the checkpoint is part of what convert reads */
    char *dir = nli_dirname(pt), *cfg = dir ? nli_path_join(dir, "open_clip_config.json") : NULL;
    free(dir);
    if (!cfg) goto done;
    char chex[65] = "";
    int have_cfg = nli_hub_is_regular(cfg);
    int rc = have_cfg ? nli_hub_file_digest(cfg, 0, chex) : 0;
    free(cfg);
    if (rc != 0) {
        nli_prefixerr("%s", label);
        goto done;
    }
    if (!(key = nli_malloc(64 + 1 + 16 + 1))) goto done;
    snprintf(key, 64 + 1 + 16 + 1, "%s%s%.16s", hex, have_cfg ? "-" : "", chex);
    result = convert_into(root, key, pt, label,
                          mismatch ? " (not the file OpenAI publishes: an interrupted or damaged download? delete it "
                                     "and let clip.load fetch it again)"
                                   : NULL);
done:
    free(root);
    free(key);
    return result;
}

char *nli_openai_clip_resolve(int index) {
    char *clipdir = nli_hub_expand_user("~/.cache/clip"), *pt = clipdir ? nli_path_join(clipdir, g_models[index].file)
                                                                       : NULL;
    char *result = NULL;
    if (!pt) goto done;
    /* the published file was converted before: nothing to read or hash */
    char *root = converted_root(), *done_dir = root ? nli_path_join(root, g_models[index].sha256) : NULL;
    int have = done_dir && converted(done_dir);
    free(root);
    if (have) {
        result = done_dir;
        goto done;
    }
    free(done_dir);
    if (!nli_hub_is_regular(pt)) {
        char hf[128] = "";
        if (g_models[index].hf)
            snprintf(hf, sizeof hf, ", or name its Hugging Face conversion, %s", g_models[index].hf);
        nli_seterr_code(NL_ERR_IO,
                        "%s: OpenAI's checkpoint is not in %s (clip.load downloads it there from " OPENAI_CDN
                        "%s/%s; neglabel does not download it): put %s there, pass the path of the file as the "
                        "model%s",
                        g_models[index].name, clipdir, g_models[index].sha256, g_models[index].file,
                        g_models[index].file, hf);
        goto done;
    }
    result = nli_checkpoint_resolve(pt, index);
done:
    free(clipdir);
    free(pt);
    return result;
}
