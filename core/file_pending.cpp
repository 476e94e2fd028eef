// The file store's PendingAcquire: the ticket queue under ROOT/queue/NAME/ keeps the place
// (FIFO among every waiter of this host, a stalled head skipped as in acquire_waiting), and
// each step is one try of the store. Nothing here blocks: the caller re-tries on inotify
// events under the root and on its timer.
#include "lokt/backend.hpp"

#include "lokt/queue.hpp"
#include "lokt/wait.hpp"

namespace lokt {
namespace {

class FilePending final : public PendingAcquire {
public:
    FilePending(Store& store, AcquireRequest req) : store_(store), req_(std::move(req)) {}

    int fd() const override { return -1; }
    Result<std::optional<AcquireOutcome>> step(bool last_try) override;
    void forget() override {
        if (ticket_) ticket_->forget();
    }
    void rehome() override {
        // A ticket that cannot be moved is dropped: the next step queues again.
        if (ticket_ && !ticket_->rehome()) ticket_.reset();
    }

private:
    Store& store_;
    AcquireRequest req_;
    std::optional<detail::Ticket> ticket_;  ///< our place among all waiters, after a first refusal
    detail::HeadStall stall_{detail::head_grace()};  ///< skips a head that does not move
    std::optional<AcquireOutcome> last_;    ///< what blocked the last try
};

Result<std::optional<AcquireOutcome>> FilePending::step(bool last_try) {
    // Behind an earlier waiter: it goes first. The ticket exists only after a refused try,
    // so last_ says what blocks us.
    if (!last_try && ticket_) {
        auto view = ticket_->look();
        if (view && skip_stalled_head(store_, req_.name, *ticket_, stall_, *view)) view = ticket_->look();
        if (view && view->pred) return last_;
    }
    req_.queued = ticket_.has_value();  // our ticket orders a shared request behind writers
    auto r = store_.try_acquire(req_);
    if (!r) return r.error();
    if (std::holds_alternative<Acquired>(*r)) {
        ticket_.reset();
        return std::optional<AcquireOutcome>(*r);
    }
    last_ = *r;
    if (!ticket_)
        if (auto t = detail::Ticket::enter(store_.root(), req_.name, store_.self().host, req_.mode))
            ticket_.emplace(std::move(*t));
    return last_;
}

} // namespace

Result<std::unique_ptr<PendingAcquire>> FileBackend::enqueue(const AcquireRequest& req, Deadline) {
    return std::unique_ptr<PendingAcquire>(new FilePending(store_, req));
}

} // namespace lokt
