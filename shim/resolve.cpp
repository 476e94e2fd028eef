// Which file an exec would run: glibc's PATH search for the *p calls, /proc/self/fd for
// fexecve and dirfd-relative execveat. Async-signal-safe: stack buffers and syscalls only.

#include "shim.hpp"

#include "lokt/path_search.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

namespace lokt::shim {

bool searches_path(const Call& c) {
    return (c.fn == Fn::execvp || c.fn == Fn::execvpe || c.fn == Fn::spawnp) && c.file &&
           !std::strchr(c.file, '/');
}

bool resolve(const Call& c, char* buf, struct stat* st) {
    if (c.fn == Fn::fexecve || (c.fn == Fn::execveat && c.file && c.file[0] == '\0')) {
        char link[32];
        size_t used = 0;
        append(link, sizeof link, &used, "/proc/self/fd/");
        append_num(link, sizeof link, &used, c.fd);
        ssize_t n = ::readlink(link, buf, PATH_MAX - 1);
        if (n <= 0) return false;
        buf[n] = '\0';
        struct stat fst;
        return buf[0] == '/' && is_executable_file(buf, st) && ::fstat(c.fd, &fst) == 0 &&
               fst.st_dev == st->st_dev && fst.st_ino == st->st_ino;
    }
    if (!c.file || !c.file[0]) return false;
    if (c.fn == Fn::execveat && c.file[0] != '/' && c.fd != AT_FDCWD) {
        char link[32];
        size_t used = 0;
        append(link, sizeof link, &used, "/proc/self/fd/");
        append_num(link, sizeof link, &used, c.fd);
        ssize_t n = ::readlink(link, buf, PATH_MAX - 2);
        if (n <= 0 || buf[0] != '/') return false;
        used = static_cast<size_t>(n);
        buf[used] = '\0';
        if (!append(buf, PATH_MAX, &used, "/") || !append(buf, PATH_MAX, &used, c.file)) return false;
        return is_executable_file(buf, st);
    }
    if (!searches_path(c)) {
        size_t used = 0;
        return append(buf, PATH_MAX, &used, c.file) && is_executable_file(buf, st);
    }
    // glibc searches the caller's PATH (environ's, not envp's); the default when it is unset.
    return search_path(c.file, env_lookup(environ, "PATH"), buf, PATH_MAX, st) == 0;
}

// The guard may run after a posix_spawn chdir action: it needs an absolute path.
bool absolutize(char* buf) {
    if (buf[0] == '/') return true;
    char cwd[PATH_MAX];
    if (!::getcwd(cwd, sizeof cwd)) return false;
    size_t used = str_len(cwd);
    const char* rel = buf[0] == '.' && buf[1] == '/' ? buf + 2 : buf;
    if (!append(cwd, sizeof cwd, &used, "/") || !append(cwd, sizeof cwd, &used, rel)) return false;
    std::memcpy(buf, cwd, used + 1);
    return true;
}

} // namespace lokt::shim
