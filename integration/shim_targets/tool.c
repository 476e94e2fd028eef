/* A stand-in for a real tool (installed as fake-git etc.). Each run writes a record to
 * $TOOL_OUT/<pid>: its exact argv bytes (as /proc/self/cmdline), then lines "held=LOKT_HELD",
 * "preload=LD_PRELOAD", "lock=<one line of $LOKT_ROOT/locks/$TOOL_LOCK.json>" when TOOL_LOCK
 * is set, and one "anc=PID <cmdline with spaces>" per ancestor process.
 * TOOL_HOLD=FILE: create FILE.started, then wait until FILE exists. TOOL_EXIT=N: exit N. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static size_t slurp(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    size_t n = 0;
    ssize_t r;
    while (n < cap && (r = read(fd, buf + n, cap - n)) > 0) n += (size_t)r;
    close(fd);
    return n;
}

static pid_t parent_of(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    size_t n = slurp(path, buf, sizeof buf - 1);
    buf[n] = 0;
    char *rp = strrchr(buf, ')');
    if (!rp) return 0;
    int ppid = 0;
    sscanf(rp + 2, "%*c %d", &ppid);
    return ppid;
}

int main(void) {
    const char *out = getenv("TOOL_OUT");
    if (out) {
        char path[4096], tmp[4200];
        snprintf(path, sizeof path, "%s/%d", out, (int)getpid());
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        FILE *f = fopen(tmp, "w");
        static char buf[1 << 21];
        size_t n = slurp("/proc/self/cmdline", buf, sizeof buf);
        fwrite(buf, 1, n, f);
        fprintf(f, "\n--\nheld=%s\npreload=%s\n", getenv("LOKT_HELD") ? getenv("LOKT_HELD") : "",
                getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "");
        const char *lock = getenv("TOOL_LOCK"), *root = getenv("LOKT_ROOT");
        if (lock && root) {
            char lp[4096];
            snprintf(lp, sizeof lp, "%s/locks/%s.json", root, lock);
            size_t m = slurp(lp, buf, 65536);
            for (size_t i = 0; i < m; ++i)
                if (buf[i] == '\n') buf[i] = ' ';
            fprintf(f, "lock=%.*s\n", (int)m, buf);
        }
        for (pid_t p = getppid(); p > 1; p = parent_of(p)) {
            char cp[64];
            snprintf(cp, sizeof cp, "/proc/%d/cmdline", (int)p);
            size_t m = slurp(cp, buf, 4096);
            for (size_t i = 0; i < m; ++i)
                if (buf[i] == 0 || buf[i] == '\n') buf[i] = ' ';
            fprintf(f, "anc=%d %.*s\n", (int)p, (int)m, buf);
        }
        fclose(f);
        rename(tmp, path);
    }
    const char *hold = getenv("TOOL_HOLD");
    if (hold) {
        char started[4200];
        snprintf(started, sizeof started, "%s.started", hold);
        close(open(started, O_CREAT | O_WRONLY, 0644));
        struct stat st;
        while (stat(hold, &st) != 0) {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    const char *code = getenv("TOOL_EXIT");
    return code ? atoi(code) : 0;
}
