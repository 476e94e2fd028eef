#pragma once
// Internal to core/ (audit codec, lock-file codec): a strict JSON reader for one flat object, fast enough for
// decoding tens of thousands of audit lines per command (strings come back as views into
// the line when they have no escapes; nothing is allocated for skipped values).

#include <cstdint>
#include <string>
#include <string_view>

namespace lokt::audit_detail {

/// Reads JSON tokens from one line; every method returns false on malformed input.
class JsonReader {
public:
    explicit JsonReader(std::string_view s) : s_(s) {}

    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }
    bool eat(char c) {
        ws();
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool at_end() {
        ws();
        return i_ == s_.size();
    }
    bool peek(char c) {
        ws();
        return i_ < s_.size() && s_[i_] == c;
    }
    size_t pos() const { return i_; }
    std::string_view text(size_t from, size_t to) const { return s_.substr(from, to - from); }

    // A string value: a view into the line when it has no escapes (the usual case), else
    // decoded to UTF-8 into `scratch` and viewed there.
    bool string(std::string_view& out, std::string& scratch) {
        ws();
        if (i_ >= s_.size() || s_[i_] != '"') return false;
        size_t start = ++i_;
        while (i_ < s_.size()) {
            unsigned char c = static_cast<unsigned char>(s_[i_]);
            if (c == '"') {
                out = s_.substr(start, i_ - start);
                ++i_;
                return true;
            }
            if (c == '\\') break;
            if (c < 0x20) return false;  // raw control character
            ++i_;
        }
        if (i_ >= s_.size()) return false;
        scratch.assign(s_.substr(start, i_ - start));
        if (!decode_rest(scratch)) return false;
        out = scratch;
        return true;
    }

    // A string value copied into `out`.
    bool string(std::string& out) {
        std::string_view v;
        if (!string(v, scratch_)) return false;
        out.assign(v);
        return true;
    }

    // An integer value (JSON number without fraction or exponent).
    bool integer(int64_t& out) {
        ws();
        size_t start = i_;
        bool neg = i_ < s_.size() && s_[i_] == '-';
        if (neg) ++i_;
        if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') return false;
        if (s_[i_] == '0' && i_ + 1 < s_.size() && s_[i_ + 1] >= '0' && s_[i_ + 1] <= '9') return false;
        int64_t v = 0;
        while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
            if (v > (INT64_MAX - 9) / 10) return false;
            v = v * 10 + (s_[i_++] - '0');
        }
        if (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) return false;
        out = neg ? -v : v;
        return i_ > start;
    }

    bool literal(std::string_view word) {
        ws();
        if (s_.substr(i_, word.size()) != word) return false;
        i_ += word.size();
        return true;
    }

    // Any JSON value, validated and skipped.
    bool skip_value(int depth = 0) {
        if (depth > 64) return false;
        ws();
        if (i_ >= s_.size()) return false;
        char c = s_[i_];
        std::string_view v;
        if (c == '"') return string(v, scratch_);
        if (c == '{') {
            ++i_;
            if (eat('}')) return true;
            do {
                if (!string(v, scratch_) || !eat(':') || !skip_value(depth + 1)) return false;
            } while (eat(','));
            return eat('}');
        }
        if (c == '[') {
            ++i_;
            if (eat(']')) return true;
            do {
                if (!skip_value(depth + 1)) return false;
            } while (eat(','));
            return eat(']');
        }
        if (c == 't') return literal("true");
        if (c == 'f') return literal("false");
        if (c == 'n') return literal("null");
        return number();
    }

private:
    // Continues a string at its first backslash, appending the decoded rest to `out`.
    bool decode_rest(std::string& out) {
        while (i_ < s_.size()) {
            size_t run = i_;
            while (run < s_.size() && s_[run] != '"' && s_[run] != '\\' &&
                   static_cast<unsigned char>(s_[run]) >= 0x20)
                ++run;
            out.append(s_.substr(i_, run - i_));
            i_ = run;
            if (i_ >= s_.size()) return false;
            char c = s_[i_];
            if (c == '"') {
                ++i_;
                return true;
            }
            if (c != '\\') return false;  // raw control character
            if (++i_ >= s_.size()) return false;
            switch (s_[i_++]) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                uint32_t cp;
                if (!hex4(cp)) return false;
                if (cp >= 0xD800 && cp <= 0xDBFF && i_ + 1 < s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
                    size_t save = i_;
                    i_ += 2;
                    uint32_t lo;
                    if (hex4(lo) && lo >= 0xDC00 && lo <= 0xDFFF) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    else i_ = save;
                }
                if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
                put_utf8(out, cp);
                break;
            }
            default: return false;
            }
        }
        return false;
    }

    bool hex4(uint32_t& cp) {
        if (i_ + 4 > s_.size()) return false;
        cp = 0;
        for (int k = 0; k < 4; ++k) {
            char h = s_[i_++];
            cp <<= 4;
            if (h >= '0' && h <= '9') cp |= static_cast<uint32_t>(h - '0');
            else if (h >= 'a' && h <= 'f') cp |= static_cast<uint32_t>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') cp |= static_cast<uint32_t>(h - 'A' + 10);
            else return false;
        }
        return true;
    }
    static void put_utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    bool number() {
        size_t start = i_;
        if (i_ < s_.size() && s_[i_] == '-') ++i_;
        auto digits = [&] {
            size_t d = i_;
            while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
            return i_ > d;
        };
        if (!digits()) return false;
        if (i_ < s_.size() && s_[i_] == '.') {
            ++i_;
            if (!digits()) return false;
        }
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            ++i_;
            if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
            if (!digits()) return false;
        }
        return i_ > start;
    }

    std::string_view s_;
    size_t i_ = 0;
    std::string scratch_;
};

} // namespace lokt::audit_detail
