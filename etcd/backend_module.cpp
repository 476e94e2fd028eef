// The etcd backend as a module: lokt dlopen()s one only when LOKT_BACKEND (or ROOT/config)
// names an etcd cluster (cli/backend_open.cpp), so a lokt that uses files (every guard and
// shimmed exec) loads none of it. This is the entry's body; module_http.cpp and
// module_tls.cpp are the entry points of the two modules.
#include "lokt/etcd/module.hpp"

#include "lokt/etcd/backend.hpp"
#include "lokt/etcd/url.hpp"
#include "lokt/log.hpp"

#include <cstdlib>

namespace lokt::etcd {

lokt::Backend* open_module_backend(const std::string& url, const std::string& default_prefix,
                                   const lokt::Identity& self, std::string& error, TransportFactory make) {
    // The module has its own copy of lokt::log: LOKT_LOG=debug shows each etcd round trip. A
    // malformed value was reported by lokt already; here it only leaves the log off.
    const char* log_setting = std::getenv("LOKT_LOG");
    (void)lokt::log::configure(log_setting ? log_setting : "", 0);
    auto parsed = parse_backend_url(url, default_prefix);
    if (!parsed) {
        error = parsed.error().message;
        return nullptr;
    }
    auto backend = EtcdBackend::open(*parsed, self, make);
    if (!backend) {
        error = backend.error().message;
        return nullptr;
    }
    return backend->release();
}

} // namespace lokt::etcd
