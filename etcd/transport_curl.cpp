// The libcurl transport (https://): one easy handle per pooled slot, each inside its own
// multi handle so that its connection cache survives between requests and a transfer can
// poll the Cancel's eventfd beside its sockets.
#include "lokt/etcd/transport_curl.hpp"

#include "lokt/etcd/transport_http.hpp"

#include <curl/curl.h>

namespace lokt::etcd {
namespace {

long to_ms(Nanos d) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    if (ms <= 0) return 1;
    return ms > 0x7fffffff ? 0x7fffffff : static_cast<long>(ms);
}

size_t on_write(char* data, size_t size, size_t n, void* user) {
    // Returning less than was given aborts the transfer: the consumer has what it waited for.
    return static_cast<BodySink*>(user)->append(std::string_view(data, size * n)) ? size * n : 0;
}

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

// One reusable connection (see the file comment).
struct Slot {
    CURL* easy = curl_easy_init();
    CURLM* multi = curl_multi_init();
    ~Slot() {
        curl_easy_cleanup(easy);
        curl_multi_cleanup(multi);
    }

    /// Runs the prepared transfer to its end, or until `cancel` fires.
    Exchange run(Cancel* cancel) {
        Exchange out;
        char errbuf[CURL_ERROR_SIZE] = {};
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
        curl_multi_add_handle(multi, easy);
        CURLcode code = CURLE_OK;
        bool cancelled = false;
        int running = 1;
        while (running) {
            if (cancel && cancel->cancelled()) {
                cancelled = true;
                break;
            }
            if (curl_multi_perform(multi, &running) != CURLM_OK || !running) break;
            // curl's own timeouts end the transfer; the cap only bounds one poll (and is the
            // fallback look at the flag of a Cancel without an eventfd).
            struct curl_waitfd wake{};
            unsigned n_extra = 0;
            if (cancel && cancel->wake_fd() >= 0) {
                wake.fd = cancel->wake_fd();
                wake.events = CURL_WAIT_POLLIN;
                n_extra = 1;
            }
            curl_multi_poll(multi, n_extra ? &wake : nullptr, n_extra, n_extra || !cancel ? 1000 : 50, nullptr);
        }
        int left = 0;
        while (CURLMsg* m = curl_multi_info_read(multi, &left))
            if (m->msg == CURLMSG_DONE) code = m->data.result;
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        out.status = static_cast<int>(status);
        out.date = reply_date(easy);
        curl_multi_remove_handle(multi, easy);
        out.error = errbuf[0] ? errbuf : curl_easy_strerror(code);
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
        if (cancelled) out.end = Exchange::End::cancelled;
        else if (code == CURLE_OK) out.end = Exchange::End::complete;
        else if (code == CURLE_WRITE_ERROR) out.end = Exchange::End::stopped;  // the sink said stop
        else if (code == CURLE_OPERATION_TIMEDOUT) out.end = Exchange::End::timed_out;
        else out.end = Exchange::End::failed;
        return out;
    }
};

curl_slist* prepare(CURL* easy, const ClientOptions& o, const std::string& url, const HttpRequest& req,
                    BodySink* sink, long timeout_ms) {
    curl_easy_reset(easy);
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req.body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
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
    if (!req.token.empty()) headers = curl_slist_append(headers, ("Authorization: " + req.token).c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    return headers;
}

class CurlTransport final : public Transport {
public:
    explicit CurlTransport(ClientOptions options) : Transport(std::move(options)) {
        static std::once_flag once;
        std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    }

protected:
    Exchange exchange(size_t ep, const HttpRequest& req, Deadline deadline, Cancel* cancel,
                      BodySink& sink) override {
        // TIMEOUT_MS 0 is curl's "no timeout": a stream lives until its deadline.
        const long timeout_ms = deadline.is_forever() ? 0 : to_ms(deadline.remaining());
        auto slot = take_slot();
        curl_slist* headers = prepare(slot->easy, options(), options().url.base(ep) + req.path, req, &sink,
                                      timeout_ms);
        Exchange out = slot->run(cancel);
        curl_slist_free_all(headers);
        // An aborted transfer leaves its connection half-read; curl closes it, so the slot is clean.
        give_back(std::move(slot));
        return out;
    }

private:
    std::unique_ptr<Slot> take_slot() {
        std::lock_guard lock(mu_);
        if (idle_.empty()) return std::make_unique<Slot>();
        auto s = std::move(idle_.back());
        idle_.pop_back();
        return s;
    }
    void give_back(std::unique_ptr<Slot> slot) {
        std::lock_guard lock(mu_);
        idle_.push_back(std::move(slot));
    }

    std::mutex mu_;
    std::vector<std::unique_ptr<Slot>> idle_;
};

} // namespace

Result<std::unique_ptr<Transport>> curl_transport(ClientOptions options) {
    return std::unique_ptr<Transport>(new CurlTransport(std::move(options)));
}

Result<std::unique_ptr<Transport>> any_transport(ClientOptions options) {
    if (options.url.tls) return curl_transport(std::move(options));
    return http_transport(std::move(options));
}

} // namespace lokt::etcd
