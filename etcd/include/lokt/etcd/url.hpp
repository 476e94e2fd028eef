#pragma once
// The etcd backend URL: etcd://host1:2379,host2:2379[/prefix] (plain HTTP) or
// https://host1:2379,...[/prefix] (TLS).

#include "lokt/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lokt::etcd {

/// One cluster member's client address.
struct Endpoint {
    std::string host;
    uint16_t port = 2379;
};

/// A parsed backend URL.
struct BackendUrl {
    bool tls = false;
    std::vector<Endpoint> endpoints;  ///< at least one, in the order given
    std::string prefix = "lokt";      ///< key prefix without leading or trailing '/'

    /// "etcd://h1:2379,h2:2379" (or https://…), without the prefix: how errors name the cluster.
    std::string display() const;
    /// display() and "/prefix": where a repository's locks are (`lokt doctor`).
    std::string display_with_prefix() const { return display() + "/" + prefix; }
    /// "http://h:p" or "https://h:p" for endpoint `i`.
    std::string base(size_t i) const;
};

/// Parses a backend URL; an Error says what is wrong, e.g. `invalid backend URL "x": …`.
/// A URL without a prefix gets `default_prefix` (lokt passes the repository's namespace).
Result<BackendUrl> parse_backend_url(std::string_view url, std::string_view default_prefix = "lokt");

} // namespace lokt::etcd
