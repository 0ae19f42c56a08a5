/* neglabel — command-line tool (thin over libneglabel). */
#include <stdio.h>
#include <string.h>
#include "neglabel.h"

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        printf("usage: neglabel <command> [options]\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "neglabel: unknown command '%s'\n", argv[1]);
    return 2;
}
