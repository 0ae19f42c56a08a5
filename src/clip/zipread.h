/* zipread.h — a validated, read-only view of a zip archive (libzip), for
 * PyTorch's checkpoint archives. Opening checks every entry: a name that is
 * relative, without "..", backslashes or control characters, at most
 * NL_ZIP_MAX_NAME bytes; stored or deflated, not encrypted; no duplicate
 * names. Reading an entry is bounded by the caller's limit and checks that
 * exactly the declared size comes out with the right CRC-32. Errors name the
 * archive and the entry. */
#ifndef NEGLABEL_ZIPREAD_H
#define NEGLABEL_ZIPREAD_H
#include <stddef.h>
#include <stdint.h>

#define NL_ZIP_MAX_NAME 1024
#define NL_ZIP_MAX_ENTRIES 1000000

typedef struct nli_zip nli_zip;

int nli_zip_open(const char *path, nli_zip **out);
/* The same on a copy of a buffer (tests and the fuzzer). */
int nli_zip_open_buffer(const void *data, size_t len, const char *name, nli_zip **out);
void nli_zip_close(nli_zip *z);
const char *nli_zip_path(const nli_zip *z);
size_t nli_zip_count(const nli_zip *z);
const char *nli_zip_name(const nli_zip *z, size_t i);
uint64_t nli_zip_size(const nli_zip *z, size_t i);
/* Its bytes in the archive, and whether they are deflated (else stored):
 * a deflated entry's declared size is what it claims to inflate to. */
uint64_t nli_zip_comp_size(const nli_zip *z, size_t i);
int nli_zip_deflated(const nli_zip *z, size_t i);
/* Index of the entry named name, -1 if none (no error set). */
long nli_zip_find(const nli_zip *z, const char *name);
/* Read entry i (at most max bytes, else an error) into a malloc'd buffer
 * with one extra NUL byte after it. */
int nli_zip_read(nli_zip *z, size_t i, uint64_t max, uint8_t **data, size_t *len);
#endif
