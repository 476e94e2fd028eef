#include "self_path.hpp"

#include <limits.h>
#include <unistd.h>

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
    if (!p.empty() && p[0] == '/') return p;
    char buf[PATH_MAX];
    std::string cwd = ::getcwd(buf, sizeof buf) ? buf : ".";
    return cwd + "/" + p;
}

} // namespace lokt::cli
