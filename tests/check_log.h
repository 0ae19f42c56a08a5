/* check_log.h — the library's warnings counted and the last one kept, for
 * tests that check a warning comes once, or not at all:
 * nl_set_log(check_log_warnings, NULL), then check_warnings and
 * check_last_warning. */
#ifndef NEGLABEL_CHECK_LOG_H
#define NEGLABEL_CHECK_LOG_H
#include <stdio.h>

#include "neglabel.h"

static int check_warnings;
static char check_last_warning[4096];

static inline void check_log_warnings(nl_log_level level, const char *msg, void *user) {
    (void)user;
    if (level == NL_LOG_WARN) {
        check_warnings++;
        snprintf(check_last_warning, sizeof check_last_warning, "%s", msg);
    }
}

#endif
