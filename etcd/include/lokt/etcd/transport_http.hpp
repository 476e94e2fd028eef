#pragma once
// The plain HTTP/1.1 transport (etcd://): TCP sockets and nothing else, so the default
// module (liblokt_backend_etcd.so) loads no libcurl, TLS or resolver libraries beyond libc.

#include "lokt/etcd/transport.hpp"

namespace lokt::etcd {

/// A socket transport for `options`; an Error for an https:// URL (it has no TLS).
Result<std::unique_ptr<Transport>> http_transport(ClientOptions options);

} // namespace lokt::etcd
