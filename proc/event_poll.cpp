#include "lokt/proc/event_poll.hpp"

#include "lokt/proc/droppable_write.hpp"
#include "lokt/sys.hpp"

#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>

namespace lokt::proc {

int poll_events(struct pollfd* fds, size_t n, const Deadline& deadline, PollHealth& health,
                const char* who) {
    auto r = sys::poll(fds, n, deadline.poll_timeout());
    if (r) return *r;
    // Retrying at once would turn a persistent failure into a 100 % CPU spin that never
    // ends; the loop still has work (relaying, reaping, its deadline), so it keeps turning,
    // slowly, rather than exiting with a lock held.
    if (health.failures++ == 0)
        write_droppable(STDERR_FILENO, std::string("warning: ") + who + ": " + r.error().message +
                                           " (retrying every " + format_duration(health.backoff) + ")\n");
    std::this_thread::sleep_for(std::min(health.backoff, deadline.remaining()));
    return 0;
}

} // namespace lokt::proc
