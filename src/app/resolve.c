/* resolve.c — what a model name names (nl_model_resolve): a path (a
 * folder, or a .pt checkpoint converted once), one of OpenAI's names for
 * its CLIPs (hub_openai.c), or a Hugging Face Hub id, "org/name[@rev]" as
 * transformers spells it or "hf-hub:org/name" as open_clip does, resolved
 * to its snapshot in the Hugging Face cache (hub_download.c), with the
 * layout (Hugging Face or OpenCLIP files) that library reads. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clip.h"
#include "hub.h"
#include "neglabel.h"
#include "util.h"

char *nli_model_resolve_layout(const char *name, nli_layout *layout) {
    *layout = NLI_LAYOUT_AUTO;
    if (!name || !*name) {
        nli_seterr("empty model name");
        return NULL;
    }
    struct stat st;
    /* open_clip's spelling of a Hub model, "hf-hub:org/name", is the Hub's
     * org/name read as open_clip reads it (a folder of that name wins, as
     * any path) */
    int hub_only = !strncmp(name, "hf-hub:", 7) && stat(name, &st) != 0;
    if (hub_only) name += 7;
    /* a path that exists wins (a checkpoint file, as clip.load takes one, is
     * converted once into the cache); then OpenAI's names for its CLIPs */
    int oi;
    if (stat(name, &st) == 0)
        return S_ISREG(st.st_mode) && nli_ends_with(name, ".pt") ? nli_checkpoint_resolve(name, -1) : nli_strdup(name);
    if (!hub_only && (oi = nli_openai_clip_index(name)) >= 0) return nli_openai_clip_resolve(oi);
    /* names that can only be paths */
    if (name[0] == '/' || name[0] == '.' || name[0] == '~' || !strchr(name, '/')) return nli_strdup(name);
    const char *at = strchr(name, '@');
    size_t idlen = at ? (size_t)(at - name) : strlen(name);
    const char *s1 = memchr(name, '/', idlen);
    if (!s1 || memchr(s1 + 1, '/', idlen - (size_t)(s1 - name) - 1)) return nli_strdup(name); /* a/b/c: a path */
    char *repo_id, *revision;
    int r = nli_hub_parse_id(name, &repo_id, &revision);
    if (r <= 0) {
        if (r == 0) nli_prefixerr("%s: no such folder, and not a Hugging Face Hub model name", name);
        return NULL;
    }
    char *dir = nli_hub_resolve(repo_id, revision, hub_only ? NLI_LAYOUT_OPENCLIP : NLI_LAYOUT_HF, layout);
    if (!dir) {
        nli_prefixerr("%s: no such folder; as a Hugging Face Hub model", name);
        *layout = NLI_LAYOUT_AUTO;
    }
    free(repo_id);
    free(revision);
    return dir;
}

char *nl_model_resolve(const char *name) {
    nli_layout layout;
    return nli_model_resolve_layout(name, &layout);
}
