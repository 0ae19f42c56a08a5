/* test_scores_read.c — nl_read_scores, the score files `metrics` takes: one
 * number per line, or a CSV table with a header (neglabel score's output,
 * or any RFC 4180 table: quoted commas, quotes and line breaks, CRLF, a
 * byte order mark), read from its "score" column or one named; every
 * malformed file refused with its name and the line at fault. */
#include "check.h"
#include "neglabel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *DIR_;

static size_t g_len; /* the length of the next put's text when it holds a NUL */

static char *put(const char *name, const char *text) {
    char *p = check_path(DIR_, name);
    size_t len = g_len ? g_len : strlen(text);
    g_len = 0;
    FILE *f = fopen(p, "wb");
    CHECK(f && fwrite(text, 1, len, f) == len && fclose(f) == 0, "cannot write %s", p);
    return p;
}

/* text read as column gives exactly want[0..n) */
static void reads(const char *what, const char *text, const char *column, const double *want, size_t n) {
    char *p = put("s.txt", text);
    double *v = NULL;
    size_t got = 0;
    int rc = nl_read_scores(p, column, &v, &got);
    CHECK(rc == 0, "%s: %s", what, nl_last_error());
    CHECK(rc != 0 || got == n, "%s: %zu values, want %zu", what, got, n);
    for (size_t k = 0; rc == 0 && k < n && k < got; k++)
        CHECK(v[k] == want[k], "%s: value %zu is %.17g, want %.17g", what, k, v[k], want[k]);
    free(v);
    free(p);
}

/* text is refused with a message holding the file's name and want */
static void refused(const char *what, const char *text, const char *column, const char *want) {
    char *p = put("bad.csv", text);
    double *v = (double *)p; /* must be reset */
    size_t n = 7;
    int rc = nl_read_scores(p, column, &v, &n);
    CHECK(rc == -1 && v == NULL && n == 0, "%s: accepted (rc %d, %zu values)", what, rc, n);
    CHECK(strstr(nl_last_error(), "bad.csv") && strstr(nl_last_error(), want), "%s: message '%s' (want '%s')", what,
          nl_last_error(), want);
    free(p);
}

/* The peak RSS (KiB) of a child reading path (n values wanted), -1 if it
 * failed. */
static long child_peak(const char *path, size_t n) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        double *v = NULL;
        size_t got = 0;
        int rc = nl_read_scores(path, NULL, &v, &got);
        _exit(rc == 0 && got == n && v[n - 1] == 0.25 ? 0 : 1);
    }
    int status = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid) return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    return ru.ru_maxrss;
}

/* A score file is read in steps, not whole: 64 MiB of rows with long
 * paths (16,384 scores, 128 KiB of them) took 64 MiB more than a small
 * file; now a few MiB. */
static void memory(void) {
    enum { PATH = 4093, ROWS = 16384 };
    char *small = put("small.csv", "path,score\na,0.5\nb,0.25\n");
    long base = child_peak(small, 2);
    char *big = check_path(DIR_, "big.csv");
    FILE *f = fopen(big, "wb");
    char *row = malloc(PATH + 8);
    CHECK(f && row, "cannot write %s", big);
    if (!f || !row) { free(row); free(small); free(big); return; }
    memset(row, 'x', PATH);
    row[0] = '/';
    fputs("path,score\n", f);
    for (int i = 0; i < ROWS; i++) {
        fwrite(row, 1, PATH, f);
        fputs(i + 1 < ROWS ? ",0.5\n" : ",0.25\n", f);
    }
    CHECK(fclose(f) == 0, "cannot write %s", big);
    long peak = child_peak(big, ROWS);
    printf("peak RSS: a small score file %ld KiB, 64 MiB of rows %ld KiB\n", base, peak);
    CHECK(base > 0 && peak > 0 && peak < base + 16 * 1024, "64 MiB of rows took %ld KiB (a small file %ld)", peak, base);
    remove(big);
    free(row);
    free(small);
    free(big);
}

int main(void) {
    DIR_ = check_tmpdir();
    const double a[] = {0.5, -2.25, 1e-300, 3};
    reads("one per line", "0.5\n-2.25\n1e-300\n3\n", NULL, a, 4);
    reads("blank lines, spaces, CRLF, no final newline", "\n 0.5 \r\n\n-2.25\n  \n1e-300\t\n3", NULL, a, 4);
    reads("a byte order mark", "\xEF\xBB\xBF" "0.5\n-2.25\n1e-300\n3\n", NULL, a, 4);
    reads("score's CSV", "path,score,top_id_label,top_negative_label\n/a/1.jpg,0.5,cat,rock\n"
                         "/a/2.jpg,-2.25,dog,\n/a/3.jpg,1e-300,cat,x\n/a/4.jpg,3,cat,y\n", NULL, a, 4);
    reads("quoted paths: commas, quotes, line breaks; CRLF records",
          "path,score,top_id_label,top_negative_label\r\n\"/a,b/1.jpg\",0.5,cat,rock\r\n"
          "\"/a/\"\"2\"\".jpg\",-2.25,dog,\"x, y\"\r\n\"/a/line\nbreak.jpg\",1e-300,cat,z\r\n\"\",3,cat,\"\"\r\n",
          NULL, a, 4);
    reads("a column by name", "set,path,neglabel,mcm\nID,\"p,1\",9,0.5\nID,p2,9,-2.25\nID,p3,9,1e-300\nID,p4,9,3\n",
          "mcm", a, 4);
    reads("a one-column table named by --column", "mcm\n0.5\n-2.25\n1e-300\n3\n", "mcm", a, 4);
    reads("a header of one column 'score'", "score\n0.5\n-2.25\n1e-300\n3\n", NULL, a, 4);

    refused("a word in a plain file", "0.5\n\n0.25\nabc\n", NULL, "line 4: 'abc' is not a finite number");
    refused("NaN", "0.5\nnan\n", NULL, "line 2: 'nan' is not a finite number");
    refused("infinity in a table", "path,score\na,1\nb,inf\n", NULL, "line 3: 'inf' is not a finite number");
    refused("an empty cell", "path,score\na,1\nb,\n", NULL, "line 3: '' is not a finite number");
    refused("line numbers count a quoted line break", "path,score\n\"a\nb\",1\nc,x\n", NULL,
            "line 4: 'x' is not a finite number");
    refused("two values on a line of a plain file", "0.5\n1,2\n", NULL, "line 2: more than one value");
    refused("no score column", "path,value\na,1\n", NULL, "line 1: the header has no column 'score'");
    refused("no such column", "path,score\na,1\n", "mcm", "line 1: the header has no column 'mcm'");
    refused("a first line that is neither", "scores\n1\n", NULL, "line 1: 'scores' is not a number");
    refused("a short row", "path,score,label\na,1,x\nb,2\n", NULL, "line 3: 2 fields where the header has 3");
    refused("an open quote", "path,score\n\"a,1\nb,2\n", NULL, "line 2: a quoted field is not closed");
    refused("text after a closing quote", "path,score\n\"a\"b,1\n", NULL, "line 2: text after a quoted field");
    refused("a quote inside a field", "path,score\na\"b,1\n", NULL, "line 2: a quote inside an unquoted field");
    refused("an empty file", "", NULL, "no scores");
    refused("blank lines only", "\n  \n\r\n", NULL, "no scores");
    refused("a header alone", "path,score\n", NULL, "no scores in the file (only the header)");
    g_len = 5;
    refused("a NUL byte", "0.5\n\0\n", NULL, "not a text file");
    char *missing = check_path(DIR_, "missing.txt");
    double *v = NULL;
    size_t n = 0;
    CHECK(nl_read_scores(missing, NULL, &v, &n) == -1 && strstr(nl_last_error(), "missing.txt"),
          "a missing file: %s", nl_last_error());
    free(missing);
    memory();
    check_rm_rf(DIR_);
    return check_done();
}
