/* help.c — the CLI's help, written once: one table of commands and their
 * options from which `neglabel --help` (the overview), `neglabel <command>
 * --help` (also -h and `neglabel help <command>`) and the man page
 * docs/neglabel.1 (`neglabel help --man`) are printed.
 *
 * Hidden, for tests/cli_help.sh: `neglabel help --man`, `neglabel help
 * --commands` (one name a line) and `neglabel help --options CMD` (every
 * option CMD's help documents, one a line). That test checks that every
 * option a command's parser accepts is in its help and vice versa, that the
 * README's command line section is, and that docs/neglabel.1 is the page
 * this file prints. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "neglabel.h"

/* ------------------------------------------------------------ the table */

/* The common options (main() takes them out of argv for every command)
 * have one of these bits; a command lists those that matter to it. */
enum { C_QUIET = 1, C_THREADS = 2, C_DEVICE = 4, C_PRECISION = 8, C_BATCH = 16, C_CACHE = 32 };

typedef struct {
    const char *name;  /* "--model", "-o"; without a leading '-': an operand */
    const char *alias; /* "--output", or NULL */
    const char *arg;   /* "DIR"; NULL: a flag */
    const char *help;  /* meaning and default, one line */
    unsigned bit;      /* common options: their C_* bit (0: every command) */
} opt_doc;

typedef struct {
    const char *title; /* NULL: listed with the command's own options */
    const opt_doc *opts; /* ends with {0} */
} group_doc;

#define MAX_GROUPS 10
typedef struct {
    const char *name;
    const char *section;  /* heading in the overview */
    const char *synopsis; /* after "neglabel NAME" */
    const char *summary;  /* what it does and prints, one line */
    const group_doc *groups[MAX_GROUPS]; /* ends with NULL */
    unsigned common;      /* C_* bits of the common options that matter */
} cmd_doc;

static const opt_doc o_common[] = {
    {"-h", "--help", NULL, "print this help and exit (before any other option is checked)", 0},
    {"-q", "--quiet", NULL, "no progress or information on stderr; warnings and errors still (default: shown)", C_QUIET},
    {"--threads", NULL, "N", "CPU threads (default $NEGLABEL_THREADS, else $OMP_NUM_THREADS, else all cores)", C_THREADS},
    {"--device", NULL, "auto|cpu|cuda|cuda:N",
     "where the model runs, and mining and scoring (default $NEGLABEL_DEVICE, else auto: the first GPU of "
     "compute capability 8.0 or newer, else the CPU)", C_DEVICE},
    {"--precision", NULL, "fp32|fp16|bf16",
     "model precision (default $NEGLABEL_PRECISION, else fp16 on a GPU and fp32 on the CPU; bf16 on the CPU "
     "needs AVX512-BF16 or AMX, else it runs fp32 with a warning)", C_PRECISION},
    {"--strict-precision", NULL, NULL, "fail instead of falling back to fp32 when the CPU has no native bf16 "
     "(default: fall back)", C_PRECISION},
    {"--batch", NULL, "N", "images per forward pass (default 32 on the CPU, fewer for models taking images over 747 pixels: 256 MiB of pixels a batch; on a GPU sized from free memory, at most 512)",
     C_BATCH},
    {"--cache", NULL, "DIR",
     "embedding cache (default $NEGLABEL_CACHE, else $XDG_CACHE_HOME/neglabel, else ~/.cache/neglabel)", C_CACHE},
    {"--no-cache", NULL, NULL, "neither read nor write the embedding cache (default: use it)", C_CACHE},
    {0}};

static const opt_doc o_model[] = {
    {"--model", NULL, "DIR",
     "CLIP folder (Hugging Face or OpenCLIP), Hub id org/name[@revision], OpenAI clip.load name (ViT-B/16, RN50, "
     "...: ~/.cache/clip's file) or a .pt checkpoint, converted once into the cache (default " NL_DEFAULT_MODEL ")",
     0},
    {0}};
static const group_doc g_model = {NULL, o_model};

static const opt_doc o_resample[] = {
    {"--resample", NULL, "bicubic|bilinear|model",
     "image resize (default model: the model folder's own preprocessing, its preprocessor_config.json's filter, "
     "bicubic for OpenAI's CLIP, and for a Hugging Face folder CLIPImageProcessor's crop; bicubic or bilinear: "
     "torchvision's Resize + CenterCrop with that filter, as clip.load and the NegLabel reference (bilinear))", 0},
    {0}};
static const group_doc g_resample = {NULL, o_resample};

static const opt_doc o_labels[] = {
    {"--id-labels", NULL, "FILE", "the ID class names, one per line (required)", 0},
    {0}};
static const group_doc g_labels = {NULL, o_labels};

static const opt_doc o_convention[] = {
    {"--convention", NULL, "neglabel|openood",
     "FPR95 and AUPRs as NegLabel's (MCM's) code computes them or as OpenOOD's evaluator does, see "
     "docs/scoring.md (default neglabel)", 0},
    {0}};
static const group_doc g_convention = {NULL, o_convention};

static const opt_doc o_method[] = {
    {"--method", NULL, "neglabel|mcm|csp|adaneg|oodd", "NegLabel, MCM (no negatives: maximum softmax over the ID "
     "labels), CSP (its corpus, superclass phrases, raw-mean prompt ensembles and similarity cut; NegLabel's score "
     "with the torch permutation), AdaNeg (NegLabel's score with a memory of test images per label) or OODD "
     "(NegLabel's score minus the similarity to a queue of the most OOD-like images); AdaNeg and OODD take the "
     "images as one stream in the order given, see docs/methods.md (default neglabel)", 0},
    {0}};
static const group_doc g_method = {NULL, o_method};

/* mine: the methods that have negatives to mine (--method mcm is a usage
 * error there, tools/cmd_pipeline.c) */
static const opt_doc o_mine_method[] = {
    {"--method", NULL, "neglabel|csp|adaneg|oodd", "the negatives of NegLabel, which AdaNeg and OODD score with too, "
     "or CSP's (its corpus, superclass phrases, raw-mean prompt ensembles and similarity cut); MCM uses no "
     "negatives, see docs/methods.md (default neglabel)", 0},
    {0}};
static const group_doc g_mine_method = {NULL, o_mine_method};

/* corpus_opt, mine_opt and score_opt in cmd_pipeline.c */
static const opt_doc o_corpus[] = {
    {"--wordnet", NULL, "DIR", "WordNet database folder with data.noun and data.adj (default /usr/share/wordnet)", 0},
    {"--lists", NULL, "DIR", "instead of WordNet: a folder of word lists noun.<category>.txt and adj.<category>.txt", 0},
    {"--include", NULL, "CAT", "keep only this category (noun.plant) or part of speech (noun, adj); repeatable; "
     "a name the source lacks is an error (default: all, except that WordNet always leaves out noun.animal and "
     "noun.food, as the reference's lists do, unless --include names that category itself: noun does not)", 0},
    {"--exclude", NULL, "CAT", "drop this category or part of speech, after --include; repeatable; a name the source "
     "lacks is an error (default: none)", 0},
    {0}};
static const group_doc g_corpus = {"Corpus options", o_corpus};

static const opt_doc o_mining[] = {
    {"--fraction", NULL, "F", "keep this fraction of the nouns and of the adjectives (default 0.15)", 0},
    {"--quantile", NULL, "Q", "rank candidates by this quantile of their similarities to the ID labels (default 0.95)",
     0},
    {"--total", NULL, "M", "keep M negatives in all, split between nouns and adjectives in proportion "
     "(default: --fraction)", 0},
    {"--max-cut", NULL, "C", "candidates whose largest similarity to an ID label exceeds C rank last, as CSP does "
     "(default 0.95 with --method csp, otherwise off)", 0},
    {0}};
static const group_doc g_mining = {"NegMining options", o_mining};

static const opt_doc o_prompts[] = {
    {"--template", NULL, "T", "prompt for ID labels and nouns; repeat for an ensemble (default '" NL_TEMPLATE_NOUN
     "'; with --negatives FILE: the templates FILE was mined with, which a given one must equal)", 0},
    {"--adj-template", NULL, "T", "prompt for adjectives; repeatable (default '" NL_TEMPLATE_ADJ "')", 0},
    {"--mcm-template", NULL, "T", "prompt for the ID labels in MCM (default '" NL_TEMPLATE_MCM "')", 0},
    {"--remove-id-labels", NULL, NULL, "drop candidates equal to an ID label, ignoring case and with _ as a space (default: keep them)", 0},
    {"--strict", NULL, NULL, "duplicate ID labels, unreadable images and --precision bf16 on a CPU without it are "
     "errors (default: duplicates kept, unreadable images skipped, fp32 for bf16, each with a warning)", 0},
    {"--allow-duplicate-labels", NULL, NULL, "keep duplicate ID labels: the default, accepted for old scripts", 0},
    {0}};
static const group_doc g_prompts = {"Labels and prompts", o_prompts};

static const opt_doc o_scoring[] = {
    {"--ngroup", NULL, "N", "split the negatives into N groups and average their scores (default 100; 5 for AdaNeg)",
     0},
    {"--seed", NULL, "S", "seed of the negatives' shuffle before grouping, see docs/scoring.md (default 0)", 0},
    {"--no-shuffle", NULL, NULL, "group the negatives in file order (default: shuffled)", 0},
    {"--permutation", NULL, "splitmix|torch|numpy", "the shuffle: neglabel's splitmix64, torch.randperm after "
     "torch.manual_seed(S) bit for bit (the reference code's groups), or NumPy's np.random.permutation "
     "(default splitmix; torch for CSP, AdaNeg and OODD)", 0},
    {"--tau", NULL, "T", "softmax temperature (default 0.01 for NegLabel, 1 for MCM)", 0},
    {"--adaneg-batch", NULL, "N", "AdaNeg: images per batch of the stream (default 256)", 0},
    {"--adaneg-memory", NULL, "L", "AdaNeg: image slots per label (default 10)", 0},
    {"--adaneg-thres", NULL, "T", "AdaNeg: middle of the static score (default 0.5)", 0},
    {"--adaneg-gap", NULL, "G", "AdaNeg: images above T + G(1 - T) join an ID label's memory, below T - G T a "
     "negative's (default 0.5)", 0},
    {"--adaneg-lambda", NULL, "W", "AdaNeg: weight of the static score in the final one (default 0.1)", 0},
    {"--adaneg-sample-adaptive", NULL, NULL, "AdaNeg: per-image proxies weighted by exp(-beta (1 - cos)) "
     "(default: the memory mean)", 0},
    {"--adaneg-beta", NULL, "B", "AdaNeg: beta of the sample-adaptive weights, truncated to an integer as the "
     "reference does (default 5.5)", 0},
    {"--oodd-batch", NULL, "N", "OODD: images per batch of the stream (default 64)", 0},
    {"--oodd-queue", NULL, "Q", "OODD: the queue keeps the Q lowest static scores (default 2048)", 0},
    {"--oodd-k", NULL, "K", "OODD: subtract the K-th largest cosine to the queued images (default 5)", 0},
    {0}};
static const group_doc g_scoring = {"Scoring options", o_scoring};

/* Each command's own options. */
static const opt_doc o_embed[] = {
    {"--image", NULL, "PATH", "an image to embed; repeatable", 0},
    {"--list", NULL, "FILE", "more images: a folder (walked recursively, sorted) or a file of paths, one per line; "
     "repeatable", 0},
    {"--text", NULL, "TEXT", "a text to embed; repeatable (inputs are printed in the order given)", 0},
    {"--texts", NULL, "FILE", "more texts: a UTF-8 file, one per line (blank lines skipped, each line trimmed); "
     "repeatable", 0},
    {"--normalize", NULL, NULL, "L2-normalise the embeddings (default: the raw projections)", 0},
    {"-o", "--output", "FILE.npy", "write the embeddings as one float32 .npy, a row per input in the order given "
     "(score-embeddings reads it), instead of JSON lines; an image that cannot be read fails the command", 0},
    {0}};
static const opt_doc o_preprocess[] = {
    {"IMAGE", NULL, NULL, "the image (JPEG, PNG, WebP, GIF, BMP or TIFF)", 0},
    {"-o", "--output", "OUT", "where to write the pixels (required)", 0},
    {"--size", NULL, "N", "side of the square output, 1-4096 (default 224)", 0},
    {"--resample", NULL, "bicubic|bilinear", "resize filter (default bicubic)", 0},
    {0}};
static const opt_doc o_convert[] = {
    {"CHECKPOINT", NULL, NULL, "an OpenAI CLIP .pt (TorchScript, e.g. ViT-B-16.pt, RN50.pt) or a torch.save'd zip of "
     "its state dict (open_clip_pytorch_model.bin, open_clip_config.json beside it), or an open_clip_train checkpoint "
     "epoch_N.pt (its 'state_dict' entry, DDP's 'module.' prefix stripped, as open_clip loads it); or a Hugging Face "
     "CLIPModel's pytorch_model.bin, its config.json beside it, or the pytorch_model.bin.index.json of a sharded one", 0},
    {"-o", "--output", "DIR", "the OpenCLIP folder to write (created if missing; its weights replaced, an open_clip_config.json there kept and used) (required)", 0},
    {0}};
static const opt_doc o_corpus_cmd[] = {
    {"-o", "--output", "FILE", "where to write the TSV (required)", 0},
    {0}};
static const opt_doc o_mine[] = {
    {"-o", "--output", "FILE", "where to write the negatives (required)", 0},
    {0}};
static const opt_doc o_score[] = {
    {"IMAGE", NULL, NULL, "images to score, or folders of them (walked recursively, sorted, as --list walks one); "
     "with or instead of --list", 0},
    {"--list", NULL, "FILE", "more images: a folder (walked recursively) or a file of paths, one per line; repeatable", 0},
    {"--negatives", NULL, "FILE", "negatives written by 'neglabel mine' (default: mined now with the options below; "
     "not used by MCM)", 0},
    {0}};
static const opt_doc o_score_emb[] = {
    {"--id", NULL, "ID.npy", "ID label embeddings, float32 .npy, one row per label (required)", 0},
    {"--neg", NULL, "NEG.npy", "negative label embeddings (required for every method but MCM)", 0},
    {"--images", NULL, "IMG.npy", "image embeddings, one row per image (required)", 0},
    {0}};
static const opt_doc o_metrics[] = {
    {"--id-scores", NULL, "FILE", "scores of the ID images: one number per line, or a CSV table with a header, "
     "such as 'neglabel score' writes (required)", 0},
    {"--ood-scores", NULL, "FILE", "scores of the OOD images, as --id-scores (required)", 0},
    {"--column", NULL, "NAME", "the column of CSV tables to read (default: score)", 0},
    {0}};
static const opt_doc o_eval[] = {
    {"--id", NULL, "DIR|LIST", "the ID images: a folder (walked recursively) or a file of paths (required)", 0},
    {"--ood", NULL, "NAME=DIR|LIST", "an OOD set and its name; repeat for each (at least one)", 0},
    {"--negatives", NULL, "FILE", "negatives written by 'neglabel mine' (default: mined now, written to "
     "--out as negatives.tsv)", 0},
    {"--out", NULL, "DIR", "where to write results.json, scores.csv and report.html (default neglabel-eval)", 0},
    {"--examples", NULL, "N", "example images per set in report.html, 0-100 (default 6)", 0},
    {"--mcm-tau", NULL, "T", "MCM's softmax temperature (default 1)", 0},
    {"--method", NULL, "M|all", "methods to report side by side: neglabel, mcm, csp, adaneg, oodd, a comma-separated "
     "list, or all; repeatable, in report order (default neglabel,mcm). Each keeps its reference defaults; an option "
     "given applies to every method that has it", 0},
    {"--stream-seed", NULL, "S", "AdaNeg and OODD score each OOD set as one stream, the ID images then the set's, in "
     "the order np.random.seed(S); np.random.permutation(N) gives (default 110, OODD's reference)", 0},
    {0}};
static const group_doc g_embed = {NULL, o_embed}, g_preprocess = {NULL, o_preprocess},
                       g_convert = {NULL, o_convert},
                       g_corpus_cmd = {NULL, o_corpus_cmd}, g_mine = {NULL, o_mine}, g_score = {NULL, o_score},
                       g_score_emb = {NULL, o_score_emb}, g_metrics = {NULL, o_metrics}, g_eval = {NULL, o_eval};

#define C_MODEL (C_QUIET | C_THREADS | C_DEVICE | C_PRECISION)
static const cmd_doc commands[] = {
    {"info", "CLIP engine", "[--model DIR]",
     "print the model's resolved vision/text configuration, projection size, dtype, parameter count, device and "
     "batch (JSON)",
     {&g_model}, C_MODEL | C_BATCH},
    {"embed", "CLIP engine",
     "[--model DIR] [--normalize] [--resample R] [--image PATH]... [--list FILE]... [--text TEXT]... "
     "[--texts FILE]... [-o FILE.npy]",
     "print one JSON object {\"kind\",\"input\",\"embedding\"} per input, in order (the projections), or "
     "write them as rows of a .npy",
     {&g_model, &g_embed, &g_resample}, C_MODEL | C_BATCH},
    {"tokenize", "CLIP engine", "[--model DIR] < LINES",
     "read JSON lines {\"text\"} on stdin (blank lines and a leading byte-order mark skipped), print "
     "{\"text\",\"ids\"} (the special tokens the tokenizer adds included: SOT/EOT, or AltCLIP's <s> and </s>; "
     "not truncated); a line that cannot be read (or is over 16 MiB) prints "
     "{\"line\",\"error\"} and the stream goes on (exit status 1 at the end)",
     {&g_model}, C_MODEL},
    {"preprocess", "CLIP engine", "[--resample R] [--size N] IMAGE -o OUT",
     "write the N x N x 3 uint8 RGB pixels (HWC) of IMAGE after resize and centre crop",
     {&g_preprocess}, C_QUIET},
    {"convert", "CLIP engine", "CHECKPOINT -o DIR",
     "write an OpenCLIP folder (open_clip_model.safetensors, open_clip_config.json) from OpenAI's CLIP checkpoint, "
     "or a Hugging Face folder (model.safetensors and the files beside it) from a pytorch_model.bin (or the index of "
     "its shards); the pickle is "
     "read without running any of it",
     {&g_convert}, C_QUIET},
    {"corpus", "NegLabel", "[--wordnet DIR | --lists DIR] [--include CAT]... [--exclude CAT]... -o FILE",
     "write the candidate labels as TSV pos<TAB>word",
     {&g_corpus_cmd, &g_corpus}, C_QUIET},
    {"mine", "NegLabel", "[--model DIR] --id-labels FILE [options] -o FILE",
     "NegMining: write the candidates least like the ID labels as pos<TAB>word<TAB>prompt<TAB>quantile_similarity",
     {&g_model, &g_labels, &g_mine, &g_mine_method, &g_corpus, &g_mining, &g_prompts}, C_MODEL | C_CACHE},
    {"score", "NegLabel", "[--model DIR] --id-labels FILE [--negatives FILE] [options] (IMAGE... | --list FILE...)",
     "score images (higher: more in-distribution) as CSV path,score,top_id_label,top_negative_label",
     {&g_model, &g_labels, &g_score, &g_method, &g_resample, &g_scoring, &g_mining, &g_prompts, &g_corpus},
     C_MODEL | C_BATCH | C_CACHE},
    {"score-embeddings", "NegLabel", "--id ID.npy --neg NEG.npy --images IMG.npy [options]",
     "score embeddings made by any pipeline: one score per line",
     {&g_score_emb, &g_method, &g_scoring}, C_QUIET | C_THREADS | C_DEVICE},
    {"metrics", "NegLabel", "--id-scores FILE --ood-scores FILE [--column NAME] [--convention neglabel|openood]",
     "print {\"auroc\",\"aupr_in\",\"aupr_out\",\"fpr95\",\"convention\"} (JSON); ID is the positive class",
     {&g_metrics, &g_convention}, C_QUIET},
    {"eval", "NegLabel", "[--model DIR] --id-labels FILE --id DIR|LIST --ood NAME=DIR|LIST... [options]",
     "the whole benchmark for each method (default NegLabel and MCM; --method all: NegLabel, MCM, CSP, AdaNeg, "
     "OODD side by side, the best of each set marked): table on stdout; results.json, scores.csv, report.html, "
     "negatives.tsv (negatives-csp.tsv) in --out",
     {&g_model, &g_labels, &g_eval, &g_resample, &g_convention, &g_scoring, &g_mining, &g_prompts, &g_corpus},
     C_MODEL | C_BATCH | C_CACHE},
    {"devices", "Other", "", "print the CUDA build and the GPUs found (JSON)", {NULL}, C_QUIET},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const char *TAGLINE = "zero-shot OOD detection with negative labels (NegLabel) on CLIP";
static const char *MODELS =
    "--model takes a Hugging Face CLIP folder, an OpenCLIP folder (open_clip_config.json + "
    "open_clip_model.safetensors: ViTs and CLIP ResNets, see docs/openclip.md) or a Hub id org/name[@revision], "
    "taken from the Hugging Face cache or downloaded into it (a repository with only pytorch_model.bin is "
    "converted there to safetensors); see docs/hub.md.";
static const struct { const char *name, *help; } environment[] = {
    {"NEGLABEL_DEVICE", "default of --device"},
    {"NEGLABEL_PRECISION", "default of --precision"},
    {"NEGLABEL_THREADS", "default of --threads (then OMP_NUM_THREADS)"},
    {"NEGLABEL_CACHE", "default of --cache (then $XDG_CACHE_HOME/neglabel, ~/.cache/neglabel)"},
    {"HF_HUB_CACHE", "the Hugging Face cache models are read from and downloaded into (default $HF_HOME/hub, "
     "~/.cache/huggingface/hub)"},
    {"HF_ENDPOINT", "where models are downloaded from (default https://huggingface.co)"},
    {"HF_TOKEN", "token for gated or private models"},
    {"HF_HUB_OFFLINE", "1: the Hugging Face cache only, no network"},
};
static const char *EXIT_STATUS = "0 on success, 1 on a failure, 2 on a usage error; errors go to stderr as one "
                                 "line (an unknown or missing option adds a second: see 'neglabel COMMAND --help').";

/* ------------------------------------------------------------ lookups */

static const cmd_doc *find_cmd(const char *name) {
    for (size_t k = 0; k < N_COMMANDS; k++)
        if (!strcmp(commands[k].name, name)) return &commands[k];
    return NULL;
}

int cli_help_known(const char *cmd) { return find_cmd(cmd) != NULL; }

int cli_common_used(const char *cmd, const char *opt) {
    const cmd_doc *c = cmd ? find_cmd(cmd) : NULL;
    if (!c) return 0;
    for (const opt_doc *o = o_common; o->name; o++)
        if (!strcmp(o->name, opt)) return !o->bit || (c->common & o->bit);
    return 0;
}

static size_t n_groups(const cmd_doc *c) {
    size_t n = 0;
    while (n < MAX_GROUPS && c->groups[n]) n++;
    return n;
}

/* The option a (NAME or NAME=VALUE) in opts; *eq: the value is in a. */
static const opt_doc *opt_in(const opt_doc *o, const char *a, int *eq) {
    for (; o->name; o++) {
        const char *names[2] = {o->name, o->alias};
        for (int k = 0; k < 2; k++) {
            size_t n = names[k] ? strlen(names[k]) : 0;
            if (n && names[k][0] == '-' && !strncmp(a, names[k], n) && (a[n] == 0 || a[n] == '=')) {
                *eq = a[n] == '=';
                return o;
            }
        }
    }
    return NULL;
}

static const opt_doc *opt_of(const cmd_doc *c, const char *a, int *eq) {
    const opt_doc *o = opt_in(o_common, a, eq);
    const group_doc *const *g = c->groups;
    size_t n = n_groups(c);
    for (size_t k = 0; !o && k < n; k++) o = opt_in(g[k]->opts, a, eq);
    return o;
}

int cli_takes_value(const char *cmd, const char *arg) {
    const cmd_doc *c = find_cmd(cmd);
    int eq;
    const opt_doc *o = c ? opt_of(c, arg, &eq) : NULL;
    return o && o->arg && !eq && o->name[0] == '-';
}

static int is_help(const char *a) { return !strcmp(a, "--help") || !strcmp(a, "-h"); }

/* ------------------------------------------------------------ --help */

#define COL 28

static void print_opt(FILE *f, const opt_doc *o) {
    char left[128];
    snprintf(left, sizeof left, "%s%s%s%s%s", o->name, o->alias ? ", " : "", o->alias ? o->alias : "",
             o->arg ? " " : "", o->arg ? o->arg : "");
    fprintf(f, "  %-*s  %s\n", COL - 2, left, o->help);
}

/* text wrapped at 78 columns, lines indented by ind */
static void print_wrapped(FILE *f, int ind, const char *text) {
    int col = 0;
    while (*text) {
        size_t w = strcspn(text, " ");
        if (col && col + 1 + (int)w > 78) { fputc('\n', f); col = 0; }
        if (!col) col = fprintf(f, "%*s", ind, "");
        else col += fprintf(f, " ");
        col += fprintf(f, "%.*s", (int)w, text);
        text += w;
        while (*text == ' ') text++;
    }
    if (col) fputc('\n', f);
}

static void command_help(FILE *f, const cmd_doc *c) {
    fprintf(f, "usage: neglabel %s%s%s\n\n", c->name, *c->synopsis ? " " : "", c->synopsis);
    print_wrapped(f, 0, c->summary);
    const group_doc *const *g = c->groups;
    size_t n = n_groups(c);
    const char *title = "";
    for (size_t k = 0; k < n; k++) {
        const char *t = g[k]->title ? g[k]->title : "Options";
        if (strcmp(t, title)) fprintf(f, "\n%s:\n", t);
        title = t;
        for (const opt_doc *o = g[k]->opts; o->name; o++) print_opt(f, o);
    }
    fputs("\nCommon options:\n", f);
    int others = 0;
    for (const opt_doc *o = o_common; o->name; o++) {
        if (!o->bit || (c->common & o->bit)) print_opt(f, o);
        else others = 1;
    }
    if (others) {
        fputs("  Accepted here without effect:", f);
        for (const opt_doc *o = o_common; o->name; o++)
            if (o->bit && !(c->common & o->bit)) fprintf(f, " %s", o->name);
        fputc('\n', f);
    }
}

void cli_help_overview(FILE *f) {
    fprintf(f, "neglabel %s — %s\n\n", NEGLABEL_VERSION, TAGLINE);
    fputs("usage: neglabel <command> [options]\n"
          "       neglabel <command> --help    the command's options and their defaults\n"
          "       neglabel help <command>      the same\n"
          "       neglabel --version\n",
          f);
    const char *section = "";
    for (size_t k = 0; k < N_COMMANDS; k++) {
        const cmd_doc *c = &commands[k];
        if (strcmp(section, c->section)) fprintf(f, "\n%s:\n", c->section);
        section = c->section;
        fprintf(f, "  %s%s%s\n", c->name, *c->synopsis ? " " : "", c->synopsis);
        print_wrapped(f, 6, c->summary);
    }
    fputs("\nModels:\n", f);
    print_wrapped(f, 2, MODELS);
    fputs("\nCommon options (every command):\n", f);
    for (const opt_doc *o = o_common; o->name; o++) print_opt(f, o);
    print_opt(f, &(opt_doc){"--", NULL, NULL, "the end of the options: what follows is an operand (score's and "
                            "preprocess's IMAGE, convert's CHECKPOINT) even when it starts with '-'", 0});
    fputs("\nEnvironment:\n", f);
    for (size_t k = 0; k < sizeof environment / sizeof environment[0]; k++)
        fprintf(f, "  %-*s  %s\n", COL - 2, environment[k].name, environment[k].help);
    fputs("\nExit status: ", f);
    fputs(EXIT_STATUS, f);
    fputs("\nSee README.md, docs/ and man ./docs/neglabel.1.\n", f);
}

/* ------------------------------------------------------------ man page */

/* text for troff: '-' as \-, '\' as \e, no control character first */
static void man_text(FILE *f, const char *s) {
    if (*s == '.' || *s == '\'') fputs("\\&", f);
    for (; *s; s++) {
        if (*s == '-') fputs("\\-", f);
        else if (*s == '\\') fputs("\\e", f);
        else fputc(*s, f);
    }
}

static void man_opt(FILE *f, const opt_doc *o) {
    fputs(".TP\n\\fB", f);
    man_text(f, o->name);
    if (o->alias) {
        fputs("\\fR, \\fB", f);
        man_text(f, o->alias);
    }
    fputs("\\fR", f);
    if (o->arg) {
        fputs(" \\fI", f);
        man_text(f, o->arg);
        fputs("\\fR", f);
    }
    fputc('\n', f);
    man_text(f, o->help);
    fputc('\n', f);
}

/* The commands whose help lists group g, as "a, b and c". */
static void man_users(FILE *f, const group_doc *grp) {
    const char *users[N_COMMANDS];
    size_t n = 0;
    for (size_t k = 0; k < N_COMMANDS; k++) {
        const group_doc *const *g = commands[k].groups;
        size_t ng = n_groups(&commands[k]);
        for (size_t j = 0; j < ng; j++)
            if (g[j] == grp) { users[n++] = commands[k].name; break; }
    }
    for (size_t k = 0; k < n; k++) {
        fprintf(f, "\\fB");
        man_text(f, users[k]);
        fprintf(f, "\\fR%s", k + 2 < n ? ", " : k + 2 == n ? " and " : "");
    }
}

static void man_page(FILE *f) {
    fprintf(f, ".\\\" Generated by 'neglabel help --man' from tools/help.c: edit that, then\n"
               ".\\\" build/neglabel help --man > docs/neglabel.1\n"
               ".TH NEGLABEL 1 \"\" \"neglabel %s\" \"User Commands\"\n.nh\n.ad l\n.SH NAME\nneglabel \\- ",
            NEGLABEL_VERSION);
    man_text(f, TAGLINE);
    fputs("\n.SH SYNOPSIS\n\\fBneglabel\\fR \\fIcommand\\fR [\\fIoptions\\fR]\n.br\n"
          "\\fBneglabel\\fR \\fIcommand\\fR \\fB\\-\\-help\\fR\n.br\n\\fBneglabel help\\fR [\\fIcommand\\fR]\n.br\n"
          "\\fBneglabel \\-\\-version\\fR\n.SH DESCRIPTION\nneglabel ",
          f);
    man_text(f, "embeds images and texts with CLIP models and detects out-of-distribution images with NegLabel "
                "(negative labels mined from WordNet). Each command's options are below; "
                "'neglabel <command> --help' prints the same.");
    fputs("\n.SH COMMANDS\n", f);
    for (size_t k = 0; k < N_COMMANDS; k++) {
        const cmd_doc *c = &commands[k];
        fputs(".SS ", f);
        man_text(f, c->name);
        fputs("\n\\fBneglabel ", f);
        man_text(f, c->name);
        fputs("\\fR ", f);
        man_text(f, c->synopsis);
        fputs("\n.PP\n", f);
        man_text(f, c->summary);
        fputc('\n', f);
        const group_doc *const *g = c->groups;
        size_t n = n_groups(c);
        int shared = 0;
        for (size_t j = 0; j < n; j++) {
            if (g[j]->title) { shared = 1; continue; }
            for (const opt_doc *o = g[j]->opts; o->name; o++) man_opt(f, o);
        }
        fputs(".PP\n", f);
        if (shared) {
            fputs("Also: ", f);
            for (size_t j = 0, m = 0; j < n; j++)
                if (g[j]->title) {
                    fputs(m++ ? ", " : "", f);
                    man_text(f, g[j]->title);
                }
            fputs(" (below).\n.br\n", f);
        }
        fputs("Common options that apply:", f);
        for (const opt_doc *o = o_common; o->name; o++)
            if (!o->bit || (c->common & o->bit)) {
                fputs(o == o_common ? " " : ", ", f);
                man_text(f, o->alias ? o->alias : o->name);
            }
        fputs(".\n", f);
    }
    /* the titled groups, once each, in the order they first appear */
    const group_doc *done[MAX_GROUPS * N_COMMANDS];
    size_t nd = 0;
    for (size_t k = 0; k < N_COMMANDS; k++) {
        const group_doc *const *g = commands[k].groups;
        size_t n = n_groups(&commands[k]);
        for (size_t j = 0; j < n; j++) {
            int seen = !g[j]->title;
            for (size_t d = 0; d < nd && !seen; d++) seen = done[d] == g[j];
            if (seen) continue;
            done[nd++] = g[j];
            fputs(".SH \"", f);
            for (const char *t = g[j]->title; *t; t++) fputc(*t >= 'a' && *t <= 'z' ? *t - 'a' + 'A' : *t, f);
            fputs("\"\nTaken by ", f);
            man_users(f, g[j]);
            fputs(".\n", f);
            for (const opt_doc *o = g[j]->opts; o->name; o++) man_opt(f, o);
        }
    }
    fputs(".SH \"COMMON OPTIONS\"\nEvery command takes these, before or after the command name; "
          "each command's section says which matter to it.\n",
          f);
    for (const opt_doc *o = o_common; o->name; o++) man_opt(f, o);
    fputs(".SH MODELS\n", f);
    man_text(f, MODELS);
    fputs("\n.SH ENVIRONMENT\n", f);
    for (size_t k = 0; k < sizeof environment / sizeof environment[0]; k++) {
        fputs(".TP\n.B ", f);
        man_text(f, environment[k].name);
        fputc('\n', f);
        man_text(f, environment[k].help);
        fputc('\n', f);
    }
    fputs(".SH \"EXIT STATUS\"\n", f);
    man_text(f, EXIT_STATUS);
    fputs("\n.SH \"SEE ALSO\"\nREADME.md and docs/*.md in the source tree.\n", f);
}

/* ------------------------------------------------------------ dispatch */

int cli_unknown_command(const char *name) {
    fprintf(stderr, "neglabel: unknown command '%s' (see 'neglabel help')\n", name);
    return 2;
}

/* `neglabel help ARGS...` */
static int help_command(int n, char **a) {
    if (n == 0 || is_help(a[0]) || !strcmp(a[0], "help")) {
        cli_help_overview(stdout);
        return 0;
    }
    if (n == 1 && !strcmp(a[0], "--man")) {
        man_page(stdout);
        return 0;
    }
    if (n == 1 && !strcmp(a[0], "--commands")) {
        for (size_t k = 0; k < N_COMMANDS; k++) puts(commands[k].name);
        return 0;
    }
    if (n == 2 && !strcmp(a[0], "--options")) {
        const cmd_doc *c = find_cmd(a[1]);
        if (!c) return cli_unknown_command(a[1]);
        const group_doc common = {NULL, o_common}, *g[MAX_GROUPS + 1] = {&common};
        size_t ng = n_groups(c);
        memcpy(g + 1, c->groups, ng * sizeof *g);
        for (size_t k = 0; k <= ng; k++)
            for (const opt_doc *o = g[k]->opts; o->name; o++) {
                if (o->name[0] == '-') puts(o->name);
                if (o->alias) puts(o->alias);
            }
        return 0;
    }
    if (a[0][0] == '-') return cli_usage("help", "unknown option '%s'", a[0]);
    const cmd_doc *c = find_cmd(a[0]);
    if (!c) return cli_unknown_command(a[0]);
    if (n > 1) return cli_usage("help", "one command at a time");
    command_help(stdout, c);
    return 0;
}

int cli_help_main(int argc, char **argv) {
    int i = 1, eq;
    for (; i < argc; i++) { /* common options before the command */
        const opt_doc *o = opt_in(o_common, argv[i], &eq);
        if (!o) break;
        if (is_help(argv[i])) {
            cli_help_overview(stdout);
            return 0;
        }
        if (o->arg && !eq) i++;
    }
    if (i >= argc) return -1;
    if (!strcmp(argv[i], "help")) return help_command(argc - i - 1, argv + i + 1);
    const cmd_doc *c = find_cmd(argv[i]);
    if (!c) return -1;
    /* --help or -h, but not as the value of an option (embed --text -h) */
    for (int j = i + 1; j < argc && strcmp(argv[j], "--") != 0; j++) { /* after "--": operands */
        if (is_help(argv[j])) {
            command_help(stdout, c);
            return 0;
        }
        const opt_doc *o = opt_of(c, argv[j], &eq);
        if (o && o->arg && !eq) j++;
    }
    return -1;
}
