#pragma once
// Shared by the line-based indicator parsers (hash lists, file-name lists):
// splitting into lines, the checks every list shares, and the choice
// between failing the whole list and skipping a bad line. Internal to the
// ioc component.

#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "iocsweep/common.hpp"

namespace iocsweep::ioc_lines {

/// Longer lines are not indicator lines; refusing them keeps a binary or
/// hostile file from being read as one enormous pattern or description.
inline constexpr std::size_t kMaxLineLength = 64 * 1024;

/// `s` without leading and trailing blanks (spaces, tabs, CR, VT, FF).
inline std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// What one line gave: nothing (blank line, comment), an indicator, or the
/// reason it is bad.
template <typename T>
using LineOutcome = std::variant<std::monostate, T, std::string>;

/// Refuses UTF-16 text (a byte-order mark FF FE or FE FF) as a whole, even
/// with `skipped_lines`. Splits `text` into lines (a UTF-8 byte-order mark
/// dropped, CRLF accepted), refuses lines over kMaxLineLength or holding a NUL byte, and
/// passes every other line, trimmed, with its 1-based number to
/// `parse_line`, which returns a LineOutcome<T>. The first bad line fails
/// the whole list with "NAME:LINE: reason"; with `skipped_lines`, bad lines
/// are recorded there in that form and skipped instead.
template <typename T, typename ParseLine>
Result<std::vector<T>> parse_lines(std::string_view text, const std::string& name,
                                   std::vector<std::string>* skipped_lines, ParseLine&& parse_line) {
  std::vector<T> out;
  // PowerShell's Out-File writes UTF-16 by default; its NUL bytes would
  // otherwise be reported as a binary file.
  if (text.starts_with("\xFF\xFE") || text.starts_with("\xFE\xFF")) {
    return Error{name + ":1: UTF-16 text: convert to UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)"};
  }
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t eol = text.find('\n');
    const std::string_view raw_line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    LineOutcome<T> outcome;
    if (raw_line.size() > kMaxLineLength) {
      outcome = std::string("line longer than 64 KiB (not an IOC list?)");
    } else if (raw_line.find('\0') != std::string_view::npos) {
      outcome = std::string("NUL byte (binary file?)");
    } else {
      outcome = parse_line(trim(raw_line), line_no);
    }
    if (auto* indicator = std::get_if<T>(&outcome)) {
      out.push_back(std::move(*indicator));
    } else if (auto* why = std::get_if<std::string>(&outcome)) {
      std::string message = name + ":" + std::to_string(line_no) + ": " + *why;
      if (skipped_lines == nullptr) return Error{std::move(message)};
      skipped_lines->push_back(std::move(message));
    }
  }
  return out;
}

}  // namespace iocsweep::ioc_lines
