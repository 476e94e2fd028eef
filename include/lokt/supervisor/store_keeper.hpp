#pragma once
// The LockKeeper of a real guard: lokt::Store (and acquire_waiting for --wait).

#include "lokt/identity.hpp"
#include "lokt/lock_file.hpp"
#include "lokt/root.hpp"
#include "lokt/store.hpp"
#include "lokt/supervisor.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lokt::sup {

/// What the guard asks of the store, and how refusals are worded (by the CLI).
struct KeeperConfig {
    std::vector<std::string> names;  ///< sorted, unique
    LockKind kind = LockKind::guard;
    Nanos ttl{0};
    bool wait = false;
    Nanos timeout{0};                ///< with wait
    std::string command;             ///< the command line, for the lock file
    bool fail_on_frozen = false;     ///< with wait: a freeze seen before waiting refuses at once
    bool run_on_timeout = false;     ///< held past the timeout (or without wait): run unlocked
    /// The text after "error: " for a refusal (held or frozen); `timed_out` after --timeout.
    std::function<std::string(const AcquireOutcome&, bool timed_out)> refusal;
    /// The text after "warning: " when the command runs without the lock (run_on_timeout).
    std::function<std::string(const Held&, bool timed_out)> unlocked;
};

class StoreKeeper final : public LockKeeper {
public:
    StoreKeeper(Root root, Identity who, KeeperConfig cfg);

    Acquisition acquire(int cancel_fd) override;
    void record_pgid(pid_t pgid) override;
    void renew() override;
    void release(const std::string& reason) override;
    std::vector<HeldLock> held() const override { return held_; }
    void adopt(const std::vector<HeldLock>& locks) override;

private:
    /// The store acting as this process (the supervisor, or the front after a takeover).
    Store& store();
    Acquisition refuse(int code, const std::string& message);
    /// on-timeout=run: gives back what was taken, warns, audits `unlocked-run`.
    Acquisition run_unlocked(const std::string& name, const Held& held, bool timed_out);

    Root root_;
    Identity who_;
    KeeperConfig cfg_;
    std::optional<Store> store_;
    pid_t store_pid_ = 0;
    std::optional<TimePoint> deadline_;
    std::vector<HeldLock> held_;
};

} // namespace lokt::sup
