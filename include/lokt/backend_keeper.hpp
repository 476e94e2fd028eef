#pragma once
// The LockKeeper of a real guard: the lock operations of a lokt::Backend (files or etcd).

#include "lokt/backend.hpp"
#include "lokt/identity.hpp"
#include "lokt/lock_file.hpp"
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
    LockMode mode = LockMode::exclusive;  ///< --shared / --slots N, for every name
    int slots = 0;                   ///< mode == slots: N
    Nanos ttl{0};
    bool wait = false;
    Nanos timeout{0};                ///< with wait
    std::string command;             ///< the command line, for the lock file
    bool fail_on_frozen = true;      ///< with wait: a freeze (at the start or while waiting)
                                     ///< refuses at once; false: it is waited out
    bool run_on_timeout = false;     ///< held past the timeout (or without wait): run unlocked
    bool end_on_lost = false;        ///< --on-lost term: the "lost" warning says the command ends
    bool quiet = false;              ///< -q: no wait reports on stderr
    int conflict_code = 2;           ///< exit code when held by another or frozen (-E)
    /// What starts a refusal line: "error: ", or "lokt: " under the shim (the caller never
    /// typed lokt, so the line must say where it comes from).
    std::string refusal_prefix = "error: ";
    /// The text after refusal_prefix for a refusal (held or frozen); `timed_out` after --timeout.
    std::function<std::string(const AcquireOutcome&, bool timed_out)> refusal;
    /// The text after "warning: " when the command runs without the lock (run_on_timeout).
    std::function<std::string(const Held&, bool timed_out)> unlocked;
};

class BackendKeeper final : public LockKeeper {
public:
    /// Keeps the locks of `cfg` on `backend` (which must outlive the keeper), acting as `who`.
    BackendKeeper(Backend& backend, Identity who, KeeperConfig cfg);

    std::optional<std::vector<HeldLock>> prepare() override;
    Acquisition acquire(int cancel_fd, pid_t pgid,
                        const std::function<bool()>& confirm_cancel) override;
    void renew() override;
    Nanos renew_every() const override;
    void release(const ReleaseNote& note) override;
    std::vector<HeldLock> held() const override { return held_; }
    void adopt(const std::vector<HeldLock>& locks) override;
    int loss_fd() override;
    void check_held() override;
    size_t lost_count() const override { return lost_; }
    void audit_losses() override;
    void discard_proofs() override;

private:
    /// The backend acting as this process (the supervisor, or the front after a takeover).
    Backend& backend();
    Acquisition refuse(int code, const std::string& message);
    /// on-timeout=run: gives back what was taken, warns, audits `unlocked-run`.
    Acquisition run_unlocked(const std::string& name, const Held& held, bool timed_out);
    /// A held lock is no longer ours: audits `lost` and warns (the caller drops it).
    void report_lost(const HeldLock& h);

    Backend& backend_;
    Identity who_;
    KeeperConfig cfg_;
    pid_t acting_pid_ = 0;  ///< the process backend_ last acted as
    std::optional<Deadline> deadline_;  ///< --timeout, on the monotonic clock, for all names
    std::vector<HeldLock> planned_;  // from prepare(): one fixed lock id per name
    std::vector<HeldLock> held_;
    size_t lost_ = 0;
    std::vector<AuditEvent> unaudited_;  ///< `lost` events found, not yet written (audit_losses)
    bool renew_busy_warned_ = false;  ///< contention on a renewal was reported once already
};

} // namespace lokt::sup
