/* Exec test driver for the seccomp-mode integration tests (integration/test_seccomp_*.py).
 * Built twice by the tests: dynamic and with -static (which the preload shim cannot see).
 *   probe execv PROG ARGS...          execv()
 *   probe raw PROG ARGS...            syscall(SYS_execve) directly, as Go does
 *   probe thread PROG ARGS...         execv() from a second thread (writes "PID TID" to $PROBE_OUT)
 *   probe storm PROG ARGS...          execv() under a 50 ms SA_RESTART SIGALRM timer (timer_create)
 *   probe waitfile FILE PROG ARGS...  waits (without exec'ing) until FILE exists, then execv()
 *   probe listener                    installs a second seccomp notify listener
 * A failed exec prints "exec-errno=N" (to stderr and $PROBE_OUT), sleeps $PROBE_SLEEP_MS,
 * and exits 42. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static char **target;

static void note(const char *line) {
    fprintf(stderr, "%s\n", line);
    const char *out = getenv("PROBE_OUT");
    if (out) {
        FILE *f = fopen(out, "a");
        if (f) { fprintf(f, "%s\n", line); fclose(f); }
    }
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static int failed(int err) {
    char buf[64];
    snprintf(buf, sizeof buf, "exec-errno=%d", err);
    note(buf);
    const char *ms = getenv("PROBE_SLEEP_MS");
    if (ms) sleep_ms(atol(ms));
    return 42;
}

static void *thread_exec(void *arg) {
    (void)arg;
    char buf[64];
    snprintf(buf, sizeof buf, "%d %ld", getpid(), (long)syscall(SYS_gettid));
    note(buf);
    execv(target[0], target);
    exit(failed(errno));
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

int main(int argc, char **argv) {
    if (argc < 2) return 64;
    const char *mode = argv[1];
    if (!strcmp(mode, "listener")) {
        struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        struct sock_fprog prog = {1, &allow};
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        char buf[64];
        snprintf(buf, sizeof buf, "listener-errno=%d", fd < 0 ? errno : 0);
        note(buf);
        return 0;
    }
    if (argc < 3) return 64;
    target = argv + 2;
    if (!strcmp(mode, "execv")) {
        execv(target[0], target);
        return failed(errno);
    }
    if (!strcmp(mode, "raw")) {
        syscall(SYS_execve, target[0], target, environ);
        return failed(errno);
    }
    if (!strcmp(mode, "thread")) {
        pthread_t t;
        pthread_create(&t, NULL, thread_exec, NULL);
        for (;;) pause();
    }
    if (!strcmp(mode, "storm")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGALRM, &sa, NULL);
        /* A POSIX timer, not setitimer(): it dies with the exec, so the new program is not
         * killed by the next SIGALRM. */
        struct sigevent sev;
        memset(&sev, 0, sizeof sev);
        sev.sigev_notify = SIGEV_SIGNAL;
        sev.sigev_signo = SIGALRM;
        timer_t timer;
        if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) return 70;
        struct itimerspec its = {{0, 50000000}, {0, 50000000}};
        timer_settime(timer, 0, &its, NULL);
        execv(target[0], target);
        return failed(errno);
    }
    if (!strcmp(mode, "waitfile")) {
        struct stat st;
        note("waiting");
        while (stat(argv[2], &st) != 0) sleep_ms(5);
        target = argv + 3;
        execv(target[0], target);
        return failed(errno);
    }
    return 64;
}
