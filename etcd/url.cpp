#include "lokt/etcd/url.hpp"

#include <charconv>

namespace lokt::etcd {
namespace {

Error bad(std::string_view url, std::string_view why) {
    return Error{"invalid backend URL \"" + std::string(url) + "\": " + std::string(why)};
}

bool host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '_';
}

Result<Endpoint> parse_endpoint(std::string_view url, std::string_view hp) {
    Endpoint e;
    std::string_view host = hp;
    std::string_view port;
    if (!hp.empty() && hp.front() == '[') {  // [::1]:2379
        auto close = hp.find(']');
        if (close == std::string_view::npos) return bad(url, "unterminated '[' in host");
        host = hp.substr(0, close + 1);
        std::string_view rest = hp.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return bad(url, "expected ':' after ']'");
            port = rest.substr(1);
        }
    } else if (auto colon = hp.rfind(':'); colon != std::string_view::npos) {
        host = hp.substr(0, colon);
        port = hp.substr(colon + 1);
        if (port.empty()) return bad(url, "empty port");
    }
    if (host.empty()) return bad(url, "empty host");
    if (host.front() != '[')
        for (char c : host)
            if (!host_char(c)) return bad(url, "invalid character in host \"" + std::string(host) + "\"");
    e.host = std::string(host);
    if (!port.empty()) {
        unsigned v = 0;
        auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
        if (ec != std::errc{} || p != port.data() + port.size() || v == 0 || v > 65535)
            return bad(url, "invalid port \"" + std::string(port) + "\"");
        e.port = static_cast<uint16_t>(v);
    }
    return e;
}

} // namespace

std::string BackendUrl::display() const {
    std::string s = tls ? "https://" : "etcd://";
    for (size_t i = 0; i < endpoints.size(); ++i) {
        if (i) s += ',';
        s += endpoints[i].host + ":" + std::to_string(endpoints[i].port);
    }
    return s;
}

std::string BackendUrl::base(size_t i) const {
    const Endpoint& e = endpoints.at(i);
    return std::string(tls ? "https://" : "http://") + e.host + ":" + std::to_string(e.port);
}

Result<BackendUrl> parse_backend_url(std::string_view url, std::string_view default_prefix) {
    BackendUrl out;
    out.prefix = std::string(default_prefix);
    std::string_view rest;
    if (url.starts_with("etcd://")) {
        rest = url.substr(7);
    } else if (url.starts_with("https://")) {
        out.tls = true;
        rest = url.substr(8);
    } else {
        return bad(url, "expected etcd://HOST:PORT[,HOST:PORT…][/prefix] or https://…");
    }
    std::string_view hosts = rest;
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
        hosts = rest.substr(0, slash);
        std::string_view prefix = rest.substr(slash + 1);
        while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
        if (!prefix.empty()) {
            if (prefix.find("//") != std::string_view::npos) return bad(url, "empty prefix component");
            for (char c : prefix)
                if (!(host_char(c) || c == '/')) return bad(url, "invalid character in prefix");
            out.prefix = std::string(prefix);
        }
    }
    if (hosts.empty()) return bad(url, "no endpoint");
    while (!hosts.empty()) {
        auto comma = hosts.find(',');
        auto r = parse_endpoint(url, hosts.substr(0, comma));
        if (!r) return r.error();
        out.endpoints.push_back(std::move(*r));
        if (comma == std::string_view::npos) break;
        hosts = hosts.substr(comma + 1);
        if (hosts.empty()) return bad(url, "empty endpoint after ','");
    }
    return out;
}

} // namespace lokt::etcd
