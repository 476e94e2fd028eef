// `lokt doctor` on the lock backend: opens it as every command does and asks each of its
// servers (an etcd cluster's members) for its status, one line per server.
#include "doctor_backend.hpp"

#include "backend_open.hpp"

#include <chrono>
#include <cstdlib>

namespace lokt::cli::doctor {
namespace {

// Skew below this is the Date header's one-second resolution, not a clock that is off.
constexpr auto kSkewWarn = std::chrono::seconds(2);

} // namespace

std::vector<Check> backend_checks() {
    std::vector<Check> out;
    auto backend = open_backend(false);
    if (!backend) {
        out.push_back({"backend", Status::fail, backend.error().message});
        return out;
    }
    auto probes = (*backend)->probe();
    if (probes.empty()) {
        out.push_back({"backend", Status::ok, "files under " + (*backend)->describe()});
        return out;
    }
    out.push_back({"backend", Status::ok, (*backend)->describe()});
    for (const auto& p : probes) {
        if (!p.reached) {
            out.push_back({"endpoint", Status::fail, p.what + " unreachable: " + p.detail});
            continue;
        }
        // Leases count down on the server's clock, expiries and audit times are written
        // with ours: a large difference makes them disagree.
        const bool skewed = p.clock_skew && std::chrono::abs(*p.clock_skew) >= kSkewWarn;
        out.push_back({"endpoint", skewed ? Status::warn : Status::ok,
                       p.what + ": " + p.detail + (skewed ? " (the clocks disagree)" : "")});
    }
    return out;
}

} // namespace lokt::cli::doctor
