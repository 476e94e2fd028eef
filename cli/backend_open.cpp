// Choosing and opening the lock backend: $LOKT_BACKEND, else a `backend = …` line in
// ROOT/config, else the files under the lock root. An etcd backend comes from a module loaded
// only when chosen (see etcd/backend_module.cpp), picked by the URL's scheme:
// lib/lokt/liblokt_backend_etcd.so for etcd:// (plain sockets), liblokt_backend_etcd_tls.so
// for https:// (libcurl).
#include "backend_open.hpp"

#include "output.hpp"
#include "self_path.hpp"

#include "lokt/log.hpp"
#include "lokt/repo_namespace.hpp"
#include "lokt/root_fs.hpp"
#include "lokt/sys.hpp"
#include "lokt/text.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace lokt::cli {
namespace {

/// What the module exports (etcd/backend_module.cpp).
using OpenEtcd = Backend* (*)(const std::string& url, const std::string& default_prefix, const Identity& self,
                              std::string& error);

/// The value of the `backend = …` line of ROOT/config ("" when there is none).
Result<std::string> configured_backend(const Root& root) {
    const std::string path = root.path + "/config";
    // Through the checked root: a symlink or FIFO planted as ROOT/config is refused.
    auto fd = rootfs::open_file(root.path, path, O_RDONLY);
    if (!fd) {
        if (fd.error().sys_errno == ENOENT) return std::string();
        return fd.error();
    }
    auto content = sys::read_all(fd->get(), 64 << 10);
    if (!content) return Error{"cannot read " + path + ": " + content.error().message};
    std::string_view rest(*content);
    while (!rest.empty()) {
        auto nl = rest.find('\n');
        std::string_view line = text::trim(rest.substr(0, nl));
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        if (line.empty() || line[0] == '#') continue;
        auto eq = line.find('=');
        if (eq == std::string_view::npos || text::trim(line.substr(0, eq)) != "backend") continue;
        return std::string(text::trim(line.substr(eq + 1)));
    }
    return std::string();
}

Result<std::unique_ptr<Backend>> open_etcd(const std::string& url, const std::string& default_prefix,
                                           const Identity& self) {
    std::string module;
    if (const char* v = std::getenv("LOKT_ETCD_MODULE"); v && *v) module = v;
    else if (url.starts_with("https://")) module = installed_lib_dir() + "/liblokt_backend_etcd_tls.so";
    else module = installed_lib_dir() + "/liblokt_backend_etcd.so";
    // RTLD_LAZY: the module's own functions are bound when first called, not all here. Only
    // the TLS module loads libcurl and its thirty-odd libraries (Debian builds them with
    // BIND_NOW, so they bind at once regardless): 15-20 ms that etcd:// never pays.
    void* lib = ::dlopen(module.c_str(), RTLD_LAZY | RTLD_LOCAL);
    if (!lib) return Error{"lock backend " + url + " unavailable: " + ::dlerror()};
    // Never dlclose()d: the backend's code must outlive every object it made.
    auto open = reinterpret_cast<OpenEtcd>(::dlsym(lib, "lokt_etcd_backend_open_v2"));
    if (!open) return Error{"lock backend " + url + " unavailable: " + module + " has no lokt_etcd_backend_open_v2"};
    std::string error;
    Backend* b = open(url, default_prefix, self, error);
    if (!b) return Error{error};
    return std::unique_ptr<Backend>(b);
}

} // namespace

Result<std::string> backend_setting(const Root& root) {
    if (const char* v = std::getenv("LOKT_BACKEND"); v && *v) return std::string(v);
    return configured_backend(root);
}

bool is_file_backend(const std::string& setting) { return setting.empty() || setting == "file"; }

Result<std::unique_ptr<Backend>> open_backend(bool create) {
    auto root = discover_root();
    if (!root) return root.error();
    auto setting = backend_setting(*root);
    if (!setting) return setting.error();
    if (is_file_backend(*setting)) {
        auto store = open_store(create);
        if (!store) return store.error();
        return std::unique_ptr<Backend>(new FileBackend(std::move(*store)));
    }
    if (setting->starts_with("etcd://") || setting->starts_with("https://")) {
        // Every clone of one repository meets in the namespace its origin remote names.
        char cwd[PATH_MAX];
        if (!::getcwd(cwd, sizeof cwd)) return Error::from_errno("getcwd", errno);
        const std::string prefix = default_backend_prefix(cwd);
        LOKT_LOG(info, "lock backend ", *setting, " (its default prefix here: ", prefix, ")");
        return open_etcd(*setting, prefix, current_identity());
    }
    return Error{"unknown lock backend \"" + *setting + "\" (LOKT_BACKEND or backend = in " + root->path +
                 "/config): use file, etcd://HOST:PORT[,HOST:PORT][/PREFIX] or https://…"};
}

Result<std::string> pinned_backend(const Root& root, const Backend* opened) {
    auto setting = backend_setting(root);
    if (!setting) return setting.error();
    if (is_file_backend(*setting)) return std::string("file");
    // etcd's describe() is its URL with the prefix in use.
    if (opened) return opened->describe();
    auto backend = open_backend(false);
    if (!backend) return backend.error();
    return (*backend)->describe();
}

} // namespace lokt::cli
