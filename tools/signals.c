/* signals.c — Ctrl-C (SIGINT) and SIGTERM stop a command cleanly: the first
 * one asks the library to stop after the batch its model is running
 * (nl_set_cancel), so every whole block embedded stays cached, temporary files are removed and no output
 * is left half-written; the handler is then the default again, so a second
 * one stops the process at once. A signal ignored when neglabel started
 * (nohup, a background job of a shell without job control) stays ignored. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static volatile sig_atomic_t g_signal;

static void on_signal(int sig) {
    static const char msg[] = "\nneglabel: stopping after the current batch (the cache keeps what is done); "
                              "send it again to stop at once\n";
    if (!g_signal) {
        g_signal = sig;
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
    }
}

static int poll_signal(void *user) {
    (void)user;
    return g_signal != 0;
}

int cli_signals_stopped(void) { return g_signal != 0; }

static void install(int restart) {
    static const int sigs[] = {SIGINT, SIGTERM};
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) {
        struct sigaction old, sa;
        if (sigaction(sigs[k], NULL, &old) != 0 || old.sa_handler == SIG_IGN) continue;
        if (!restart && old.sa_handler != on_signal) continue; /* (already fired, or never installed) */
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = (restart ? SA_RESTART : 0) | SA_RESETHAND; /* the second signal: the default action */
        sigaction(sigs[k], &sa, NULL);
    }
}

void cli_signals_install(void) {
    install(1);
    nl_set_cancel(poll_signal, NULL);
}

void cli_signals_interrupt_reads(void) { install(0); }

int cli_signals_finish(int rc) {
    int sig = g_signal;
    if (!sig || rc == 0) return rc; /* finished before the stop was seen: its outputs are whole */
    /* stopped: end as the signal would have ended the process (exit status
     * 128 + sig in a shell), so that scripts and schedulers see it */
    fprintf(stderr, "neglabel: stopped by %s; run the same command again to resume from the cache\n",
            sig == SIGINT ? "Ctrl-C (SIGINT)" : "SIGTERM");
    fflush(stdout);
    fflush(stderr);
    signal(sig, SIG_DFL);
    raise(sig);
    return 128 + sig;
}
