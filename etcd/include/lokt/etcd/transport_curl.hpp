#pragma once
// The libcurl transport: what `https://` backends use (TLS with a CA and client
// certificates). Only the TLS module (liblokt_backend_etcd_tls.so) links it, so libcurl and
// its thirty-odd libraries load only for a TLS cluster.

#include "lokt/etcd/transport.hpp"

namespace lokt::etcd {

/// A libcurl transport for `options` (https:// or plain http:// endpoints).
Result<std::unique_ptr<Transport>> curl_transport(ClientOptions options);
/// The TLS module's choice: libcurl for https://, the socket transport for etcd://.
Result<std::unique_ptr<Transport>> any_transport(ClientOptions options);

} // namespace lokt::etcd
