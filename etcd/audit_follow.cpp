// EtcdBackend::follow_events (`lokt audit --tail`): the ~audit/ keys read at one revision,
// then a watch from the next one, so that no event is shown twice or missed between them.
#include "lokt/etcd/backend.hpp"

#include <atomic>
#include <thread>

namespace lokt::etcd {
namespace {

/// Cancels `cancel` once `stop` says so (asked every 100 ms); ends with the object.
class StopWatch {
public:
    StopWatch(const std::function<bool()>& stop, Cancel& cancel) {
        thread_ = std::thread([this, &stop, &cancel] {
            while (!done_.load()) {
                if (stop()) {
                    cancel.cancel();
                    return;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        });
    }
    ~StopWatch() {
        done_.store(true);
        thread_.join();
    }
    StopWatch(const StopWatch&) = delete;
    StopWatch& operator=(const StopWatch&) = delete;

private:
    std::atomic<bool> done_{false};
    std::thread thread_;
};

} // namespace

Result<void> EtcdBackend::follow_events(const std::function<void(const AuditEvent&)>& sink,
                                        const std::function<void()>& history_done,
                                        const std::function<bool()>& stop) {
    const KeyLayout& keys = locks_.keys();
    RangeRequest all{keys.audit_dir(), prefix_end(keys.audit_dir())};
    all.sort_order = SortOrder::ascend;
    all.sort_target = SortTarget::create;
    auto history = client_->range(all);
    if (!history) return history.error();
    for (const auto& kv : history->kvs)
        if (auto e = Locks::stored_event(kv)) sink(*e);
    history_done();

    Cancel cancel;
    StopWatch watch(stop, cancel);
    // Events are only ever added; a compaction past our revision cancels the watch, and the
    // keys still stored after it were shown already (they are older), so it just starts over.
    int64_t from = history->revision + 1;
    while (!cancel.cancelled()) {
        auto r = client_->watch(keys.audit_dir(), prefix_end(keys.audit_dir()), from, Deadline::forever(), &cancel,
                                [&](const WatchMessage& m) {
                                    if (m.canceled) {
                                        from = std::max(from, m.compact_revision);
                                        return false;
                                    }
                                    for (const auto& ev : m.events) {
                                        from = std::max(from, ev.kv.mod_revision + 1);
                                        if (ev.type != EventType::put) continue;
                                        if (auto e = Locks::stored_event(ev.kv)) sink(*e);
                                    }
                                    return true;
                                });
        if (!r) return r.error();
    }
    return {};
}

} // namespace lokt::etcd
