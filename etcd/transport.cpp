// What both transports share: failover across endpoints, the gateway's error replies, the
// streamed body's message splitting, probes, the auth token and cancellation.
#include "lokt/etcd/transport.hpp"

#include "lokt/etcd/wire.hpp"
#include "lokt/log.hpp"

#include <sys/eventfd.h>

#include <cstdio>
#include <cstdlib>

namespace lokt::etcd {
namespace {

using json = nlohmann::json;

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

/// Milliseconds since `start`, as "1.23".
std::string ms_since(Steady::time_point start) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", std::chrono::duration<double, std::milli>(Steady::now() - start).count());
    return text;
}

// Errors in which the request cannot have reached etcd's state machine, or the member
// cannot serve it: worth trying the next endpoint.
bool gateway_unavailable(int status, const json& reply) {
    if (status == 503) return true;
    return reply.is_object() && reply.value("code", 0) == 14;  // gRPC UNAVAILABLE
}

/// The gateway's error reply as a message, or "HTTP <status>" when it gave none.
std::string reply_error(int status, const json& reply) {
    std::string msg = reply.is_discarded() ? std::string() : gateway_error(reply);
    return msg.empty() ? "HTTP " + std::to_string(status) : msg;
}

} // namespace

ClientOptions options_from_env(BackendUrl url) {
    ClientOptions o;
    o.url = std::move(url);
    o.tls.ca_cert = env_or_empty("LOKT_ETCD_CACERT");
    o.tls.client_cert = env_or_empty("LOKT_ETCD_CERT");
    o.tls.client_key = env_or_empty("LOKT_ETCD_KEY");
    o.user = env_or_empty("LOKT_ETCD_USER");
    o.password = env_or_empty("LOKT_ETCD_PASSWORD");
    return o;
}

Cancel::Cancel() {
    // Without an eventfd (out of fds) cancellation still works, by the transfers' 50 ms looks.
    if (auto fd = sys::eventfd(0, EFD_NONBLOCK)) wake_ = std::move(*fd);
}

void Cancel::cancel() {
    flag_.store(true);
    if (wake_.valid()) (void)sys::eventfd_signal(wake_.get());
}

bool BodySink::append(std::string_view data) {
    body_.append(data);
    if (!on_message_) return true;
    size_t nl;
    while ((nl = body_.find('\n')) != std::string::npos) {
        std::string line = body_.substr(0, nl);
        body_.erase(0, nl + 1);
        if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
        json msg = json::parse(line, nullptr, false);
        if (msg.is_discarded()) {
            bad_message_ = line.substr(0, 200);
            return false;
        }
        if (!(*on_message_)(msg)) {
            stopped_ = true;
            return false;
        }
    }
    return true;
}

std::string Transport::where(size_t ep) const {
    const Endpoint& e = options_.url.endpoints.at(ep);
    return e.host + ":" + std::to_string(e.port);
}

HttpRequest Transport::request(const std::string& path, const json& body) const {
    std::lock_guard lock(mu_);
    return HttpRequest{path, body.dump(), token_};
}

void Transport::set_token(std::string token) {
    std::lock_guard lock(mu_);
    token_ = std::move(token);
}

void Transport::fail_over() {
    current_.store((current_.load() + 1) % options_.url.endpoints.size());
}

Error Transport::unreachable(const std::string& detail) const {
    return Error{"lock backend " + options_.url.display() + " unreachable: " + detail};
}

Result<json> Transport::post(const std::string& path, const json& body, Nanos timeout, Cancel* cancel) {
    const HttpRequest req = request(path, body);
    const size_t n = options_.url.endpoints.size();
    const size_t first = current_.load();
    std::string last_error = "no endpoint";
    for (size_t attempt = 0; attempt < n; ++attempt) {
        const size_t ep = (first + attempt) % n;
        BodySink sink;
        const auto sent = Steady::now();
        const Exchange x = exchange(ep, req, Deadline::after(timeout, sent), cancel, sink);
        // One line per round trip: where an etcd command's time goes (scripts/bench_etcd.sh).
        LOKT_LOG(debug, "etcd ", path, " HTTP ", x.status, " in ", ms_since(sent), " ms");
        if (x.end == Exchange::End::cancelled) return Error{"etcd request cancelled"};
        if (x.end != Exchange::End::complete) {
            last_error = where(ep) + ": " + x.error;
            continue;
        }
        json reply = json::parse(sink.body(), nullptr, false);
        if (gateway_unavailable(x.status, reply)) {
            last_error = gateway_error(reply);
            continue;
        }
        current_.store(ep);
        if (x.status != 200) return Error{"etcd: " + reply_error(x.status, reply)};
        if (reply.is_discarded()) return Error{"etcd: reply is not JSON: " + sink.body().substr(0, 200)};
        return reply;
    }
    return unreachable(last_error);
}

Result<void> Transport::stream(const std::string& path, const json& body, Deadline deadline, Cancel* cancel,
                               const std::function<bool(const json&)>& on_message) {
    const HttpRequest req = request(path, body);
    const size_t ep = current_.load();
    BodySink sink(on_message);
    const Exchange x = exchange(ep, req, deadline, cancel, sink);
    if (x.end == Exchange::End::cancelled || sink.stopped()) return {};
    if (x.end == Exchange::End::timed_out && deadline.passed()) return {};
    if (!sink.bad_message().empty()) return Error{"etcd: stream message is not JSON: " + sink.bad_message()};
    if (x.end != Exchange::End::complete) return unreachable(where(ep) + ": " + x.error);
    if (x.status != 200) return Error{"etcd: " + reply_error(x.status, json::parse(sink.body(), nullptr, false))};
    return Error{"etcd: stream ended by the server"};
}

void Transport::exchange_pair(size_t ep, const HttpRequest& a, const HttpRequest& b, Deadline deadline,
                              BodySink& sink_a, BodySink& sink_b, Exchange& x_a, Exchange& x_b) {
    x_a = exchange(ep, a, deadline, nullptr, sink_a);
    x_b = exchange(ep, b, deadline, nullptr, sink_b);
}

std::pair<Result<json>, Result<json>> Transport::post_pair(const std::string& path_a, const json& body_a,
                                                           const std::string& path_b, const json& body_b,
                                                           Nanos timeout) {
    const HttpRequest a = request(path_a, body_a);
    const HttpRequest b = request(path_b, body_b);
    const size_t ep = current_.load();
    BodySink sink_a, sink_b;
    Exchange x_a, x_b;
    const auto sent = Steady::now();
    exchange_pair(ep, a, b, Deadline::after(timeout, sent), sink_a, sink_b, x_a, x_b);
    LOKT_LOG(debug, "etcd ", path_a, " HTTP ", x_a.status, " and ", path_b, " HTTP ", x_b.status, " side by side in ",
             ms_since(sent), " ms");
    const auto decode = [&](const Exchange& x, const BodySink& sink) -> Result<json> {
        if (x.end != Exchange::End::complete) return unreachable(where(ep) + ": " + x.error);
        json reply = json::parse(sink.body(), nullptr, false);
        if (x.status != 200 || reply.is_discarded()) return Error{"etcd: " + reply_error(x.status, reply)};
        return reply;
    };
    return {decode(x_a, sink_a), decode(x_b, sink_b)};
}

Result<Probe> Transport::probe(size_t ep, const std::string& path, const json& body) {
    const HttpRequest req = request(path, body);
    BodySink sink;
    const TimePoint wall = now();
    const auto sent = Steady::now();
    const Exchange x = exchange(ep, req, Deadline::after(options_.request_timeout, sent), nullptr, sink);
    const Nanos rtt = Steady::now() - sent;
    if (x.end != Exchange::End::complete) return Error{where(ep) + ": " + x.error};
    json reply = json::parse(sink.body(), nullptr, false);
    if (x.status != 200 || reply.is_discarded()) return Error{where(ep) + ": " + reply_error(x.status, reply)};
    Probe p{std::move(reply), rtt, std::nullopt};
    // The Date header has whole seconds: compare it with our clock at the midpoint, rounded down.
    if (x.date) p.clock_skew = *x.date - std::chrono::floor<std::chrono::seconds>(wall + rtt / 2);
    return p;
}

} // namespace lokt::etcd
