// The one audit-event builder: the fields each event carries, and writes that never fail
// the caller but warn once when the log cannot be written.

#include "store_fixture.hpp"

#include "lokt/audit_event.hpp"
#include "lokt/backend.hpp"

#include <fcntl.h>
#include <unistd.h>

using namespace lokt;
using namespace lokt::test;

namespace {

Identity actor() {
    Identity who;
    who.owner = "agent-1";
    who.host = "vm";
    who.pid = 4242;
    who.agent_id = "agent-3d08";
    return who;
}

LockRecord lock_record() {
    LockRecord r;
    r.name = "build";
    r.lock_id = "6a173209907a5ff193951a4b174adfc2";
    r.owner = "agent-1";
    r.host = "vm";
    r.pid = 4242;
    r.agent_id = "agent-3d08";
    r.ttl_sec = 600;
    r.acquired_ts = now() - std::chrono::seconds(90);
    r.command = "make build";
    return r;
}

// Runs `body` with stderr going into a file and returns what it wrote there.
std::string stderr_of(const std::function<void()>& body) {
    TempDir tmp;
    const std::string path = tmp.path + "/stderr";
    const int saved = ::dup(STDERR_FILENO);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE((saved >= 0 && fd >= 0));
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
    body();
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    auto text = sys::read_file(path);
    return text ? *text : std::string();
}

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

} // namespace

TEST_CASE("make_event names the actor, the lock and its ttl", "[audit][audit-event]") {
    const LockRecord r = lock_record();
    AuditEvent e = make_event("renew", actor(), "build", &r, true);
    CHECK(e.event == "renew");
    CHECK(e.name == "build");
    CHECK(e.lock_id == r.lock_id);
    CHECK(e.owner == "agent-1");
    CHECK(e.host == "vm");
    CHECK(e.pid == 4242);
    CHECK(e.agent_id == "agent-3d08");
    CHECK(e.ttl_sec == 600);
    CHECK(e.extra.is_null());
    CHECK(now() - e.ts < std::chrono::minutes(1));
    // Without a lock (or without with_ttl) those fields are left out of the line.
    AuditEvent bare = make_event("queue-skip", actor(), "build");
    CHECK(bare.lock_id.empty());
    CHECK(bare.ttl_sec == 0);
    CHECK(make_event("deny", actor(), "build", &r, false).ttl_sec == 0);
}

TEST_CASE("an acquire event carries the lock's command, shortened", "[audit][audit-event]") {
    LockRecord r = lock_record();
    AuditEvent e = acquire_event(actor(), "build", r);
    CHECK(e.event == "acquire");
    CHECK(e.ttl_sec == 600);
    CHECK(e.extra["command"] == "make build");

    r.command = std::string(500, 'x');
    const std::string cut = acquire_event(actor(), "build", r).extra["command"];
    CHECK(cut.size() == kAuditCommandMax);
    CHECK(cut.substr(cut.size() - 3) == "...");

    r.command.clear();  // a lease from lokt lock has none: no field at all
    CHECK(acquire_event(actor(), "build", r).extra.is_null());
}

TEST_CASE("a release event carries held_sec, the reason and how the command ended", "[audit][audit-event]") {
    const LockRecord r = lock_record();
    ReleaseNote note("signaled");
    note.exit = 143;
    note.signal = 15;
    AuditEvent e = release_event(actor(), "build", r, note);
    CHECK(e.event == "release");
    CHECK(e.lock_id == r.lock_id);
    CHECK(e.extra["reason"] == "signaled");
    CHECK(e.extra["exit"] == 143);
    CHECK(e.extra["signal"] == 15);
    const double held = e.extra["held_sec"];
    CHECK(held >= 90.0);
    CHECK(held < 3600.0);

    // A plain release (lokt unlock): held_sec only; the line round-trips through the codec.
    AuditEvent plain = release_event(actor(), "build", r, {});
    CHECK(!plain.extra.contains("reason"));
    CHECK(!plain.extra.contains("exit"));
    auto decoded = decode_event(encode_event(plain));
    REQUIRE(decoded);
    CHECK(decoded->extra["held_sec"] == plain.extra["held_sec"]);
}

TEST_CASE("audit_seconds keeps milliseconds; shorten never cuts a character", "[audit][audit-event]") {
    CHECK(audit_seconds(std::chrono::milliseconds(1500)) == 1.5);
    CHECK(audit_seconds(std::chrono::microseconds(2'000'400)) == 2.0);
    CHECK(shorten("short", 10) == "short");
    CHECK(shorten("abcdefghij", 8) == "abcde...");
    // "é" is two bytes: a cut that would fall between them backs up before the character.
    CHECK(shorten("abcdé fin", 8) == "abcd...");
}

TEST_CASE("write_event appends, and a failing log warns once and never throws", "[audit][audit-event]") {
    TempRoot t;
    Store s = t.store();
    REQUIRE(ensure_root_dirs(t.root));
    const std::string ok = stderr_of([&] { write_event(s.audit(), make_event("freeze", s.self(), "x")); });
    CHECK(ok.empty());
    REQUIRE(t.events("freeze").size() == 1);

    // Isolated: the "warned once" state is per process, and this test must see it fresh.
    const std::string failures = run_isolated([&](Expect& expect) {
        AuditLog broken(t.dir + "/no-such-dir/audit.log");
        FileBackend backend(Store(t.root, AuditLog(t.dir + "/no-such-dir/audit.log"), s.self()));
        const std::string err = stderr_of([&] {
            write_event(broken, make_event("lost", s.self(), "x"));
            write_event(broken, make_event("lost", s.self(), "y"));
            write_event(backend, make_event("unlocked-run", s.self(), "z"));
        });
        LOKT_EXPECT(expect, count(err, "lokt: warning: audit log:") == 1);
        LOKT_EXPECT(expect, err.find("(\"lost\" of \"x\" is not audited)") != std::string::npos);
    });
    INFO(failures);
    CHECK(failures.empty());
}
