#include "lokt/etcd/transport.hpp"

#include "lokt/etcd/wire.hpp"
#include "lokt/log.hpp"

#include <curl/curl.h>

#include <cstdio>
#include <cstdlib>

namespace lokt::etcd {
namespace {

using json = nlohmann::json;

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

long to_ms(Nanos d) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    if (ms <= 0) return 1;
    return ms > 0x7fffffff ? 0x7fffffff : static_cast<long>(ms);
}

// What one transfer collects: the whole body, or (streaming) messages handed out line by line.
struct Sink {
    std::string body;
    const std::function<bool(const json&)>* on_message = nullptr;
    bool stopped = false;     // on_message asked to stop
    std::string bad_message;  // a streamed line that is not JSON
};

size_t on_write(char* data, size_t size, size_t n, void* user) {
    auto* sink = static_cast<Sink*>(user);
    sink->body.append(data, size * n);
    if (!sink->on_message) return size * n;
    size_t nl;
    while ((nl = sink->body.find('\n')) != std::string::npos) {
        std::string line = sink->body.substr(0, nl);
        sink->body.erase(0, nl + 1);
        if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
        json msg = json::parse(line, nullptr, false);
        if (msg.is_discarded()) {
            sink->bad_message = line.substr(0, 200);
            return 0;
        }
        if (!(*sink->on_message)(msg)) {
            sink->stopped = true;
            return 0;  // aborts the transfer: the caller has what it waited for
        }
    }
    return size * n;
}

/// Milliseconds since `start`, as "1.23".
std::string ms_since(Steady::time_point start) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", std::chrono::duration<double, std::milli>(Steady::now() - start).count());
    return text;
}

void init_curl_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Errors in which the request cannot have reached etcd's state machine, or the member
// cannot serve it: worth trying the next endpoint.
bool gateway_unavailable(long status, const json& reply) {
    if (status == 503) return true;
    return reply.is_object() && reply.value("code", 0) == 14;  // gRPC UNAVAILABLE
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

void Cancel::cancel() {
    flag_.store(true);
    std::lock_guard lock(mu_);
    if (multi_) curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

void Cancel::attach(void* multi) {
    std::lock_guard lock(mu_);
    multi_ = multi;
}

void Cancel::detach() {
    std::lock_guard lock(mu_);
    multi_ = nullptr;
}

// One reusable connection: an easy handle kept inside its own multi handle, so that its
// connection cache survives between requests and a transfer can be woken by Cancel.
struct Transport::Slot {
    CURL* easy = curl_easy_init();
    CURLM* multi = curl_multi_init();
    ~Slot() {
        curl_easy_cleanup(easy);
        curl_multi_cleanup(multi);
    }

    struct Outcome {
        CURLcode code = CURLE_OK;
        long status = 0;
        bool cancelled = false;
        std::string curl_error;
    };

    Outcome run(Cancel* cancel) {
        Outcome out;
        char errbuf[CURL_ERROR_SIZE] = {};
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
        curl_multi_add_handle(multi, easy);
        if (cancel) cancel->attach(multi);
        int running = 1;
        while (running) {
            if (cancel && cancel->cancelled()) {
                out.cancelled = true;
                break;
            }
            if (curl_multi_perform(multi, &running) != CURLM_OK) break;
            if (!running) break;
            // curl's own timeouts end the transfer; the 1 s cap only bounds one poll.
            curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
        }
        int left = 0;
        while (CURLMsg* m = curl_multi_info_read(multi, &left))
            if (m->msg == CURLMSG_DONE) out.code = m->data.result;
        if (cancel) cancel->detach();
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &out.status);
        curl_multi_remove_handle(multi, easy);
        out.curl_error = errbuf[0] ? errbuf : curl_easy_strerror(out.code);
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
        return out;
    }
};

Transport::Transport(ClientOptions options) : options_(std::move(options)) { init_curl_once(); }

Transport::~Transport() = default;

std::unique_ptr<Transport::Slot> Transport::take_slot() {
    {
        std::lock_guard lock(mu_);
        if (!idle_.empty()) {
            auto s = std::move(idle_.back());
            idle_.pop_back();
            return s;
        }
    }
    return std::make_unique<Slot>();
}

void Transport::give_back(std::unique_ptr<Slot> slot) {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(slot));
}

std::string Transport::token() const {
    std::lock_guard lock(mu_);
    return token_;
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

namespace {

curl_slist* prepare(CURL* easy, const ClientOptions& o, const std::string& url, const std::string& body,
                    const std::string& token, Sink* sink, long timeout_ms) {
    curl_easy_reset(easy);
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, to_ms(o.connect_timeout));
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    // The gateway is reached directly; a proxy from the environment would only add a hop.
    curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
    if (!o.tls.ca_cert.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, o.tls.ca_cert.c_str());
    if (!o.tls.client_cert.empty()) curl_easy_setopt(easy, CURLOPT_SSLCERT, o.tls.client_cert.c_str());
    if (!o.tls.client_key.empty()) curl_easy_setopt(easy, CURLOPT_SSLKEY, o.tls.client_key.c_str());
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    if (!token.empty()) headers = curl_slist_append(headers, ("Authorization: " + token).c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    return headers;
}

} // namespace

Result<json> Transport::post(const std::string& path, const json& body, Nanos timeout, Cancel* cancel) {
    const std::string text = body.dump();
    const size_t n = options_.url.endpoints.size();
    const size_t first = current_.load();
    std::string last_error = "no endpoint";
    for (size_t attempt = 0; attempt < n; ++attempt) {
        size_t ep = (first + attempt) % n;
        Sink sink;
        auto slot = take_slot();
        curl_slist* headers = prepare(slot->easy, options_, options_.url.base(ep) + path, text, token(),
                                      &sink, to_ms(timeout));
        const auto sent = Steady::now();
        auto out = slot->run(cancel);
        // One line per round trip: where an etcd command's time goes (scripts/bench_etcd.sh).
        LOKT_LOG(debug, "etcd ", path, " HTTP ", out.status, " in ", ms_since(sent), " ms");
        curl_slist_free_all(headers);
        give_back(std::move(slot));
        if (out.cancelled) return Error{"etcd request cancelled"};
        if (out.code != CURLE_OK) {
            last_error = options_.url.endpoints[ep].host + ":" + std::to_string(options_.url.endpoints[ep].port) +
                         ": " + out.curl_error;
            continue;
        }
        json reply = json::parse(sink.body, nullptr, false);
        if (gateway_unavailable(out.status, reply)) {
            last_error = gateway_error(reply);
            continue;
        }
        current_.store(ep);
        if (out.status != 200) {
            std::string msg = gateway_error(reply);
            if (msg.empty()) msg = "HTTP " + std::to_string(out.status);
            return Error{"etcd: " + msg};
        }
        if (reply.is_discarded()) return Error{"etcd: reply is not JSON: " + sink.body.substr(0, 200)};
        return reply;
    }
    return unreachable(last_error);
}

Result<void> Transport::stream(const std::string& path, const json& body, Deadline deadline, Cancel* cancel,
                               const std::function<bool(const json&)>& on_message) {
    const std::string text = body.dump();
    const size_t ep = current_.load();
    Sink sink;
    sink.on_message = &on_message;
    // TIMEOUT_MS 0 is curl's "no timeout": the stream lives until the deadline.
    long timeout_ms = deadline.is_forever() ? 0 : to_ms(deadline.remaining());
    auto slot = take_slot();
    curl_slist* headers = prepare(slot->easy, options_, options_.url.base(ep) + path, text, token(), &sink,
                                  timeout_ms);
    auto out = slot->run(cancel);
    curl_slist_free_all(headers);
    // An aborted stream leaves its connection half-read; curl closes it, so the slot is clean.
    give_back(std::move(slot));
    if (out.cancelled || sink.stopped) return {};
    if (out.code == CURLE_OPERATION_TIMEDOUT && deadline.passed()) return {};
    if (!sink.bad_message.empty()) return Error{"etcd: stream message is not JSON: " + sink.bad_message};
    if (out.code != CURLE_OK) {
        const Endpoint& e = options_.url.endpoints[ep];
        return unreachable(e.host + ":" + std::to_string(e.port) + ": " + out.curl_error);
    }
    if (out.status != 200) {
        json reply = json::parse(sink.body, nullptr, false);
        std::string msg = gateway_error(reply);
        return Error{"etcd: " + (msg.empty() ? "HTTP " + std::to_string(out.status) : msg)};
    }
    return Error{"etcd: stream ended by the server"};
}

} // namespace lokt::etcd

namespace lokt::etcd {
namespace {

/// The reply's Date header as a time (whole seconds), if it has one. curl_easy_header reads
/// the headers of the last transfer (https://curl.se/libcurl/c/curl_easy_header.html, curl
/// 7.84+); curl_getdate parses the RFC 7231 date (https://curl.se/libcurl/c/curl_getdate.html).
std::optional<TimePoint> reply_date(CURL* easy) {
    struct curl_header* h = nullptr;
    if (curl_easy_header(easy, "Date", 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h) return std::nullopt;
    const time_t t = curl_getdate(h->value, nullptr);
    if (t < 0) return std::nullopt;
    return TimePoint(std::chrono::seconds(t));
}

} // namespace

Result<Probe> Transport::probe(size_t ep, const std::string& path, const json& body) {
    const std::string text = body.dump();
    const Endpoint& e = options_.url.endpoints.at(ep);
    Sink sink;
    auto slot = take_slot();
    curl_slist* headers = prepare(slot->easy, options_, options_.url.base(ep) + path, text, token(), &sink,
                                  to_ms(options_.request_timeout));
    const TimePoint wall = now();
    const auto sent = Steady::now();
    auto out = slot->run(nullptr);
    const Nanos rtt = Steady::now() - sent;
    const auto date = reply_date(slot->easy);
    curl_slist_free_all(headers);
    give_back(std::move(slot));
    if (out.code != CURLE_OK) return Error{e.host + ":" + std::to_string(e.port) + ": " + out.curl_error};
    json reply = json::parse(sink.body, nullptr, false);
    if (out.status != 200 || reply.is_discarded()) {
        std::string msg = reply.is_discarded() ? std::string() : gateway_error(reply);
        return Error{e.host + ":" + std::to_string(e.port) + ": " + (msg.empty() ? "HTTP " + std::to_string(out.status) : msg)};
    }
    Probe p{std::move(reply), rtt, std::nullopt};
    // The Date header has whole seconds: compare it with our clock at the midpoint, rounded down.
    if (date) p.clock_skew = *date - std::chrono::floor<std::chrono::seconds>(wall + rtt / 2);
    return p;
}

} // namespace lokt::etcd
