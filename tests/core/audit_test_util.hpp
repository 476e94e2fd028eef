#pragma once
// Helpers shared by the audit log tests: event builders and file readers.

#include "lokt/audit.hpp"
#include "support/scoped.hpp"

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace lokt::test {

inline TimePoint at_ns(int64_t ns) { return TimePoint(Nanos(ns)); }

/// 2026-01-01T00:00:00Z plus `ms` milliseconds.
inline TimePoint base_plus_ms(int64_t ms) {
    return at_ns(1'767'225'600'000'000'000LL + ms * 1'000'000LL);
}

inline AuditEvent make_event(TimePoint ts, std::string name, int64_t seq, std::string owner = "agent-1") {
    AuditEvent e;
    e.ts = ts;
    e.event = "acquire";
    e.name = std::move(name);
    e.lock_id = "6a173209907a5ff193951a4b174adfc2";
    e.owner = std::move(owner);
    e.host = "vm";
    e.pid = 4242;
    e.agent_id = "agent-3d08";
    e.ttl_sec = 600;
    e.extra = nlohmann::json{{"seq", seq}};
    return e;
}

inline std::vector<std::string> file_lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

inline std::string file_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Every event a read() returns, in order.
inline std::vector<AuditEvent> read_all(const AuditLog& log, const AuditQuery& q = {},
                                        AuditReadStats* stats = nullptr) {
    std::vector<AuditEvent> out;
    auto r = log.read(q, [&](std::string_view, const AuditEvent& e) { out.push_back(e); });
    REQUIRE(r);
    if (stats) *stats = *r;
    return out;
}

} // namespace lokt::test
