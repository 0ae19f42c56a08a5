/* test_templates.c — nl_apply_template against Python's str.format, which
 * the NegLabel reference uses to build its prompts
 * (tests/data/templates.golden.json, tests/gen/gen_templates.py): the same
 * prompt where Python gives one, an error where Python raises (a second
 * "{}" used to leave a literal "{}" in every prompt, "{{}}" gave "{word}").
 * A template without a field is refused too (Python would give every word
 * the same prompt). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "neglabel.h"

int main(void) {
    const char *src = getenv("NEGLABEL_SRC");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/templates.golden.json", src && *src ? src : ".");
    json_error_t jerr;
    json_t *g = json_load_file(path, 0, &jerr);
    json_t *cases = json_object_get(g, "cases");
    CHECK(json_array_size(cases) >= 100, "%s: %s", path, g ? "too few cases" : jerr.text);
    size_t n_ok = 0, n_err = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        const char *t = json_string_value(json_object_get(c, "template")),
                   *w = json_string_value(json_object_get(c, "word")),
                   *want = json_string_value(json_object_get(c, "prompt"));
        char *got = nl_apply_template(t, w);
        if (want) {
            CHECK(got && !strcmp(got, want), "'%s'.format('%s'): got '%s' (%s), want '%s'", t, w, got ? got : "NULL",
                  got ? "" : nl_last_error(), want);
            n_ok++;
        } else {
            CHECK(!got && strstr(nl_last_error(), t), "'%s'.format('%s') raises %s in Python; got '%s'", t, w,
                  json_string_value(json_object_get(c, "error")), got ? got : "NULL");
            n_err++;
        }
        free(got);
    }
    printf("%zu prompts, %zu refusals as Python's\n", n_ok, n_err);
    json_decref(g);

    const char *nofield[] = {"the nice", "{{}}", "a {{x}}", ""};
    for (size_t i = 0; i < sizeof nofield / sizeof *nofield; i++) {
        char *got = nl_apply_template(nofield[i], "cat");
        CHECK(!got && strstr(nl_last_error(), "no '{}' placeholder"), "'%s' (no field): got '%s'", nofield[i],
              got ? got : "NULL");
        free(got);
    }
    /* the messages say what to write instead */
    char *got = nl_apply_template("{} and {}", "cat");
    CHECK(!got && strstr(nl_last_error(), "more than one '{}'"), "two fields: %s", got ? got : nl_last_error());
    free(got);
    got = nl_apply_template("a {b} {}", "cat");
    CHECK(!got && strstr(nl_last_error(), "field '{b}'"), "named field: %s", got ? got : nl_last_error());
    free(got);
    return check_done();
}
