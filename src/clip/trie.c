/* trie.c — a byte trie with open-addressed edges, for the tokenizers'
 * vocabularies and added tokens (unigram_load.c, wordpiece_load.c). */
#include "trie.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    return k ^ (k >> 33);
}

int32_t nli_trie_child(const nli_trie *t, int32_t node, uint8_t b) {
    if (!t->ecap) return -1;
    uint64_t key = ((uint64_t)node << 8 | b) + 1;
    for (size_t i = mix(key) & (t->ecap - 1);; i = (i + 1) & (t->ecap - 1)) {
        if (t->ekey[i] == key) return t->echild[i];
        if (t->ekey[i] == 0) return -1;
    }
}

int nli_trie_init(nli_trie *t, size_t bytes) {
    size_t cap = 16;
    while (cap < 2 * (bytes + 1)) cap *= 2;
    t->ecap = cap;
    t->ekey = nli_calloc(cap, sizeof *t->ekey);
    t->echild = nli_mallocarray(cap, sizeof *t->echild);
    t->id = nli_mallocarray(bytes + 1, sizeof *t->id);
    if (!t->ekey || !t->echild || !t->id) return -1;
    t->id[0] = -1;
    t->nnodes = 1;
    return 0;
}

int32_t nli_trie_put(nli_trie *t, const char *s, size_t n, int32_t id, int keep_first) {
    int32_t node = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t key = ((uint64_t)node << 8 | (uint8_t)s[k]) + 1;
        size_t i = mix(key) & (t->ecap - 1);
        while (t->ekey[i] && t->ekey[i] != key) i = (i + 1) & (t->ecap - 1);
        if (!t->ekey[i]) {
            t->ekey[i] = key;
            t->echild[i] = (int32_t)t->nnodes;
            t->id[t->nnodes++] = -1;
        }
        node = t->echild[i];
    }
    int32_t old = t->id[node];
    if (!keep_first || old < 0) t->id[node] = id;
    return old;
}

int32_t nli_trie_walk(const nli_trie *t, const char *s, size_t n) {
    int32_t node = 0;
    for (size_t k = 0; k < n && node >= 0; k++) node = nli_trie_child(t, node, (uint8_t)s[k]);
    return node;
}

int32_t nli_trie_get(const nli_trie *t, const char *s, size_t n) {
    int32_t node = t->nnodes ? nli_trie_walk(t, s, n) : -1;
    return node >= 0 ? t->id[node] : -1;
}

void nli_trie_free(nli_trie *t) {
    free(t->id);
    free(t->ekey);
    free(t->echild);
    memset(t, 0, sizeof *t);
}
