/* A stand-in for a Go tool (terraform, gh): built with -static. Under $FAKE_DIR it records
 * "PID ARGS" in `log`, detects overlap with another copy through an O_EXCL `inside` file
 * (then it creates `overlap`), and holds for $FAKE_HOLD_MS or until $FAKE_DIR/$FAKE_UNTIL
 * exists. Exits $FAKE_EXIT (default 0). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

int main(int argc, char **argv) {
    const char *dir = getenv("FAKE_DIR");
    char path[4096];
    if (!dir) return 0;
    snprintf(path, sizeof path, "%s/inside", dir);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0) {
        char ov[4096];
        snprintf(ov, sizeof ov, "%s/overlap", dir);
        close(open(ov, O_CREAT | O_WRONLY, 0644));
    } else {
        close(fd);
    }
    char logp[4096];
    snprintf(logp, sizeof logp, "%s/log", dir);
    FILE *f = fopen(logp, "a");
    if (f) {
        fprintf(f, "%d", getpid());
        for (int i = 0; i < argc; ++i) fprintf(f, " %s", argv[i]);
        fprintf(f, "\n");
        fclose(f);
    }
    const char *until = getenv("FAKE_UNTIL");
    if (until) {
        char u[4096];
        struct stat st;
        snprintf(u, sizeof u, "%s/%s", dir, until);
        while (stat(u, &st) != 0) sleep_ms(5);
    } else {
        const char *ms = getenv("FAKE_HOLD_MS");
        if (ms) sleep_ms(atol(ms));
    }
    unlink(path);
    const char *code = getenv("FAKE_EXIT");
    return code ? atoi(code) : 0;
}
