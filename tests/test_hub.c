/* test_hub.c — models by name without a network: Hub id parsing, the
 * cache folder from the environment, refs, snapshots (complete, partial,
 * hostile), digests, offline loading, and the errors when the endpoint is
 * unreachable. The downloader against a live server is tests/cli_hub.sh. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "hub.h"
#include "neglabel.h"

static const char *FILES[] = {"config.json", "vocab.json", "merges.txt", "preprocessor_config.json",
                              "model.safetensors"};

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
    char buf[1 << 16];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b && fclose(b) != 0) ok = 0;
    return ok ? 0 : -1;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int has(const char *haystack, const char *needle) { return haystack && strstr(haystack, needle) != NULL; }

static void mkdirs(const char *p) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", p);
    if (system(cmd) != 0) fprintf(stderr, "mkdir -p %s failed\n", p);
}

#define COMMIT "0123456789abcdef0123456789abcdef01234567"

/* A cache laid out as huggingface_hub does, holding the tiny model as
 * org/tiny at COMMIT (refs/main), blobs named by file name for the test. */
static char *make_cache(const char *root, const char *model) {
    char *repo = check_path(root, "models--org--tiny");
    char *blobs = check_path(repo, "blobs"), *refs = check_path(repo, "refs");
    char snap[4096];
    snprintf(snap, sizeof snap, "%s/snapshots/%s", repo, COMMIT);
    mkdirs(blobs);
    mkdirs(refs);
    mkdirs(snap);
    for (size_t i = 0; i < sizeof FILES / sizeof FILES[0]; i++) {
        char *src = check_path(model, FILES[i]), *blob = check_path(blobs, FILES[i]), *ptr = check_path(snap, FILES[i]);
        char target[512];
        snprintf(target, sizeof target, "../../blobs/%s", FILES[i]);
        CHECK(copy_file(src, blob) == 0, "copy %s", src);
        unlink(ptr);
        CHECK(symlink(target, ptr) == 0, "symlink %s: %s", ptr, strerror(errno));
        free(src);
        free(blob);
        free(ptr);
    }
    char *main_ref = check_path(refs, "main");
    write_text(main_ref, COMMIT); /* no newline, as huggingface_hub writes it */
    free(main_ref);
    free(blobs);
    free(refs);
    free(repo);
    return strdup(snap);
}

static void test_parse(void) {
    char *id, *rev;
    CHECK(nli_hub_parse_id("openai/clip-vit-base-patch16", &id, &rev) == 1 &&
              !strcmp(id, "openai/clip-vit-base-patch16") && !strcmp(rev, "main"),
          "plain id");
    free(id);
    free(rev);
    CHECK(nli_hub_parse_id("laion/CLIP-ViT-B-32-laion2B-s34B-b79K@v1.0", &id, &rev) == 1 && !strcmp(rev, "v1.0"),
          "tag");
    free(id);
    free(rev);
    CHECK(nli_hub_parse_id("org/name@refs/pr/1", &id, &rev) == 1 && !strcmp(id, "org/name") && !strcmp(rev, "refs/pr/1"),
          "pr ref");
    free(id);
    free(rev);
    CHECK(nli_hub_parse_id("org/name@" COMMIT, &id, &rev) == 1 && nli_hub_is_commit(rev), "commit");
    free(id);
    free(rev);
    const char *bad[] = {"org/na--me", "org/a..b", "-org/x", "org/x-", "org/x@../a", "org/x@a//b", "org/x@",
                         "org/x@.hidden", "org/x@a/", "a/b/c", "org/na me", "/org", "org/", "org/x@a/../b",
                         "org/x@main.lock", "org/x@a b",
                         "org/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                         "aaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        id = rev = (char *)"x";
        int r = nli_hub_parse_id(bad[i], &id, &rev);
        CHECK(r == 0 && !id && !rev, "'%s' refused (got %d)", bad[i], r);
    }
    char *f = nli_hub_repo_folder("openai/clip-vit-base-patch16");
    CHECK(f && !strcmp(f, "models--openai--clip-vit-base-patch16"), "repo folder %s", f);
    free(f);
}

static void clear_env(void) {
    const char *vars[] = {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "HF_HUB_OFFLINE",
                          "TRANSFORMERS_OFFLINE", "TRANSFORMERS_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH",
                          "HF_ENDPOINT", "HF_HUB_DISABLE_IMPLICIT_TOKEN"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
}

static void expect_cache(const char *want, const char *what) {
    char *c = nli_hub_cache_dir();
    CHECK(c && !strcmp(c, want), "%s: cache %s, want %s", what, c ? c : nl_last_error(), want);
    free(c);
}

static void test_cache_dir(void) {
    clear_env();
    setenv("HOME", "/home/u", 1);
    expect_cache("/home/u/.cache/huggingface/hub", "HOME");
    setenv("XDG_CACHE_HOME", "~/xdg", 1); /* expanded, as huggingface_hub expands HF_HOME */
    expect_cache("/home/u/xdg/huggingface/hub", "XDG_CACHE_HOME with ~");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    expect_cache("/xdg/huggingface/hub", "XDG_CACHE_HOME");
    setenv("HF_HOME", "~/hf", 1);
    expect_cache("/home/u/hf/hub", "HF_HOME with ~");
    setenv("TRANSFORMERS_CACHE", "~/tc", 1);
    expect_cache("/home/u/tc", "TRANSFORMERS_CACHE (transformers 4's) over HF_HOME");
    setenv("HUGGINGFACE_HUB_CACHE", "/legacy", 1);
    expect_cache("/legacy", "HUGGINGFACE_HUB_CACHE over TRANSFORMERS_CACHE");
    setenv("HF_HUB_CACHE", "/new", 1);
    expect_cache("/new", "HF_HUB_CACHE");
    setenv("HF_HUB_CACHE", "", 1); /* empty: unset */
    expect_cache("/legacy", "empty HF_HUB_CACHE");
    clear_env();
}

/* neglabel's own cache (the CLI's default --cache; where OpenAI's
 * checkpoints are converted): NEGLABEL_CACHE, XDG_CACHE_HOME/neglabel,
 * HOME/.cache/neglabel; empty values skipped; none: NULL. */
static void expect_nl_cache(const char *want, const char *what) {
    char *c = nl_default_cache_dir();
    CHECK(want ? c && !strcmp(c, want) : !c, "%s: %s, want %s", what, c ? c : "NULL", want ? want : "NULL");
    free(c);
}

static void test_default_cache_dir(void) {
    const char *home = getenv("HOME");
    char *saved = home ? strdup(home) : NULL;
    clear_env();
    unsetenv("NEGLABEL_CACHE");
    unsetenv("HOME");
    expect_nl_cache(NULL, "nothing set");
    setenv("HOME", "", 1);
    expect_nl_cache(NULL, "empty HOME");
    setenv("HOME", "/home/u", 1);
    expect_nl_cache("/home/u/.cache/neglabel", "HOME");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    expect_nl_cache("/xdg/neglabel", "XDG_CACHE_HOME over HOME");
    setenv("NEGLABEL_CACHE", "/nl", 1);
    expect_nl_cache("/nl", "NEGLABEL_CACHE over both");
    setenv("NEGLABEL_CACHE", "", 1);
    expect_nl_cache("/xdg/neglabel", "empty NEGLABEL_CACHE");
    unsetenv("NEGLABEL_CACHE");
    clear_env();
    if (saved) setenv("HOME", saved, 1);
    free(saved);
}

static void test_refs(const char *tmp) {
    char *repo = check_path(tmp, "refs-repo");
    char *refs = check_path(repo, "refs");
    mkdirs(refs);
    char commit[41];
    char *main_ref = check_path(refs, "main");
    write_text(main_ref, COMMIT "\n");
    CHECK(nli_hub_read_ref(repo, "main", commit) == 1 && !strcmp(commit, COMMIT), "ref with newline");
    write_text(main_ref, "../../../../etc/passwd");
    CHECK(nli_hub_read_ref(repo, "main", commit) == -1 && has(nl_last_error(), "not a commit"), "hostile ref: %s",
          nl_last_error());
    write_text(main_ref, "0123456789ABCDEF0123456789ABCDEF01234567");
    CHECK(nli_hub_read_ref(repo, "main", commit) == -1, "upper-case ref refused");
    FILE *f = fopen(main_ref, "wb");
    for (int i = 0; f && i < 5000; i++) fputc('a', f);
    if (f) fclose(f);
    CHECK(nli_hub_read_ref(repo, "main", commit) == -1, "oversized ref refused");
    CHECK(nli_hub_read_ref(repo, "nope", commit) == 0, "missing ref");
    CHECK(nli_hub_read_ref(repo, COMMIT, commit) == 1 && !strcmp(commit, COMMIT), "commit needs no ref");
    free(main_ref);
    free(refs);
    free(repo);
}

static void test_digest(const char *tmp) {
    char *p = check_path(tmp, "digest.txt");
    char hex[65];
    write_text(p, "abc");
    CHECK(nli_hub_file_digest(p, 0, hex) == 0 &&
              !strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "sha256(abc) %s", hex);
    write_text(p, "hello\n"); /* git hash-object */
    CHECK(nli_hub_file_digest(p, 1, hex) == 0 && !strcmp(hex, "ce013625030ba8dba906f756967f9e9ca394464a"),
          "git blob id %s", hex);
    write_text(p, "");
    CHECK(nli_hub_file_digest(p, 1, hex) == 0 && !strcmp(hex, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"),
          "empty blob id %s", hex);
    free(p);
}

static void test_snapshots(const char *tmp, const char *model) {
    char *cache = check_path(tmp, "cache");
    char *snap = make_cache(cache, model);
    char *got = nli_hub_find_cached(cache, "org/tiny", "main", NLI_LAYOUT_HF, NULL, NULL);
    CHECK(got && !strcmp(got, snap), "complete snapshot: %s", got ? got : nl_last_error());
    free(got);
    got = nli_hub_find_cached(cache, "org/tiny", COMMIT, NLI_LAYOUT_HF, NULL, NULL);
    CHECK(got && !strcmp(got, snap), "by commit");
    free(got);
    CHECK(!nli_hub_find_cached(cache, "org/tiny", "v2", NLI_LAYOUT_HF, NULL, NULL) && has(nl_last_error(), "refs/v2"), "unknown ref: %s",
          nl_last_error());
    CHECK(!nli_hub_find_cached(cache, "org/other", "main", NLI_LAYOUT_HF, NULL, NULL), "unknown repo");

    /* offline: loading by name reads the snapshot; HF_HUB_OFFLINE=yes */
    clear_env();
    setenv("HF_HUB_CACHE", cache, 1);
    setenv("HF_HUB_OFFLINE", "yes", 1);
    nl_model *m = nl_model_load("org/tiny", NULL);
    CHECK(m != NULL, "offline load: %s", nl_last_error());
    if (m) {
        char *js = nl_model_info_json(m);
        CHECK(has(js, snap), "info names the snapshot: %.120s", js);
        free(js);
        nl_model_free(m);
    }
    m = nl_model_load("org/tiny@" COMMIT, NULL);
    CHECK(m != NULL, "offline load by commit: %s", nl_last_error());
    nl_model_free(m);
    CHECK(!nl_model_load("org/absent", NULL) && has(nl_last_error(), "not in the Hugging Face cache") &&
              has(nl_last_error(), "org/absent"), "offline, not cached: %s", nl_last_error());
    CHECK(nl_last_status() == NL_ERR_IO, "status io");

    /* partial snapshot: named in the error */
    char *vocab = check_path(snap, "vocab.json");
    unlink(vocab);
    CHECK(!nl_model_load("org/tiny", NULL) && has(nl_last_error(), "vocab.json"), "missing vocab: %s",
          nl_last_error());
    /* a dangling link counts as missing */
    CHECK(symlink("../../blobs/gone", vocab) == 0, "dangling link");
    CHECK(!nli_hub_find_cached(cache, "org/tiny", "main", NLI_LAYOUT_HF, NULL, NULL) && has(nl_last_error(), "vocab.json"), "dangling: %s",
          nl_last_error());
    unlink(vocab);
    CHECK(symlink("../../blobs/vocab.json", vocab) == 0, "relink");
    free(vocab);

    /* sharded: an index naming a shard outside the folder is refused */
    char *single = check_path(snap, "model.safetensors"), *index = check_path(snap, "model.safetensors.index.json");
    char *aside = check_path(tmp, "aside.safetensors");
    CHECK(rename(single, aside) == 0, "move weights aside");
    write_text(index, "{\"weight_map\": {\"a\": \"../../../../../tmp/evil.safetensors\"}}");
    CHECK(!nli_hub_find_cached(cache, "org/tiny", "main", NLI_LAYOUT_HF, NULL, NULL) && has(nl_last_error(), "not a plain file name"),
          "traversal in index: %s", nl_last_error());
    write_text(index, "{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", \"b\": "
                      "\"model-00002-of-00002.safetensors\"}}");
    char *s1 = check_path(snap, "model-00001-of-00002.safetensors");
    write_text(s1, "x");
    CHECK(!nli_hub_find_cached(cache, "org/tiny", "main", NLI_LAYOUT_HF, NULL, NULL) && has(nl_last_error(), "model-00002-of-00002.safetensors"),
          "missing shard named: %s", nl_last_error());
    write_text(index, "{\"weight_map\": [1, 2]}");
    CHECK(!nli_hub_find_cached(cache, "org/tiny", "main", NLI_LAYOUT_HF, NULL, NULL) && has(nl_last_error(), "weight_map"), "bad index: %s",
          nl_last_error());
    unlink(index);
    unlink(s1);
    CHECK(!nli_hub_find_cached(cache, "org/tiny", "main", NLI_LAYOUT_HF, NULL, NULL) && has(nl_last_error(), "model.safetensors"),
          "no weights: %s", nl_last_error());
    CHECK(rename(aside, single) == 0, "weights back");
    free(s1);
    free(aside);
    free(index);
    free(single);

    /* open_clip's config added (an older open_clip downloads it and its
     * .bin) beside complete Hugging Face files: still a whole snapshot, read
     * as the Hugging Face model; without config.json, it wants its weights */
    char *occ = check_path(snap, "open_clip_config.json"), *ocb = check_path(snap, "open_clip_pytorch_model.bin");
    write_text(occ, "{\"model_cfg\": {}}");
    write_text(ocb, "x");
    got = nli_hub_find_cached(cache, "org/tiny", "main", NLI_LAYOUT_HF, NULL, NULL);
    CHECK(got && !strcmp(got, snap), "open_clip config beside HF files: %s", got ? got : nl_last_error());
    free(got);
    clear_env();
    setenv("HF_HUB_CACHE", cache, 1);
    setenv("HF_HUB_OFFLINE", "1", 1);
    m = nl_model_load("org/tiny", NULL);
    CHECK(m != NULL, "open_clip config beside HF files loads: %s", nl_last_error());
    if (m) {
        char *js = nl_model_info_json(m);
        CHECK(has(js, "\"format\":\"huggingface\""), "read as the Hugging Face model: %.200s", js);
        free(js);
        nl_model_free(m);
    }
    char *cfg = check_path(snap, "config.json"), *cfg_aside = check_path(tmp, "config-aside.json");
    CHECK(rename(cfg, cfg_aside) == 0, "config.json aside");
    /* (its .bin, not a zip here, is converted and fails) */
    CHECK(!nli_hub_find_cached(cache, "org/tiny", "main", NLI_LAYOUT_HF, NULL, NULL) &&
              has(nl_last_error(), "converting open_clip_pytorch_model.bin to open_clip_model.safetensors: ") &&
              has(nl_last_error(), "not a readable zip archive"),
          "open_clip config alone wants its weights: %s", nl_last_error());
    CHECK(rename(cfg_aside, cfg) == 0, "config.json back");
    unlink(occ);
    unlink(ocb);
    free(occ);
    free(ocb);
    free(cfg);
    free(cfg_aside);

    /* a hostile ref in the cache */
    char *ref = check_path(cache, "models--org--tiny/refs/main");
    write_text(ref, "../../../../etc");
    CHECK(!nl_model_load("org/tiny", NULL) && has(nl_last_error(), "not a commit"), "hostile ref: %s",
          nl_last_error());
    write_text(ref, COMMIT);
    free(ref);

    /* online, but the endpoint is unreachable: the cached model is used, as
     * huggingface_hub does; a model not cached is an error naming the URL */
    clear_env();
    setenv("HF_HUB_CACHE", cache, 1);
    setenv("HF_ENDPOINT", "http://127.0.0.1:1/", 1);
    setenv("HF_HUB_ETAG_TIMEOUT", "5", 1);
    char *dir = nl_model_resolve("org/tiny");
    CHECK(dir && !strcmp(dir, snap), "unreachable endpoint, cached: %s", dir ? dir : nl_last_error());
    free(dir);
    CHECK(!nl_model_resolve("org/absent") &&
              has(nl_last_error(), "http://127.0.0.1:1/org/absent/resolve/main/config.json"),
          "unreachable endpoint names the URL: %s", nl_last_error());
    /* TRANSFORMERS_OFFLINE counts only when HF_HUB_OFFLINE is unset (or
     * empty), as huggingface_hub reads them: HF_HUB_OFFLINE=0 is online */
    setenv("TRANSFORMERS_OFFLINE", "1", 1);
    CHECK(!nl_model_resolve("org/absent") && has(nl_last_error(), "HF_HUB_OFFLINE is set"),
          "TRANSFORMERS_OFFLINE=1: offline: %s", nl_last_error());
    setenv("HF_HUB_OFFLINE", "0", 1);
    CHECK(!nl_model_resolve("org/absent") &&
              has(nl_last_error(), "http://127.0.0.1:1/org/absent/resolve/main/config.json"),
          "HF_HUB_OFFLINE=0 over TRANSFORMERS_OFFLINE=1: online: %s", nl_last_error());
    setenv("HF_HUB_OFFLINE", "", 1);
    CHECK(!nl_model_resolve("org/absent") && has(nl_last_error(), "HF_HUB_OFFLINE is set"),
          "empty HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE=1: offline: %s", nl_last_error());
    unsetenv("HF_HUB_OFFLINE");
    unsetenv("TRANSFORMERS_OFFLINE");
    setenv("HF_ENDPOINT", "ftp://example.org", 1);
    CHECK(!nl_model_resolve("org/absent") && has(nl_last_error(), "HF_ENDPOINT"), "bad endpoint: %s",
          nl_last_error());
    setenv("HF_ENDPOINT", "http://127.0.0.1:1", 1);
    setenv("HF_TOKEN", "abc\r\nX-Injected: 1", 1);
    CHECK(!nl_model_resolve("org/absent") && has(nl_last_error(), "HF_TOKEN"), "token with CR LF: %s",
          nl_last_error());
    clear_env();
    free(snap);
    free(cache);
}

static void test_resolve_paths(const char *tmp) {
    char *d = nl_model_resolve(tmp);
    CHECK(d && !strcmp(d, tmp), "existing folder as is");
    free(d);
    const char *as_is[] = {"clip-vit-base-patch16", "./org/tiny", "../x/y", "a/b/c", "~/models/x", "/abs/x"};
    for (size_t i = 0; i < sizeof as_is / sizeof as_is[0]; i++) {
        d = nl_model_resolve(as_is[i]);
        CHECK(d && !strcmp(d, as_is[i]), "'%s' is a path", as_is[i]);
        free(d);
    }
    /* an existing folder wins over a Hub id of the same spelling */
    char *cwd = getcwd(NULL, 0);
    char *org = check_path(tmp, "org/tiny");
    mkdirs(org);
    CHECK(chdir(tmp) == 0, "chdir");
    setenv("HF_HUB_OFFLINE", "1", 1);
    d = nl_model_resolve("org/tiny");
    CHECK(d && !strcmp(d, "org/tiny"), "folder wins: %s", d ? d : nl_last_error());
    free(d);
    CHECK(chdir(cwd) == 0, "chdir back");
    CHECK(!nl_model_resolve("org/na me") && has(nl_last_error(), "not a Hugging Face Hub model name"),
          "bad name: %s", nl_last_error());
    CHECK(!nl_model_resolve("org/x@a..b") && has(nl_last_error(), "revision"), "bad revision: %s", nl_last_error());
    clear_env();
    free(org);
    free(cwd);
}

int main(void) {
    const char *tmp = check_tmpdir();
    test_parse();
    test_cache_dir();
    test_default_cache_dir();
    test_refs(tmp);
    test_digest(tmp);
    test_resolve_paths(tmp);
    char *model = check_path(check_shared(), "fixtures/tiny-clip"); /* the rest copies the tiny model */
    test_snapshots(tmp, model);
    free(model);
    return check_done();
}
