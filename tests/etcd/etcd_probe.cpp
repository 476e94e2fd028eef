// A small program for the multi-process tests of the etcd engine (test_etcd_locks.py):
//   lokt_etcd_probe URL lock NAME TTL [try]   acquire; print "queued REV", then "acquired FENCE",
//                                             "busy FENCE", "frozen", "timeout" or "lost"; once
//                                             held, "release" on stdin (or EOF) releases and
//                                             prints "released 1|0"; loss prints "lost REASON"
//   lokt_etcd_probe URL cycle NAME TTL COUNT LOG ID
//                                             COUNT acquire/release rounds, appending
//                                             "enter|leave ID FENCE MONOTONIC_NS" lines to LOG
//   lokt_etcd_probe URL bench NAME COUNT      COUNT acquire+release rounds; prints the median ns
// Errors print "error: …" on stderr and exit 1.
#include "lokt/etcd/locks.hpp"
#include "lokt/etcd/transport_http.hpp"
#include "lokt/identity.hpp"
#include "lokt/sys.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

using namespace lokt;
using namespace lokt::etcd;

namespace {

int fail(const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.message.c_str());
    return 1;
}

void say(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

LockRecord me() {
    auto id = current_identity();
    LockRecord r;
    r.lock_id = random_lock_id();
    r.owner = id.owner;
    r.host = id.host;
    r.pid = id.pid;
    r.agent_id = id.agent_id;
    r.acquired_ts = now();
    r.kind = LockKind::guard;
    return r;
}

int64_t mono_ns() { return std::chrono::duration_cast<Nanos>(Steady::now().time_since_epoch()).count(); }

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> a(argv + 1, argv + argc);
    if (a.size() < 3) return fail(Error{"usage: lokt_etcd_probe URL lock|cycle|bench NAME …"});
    auto url = parse_backend_url(a[0]);
    if (!url) return fail(url.error());
    auto transport = http_transport(options_from_env(*url));
    if (!transport) return fail(transport.error());
    Client client(std::move(*transport));
    if (auto c = client.connect(); !c) return fail(c.error());
    Locks locks(client, url->prefix);
    const std::string& cmd = a[1];
    const std::string& name = a[2];

    if (cmd == "lock" && a.size() >= 4) {
        auto s = Session::open(client, std::stoll(a[3]));
        if (!s) return fail(s.error());
        Session& session = **s;
        bool try_only = a.size() > 4 && a[4] == "try";
        auto r = try_only ? locks.try_acquire(name, me(), session)
                          : locks.acquire(name, me(), session, Deadline::forever(),
                                          [](int64_t rev) { say("queued " + std::to_string(rev)); });
        if (!r) return fail(r.error());
        switch (r->status) {
        case AcquireStatus::acquired: break;
        case AcquireStatus::busy:
            say("busy " + std::to_string(r->holder->fence) + (r->holder->foreign ? " foreign" : " " + r->holder->record.owner));
            return 2;
        case AcquireStatus::frozen: say("frozen"); return 2;
        case AcquireStatus::timeout: say("timeout"); return 2;
        case AcquireStatus::lost: say("lost while waiting"); return 3;
        }
        say("acquired " + std::to_string(r->held.fence));
        struct pollfd fds[2] = {{0, POLLIN, 0}, {session.lost_fd(), POLLIN, 0}};
        std::string line;
        while (true) {
            if (::poll(fds, 2, -1) < 0) continue;
            if (fds[1].revents) {
                say("lost " + session.lost_reason());
                return 3;
            }
            char ch;
            ssize_t n = ::read(0, &ch, 1);
            if (n > 0 && ch != '\n') {
                line += ch;
                continue;
            }
            if (n > 0 && line != "release") {
                line.clear();
                continue;
            }
            auto rel = locks.release(r->held, session);
            if (!rel) return fail(rel.error());
            say(std::string("released ") + (*rel ? "1" : "0"));
            return 0;
        }
    }
    if (cmd == "cycle" && a.size() >= 7) {
        auto fd = sys::open(a[5], O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (!fd) return fail(fd.error());
        for (long i = 0; i < std::stol(a[4]); ++i) {
            auto s = Session::open(client, std::stoll(a[3]));
            if (!s) return fail(s.error());
            auto r = locks.acquire(name, me(), **s, Deadline::forever());
            if (!r) return fail(r.error());
            if (r->status != AcquireStatus::acquired) return fail(Error{"not acquired"});
            std::string f = a[6] + " " + std::to_string(r->held.fence) + " ";
            std::string enter = "enter " + f + std::to_string(mono_ns()) + "\n";
            if (auto w = sys::write_once(fd->get(), enter); !w) return fail(w.error());
            std::string leave = "leave " + f + std::to_string(mono_ns()) + "\n";
            if (auto w = sys::write_once(fd->get(), leave); !w) return fail(w.error());
            auto rel = locks.release(r->held, **s);
            if (!rel) return fail(rel.error());
            if (!*rel) return fail(Error{"lost the lock before releasing it"});
        }
        return 0;
    }
    if (cmd == "bench" && a.size() >= 4) {
        std::vector<int64_t> ns;
        for (long i = 0; i < std::stol(a[3]); ++i) {
            int64_t t0 = mono_ns();
            auto s = Session::open(client, 5);
            if (!s) return fail(s.error());
            auto r = locks.acquire(name, me(), **s, Deadline::forever());
            if (!r) return fail(r.error());
            auto rel = locks.release(r->held, **s);
            if (!rel) return fail(rel.error());
            ns.push_back(mono_ns() - t0);
        }
        std::sort(ns.begin(), ns.end());
        say(std::to_string(ns[ns.size() / 2]));
        return 0;
    }
    return fail(Error{"usage: lokt_etcd_probe URL lock|cycle|bench NAME …"});
}
