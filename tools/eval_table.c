/* eval_table.c — the terminal table of `neglabel eval`: metrics in %, the
 * average row, the FPR95 convention named. Set names come from the user's
 * command line or folders: control characters (escape sequences) become
 * '?' and names are cut to their column. */
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
        if (!n || *p < 0x20 || *p == 0x7f) { fputc('?', f); p++; }
        else { fwrite(p, 1, n, f); p += n; }
        cols++;
    }
    return cols;
}

static void pct(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, " %8.2f", 100.0 * v);
    else fprintf(f, " %8s", "-");
}

static void row(FILE *f, const char *name, int w, const nl_metrics *a, const nl_metrics *b) {
    int used = term_name(f, name, w);
    fprintf(f, "%*s", w - used, "");
    pct(f, a->fpr95); pct(f, a->auroc); pct(f, a->aupr_in); pct(f, a->aupr_out);
    fputs("  ", f);
    pct(f, b->fpr95); pct(f, b->auroc); pct(f, b->aupr_in); pct(f, b->aupr_out);
    fputc('\n', f);
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
    fprintf(f, " (%zu images); metrics in %%\n", r->id.n_images);
    fprintf(f, "%*s %s   %s\n", w, "", "-------------- NegLabel -----------", "--------------- MCM ---------------");
    fprintf(f, "%-*s", w, "OOD set");
    for (int k = 0; k < 2; k++) {
        fprintf(f, " %8s %8s %8s %8s", "FPR95", "AUROC", "AUPR-In", "AUPR-Out");
        if (!k) fputs("  ", f);
    }
    fputc('\n', f);
    for (size_t i = 0; i < r->n_ood; i++) row(f, r->ood[i].name, w, &r->ood[i].neglabel, &r->ood[i].mcm);
    for (int i = 0; i < w + 2 + 8 * 9; i++) fputc('-', f);
    fputc('\n', f);
    row(f, "Average", w, &r->avg_neglabel, &r->avg_mcm);
    fprintf(f, "FPR95 convention: %s (%s)\n", nl_fpr_convention_name(r->convention),
            nl_fpr_convention_text(r->convention));
    if (r->n_skipped) fprintf(f, "%zu images could not be read and were skipped\n", r->n_skipped);
}
