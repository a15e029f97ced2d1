#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <limits>

#include "iocsweep/common.hpp"

namespace iocsweep {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t len;
  std::uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const unsigned char cc = byte(i + k);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  // Overlong forms, surrogates and values above U+10FFFF are invalid.
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return len;
}

constexpr char kHexDigits[] = "0123456789abcdef";

}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if ((s[i] & 0x80) == 0) {
      ++i;
      continue;
    }
    const std::size_t len = utf8_sequence_length(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string to_valid_utf8(std::string_view s) {
  // Most names are ASCII: copy them whole.
  const auto non_ascii = std::find_if(s.begin(), s.end(), [](char c) { return (c & 0x80) != 0; });
  if (non_ascii == s.end()) return std::string(s);
  std::string out;
  out.reserve(s.size());
  out.append(s.begin(), non_ascii);
  for (std::size_t i = static_cast<std::size_t>(non_ascii - s.begin()); i < s.size();) {
    const std::size_t len = utf8_sequence_length(s, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

std::string to_hex(ByteView bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) {
    out += kHexDigits[b >> 4];
    out += kHexDigits[b & 0xF];
  }
  return out;
}

std::string to_hex(std::string_view s) {
  return to_hex(ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

namespace {

bool is_bidi_control(std::string_view seq) {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(seq[k]); };
  if (seq.size() == 2) return at(0) == 0xD8 && at(1) == 0x9C;  // U+061C
  if (seq.size() != 3 || at(0) != 0xE2) return false;
  if (at(1) == 0x80) return at(2) == 0x8E || at(2) == 0x8F || (at(2) >= 0xAA && at(2) <= 0xAE);
  return at(1) == 0x81 && at(2) >= 0xA6 && at(2) <= 0xA9;
}

// The escaping of escape_for_terminal() (`terminal`) and escape_controls().
std::string escape(std::string_view s, bool terminal) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const std::size_t len = utf8_sequence_length(s, i);
    if (len > 1) {
      // U+0080..U+009F (C1 controls) are encoded as C2 80..C2 9F; bidi
      // controls (U+061C, U+200E/F, U+202A-E, U+2066-9) would let a name
      // display reversed ("exe.txt" shown for "txt.exe").
      if ((c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0) || is_bidi_control(s.substr(i, len))) {
        for (std::size_t k = 0; k < len; ++k) {
          const unsigned char b = static_cast<unsigned char>(s[i + k]);
          out += "\\x";
          out += kHexDigits[b >> 4];
          out += kHexDigits[b & 0xF];
        }
      } else {
        out.append(s.substr(i, len));
      }
      i += len;
      continue;
    }
    switch (terminal ? c : 0) {
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (len == 1 && c >= 0x20 && c != 0x7F) {
          out += static_cast<char>(c);
        } else {
          out += "\\x";
          out += kHexDigits[c >> 4];
          out += kHexDigits[c & 0xF];
        }
    }
    ++i;
  }
  return out;
}

}  // namespace

std::string escape_for_terminal(std::string_view s) { return escape(s, /*terminal=*/true); }

std::string escape_controls(std::string_view s) { return escape(s, /*terminal=*/false); }

Result<std::uint64_t> parse_size(std::string_view text) {
  const std::string original(text);
  if (text.empty()) return Error{"empty size"};
  std::uint64_t value = 0;
  std::size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    const std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      return Error{"size '" + original + "' is too large"};
    }
    value = value * 10 + digit;
  }
  if (i == 0) return Error{"size '" + original + "' does not start with a number"};
  std::string_view suffix = text.substr(i);
  if (suffix == "B" || suffix == "b") suffix = {};
  if (suffix.size() == 3 && (suffix.substr(1) == "iB" || suffix.substr(1) == "ib")) suffix = suffix.substr(0, 1);
  if (suffix.size() == 2 && (suffix[1] == 'B' || suffix[1] == 'b')) suffix = suffix.substr(0, 1);
  unsigned shift = 0;
  if (suffix.empty()) {
    shift = 0;
  } else if (suffix.size() == 1) {
    switch (suffix[0]) {
      case 'k':
      case 'K':
        shift = 10;
        break;
      case 'm':
      case 'M':
        shift = 20;
        break;
      case 'g':
      case 'G':
        shift = 30;
        break;
      case 't':
      case 'T':
        shift = 40;
        break;
      default:
        return Error{"size '" + original + "' has an unknown unit (use K, M, G or T)"};
    }
  } else {
    return Error{"size '" + original + "' has an unknown unit (use K, M, G or T)"};
  }
  if (shift > 0 && value > (std::numeric_limits<std::uint64_t>::max() >> shift)) {
    return Error{"size '" + original + "' is too large"};
  }
  return value << shift;
}

std::string now_rfc3339() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::string rfc3339_from_ns(std::int64_t ns) {
  std::int64_t secs = ns / 1000000000;
  std::int64_t frac = ns % 1000000000;
  if (frac < 0) {  // before 1970: the fraction counts forward from the second before
    frac += 1000000000;
    --secs;
  }
  const auto t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(frac));
  return buf;
}

}  // namespace iocsweep
