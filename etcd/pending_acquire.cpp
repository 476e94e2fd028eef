// EtcdBackend::enqueue: an acquisition on etcd that never blocks whoever drives it (the
// seccomp broker's loop). A thread of its own opens the lease the lock will ride on (a
// Session: kept alive from its own thread), enqueues the Mutex-compatible key and waits on
// its predecessor (Locks::acquire), and tells the caller through a pipe. After the grant the
// object keeps the lease alive until the lock is released: each lock on a lease of its own,
// because the key is PREFIX/NAME/<lease> and two holdings of one name must not share it.
#include "lokt/etcd/backend.hpp"

#include "lokt/etcd/session.hpp"
#include "lokt/etcd/turn.hpp"

#include <fcntl.h>

#include <mutex>
#include <thread>

namespace lokt::etcd {
namespace {

class EtcdPending final : public PendingAcquire {
public:
    EtcdPending(Client& client, Locks& locks, LockRecord rec, int64_t ttl_sec, Deadline deadline, sys::Pipe wake)
        : client_(client), locks_(locks), rec_(std::move(rec)), ttl_sec_(ttl_sec), deadline_(deadline),
          wake_(std::move(wake)) {
        thread_ = std::thread([this] { run(); });
    }
    ~EtcdPending() override;
    EtcdPending(const EtcdPending&) = delete;
    EtcdPending& operator=(const EtcdPending&) = delete;

    int fd() const override;
    Result<std::optional<lokt::AcquireOutcome>> step(bool last_try) override;
    bool lost() const override;

private:
    void run();
    Result<etcd::AcquireOutcome> acquire(Session& session);
    /// Records what blocks us and wakes the caller.
    void publish(lokt::AcquireOutcome blocker);
    void finish(Result<etcd::AcquireOutcome> r);

    Client& client_;
    Locks& locks_;
    const LockRecord rec_;
    const int64_t ttl_sec_;
    const Deadline deadline_;
    sys::Pipe wake_;  ///< non-blocking; the thread writes, step() drains
    mutable std::mutex mu_;
    std::unique_ptr<Session> session_;  ///< set by the thread once the lease is granted
    std::optional<lokt::AcquireOutcome> blocker_;
    std::optional<Result<etcd::AcquireOutcome>> result_;  ///< the thread's answer, once in
    bool cancelled_ = false;  ///< destroyed before the grant was handed over
    bool claimed_ = false;    ///< step() handed the grant over: the lock is the caller's
    std::thread thread_;
};

void EtcdPending::run() {
    auto opened = Session::open(client_, ttl_sec_);
    if (!opened) return finish(opened.error());
    {
        std::lock_guard lock(mu_);
        session_ = std::move(*opened);
        if (cancelled_) return;
    }
    // A frozen name is told at once (a rule's on-frozen=fail refuses on it); the wait itself
    // goes on through the freeze while the deadline allows.
    if (auto f = locks_.frozen(rec_.name); f && *f) {
        LockRecord r = (*f)->record;
        r.name = rec_.name;
        publish(lokt::AcquireOutcome{Frozen{r}});
    }
    finish(acquire(*session_));
}

Result<etcd::AcquireOutcome> EtcdPending::acquire(Session& session) {
    auto got = locks_.acquire(rec_.name, rec_, session, deadline_, [this](int64_t) {
        // Queued behind someone: say who, for the waiting reports.
        auto h = locks_.holder(rec_.name);
        publish(h && *h ? lokt::AcquireOutcome{lokt::Held{lock_view(**h), false}} : lokt::AcquireOutcome{lokt::Held{}});
    });
    // A request cut short by the deadline itself is the end of the wait, not an outage.
    if (!got && deadline_.remaining() <= kDeadlineSlack) got = etcd::AcquireOutcome{AcquireStatus::timeout, {}, {}, {}};
    if (got && got->status == AcquireStatus::timeout) publish(blocker_of(locks_, rec_.name));
    return got;
}

void EtcdPending::publish(lokt::AcquireOutcome blocker) {
    std::lock_guard lock(mu_);
    blocker_ = std::move(blocker);
    (void)sys::write_once(wake_.write.get(), "x");  // a full pipe already says it
}

void EtcdPending::finish(Result<etcd::AcquireOutcome> r) {
    std::lock_guard lock(mu_);
    result_ = std::move(r);
    (void)sys::write_once(wake_.write.get(), "x");
}

int EtcdPending::fd() const {
    std::lock_guard lock(mu_);
    // Once the lock is ours, what matters is whether its lease is lost.
    if (claimed_ && session_) return session_->lost_fd();
    return wake_.read.get();
}

bool EtcdPending::lost() const {
    std::lock_guard lock(mu_);
    return claimed_ && session_ && session_->lost();
}

Result<std::optional<lokt::AcquireOutcome>> EtcdPending::step(bool) {
    // The thread ends the wait at the deadline itself; `last_try` needs nothing more here.
    char buf[64];
    while (true) {
        auto n = sys::read_some(wake_.read.get(), buf, sizeof buf);
        if (!n || *n == 0) break;
    }
    std::lock_guard lock(mu_);
    if (!result_) return blocker_;
    if (!*result_) return result_->error();
    const etcd::AcquireOutcome& got = **result_;
    switch (got.status) {
    case AcquireStatus::acquired: {
        claimed_ = true;
        LockRecord held = got.held.record;
        held.fence = got.held.fence;
        return std::optional<lokt::AcquireOutcome>(Acquired{held, false});
    }
    case AcquireStatus::frozen:
        return std::optional<lokt::AcquireOutcome>(Frozen{got.freeze->record});
    case AcquireStatus::busy:
    case AcquireStatus::timeout:
        return blocker_ ? blocker_ : std::optional<lokt::AcquireOutcome>(lokt::Held{});
    case AcquireStatus::lost:
        break;
    }
    return Error{"lock \"" + rec_.name + "\": lost the etcd lease while waiting (" +
                 (session_ ? session_->lost_reason() : std::string()) + ")"};
}

EtcdPending::~EtcdPending() {
    {
        std::lock_guard lock(mu_);
        cancelled_ = !claimed_;
        // Ends a wait on the predecessor at once (the session's loss cancels the watch).
        if (cancelled_ && session_) session_->abandon("cancelled");
    }
    thread_.join();
    if (!session_) return;
    if (claimed_) return;  // released through Backend::release_id (or lost); the Session stops
    const bool won = result_ && *result_ && (*result_)->status == AcquireStatus::acquired;
    // Won just as the caller gave up: give it back as a release, so the audit log pairs it.
    if (won) (void)locks_.release((*result_)->held, *session_);
    else (void)session_->revoke();  // takes our queued key along
}

} // namespace

Result<std::unique_ptr<PendingAcquire>> EtcdBackend::enqueue(const AcquireRequest& req, Deadline deadline) {
    auto rec = request_record(req, true);  // on a lease the pending acquisition keeps alive
    if (!rec) return rec.error();
    auto wake = sys::pipe(O_NONBLOCK);
    if (!wake) return wake.error();
    return std::unique_ptr<PendingAcquire>(
        new EtcdPending(*client_, locks_, std::move(*rec), kept_ttl_sec(req.ttl), deadline, std::move(*wake)));
}

} // namespace lokt::etcd
