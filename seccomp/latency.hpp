#pragma once
// How long the receivers take to answer a notification (RECV returned -> SEND returned), kept
// only when debug logging is on (LOKT_LOG=debug): a histogram per receiver thread, so the
// fast path shares no memory and takes no lock; summed and logged when the receivers stop.

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

namespace lokt::seccomp {

/// Answer times in power-of-two microsecond buckets (<1, <2, <4, ... µs, the last open).
class LatencyHistogram {
public:
    static constexpr size_t kBuckets = 14;  ///< the last bucket holds 4096 µs and more

    /// Counts one answer that took `d` (negative counts as 0).
    void add(std::chrono::nanoseconds d) noexcept;
    /// Adds another histogram's counts to this one.
    void merge(const LatencyHistogram& other) noexcept;
    /// Answers counted.
    uint64_t count() const noexcept { return count_; }
    /// The bucket index `ns` falls in.
    static size_t bucket_of(int64_t ns) noexcept;
    /// Counts per bucket.
    const std::array<uint64_t, kBuckets>& buckets() const noexcept { return buckets_; }
    /// The bucket holding quantile `q` (0..1) of the answers counted.
    size_t quantile_bucket(double q) const noexcept;
    /// A bucket's range as text: "<16" (µs), or ">=4096" for the last.
    static std::string label(size_t bucket);
    /// One line: the count of `what`, the buckets of the median and the 99th percentile, and
    /// the non-empty buckets, e.g. "412 answers, p50 <16 us, p99 <64 us [<8:3 <16:300 ...]".
    std::string summary(const char* what) const;

private:

    std::array<uint64_t, kBuckets> buckets_{};
    uint64_t count_ = 0;
};

} // namespace lokt::seccomp
