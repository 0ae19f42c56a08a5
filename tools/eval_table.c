/* eval_table.c — the terminal table of `neglabel eval`: metrics in %, the
 * average row, the FPR95 convention named. Set names come from the user's
 * command line or folders: control characters (C0, DEL and C1: escape
 * sequences) become '?' and names are cut to their column. */
#include <math.h>
#include <stdio.h>

#include "cli.h"

/* Bytes in the UTF-8 sequence at p, 0 if invalid. */
static size_t utf8_len(const unsigned char *p) {
    int n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    return (size_t)n;
}

/* Print s cut to width code points; returns the columns used. */
static int term_name(FILE *f, const char *s, int width) {
    int cols = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && cols < width;) {
        size_t n = utf8_len(p);
        /* C0, DEL, and C1 (U+0080..U+009F: 0xC2 0x80..0x9F; CSI, OSC) */
        if (!n || *p < 0x20 || *p == 0x7f || (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)) { fputc('?', f); p += n ? n : 1; }
        else { fwrite(p, 1, n, f); p += n; }
        cols++;
    }
    return cols;
}

static void pct(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, " %8.2f", 100.0 * v);
    else fprintf(f, " %8s", "-");
}

static const char *const TITLE[NL_METHOD_COUNT] = {"NegLabel", "MCM", "CSP", "AdaNeg", "OODD"};

/* One OOD set (or the average): a line per method, the best starred. */
static void block(FILE *f, const nl_eval_result *r, const char *name, int w, const nl_eval_set *s) {
    for (size_t k = 0; k < r->n_methods; k++) {
        nl_method m = r->methods[k];
        int used = k ? 0 : term_name(f, name, w);
        fprintf(f, "%*s  %-8s", w - used, "", TITLE[m]);
        const nl_metrics *x = &s->metrics[m];
        pct(f, x->fpr95); pct(f, x->auroc); pct(f, x->aupr_in); pct(f, x->aupr_out);
        fputs(r->n_methods > 1 && m == s->best ? "  *\n" : "\n", f);
    }
}

void cli_print_eval_table(FILE *f, const nl_eval_result *r) {
    if (!f || !r) return;
    int w = 12; /* name column: longest name, 12..32 code points */
    for (size_t i = 0; i < r->n_ood; i++) {
        int n = 0;
        for (const unsigned char *p = (const unsigned char *)(r->ood[i].name ? r->ood[i].name : ""); *p; p++)
            n += (*p & 0xc0) != 0x80;
        if (n > w) w = n < 32 ? n : 32;
    }
    fputs("ID set: ", f);
    term_name(f, r->id.name ? r->id.name : "ID", 64);
    fprintf(f, " (%zu images); metrics in %%", r->id.n_images);
    if (r->n_methods > 1) fputs("; * the best method of each set (lowest FPR95)", f);
    fprintf(f, "\n%-*s  %-8s %8s %8s %8s %8s\n", w, "OOD set", "method", "FPR95", "AUROC", "AUPR-In", "AUPR-Out");
    for (size_t i = 0; i < r->n_ood; i++) block(f, r, r->ood[i].name, w, &r->ood[i]);
    for (int i = 0; i < w + 2 + 8 + 4 * 9 + 3; i++) fputc('-', f);
    fputc('\n', f);
    block(f, r, "Average", w, &r->average);
    fprintf(f, "FPR95 convention: %s (%s)\n", nl_fpr_convention_name(r->convention),
            nl_fpr_convention_text(r->convention));
    if (r->n_skipped) fprintf(f, "%zu images could not be read and were skipped\n", r->n_skipped);
}
