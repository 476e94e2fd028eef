#include "self_path.hpp"

#include "lokt/root.hpp"

#include <limits.h>
#include <unistd.h>

#include <cstdlib>

namespace lokt::cli {

std::string self_exe() {
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return {};
    return std::string(buf, static_cast<size_t>(n));
}

std::string dir_of(const std::string& p) {
    auto slash = p.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : p.substr(0, slash);
}

std::string installed_lib_dir() {
    const std::string self = self_exe();
    if (self.empty()) return {};
    return dir_of(dir_of(self)) + "/lib/lokt";
}

std::string absolute_path(const std::string& p) {
    char cwd[PATH_MAX];
    return resolve_path(::getcwd(cwd, sizeof cwd) ? cwd : ".", p);
}

std::string preload_lib_path() {
    if (const char* v = std::getenv("LOKT_PRELOAD_LIB"); v && *v) return absolute_path(v);
    return installed_lib_dir() + "/liblokt_preload.so";
}

} // namespace lokt::cli
