/* fuzz_main.h — without libFuzzer, build a harness with -DFUZZ_MAIN to get
 * a driver that runs each file given as an argument through
 * LLVMFuzzerTestOneInput (to replay a finding under gdb or valgrind).
 * Included last by each harness. */
#ifdef FUZZ_MAIN
#include <stdint.h>
#include <stdio.h>
int main(int argc, char **argv) {
    static uint8_t buf[1 << 24];
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    return 0;
}
#endif
