/* exec_variants MODE PROG [ARG...]: runs PROG with argv {PROG, ARG...} through one libc exec
 * entry point, so the shim's hook for it can be tested. The exec* modes replace this process;
 * the spawn/vfork/system/popen modes wait and exit with the child's status (128+N if killed).
 * ARGV0=name replaces argv[0] (PROG stays the file to run). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int status_code(int st) {
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return 255;
}

static int wait_child(pid_t pid) {
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return 255;
    return status_code(st);
}

/* A shell command line quoting every word in single quotes. */
static char *shell_line(char **words) {
    size_t len = 1;
    for (char **w = words; *w; ++w) len += 4 * strlen(*w) + 3;
    char *out = malloc(len), *p = out;
    for (char **w = words; *w; ++w) {
        if (w != words) *p++ = ' ';
        *p++ = '\'';
        for (const char *c = *w; *c; ++c) {
            if (*c == '\'') { memcpy(p, "'\\''", 4); p += 4; }
            else *p++ = *c;
        }
        *p++ = '\'';
    }
    *p = 0;
    return out;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: exec_variants MODE PROG [ARG...]\n");
        return 64;
    }
    const char *mode = argv[1], *prog = argv[2];
    char **args = argv + 2;
    if (getenv("ARGV0")) args[0] = getenv("ARGV0");
    int n = argc - 2;
    /* execl-style calls take a fixed list: support up to 4 arguments after argv[0]. */
    char *a[5] = {0};
    for (int i = 0; i < 5 && i < n; ++i) a[i] = args[i];
    if ((!strcmp(mode, "execl") || !strcmp(mode, "execlp") || !strcmp(mode, "execle")) && n > 5) {
        fprintf(stderr, "execl modes take at most 4 arguments\n");
        return 64;
    }
    if (!strcmp(mode, "execve")) execve(prog, args, environ);
    else if (!strcmp(mode, "execv")) execv(prog, args);
    else if (!strcmp(mode, "execvp")) execvp(prog, args);
    else if (!strcmp(mode, "execvpe")) execvpe(prog, args, environ);
    else if (!strcmp(mode, "execl")) execl(prog, a[0], a[1], a[2], a[3], a[4], (char *)0);
    else if (!strcmp(mode, "execlp")) execlp(prog, a[0], a[1], a[2], a[3], a[4], (char *)0);
    else if (!strcmp(mode, "execle")) {
        /* envp follows the first NULL, so the list must end exactly after the arguments. */
        switch (n) {
        case 1: execle(prog, a[0], (char *)0, environ); break;
        case 2: execle(prog, a[0], a[1], (char *)0, environ); break;
        case 3: execle(prog, a[0], a[1], a[2], (char *)0, environ); break;
        case 4: execle(prog, a[0], a[1], a[2], a[3], (char *)0, environ); break;
        default: execle(prog, a[0], a[1], a[2], a[3], a[4], (char *)0, environ); break;
        }
    }
    else if (!strcmp(mode, "fexecve")) {
        int fd = open(prog, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) fexecve(fd, args, environ);
    } else if (!strcmp(mode, "execveat")) {
        execveat(AT_FDCWD, prog, args, environ, 0);
    } else if (!strcmp(mode, "posix_spawn") || !strcmp(mode, "posix_spawnp")) {
        pid_t pid;
        int rc = !strcmp(mode, "posix_spawn") ? posix_spawn(&pid, prog, NULL, NULL, args, environ)
                                              : posix_spawnp(&pid, prog, NULL, NULL, args, environ);
        if (rc != 0) {
            fprintf(stderr, "%s: %s\n", mode, strerror(rc));
            return 127;
        }
        printf("child %d\n", (int)pid);
        fflush(stdout);
        return wait_child(pid);
    } else if (!strcmp(mode, "vfork")) {
        pid_t pid = vfork();
        if (pid == 0) {
            execve(prog, args, environ);
            _exit(127);
        }
        return wait_child(pid);
    } else if (!strcmp(mode, "system")) {
        return status_code(system(shell_line(args)));
    } else if (!strcmp(mode, "popen")) {
        FILE *f = popen(shell_line(args), "r");
        if (!f) return 127;
        char buf[4096];
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, got, stdout);
        return status_code(pclose(f));
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 64;
    }
    fprintf(stderr, "%s %s: %s\n", mode, prog, strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
