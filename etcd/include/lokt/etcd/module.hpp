#pragma once
// What the two backend modules share: liblokt_backend_etcd.so (the socket transport, for
// etcd://) and liblokt_backend_etcd_tls.so (libcurl, for https://) differ only in the
// transport they pass here (etcd/module_http.cpp, etcd/module_tls.cpp).

#include "lokt/backend.hpp"
#include "lokt/etcd/transport.hpp"

#include <string>

namespace lokt::etcd {

/// The body of each module's entry point `lokt_etcd_backend_open_v2`: opens the backend `url`
/// names (a URL without a key prefix gets `default_prefix`, the repository's namespace),
/// acting as `self`, through transports from `make`; nullptr with `error` set on failure.
/// The caller owns the result (deleted through Backend's virtual destructor).
lokt::Backend* open_module_backend(const std::string& url, const std::string& default_prefix,
                                   const lokt::Identity& self, std::string& error, TransportFactory make);

} // namespace lokt::etcd
