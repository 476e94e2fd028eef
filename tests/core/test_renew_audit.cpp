// Renewals are audited at most once a minute per lock (issue 8 §5: `--ttl 1ms` wrote 914
// renew lines a second), while the file itself is renewed every time.

#include "store_fixture.hpp"

#include <catch2/catch.hpp>

using namespace lokt;
using namespace lokt::test;
using namespace std::chrono_literals;

namespace {

LockRecord take(Store& s, const std::string& name) {
    auto r = s.try_acquire(request(s, name, 2s, LockKind::guard));
    REQUIRE(r);
    const auto* a = std::get_if<Acquired>(&*r);
    REQUIRE(a);
    return a->record;
}

} // namespace

TEST_CASE("many renewals of one lock are audited once, each file write still happens", "[store][renew]") {
    TempRoot t;
    Store a = t.store("agent-1");
    const LockRecord rec = take(a, "g");
    std::optional<TimePoint> last;
    for (int i = 0; i < 5; ++i) {
        auto r = a.renew("g", rec.lock_id, 1h + std::chrono::seconds(i));
        REQUIRE(r);
        REQUIRE(*r);
        CHECK((*r)->ttl_sec == 3600 + i);  // the file was rewritten with this renewal's TTL
        if (last) CHECK(*(*r)->expires_at > *last);
        last = (*r)->expires_at;
    }
    CHECK(t.events("renew").size() == 1);
}

TEST_CASE("the renew audit limit is per lock", "[store][renew]") {
    TempRoot t;
    Store a = t.store("agent-1");
    const LockRecord g = take(a, "g");
    const LockRecord h = take(a, "h");
    for (int i = 0; i < 3; ++i) {
        REQUIRE(a.renew("g", g.lock_id, 1h));
        REQUIRE(a.renew("h", h.lock_id, 1h));
    }
    auto ev = t.events("renew");
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].name == "g");
    CHECK(ev[1].name == "h");
}
