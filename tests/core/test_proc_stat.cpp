#include "lokt/proc_stat.hpp"
#include "support/process.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

using namespace lokt;
using lokt::test::fork_child;

TEST_CASE("read_proc_stat reports our parent, group, state and start time", "[proc_stat]") {
    auto me = read_proc_stat(::getpid());
    REQUIRE(me);
    CHECK(me->ppid == ::getppid());
    CHECK(me->pgrp == ::getpgrp());
    CHECK(me->state == 'R');
    CHECK(me->start > 0);
    CHECK_FALSE(read_proc_stat(0));
}

TEST_CASE("ancestry: self and parents count, a reused pid or a stranger does not", "[proc_stat]") {
    auto parent = read_proc_stat(::getppid());
    REQUIRE(parent);
    auto me = read_proc_stat(::getpid());
    REQUIRE(me);
    CHECK(is_self_or_ancestor(::getpid(), me->start, ::getpid()));
    CHECK(is_self_or_ancestor(::getppid(), parent->start, ::getpid()));
    CHECK(is_self_or_ancestor(::getppid(), 0, ::getpid()));
    CHECK_FALSE(is_self_or_ancestor(::getppid(), parent->start + 1, ::getpid()));

    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t child = fork_child([&] {
        ::close(fds[1]);
        char c;
        (void)!::read(fds[0], &c, 1);
        return 0;
    });
    ::close(fds[0]);
    CHECK(is_self_or_ancestor(::getpid(), me->start, child));   // we are its parent
    CHECK_FALSE(is_self_or_ancestor(child, 0, ::getpid()));     // it is not ours
    ::close(fds[1]);
    int st;
    REQUIRE(::waitpid(child, &st, 0) == child);
}
