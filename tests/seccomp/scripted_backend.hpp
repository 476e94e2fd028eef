#pragma once
// A Backend for the broker's tests: the file backend, except that its pending acquisitions
// answer only once the test opens a gate (as etcd's answer from a thread of its own), and a
// granted lock can be declared lost (as an etcd lease that ended).

#include "lokt/backend.hpp"
#include "lokt/sys.hpp"

#include <fcntl.h>

#include <memory>

namespace lokt::test {

/// What the test controls, shared with every pending acquisition.
struct Script {
    bool gate_open = false;
    bool lost = false;
    bool loss_ends_command = true;
    sys::Pipe wake = sys::pipe(O_NONBLOCK).value();  ///< readable after open_gate() / lose()

    void open_gate() {
        gate_open = true;
        (void)sys::write_once(wake.write.get(), "x");
    }
    void lose() {
        lost = true;
        (void)sys::write_once(wake.write.get(), "x");
    }
};

class ScriptedPending final : public PendingAcquire {
public:
    ScriptedPending(std::unique_ptr<PendingAcquire> inner, Script& s) : inner_(std::move(inner)), s_(s) {}
    int fd() const override { return s_.wake.read.get(); }
    Result<std::optional<AcquireOutcome>> step(bool last_try) override {
        if (!s_.gate_open) return std::optional<AcquireOutcome>();
        char buf[16];
        for (auto n = sys::read_some(s_.wake.read.get(), buf, sizeof buf); n && *n > 0;
             n = sys::read_some(s_.wake.read.get(), buf, sizeof buf)) {}
        return inner_->step(last_try);
    }
    bool lost() const override { return s_.lost; }

private:
    std::unique_ptr<PendingAcquire> inner_;
    Script& s_;
};

class ScriptedBackend final : public Backend {
public:
    explicit ScriptedBackend(Store store) : b_(std::move(store)) {}
    Script script;

    Result<std::unique_ptr<PendingAcquire>> enqueue(const AcquireRequest& req, Deadline d) override {
        auto inner = b_.enqueue(req, d);
        if (!inner) return inner.error();
        return std::unique_ptr<PendingAcquire>(new ScriptedPending(std::move(*inner), script));
    }
    bool loss_ends_command() const override { return script.loss_ends_command; }

    // The rest is the file backend's.
    std::string describe() const override { return b_.describe(); }
    const Identity& self() const override { return b_.self(); }
    const LocalView& local_view() const override { return b_.local_view(); }
    bool present() const override { return b_.present(); }
    Result<AcquireOutcome> try_acquire(const AcquireRequest& r) override { return b_.try_acquire(r); }
    Result<WaitResult> acquire_waiting(const AcquireRequest& r, const WaitOptions& o) override {
        return b_.acquire_waiting(r, o);
    }
    void audit_denial(const AcquireRequest& r, const AcquireOutcome& o) override { b_.audit_denial(r, o); }
    Result<std::optional<LockRecord>> renew(const std::string& n, const std::string& id, Nanos t, SyncWait w) override {
        return b_.renew(n, id, t, w);
    }
    Result<bool> update(const LockRecord& u, SyncWait w) override { return b_.update(u, w); }
    Result<void> record(const AuditEvent& e) override { return b_.record(e); }
    Result<std::optional<LockRecord>> holder(const std::string& n, const std::string& id) const override {
        return b_.holder(n, id);
    }
    void act_as(const Identity& who) override { b_.act_as(who); }
    Result<ReleaseOutcome> release_id(const std::string& n, const std::string& id, const ReleaseNote& note) override {
        return b_.release_id(n, id, note);
    }
    Result<ReleaseOutcome> release_owned(const std::string& n, const std::optional<std::string>& o) override {
        return b_.release_owned(n, o);
    }
    Result<ReleaseOutcome> force_break(const std::string& n) override { return b_.force_break(n); }
    Result<ReleaseOutcome> break_stale(const std::string& n) override { return b_.break_stale(n); }
    Result<ReadOutcome> read(const std::string& n) const override { return b_.read(n); }
    Result<std::vector<LockRecord>> holders(const std::string& n) const override { return b_.holders(n); }
    Result<std::vector<LockEntry>> list(bool p) override { return b_.list(p); }
    std::vector<UnreadableLock> unreadable(const std::vector<LockEntry>& l) const override { return b_.unreadable(l); }
    Result<LockRecord> freeze(const std::string& n, Nanos t) override { return b_.freeze(n, t); }
    Result<ReleaseOutcome> unfreeze(const std::string& n, bool f) override { return b_.unfreeze(n, f); }
    Result<std::optional<LockRecord>> active_freeze(const std::string& n) override { return b_.active_freeze(n); }
    std::optional<LockRecord> peek_freeze(const std::string& n, TimePoint at) const override {
        return b_.peek_freeze(n, at);
    }

private:
    FileBackend b_;
};

} // namespace lokt::test
