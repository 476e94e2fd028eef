#include "lokt/etcd/http_reply.hpp"

#include "lokt/text.hpp"

#include <algorithm>
#include <charconv>

namespace lokt::etcd {
namespace {

// Bounds on what a reply may make us buffer before its body: etcd's heads are a few hundred
// bytes, and a peer that is not an HTTP server must not grow a line without end.
constexpr size_t kMaxLine = 8 << 10;
constexpr size_t kMaxHead = 64 << 10;

using text::iequals;
using text::trim;

/// True if the comma-separated list `value` has `token` (case-insensitive); with `last`,
/// only as its last element (Transfer-Encoding's final coding).
bool has_token(std::string_view value, std::string_view token, bool last = false) {
    bool found = false;
    while (true) {
        const auto comma = value.find(',');
        found = iequals(trim(value.substr(0, comma)), token) || (found && !last);
        if (comma == std::string_view::npos) return found;
        value.remove_prefix(comma + 1);
    }
}

Error malformed(std::string_view what) { return Error{"malformed HTTP reply: " + std::string(what)}; }

std::string shown(std::string_view line) { return "\"" + std::string(line.substr(0, 80)) + "\""; }

} // namespace

bool ReplyParser::line_state() const {
    return state_ == State::status_line || state_ == State::headers || state_ == State::chunk_size ||
           state_ == State::chunk_end || state_ == State::trailers;
}

Result<bool> ReplyParser::feed(std::string_view data, const BodySink& on_body) {
    if (!data.empty()) started_ = true;
    while (!data.empty()) {
        if (state_ == State::done) return malformed("bytes after the end of the reply");
        if (line_state()) {
            const auto nl = data.find('\n');
            const std::string_view part = data.substr(0, nl);
            if (line_.size() + part.size() > kMaxLine) return malformed("a line longer than 8 KiB");
            line_.append(part);
            if (nl == std::string_view::npos) return true;
            data.remove_prefix(nl + 1);
            if (state_ == State::status_line || state_ == State::headers) {
                head_bytes_ += line_.size() + 1;
                if (head_bytes_ > kMaxHead) return malformed("headers longer than 64 KiB");
            }
            std::string line = std::move(line_);
            line_.clear();
            if (!line.empty() && line.back() == '\r') line.pop_back();
            LOKT_TRY(on_line(line));
            continue;
        }
        // Body bytes: the rest of the body, or of the current chunk.
        const bool bounded = state_ == State::chunk_data || framing_ == Framing::length;
        const size_t n = bounded ? static_cast<size_t>(std::min<uint64_t>(left_, data.size())) : data.size();
        const std::string_view piece = data.substr(0, n);
        data.remove_prefix(n);
        if (bounded) left_ -= n;
        if (bounded && left_ == 0) {
            if (state_ == State::chunk_data) state_ = State::chunk_end;
            else finish_reply();
        }
        if (!on_body(piece)) return false;
    }
    return true;
}

Result<void> ReplyParser::on_line(std::string_view line) {
    switch (state_) {
    case State::status_line: {
        // "HTTP/1.1 200 OK"
        int code = 0;
        if (line.size() < 12 || !line.starts_with("HTTP/1.") || line[8] != ' ' ||
            std::from_chars(line.data() + 9, line.data() + 12, code).ptr != line.data() + 12 ||
            (line.size() > 12 && line[12] != ' ') || code < 100)
            return malformed("status line " + shown(line));
        status_ = code;
        close_ = line[7] == '0';  // HTTP/1.0 closes after each reply
        state_ = State::headers;
        return {};
    }
    case State::headers: {
        if (line.empty()) {
            // An interim 1xx reply (100 Continue) is followed by the real one.
            if (status_ < 200) {
                state_ = State::status_line;
                length_.reset();
                chunked_ = false;
                return {};
            }
            return start_body();
        }
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0 || line[0] == ' ' || line[0] == '\t')
            return malformed("header line " + shown(line));
        return on_header(line.substr(0, colon), trim(line.substr(colon + 1)));
    }
    case State::chunk_size: {
        std::string_view size = trim(line.substr(0, line.find(';')));  // chunk extensions ignored
        uint64_t n = 0;
        auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), n, 16);
        if (size.empty() || ec != std::errc{} || end != size.data() + size.size())
            return malformed("chunk size " + shown(line));
        if (n == 0) {
            state_ = State::trailers;
        } else {
            left_ = n;
            state_ = State::chunk_data;
        }
        return {};
    }
    case State::chunk_end:
        if (!line.empty()) return malformed("chunk not followed by CRLF");
        state_ = State::chunk_size;
        return {};
    case State::trailers:
        if (line.empty()) finish_reply();
        return {};
    case State::body:
    case State::chunk_data:
    case State::done:
        break;
    }
    return malformed("internal state");
}

Result<void> ReplyParser::on_header(std::string_view name, std::string_view value) {
    if (iequals(name, "Content-Length")) {
        uint64_t n = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || (length_ && *length_ != n))
            return malformed("Content-Length " + shown(value));
        length_ = n;
    } else if (iequals(name, "Transfer-Encoding")) {
        // Only chunked is ever sent by etcd's gateway; anything else we could not decode.
        if (!has_token(value, "chunked", true)) return malformed("transfer coding " + shown(value));
        chunked_ = true;
    } else if (iequals(name, "Connection")) {
        if (has_token(value, "close")) close_ = true;
    } else if (iequals(name, "Date")) {
        date_ = parse_http_date(value);
    }
    return {};
}

Result<void> ReplyParser::start_body() {
    if (status_ == 204 || status_ == 304) {
        finish_reply();
    } else if (chunked_) {
        // Both framings: chunked wins, and the connection is not trusted again (RFC 7230 3.3.3).
        if (length_) close_ = true;
        framing_ = Framing::chunked;
        state_ = State::chunk_size;
    } else if (length_) {
        framing_ = Framing::length;
        left_ = *length_;
        state_ = State::body;
        if (left_ == 0) finish_reply();
    } else {
        framing_ = Framing::until_close;
        state_ = State::body;
    }
    return {};
}

Result<void> ReplyParser::finish() {
    if (state_ == State::done) return {};
    if (state_ == State::body && framing_ == Framing::until_close) {
        finish_reply();
        return {};
    }
    if (!started_) return Error{"connection closed before a reply"};
    return Error{"connection closed in the middle of the reply"};
}

} // namespace lokt::etcd
