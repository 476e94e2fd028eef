// The entry point of liblokt_backend_etcd.so, the default etcd module: plain HTTP over
// sockets (etcd://), linking no libcurl, so loading it costs little more than its own code.
#include "lokt/etcd/module.hpp"
#include "lokt/etcd/transport_http.hpp"

/// Opens the backend `url` names (without a key prefix: `default_prefix`), acting as `self`;
/// nullptr with `error` set on failure.
extern "C" __attribute__((visibility("default"))) lokt::Backend*
lokt_etcd_backend_open_v2(const std::string& url, const std::string& default_prefix, const lokt::Identity& self,
                          std::string& error) {
    return lokt::etcd::open_module_backend(url, default_prefix, self, error, lokt::etcd::http_transport);
}
