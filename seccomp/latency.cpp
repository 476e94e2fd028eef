#include "latency.hpp"

#include <bit>
#include <cmath>
#include <sstream>

namespace lokt::seccomp {

size_t LatencyHistogram::bucket_of(int64_t ns) noexcept {
    const uint64_t us = ns > 0 ? static_cast<uint64_t>(ns) / 1000 : 0;
    // Bucket b holds [2^(b-1), 2^b) µs; bucket 0 holds < 1 µs.
    const size_t b = static_cast<size_t>(std::bit_width(us));
    return b < kBuckets ? b : kBuckets - 1;
}

void LatencyHistogram::add(std::chrono::nanoseconds d) noexcept {
    ++buckets_[bucket_of(d.count())];
    ++count_;
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
    for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
    count_ += other.count_;
}

size_t LatencyHistogram::quantile_bucket(double q) const noexcept {
    // Nearest rank: the ceil(q * count)-th answer, 0-based here.
    const auto nth = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
    const uint64_t rank = nth > 0 ? nth - 1 : 0;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
        seen += buckets_[i];
        if (seen > rank) return i;
    }
    return kBuckets - 1;
}

std::string LatencyHistogram::label(size_t bucket) {
    if (bucket + 1 >= kBuckets) return ">=" + std::to_string(uint64_t{1} << (kBuckets - 2));
    return "<" + std::to_string(uint64_t{1} << bucket);
}

std::string LatencyHistogram::summary(const char* what) const {
    std::ostringstream out;
    out << count_ << " " << what;
    if (count_ == 0) return out.str();
    out << ", p50 " << label(quantile_bucket(0.5)) << " us, p99 " << label(quantile_bucket(0.99)) << " us [";
    const char* sep = "";
    for (size_t i = 0; i < kBuckets; ++i) {
        if (!buckets_[i]) continue;
        out << sep << label(i) << ":" << buckets_[i];
        sep = " ";
    }
    out << "]";
    return out.str();
}

} // namespace lokt::seccomp
