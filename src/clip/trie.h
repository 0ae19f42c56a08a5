/* trie.h — a byte trie: id[node] for the key ending there, else -1; edges
 * (node << 8 | byte) + 1 -> child by open addressing (0: empty). Shared by
 * the Unigram and WordPiece tokenizers. Not a public header. */
#ifndef NEGLABEL_TRIE_H
#define NEGLABEL_TRIE_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int32_t *id, *echild;
    uint64_t *ekey;
    size_t nnodes, ecap;
} nli_trie;

/* Room for keys of `bytes` bytes in all: 0, or -1 (error set). */
int nli_trie_init(nli_trie *t, size_t bytes);
/* Key s[0..n) (n > 0, within the room) gets id (keep_first: unless it has
 * one); returns the id it had before (-1 if none). */
int32_t nli_trie_put(nli_trie *t, const char *s, size_t n, int32_t id, int keep_first);
/* The id of key s[0..n), or -1. */
int32_t nli_trie_get(const nli_trie *t, const char *s, size_t n);
/* The node reached along s[0..n) from the root, or -1. */
int32_t nli_trie_walk(const nli_trie *t, const char *s, size_t n);
void nli_trie_free(nli_trie *t);
/* The child of node along byte b, or -1. */
int32_t nli_trie_child(const nli_trie *t, int32_t node, uint8_t b);
#endif
