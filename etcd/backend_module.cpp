// The entry point of liblokt_backend_etcd.so, the etcd backend as a module: lokt dlopen()s it only
// when LOKT_BACKEND (or ROOT/config) names an etcd cluster, so libcurl and the thirty-odd
// libraries it needs are never loaded by a lokt that uses files (every guard and shimmed exec).
#include "lokt/etcd/backend.hpp"
#include "lokt/etcd/url.hpp"
#include "lokt/log.hpp"

#include <cstdlib>

/// Opens the backend `url` names, acting as `self`; a URL without a key prefix gets
/// `default_prefix` (the repository's namespace). nullptr with `error` set on failure. The
/// caller owns the result (deleted through Backend's virtual destructor).
extern "C" __attribute__((visibility("default"))) lokt::Backend*
lokt_etcd_backend_open_v2(const std::string& url, const std::string& default_prefix, const lokt::Identity& self,
                       std::string& error) {
    // The module has its own copy of lokt::log: LOKT_LOG=debug shows each etcd round trip. A
    // malformed value was reported by lokt already; here it only leaves the log off.
    const char* log_setting = std::getenv("LOKT_LOG");
    (void)lokt::log::configure(log_setting ? log_setting : "", 0);
    auto parsed = lokt::etcd::parse_backend_url(url, default_prefix);
    if (!parsed) {
        error = parsed.error().message;
        return nullptr;
    }
    auto backend = lokt::etcd::EtcdBackend::open(*parsed, self);
    if (!backend) {
        error = backend.error().message;
        return nullptr;
    }
    return backend->release();
}
