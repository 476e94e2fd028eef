#pragma once
// Test helpers for the store and wait tests: a throwaway root, stores acting as different
// owners and the audit events written so far (forked children: support/process.hpp).

#include "lokt/audit.hpp"
#include "lokt/identity.hpp"
#include "lokt/store.hpp"
#include "lokt/sys.hpp"
#include "support/process.hpp"
#include "support/scoped.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace lokt::test {

/// A fresh root under /tmp, removed at the end of the test.
struct TempRoot {
    TempDir tmp{"lokt-store"};
    std::string dir = tmp.path;
    Root root{dir + "/lokt", RootSource::env};

    /// A store acting as `owner` (this process, this host).
    Store store(const std::string& owner = "agent-1") const {
        Identity id = current_identity();
        id.owner = owner;
        id.agent_id = "agent-" + owner;
        return Store(root, AuditLog(root.audit_path()), id);
    }

    /// Every audit event so far, in order.
    std::vector<AuditEvent> events() const {
        std::vector<AuditEvent> out;
        std::ifstream in(root.audit_path());
        std::string line;
        while (std::getline(in, line))
            if (auto e = decode_event(line)) out.push_back(*e);
        return out;
    }
    /// The events named `name`.
    std::vector<AuditEvent> events(const std::string& name) const {
        std::vector<AuditEvent> out;
        for (auto& e : events())
            if (e.event == name) out.push_back(e);
        return out;
    }

    /// Raw bytes of a file under the root ("" when missing).
    std::string slurp(const std::string& path) const {
        auto r = sys::read_file(path);
        return r ? *r : std::string();
    }
    void write(const std::string& path, const std::string& bytes) const {
        std::filesystem::create_directories(std::filesystem::path(path).parent_path());
        std::ofstream(path, std::ios::binary) << bytes;
    }
    /// Entries of a directory (empty when missing).
    std::vector<std::string> ls(const std::string& path) const {
        auto r = sys::list_dir(path);
        return r ? *r : std::vector<std::string>{};
    }
};

/// A lease request by the store's own identity.
inline AcquireRequest request(const Store& s, const std::string& name, Nanos ttl = Nanos(0),
                              LockKind kind = LockKind::lease) {
    AcquireRequest r;
    r.name = name;
    r.kind = kind;
    r.ttl = ttl;
    r.who = s.self();
    return r;
}

} // namespace lokt::test
