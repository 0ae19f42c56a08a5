/* mine_model.h — what eval.c shares with mine_model.c and pipeline.c. */
#ifndef NEGLABEL_MINE_MODEL_H
#define NEGLABEL_MINE_MODEL_H

#include "cache.h"
#include "neglabel.h"
#include "util.h"

/* nl_embed_image_files_readable through an image cache kept open across
 * calls (cache non-NULL: *cache NULL opens it, which the caller closes with
 * nli_cache_close): eval's sets, one after another, open it once. An open
 * reads and checks the whole file: a cache of 1.28 M vectors of 512 is
 * 2.8 GB, read again for each set. */
int nli_embed_image_files_readable_in(nl_model *m, const nl_embed_opts *o, nl_resample resample,
                                      const char *const *paths, size_t n, int strict, float *out, size_t *good,
                                      size_t *n_good, nl_strvec *skipped, nli_cache **cache);

/* The negatives file's text (header line, one word per line, the
 * similarities when qsim is given) into an open atomic file, in the C
 * locale's number format; errors show when the file is committed. */
void nli_negatives_print(nli_atomic *ap, const nl_negatives *neg, const double *qsim);

#endif
