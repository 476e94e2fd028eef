#pragma once
// Reading an HTTP/1.1 reply as it arrives: the status line, the headers lokt needs, and a
// body framed by Content-Length, by chunked transfer coding, or by the end of the connection.
// Pure (no I/O), so tests can feed it any split of the bytes.

#include "lokt/result.hpp"
#include "lokt/time.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace lokt::etcd {


/// Parses one reply, fed in pieces of any size.
class ReplyParser {
public:
    /// Called with each piece of the decoded body; false stops the parse (feed returns false).
    using BodySink = std::function<bool(std::string_view)>;

    /// Takes the next bytes; body bytes go to `on_body`. False when `on_body` asked to stop;
    /// an Error when the reply is malformed. Bytes after the end of the reply are an Error.
    Result<bool> feed(std::string_view data, const BodySink& on_body);
    /// The connection ended: Ok when that completes the reply (a body that runs to the end of
    /// the connection), else an Error saying where the reply was cut.
    Result<void> finish();

    /// True once any byte of the reply arrived.
    bool started() const { return started_; }
    /// True once the whole reply was read.
    bool done() const { return state_ == State::done; }
    /// The status code (0 before the status line).
    int status() const { return status_; }
    /// True when the connection may carry another request after this reply.
    bool reusable() const { return done() && !close_ && framing_ != Framing::until_close; }
    /// The Date header, when there was a valid one.
    std::optional<TimePoint> date() const { return date_; }

private:
    enum class State { status_line, headers, body, chunk_size, chunk_data, chunk_end, trailers, done };
    enum class Framing { none, length, chunked, until_close };

    Result<void> on_line(std::string_view line);
    Result<void> on_header(std::string_view name, std::string_view value);
    Result<void> start_body();
    bool line_state() const;
    void finish_reply() { state_ = State::done; }

    State state_ = State::status_line;
    Framing framing_ = Framing::none;
    bool started_ = false;
    bool close_ = false;
    int status_ = 0;
    std::optional<uint64_t> length_;
    bool chunked_ = false;
    uint64_t left_ = 0;  // body or chunk bytes still to come
    std::string line_;   // a header or chunk-size line not yet complete
    size_t head_bytes_ = 0;
    std::optional<TimePoint> date_;
};

} // namespace lokt::etcd
