#include "lokt/name.hpp"

#include <string>

namespace lokt {

Result<void> validate_name(std::string_view name) {
    auto bad = [&](const std::string& why) {
        std::string shown;
        for (unsigned char c : name.substr(0, 64)) {
            if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') shown += static_cast<char>(c);
            else shown += '?';
        }
        if (name.size() > 64) shown += "...";
        return Error{"invalid lock name \"" + shown + "\": " + why};
    };
    if (name.empty()) return bad("must not be empty");
    // The file is NAME.json and must fit a 255-byte file name.
    if (name.size() + 5 > 255) return bad("too long (at most 250 bytes)");
    if (name.find("..") != std::string_view::npos) return bad("must not contain \"..\"");
    if (name == ".") return bad("must not be \".\"");
    for (unsigned char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return bad("only letters, digits, '.', '_' and '-' are allowed");
    }
    return {};
}

} // namespace lokt
