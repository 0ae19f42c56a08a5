/* errors.c — the public face of util.c's thread-local error message. */
#include "neglabel.h"
#include "util.h"

const char *nl_last_error(void) { return nli_geterr(); }
