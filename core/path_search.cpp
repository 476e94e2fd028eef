// The PATH search. Freestanding like the duration parser: compiled into liblokt_preload.so,
// where it runs inside exec calls (possibly right after vfork), so stack buffers and
// syscalls only.

#include "lokt/path_search.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lokt {

const char* default_search_path(char* buf, size_t cap) noexcept {
    size_t n = ::confstr(_CS_PATH, buf, cap);
    if (n > 0 && n <= cap) return buf;
    static constexpr char kFallback[] = "/bin:/usr/bin";
    if (cap >= sizeof kFallback) std::memcpy(buf, kFallback, sizeof kFallback);
    else if (cap > 0) buf[0] = '\0';
    return buf;
}

bool is_executable_file(const char* path, struct stat* st) noexcept {
    return ::stat(path, st) == 0 && S_ISREG(st->st_mode) && ::faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0;
}

int search_path(const char* name, const char* path_list, char* buf, size_t cap, struct stat* st) noexcept {
    if (!name || !name[0] || std::strchr(name, '/')) return EINVAL;
    char fallback[256];
    if (!path_list) path_list = default_search_path(fallback, sizeof fallback);
    const size_t name_len = std::strlen(name);
    int result = ENOENT;
    for (const char* p = path_list;;) {
        const char* end = std::strchr(p, ':');
        const size_t dir_len = end ? static_cast<size_t>(end - p) : std::strlen(p);
        // "dir/name" or, for an empty element (the current directory), "name".
        const size_t need = dir_len + (dir_len ? 1 : 0) + name_len + 1;
        if (need <= cap) {
            std::memcpy(buf, p, dir_len);
            size_t used = dir_len;
            if (dir_len) buf[used++] = '/';
            std::memcpy(buf + used, name, name_len + 1);
            // One stat per candidate (this runs inside exec calls). Like execvp, a candidate
            // that exists but cannot run is remembered and the search goes on.
            if (::stat(buf, st) == 0) {
                if (S_ISREG(st->st_mode) && ::faccessat(AT_FDCWD, buf, X_OK, AT_EACCESS) == 0) return 0;
                result = EACCES;
            }
        }
        if (!end) break;
        p = end + 1;
    }
    return result;
}

} // namespace lokt
