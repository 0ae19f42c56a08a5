/* oodd.c — OODD (CVPR 2025): NegLabel's static score minus the k-th
 * largest cosine between an image and a queue of the stream's images with
 * the lowest static scores (the reference's NegLabel/tools/ood_test.py,
 * main()). docs/methods.md, section OODD.
 *
 * The reference keeps the queue in Python's queue.PriorityQueue (a heapq
 * list) of ScoreData items whose __lt__ is reversed (a < b when a's score
 * is higher), so the heap's root is the highest score and every pop evicts
 * it. The queue's contents (which images, in which heap positions) are
 * reproduced exactly, ties included, by performing CPython's heappush and
 * heappop (Lib/heapq.py, _siftdown and _siftup) with that comparison.
 * Queued images keep their unit rows in `slots`; a batch's cosines are one
 * nli_gemm_f64 against all slots in use (free slots' stale rows are
 * computed and ignored: a cosine depends only on its two rows).
 *
 * On a CUDA device (p->device) the queue stays here and the slots' rows,
 * the cosines and the selection of the k-th largest move to the GPU
 * (method/cuda/oodd.cu): a batch sends its rows, which of them enter which
 * slot (a slot written twice in one batch gets the later row: the earlier
 * image was evicted within the batch), and the queued slots. */
#include "oodd.h"
#include "score_util.h"
#include "gemm.h"
#include "util.h"
#include "cuda/oodd_cuda.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double score; /* static score */
    size_t idx;   /* position in the stream */
    size_t slot;  /* row of `slots` holding its unit embedding */
} item;

/* ScoreData.__lt__: a < b when a's score is higher (NaN: never). */
static int item_lt(const item *a, const item *b) { return a->score > b->score; }

/* heapq._siftdown(heap, start, pos): move heap[pos] up while it is < its parent. */
static void sift_down(item *h, size_t start, size_t pos) {
    item x = h[pos];
    while (pos > start) {
        size_t parent = (pos - 1) >> 1;
        if (!item_lt(&x, &h[parent])) break;
        h[pos] = h[parent];
        pos = parent;
    }
    h[pos] = x;
}

/* heapq._siftup(heap, pos): walk the smaller child down to a leaf, put the
 * item there, then sift it back up (Floyd's variant, as CPython does). */
static void sift_up(item *h, size_t n, size_t pos) {
    size_t start = pos;
    item x = h[pos];
    size_t child = 2 * pos + 1;
    while (child < n) {
        size_t right = child + 1;
        if (right < n && !item_lt(&h[child], &h[right])) child = right;
        h[pos] = h[child];
        pos = child;
        child = 2 * pos + 1;
    }
    h[pos] = x;
    sift_down(h, start, pos);
}

/* heappush: append, then _siftdown(heap, 0, n). */
static void heap_push(item *h, size_t *n, item x) {
    h[*n] = x;
    sift_down(h, 0, *n);
    (*n)++;
}

/* heappop: take the last item, and when items remain, return the root and
 * put the last item at the root, then _siftup. */
static item heap_pop(item *h, size_t *n) {
    item last = h[--(*n)];
    if (*n == 0) return last;
    item top = h[0];
    h[0] = last;
    sift_up(h, *n, 0);
    return top;
}

/* a before b in torch.kthvalue's order: NaN above every number (its
 * selection compares "(isnan(x) && !isnan(y)) || x > y"). */
static int before(double a, double b) { return a < b || (isnan(b) && !isnan(a)); }

/* The k-th smallest (0-based) of a[0..n-1], k < n, NaN the largest, by
 * selection: a three-way partition around the middle element, then on into
 * the part holding k (the array is reordered). The middle part holds the
 * pivot, so each round shrinks the range. Before NaN was ordered, a NaN
 * cosine (a NaN row in the queue) fell wherever the pivots put it. */
static double select_kth(double *a, size_t n, size_t k) {
    size_t l = 0, r = n;
    while (r - l > 1) {
        double x = a[l + (r - l) / 2], t;
        size_t lt = l, i = l, gt = r;
        while (i < gt) {
            if (before(a[i], x)) { t = a[lt]; a[lt++] = a[i]; a[i++] = t; }
            else if (before(x, a[i])) { t = a[--gt]; a[gt] = a[i]; a[i] = t; }
            else i++;
        }
        if (k < lt) r = lt;
        else if (k >= gt) l = gt;
        else return a[k];
    }
    return a[l];
}

int nli_oodd_check(const nl_score_params *p) {
    if (p->oodd_batch < 1) { nli_seterr("score: oodd batch must be at least 1 (got %d)", p->oodd_batch); return -1; }
    if (p->oodd_queue < 1) { nli_seterr("score: oodd queue must be at least 1 (got %d)", p->oodd_queue); return -1; }
    if (p->oodd_k < 1 || p->oodd_k > p->oodd_queue) {
        nli_seterr("score: oodd k must be in [1, %d] (the queue size), got %d", p->oodd_queue, p->oodd_k);
        return -1;
    }
    return 0;
}

int nli_oodd_stream(const float *img, size_t n_img, size_t dim, const double *stat, const nl_score_params *p,
                    double *scores, nli_oodd_trace *tr) {
    if (nli_oodd_check(p) != 0) return -1;
    if (tr) { tr->final_len = 0; tr->n_short = 0; }
    if (n_img == 0) return 0;
    nl_device dev = p->device;
    int index = p->device_index;
    if (nl_resolve_device(&dev, &index) != 0) return -1;
    const int on_gpu = dev == NL_DEVICE_CUDA;
    size_t batch = (size_t)p->oodd_batch, qcap = (size_t)p->oodd_queue, k = (size_t)p->oodd_k;
    /* at most queue + 1 items are held at once (a push before its pop) */
    size_t cap = (qcap < n_img ? qcap : n_img) + 1;
    size_t bmax = batch < n_img ? batch : n_img;
    item *heap = nli_mallocarray(cap, sizeof(item));
    size_t *free_slots = nli_mallocarray(cap, sizeof(size_t));
    /* the CPU's slots, cosines and selection buffers; the GPU's slot lists */
    double *slots = on_gpu ? NULL : nli_mallocarray(cap * dim, sizeof(double));
    double *cos = on_gpu ? NULL : nli_mallocarray(bmax * cap, sizeof(double));
    double *sel = on_gpu ? NULL : nli_mallocarray(bmax * cap, sizeof(double));
    size_t *put_slot = on_gpu ? nli_mallocarray(bmax, sizeof(size_t)) : NULL;
    size_t *put_row = on_gpu ? nli_mallocarray(bmax, sizeof(size_t)) : NULL;
    size_t *queued = on_gpu ? nli_mallocarray(cap, sizeof(size_t)) : NULL;
    size_t *stamp = on_gpu ? nli_mallocarray(cap, sizeof(size_t)) : NULL; /* 1 + the batch that last wrote a slot */
    size_t *writer = on_gpu ? nli_mallocarray(cap, sizeof(size_t)) : NULL; /* the row that last wrote it */
    double *gkth = on_gpu ? nli_mallocarray(bmax, sizeof(double)) : NULL; /* the GPU's k-th cosines */
    double *rows = NULL;
    nli_cuda_oodd *gpu = NULL;
    int rc = -1;
    if (!heap || !free_slots ||
        (on_gpu ? !put_slot || !put_row || !queued || !stamp || !writer || !gkth : !slots || !cos || !sel))
        goto done;
    if (on_gpu) {
        for (size_t s = 0; s < cap; s++) stamp[s] = 0;
        if (!(gpu = nli_cuda_oodd_open(index, dim, cap, bmax))) goto done;
    }
    int nt = nli_threads(p->n_threads);
    size_t n = 0, n_free = 0, used = 0, snap = 0; /* heap length, free list, slots ever used */
    for (size_t b0 = 0, bi = 0; b0 < n_img; b0 += batch, bi++) {
        if (b0 && nli_cancelled()) goto done;
        size_t m = n_img - b0 < batch ? n_img - b0 : batch;
        free(rows);
        if (!(rows = nli_unit_rows(img + b0 * dim, m, dim))) goto done;
        size_t n_put = 0;
        for (size_t j = 0; j < m; j++) { /* queue.put, then queue.get while qsize > queue */
            /* An image whose embedding is not finite (NaN static score) is
             * not queued: its NaN cosines would make every later image's
             * score NaN (the reference queues it; docs/methods.md, OODD). */
            if (isnan(stat[b0 + j])) continue;
            size_t s = n_free ? free_slots[--n_free] : used++;
            if (slots) {
                memcpy(slots + s * dim, rows + j * dim, dim * sizeof(double));
            } else { /* the GPU: the slots this batch writes, each with the last row written to it */
                if (stamp[s] != bi + 1) put_slot[n_put++] = s;
                stamp[s] = bi + 1;
                writer[s] = j;
            }
            heap_push(heap, &n, (item){stat[b0 + j], b0 + j, s});
            if (n > qcap) free_slots[n_free++] = heap_pop(heap, &n).slot;
        }
        if (tr) {
            for (; snap < tr->n_snap && tr->snap_after[snap] == bi; snap++) {
                for (size_t t = 0; t < n; t++) tr->snap_heap[snap * qcap + t] = heap[t].idx;
                tr->snap_len[snap] = n;
            }
        }
        /* cosines of the batch to every slot, then the k-th largest over the queued ones */
        size_t kk = k < n ? k : n; /* fewer than k queued: the smallest cosine (the reference fails) */
        if (tr && kk < k) tr->n_short += m;
        if (n == 0) { /* nothing queued yet: every image so far has a NaN static score (never queued) */
            for (size_t j = 0; j < m; j++) {
                scores[b0 + j] = NAN;
                if (tr && tr->kth) tr->kth[b0 + j] = NAN;
            }
            continue;
        }
        if (gpu) {
            for (size_t t = 0; t < n_put; t++) put_row[t] = writer[put_slot[t]];
            for (size_t t = 0; t < n; t++) queued[t] = heap[t].slot;
            if (nli_cuda_oodd_batch(gpu, rows, m, put_row, put_slot, n_put, queued, n, used, kk, gkth) != 0) goto done;
            for (size_t j = 0; j < m; j++) {
                scores[b0 + j] = stat[b0 + j] - gkth[j];
                if (tr && tr->kth) tr->kth[b0 + j] = gkth[j];
            }
            continue;
        }
        nli_gemm_f64(rows, slots, cos, m, used, dim, nt);
#pragma omp parallel for num_threads(nt) schedule(static)
        for (size_t j = 0; j < m; j++) {
            double *v = sel + j * cap;
            const double *c = cos + j * used;
            for (size_t t = 0; t < n; t++) v[t] = c[heap[t].slot];
            double kth = select_kth(v, n, n - kk);
            scores[b0 + j] = stat[b0 + j] - kth;
            if (tr && tr->kth) tr->kth[b0 + j] = kth;
        }
    }
    if (tr) {
        if (tr->final_heap)
            for (size_t t = 0; t < n; t++) tr->final_heap[t] = heap[t].idx;
        tr->final_len = n;
    }
    rc = 0;
done:
    nli_cuda_oodd_close(gpu);
    free(heap); free(free_slots); free(slots); free(cos); free(sel); free(rows);
    free(put_slot); free(put_row); free(queued); free(stamp); free(writer); free(gkth);
    return rc;
}

int nli_score_oodd_trace(const float *img, size_t n_img, const float *id_emb, size_t n_id, const float *neg_emb,
                         size_t n_neg, size_t dim, const nl_score_params *p, double *scores, size_t *top_id,
                         size_t *top_neg, nli_oodd_trace *trace) {
    if (nli_oodd_check(p) != 0) return -1;
    /* the static score: NegLabel's, as the reference's ScalableClassifier */
    nl_score_params q = *p;
    q.method = NL_METHOD_NEGLABEL;
    double *stat = nli_mallocarray(n_img + 1, sizeof(double));
    if (!stat) { nli_prefixerr("score"); return -1; }
    int rc = nli_score_rows(img, n_img, id_emb, n_id, neg_emb, n_neg, dim, &q, stat, top_id, top_neg);
    if (rc == 0 && (rc = nli_oodd_stream(img, n_img, dim, stat, p, scores, trace)) != 0) nli_prefixerr("score: oodd");
    free(stat);
    return rc;
}

int nli_score_oodd(const float *img, size_t n_img, const float *id_emb, size_t n_id, const float *neg_emb,
                   size_t n_neg, size_t dim, const nl_score_params *p, double *scores, size_t *top_id,
                   size_t *top_neg) {
    return nli_score_oodd_trace(img, n_img, id_emb, n_id, neg_emb, n_neg, dim, p, scores, top_id, top_neg, NULL);
}
