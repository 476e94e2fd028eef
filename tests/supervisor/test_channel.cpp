#include "../../supervisor/channel.hpp"
#include "lokt/proc/droppable_write.hpp"

#include "lokt/sys.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

using namespace lokt;
using namespace lokt::sup;
using lokt::proc::write_droppable;

TEST_CASE("status messages survive being split anywhere", "[supervisor][channel]") {
    std::string all = encode_pgid_message(4242) + encode_stopped_message();
    for (size_t cut = 0; cut <= all.size(); ++cut) {
        StatusReader r;
        auto a = r.feed(std::string_view(all).substr(0, cut));
        auto b = r.feed(std::string_view(all).substr(cut));
        a.insert(a.end(), b.begin(), b.end());
        REQUIRE(a.size() == 2);
        CHECK(a[0].kind == 'P');
        CHECK(a[0].pgid == 4242);
        CHECK(a[1].kind == 'S');
    }
}

TEST_CASE("unknown or malformed lines are skipped", "[supervisor][channel]") {
    StatusReader r;
    auto m = r.feed("X what\nP notanumber\nL onlyname\nP 7\n");
    REQUIRE(m.size() == 1);
    CHECK(m[0].pgid == 7);
}

TEST_CASE("write_droppable drops instead of blocking on a full pipe", "[supervisor][channel]") {
    auto p = sys::pipe();
    REQUIRE(p);
    ::fcntl(p->write.get(), F_SETFL, O_NONBLOCK);
    std::string chunk(4096, 'x');
    while (::write(p->write.get(), chunk.data(), chunk.size()) > 0) {}
    ::fcntl(p->write.get(), F_SETFL, 0);  // blocking again: a plain write would hang here
    CHECK_FALSE(write_droppable(p->write.get(), "warning: dropped\n"));
    auto q = sys::pipe();
    REQUIRE(q);
    CHECK(write_droppable(q->write.get(), "hello\n"));
}
