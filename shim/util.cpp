// Async-signal-safe string and output helpers for the exec path.

#include "shim.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lokt::shim {

size_t str_len(const char* s) { return std::strlen(s); }

bool append(char* buf, size_t cap, size_t* used, const char* s) {
    size_t n = std::strlen(s);
    if (*used + n + 1 > cap) {
        size_t room = cap > *used + 1 ? cap - *used - 1 : 0;
        std::memcpy(buf + *used, s, room);
        *used += room;
        buf[*used] = '\0';
        return false;
    }
    std::memcpy(buf + *used, s, n);
    *used += n;
    buf[*used] = '\0';
    return true;
}

bool append_num(char* buf, size_t cap, size_t* used, long v) {
    char tmp[24];
    size_t n = 0;
    unsigned long u = v < 0 ? 0UL - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
    do { tmp[n++] = static_cast<char>('0' + u % 10); u /= 10; } while (u);
    if (v < 0) tmp[n++] = '-';
    char out[24];
    for (size_t i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return append(buf, cap, used, out);
}

const char* env_lookup(char* const* envp, const char* name) {
    if (!envp) return nullptr;
    size_t n = std::strlen(name);
    for (char* const* e = envp; *e; ++e)
        if (std::strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    return nullptr;
}

void say(const char* text) {
    int saved = errno;
    char line[1024];
    size_t used = 0;
    append(line, sizeof line - 1, &used, "lokt shim: ");
    append(line, sizeof line - 1, &used, text);
    line[used++] = '\n';
    ssize_t r;
    do { r = ::write(STDERR_FILENO, line, used); } while (r < 0 && errno == EINTR);
    errno = saved;
}

bool held_lists(const char* held, const char* name) {
    if (!held) return false;
    size_t n = std::strlen(name);
    const char* p = held;
    while (*p) {
        if (std::strncmp(p, name, n) == 0 && p[n] == ':') return true;
        while (*p && *p != ',') ++p;
        if (*p == ',') ++p;
    }
    return false;
}

} // namespace lokt::shim
