// The receivers' debug histogram of answer times (LOKT_LOG=debug): bucket edges and summary.
#include "../../seccomp/latency.hpp"

#include <catch2/catch.hpp>

#include <chrono>

using lokt::seccomp::LatencyHistogram;
using namespace std::chrono_literals;

TEST_CASE("LatencyHistogram: power-of-two microsecond buckets, the last open", "[seccomp][latency]") {
    CHECK(LatencyHistogram::bucket_of(-5) == 0);
    CHECK(LatencyHistogram::bucket_of(999) == 0);      // < 1 us
    CHECK(LatencyHistogram::bucket_of(1000) == 1);     // [1, 2) us
    CHECK(LatencyHistogram::bucket_of(15999) == 4);    // [8, 16) us
    CHECK(LatencyHistogram::bucket_of(16000) == 5);    // [16, 32) us
    CHECK(LatencyHistogram::bucket_of(4095999) == 12); // [2048, 4096) us
    CHECK(LatencyHistogram::bucket_of(4096000) == 13);
    CHECK(LatencyHistogram::bucket_of(INT64_MAX) == LatencyHistogram::kBuckets - 1);
    CHECK(LatencyHistogram::label(0) == "<1");
    CHECK(LatencyHistogram::label(4) == "<16");
    CHECK(LatencyHistogram::label(13) == ">=4096");
}

TEST_CASE("LatencyHistogram: quantiles, merge and the one-line summary", "[seccomp][latency]") {
    LatencyHistogram a, b;
    CHECK(a.summary("answers") == "0 answers");
    for (int i = 0; i < 98; ++i) a.add(10us);  // 10 us: bucket <16
    b.add(100us);                              // 100 us: bucket <128
    b.add(9ms);                                // 9 ms: the open bucket
    a.merge(b);
    CHECK(a.count() == 100);
    CHECK(a.buckets()[4] == 98);
    CHECK(a.quantile_bucket(0.5) == 4);
    CHECK(a.quantile_bucket(0.99) == 7);
    CHECK(a.quantile_bucket(1.0) == 13);
    CHECK(a.summary("answers") == "100 answers, p50 <16 us, p99 <128 us [<16:98 <128:1 >=4096:1]");
}
