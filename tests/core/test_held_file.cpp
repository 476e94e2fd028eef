// The kernel-held liveness proof (ROOT/held/LOCK_ID) and the one liveness rule built on it:
// a pid counts only in its own host, boot and pid namespace; the proof counts everywhere on
// one kernel.
#include "lokt/held_file.hpp"
#include "lokt/identity.hpp"
#include "lokt/liveness.hpp"
#include "store_fixture.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace lokt;
using lokt::test::TempRoot;

namespace {

pid_t dead_pid() {
    pid_t p = ::fork();
    if (p == 0) ::_exit(0);
    int st;
    ::waitpid(p, &st, 0);
    return p;
}

LocalView here(const TempRoot& t) {
    Identity id = current_identity();
    return LocalView{id.host, id.boot_id, id.pid_ns, held_dir(t.root)};
}

LockRecord guard_record(const LocalView& v, pid_t pid) {
    LockRecord r;
    r.name = "x";
    r.lock_id = random_lock_id();
    r.owner = "o";
    r.host = v.host;
    r.pid = pid;
    r.kind = LockKind::guard;
    r.boot_id = v.boot_id;
    r.pid_ns = v.pid_ns;
    r.acquired_ts = now();
    return r;
}

} // namespace

TEST_CASE("boot id and pid namespace identify where pids mean something", "[liveness]") {
    Identity id = current_identity();
    CHECK(id.boot_id.size() == 36);
    struct stat st;
    REQUIRE(::stat("/proc/self/ns/pid", &st) == 0);
    CHECK(id.pid_ns == st.st_ino);
}

TEST_CASE("pid_space compares host, boot and pid namespace", "[liveness]") {
    TempRoot t;
    LocalView v = here(t);
    LockRecord r = guard_record(v, ::getpid());
    CHECK(pid_space(r, v) == PidSpace::same);
    r.pid_ns += 1;
    CHECK(pid_space(r, v) == PidSpace::other_ns);
    r.pid_ns = 0;  // only one field: cannot compare, so not "same"
    CHECK(pid_space(r, v) == PidSpace::other_ns);
    r.boot_id = "another-boot";
    CHECK(pid_space(r, v) == PidSpace::other_boot);
    r.boot_id.clear();  // neither field: the original's files, judged by hostname as before
    CHECK(pid_space(r, v) == PidSpace::same);
    r.host = "elsewhere";
    CHECK(pid_space(r, v) == PidSpace::other_host);
}

TEST_CASE("a held proof keeps a lock alive whatever its pids say", "[liveness][held]") {
    TempRoot t;
    LocalView v = here(t);
    LockRecord r = guard_record(v, dead_pid());
    {
        auto proof = HeldFile::create(t.root, r.lock_id);
        REQUIRE(proof);
        CHECK(probe_held(v.held_dir, r.lock_id) == HeldProof::held);
        CHECK(holder_status(r, v) == PidStatus::alive);  // same namespace, dead pid: proof wins
        r.pid_ns += 1;
        CHECK(holder_status(r, v) == PidStatus::alive);  // another namespace
    }
    // Both holders gone: a free proof is the kernel's word that they are.
    CHECK(probe_held(v.held_dir, r.lock_id) == HeldProof::free);
    CHECK(holder_status(r, v) == PidStatus::dead);
    CHECK(provably_gone(r, v));
    remove_held(v.held_dir, r.lock_id);
    CHECK(probe_held(v.held_dir, r.lock_id) == HeldProof::none);
    // No proof in another namespace: nobody can tell, only the TTL ends it.
    CHECK(holder_status(r, v) == PidStatus::unknown);
    CHECK_FALSE(provably_gone(r, v));
}

TEST_CASE("a free proof in our namespace still waits for the command's group", "[liveness][held]") {
    TempRoot t;
    LocalView v = here(t);
    LockRecord r = guard_record(v, dead_pid());
    r.pgid = ::getpgrp();  // a live group
    { auto proof = HeldFile::create(t.root, r.lock_id); REQUIRE(proof); }
    CHECK(probe_held(v.held_dir, r.lock_id) == HeldProof::free);
    CHECK(holder_status(r, v) == PidStatus::alive);
}

TEST_CASE("another boot of this host is gone, even with a live-looking pid", "[liveness]") {
    TempRoot t;
    LocalView v = here(t);
    LockRecord r = guard_record(v, ::getpid());
    r.boot_id = "00000000-0000-0000-0000-000000000000";
    CHECK(holder_status(r, v) == PidStatus::dead);
    CHECK(provably_gone(r, v));
    r.kind = LockKind::lease;  // a lease is never pruned by liveness (P4)
    CHECK_FALSE(provably_gone(r, v));
}

TEST_CASE("planted files are never proofs and never block", "[liveness][held]") {
    TempRoot t;
    LocalView v = here(t);
    REQUIRE(sys::mkdir_p(v.held_dir));
    const std::string fifo = random_lock_id(), link = random_lock_id(), dir = random_lock_id();
    REQUIRE(::mkfifo((v.held_dir + "/" + fifo).c_str(), 0644) == 0);
    { auto target = HeldFile::create(t.root, random_lock_id()); REQUIRE(target); }
    REQUIRE(::symlink("/etc/passwd", (v.held_dir + "/" + link).c_str()) == 0);
    REQUIRE(sys::mkdir_p(v.held_dir + "/" + dir));
    CHECK(probe_held(v.held_dir, fifo) == HeldProof::none);
    CHECK(probe_held(v.held_dir, link) == HeldProof::none);
    CHECK(probe_held(v.held_dir, dir) == HeldProof::none);
    CHECK(probe_held(v.held_dir, "../locks/x") == HeldProof::none);
    // Creating never reuses what is there, symlink or not.
    CHECK_FALSE(HeldFile::create(t.root, link));
    CHECK_FALSE(HeldFile::create(t.root, "not-a-lock-id"));
}
