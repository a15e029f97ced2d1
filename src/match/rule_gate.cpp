// RuleGate: the size, header and external-variable checks a rule set's
// conditions make whatever the strings match, read from the source text.
//
// Soundness rests on three facts about YARA conditions:
//  - `or` binds looser than `and`, and `not` tighter than `and` (so a
//    top-level `and` chain really is a conjunction);
//  - `/` always starts a regular expression (division is `\`), so the
//    tokenizer never mistakes one for the other;
//  - without `not`, the checks kept form a monotone formula: replacing any
//    sub-condition that is not understood by "true" can only admit more.
// A check that libyara would find undefined (a header read past the end of
// the file) is false, as libyara treats it in `and` and `or`.
#include "match/rule_gate.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace iocsweep {
namespace {

enum class Tok { kIdent, kNumber, kString, kRegex, kPunct, kEnd };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // raw text; a string literal without its quotes
  int line = 0;
  std::size_t begin = 0;  // byte offsets in the source: [begin, end)
  std::size_t end = 0;
};

bool ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9'); }

// Splits YARA source into tokens. Comments are dropped; string and regex
// literals are single tokens, so nothing inside them is read as syntax.
// Returns nullopt for text it cannot follow (an unterminated literal).
std::optional<std::vector<Token>> tokenize(std::string_view src) {
  std::vector<Token> out;
  int line = 1;
  std::size_t i = 0;
  const std::size_t n = src.size();
  while (i < n) {
    const char c = src[i];
    if (c == '\n') {
      ++line;
      ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && src[i + 1] == '/') {
      while (i < n && src[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && src[i + 1] == '*') {
      const std::size_t end = src.find("*/", i + 2);
      if (end == std::string_view::npos) return std::nullopt;
      line += static_cast<int>(std::count(src.begin() + static_cast<std::ptrdiff_t>(i),
                                          src.begin() + static_cast<std::ptrdiff_t>(end), '\n'));
      i = end + 2;
      continue;
    }
    Token t;
    t.line = line;
    t.begin = i;
    if (c == '"' || c == '/') {
      // A text string or a regular expression, up to the unescaped close.
      const char close = c;
      std::size_t j = i + 1;
      for (; j < n && src[j] != close; ++j) {
        if (src[j] == '\n') return std::nullopt;
        if (src[j] == '\\') ++j;
      }
      if (j >= n) return std::nullopt;
      t.kind = close == '"' ? Tok::kString : Tok::kRegex;
      t.text = std::string(src.substr(i + 1, j - i - 1));
      i = j + 1;
      if (close == '/') {
        // Flags, as YARA's lexer reads them: an optional i, then an
        // optional s. `/a/or` is a regex followed by `or`.
        if (i < n && src[i] == 'i') ++i;
        if (i < n && src[i] == 's') ++i;
      }
      t.end = i;
      out.push_back(std::move(t));
      continue;
    }
    const bool string_ref =
        (c == '$' || c == '#' || c == '@' || c == '!') && i + 1 < n && (ident_char(src[i + 1]) || src[i + 1] == '*');
    if (ident_start(c) || string_ref) {
      // $a, $a*, #a, @a, !a and plain identifiers.
      std::size_t j = i + 1;
      while (j < n && (ident_char(src[j]) || (string_ref && src[j] == '*'))) ++j;
      t.kind = Tok::kIdent;
      t.text = std::string(src.substr(i, j - i));
      i = j;
      t.end = i;
      out.push_back(std::move(t));
      continue;
    }
    if (c >= '0' && c <= '9') {
      // A number exactly as YARA's lexer reads one (the longest of 0xHEX,
      // 0oOCTAL, DIGITS with an optional KB or MB, DIGITS.DIGITS): what
      // follows is the next token, so `10or` is `10` and `or`. The
      // digit-led words of hex strings ("4D5A") are split too, harmlessly.
      const auto run = [&](std::size_t from, auto accepts) {
        while (from < n && accepts(src[from])) ++from;
        return from;
      };
      const auto is_digit = [](char d) { return d >= '0' && d <= '9'; };
      const auto is_hex = [](char d) {
        return (d >= '0' && d <= '9') || (d >= 'a' && d <= 'f') || (d >= 'A' && d <= 'F');
      };
      const auto is_oct = [](char d) { return d >= '0' && d <= '7'; };
      std::size_t j = run(i, is_digit);
      if (src.substr(j, 2) == "KB" || src.substr(j, 2) == "MB") {
        j += 2;
      } else if (j < n && src[j] == '.' && j + 1 < n && is_digit(src[j + 1])) {
        j = run(j + 1, is_digit);
      }
      if (c == '0' && i + 2 < n && src[i + 1] == 'x' && is_hex(src[i + 2])) j = std::max(j, run(i + 2, is_hex));
      if (c == '0' && i + 2 < n && src[i + 1] == 'o' && is_oct(src[i + 2])) j = std::max(j, run(i + 2, is_oct));
      t.kind = Tok::kNumber;
      t.text = std::string(src.substr(i, j - i));
      i = j;
      t.end = i;
      out.push_back(std::move(t));
      continue;
    }
    static constexpr std::string_view kTwo[] = {"==", "!=", "<=", ">=", "<<", ">>", ".."};
    t.kind = Tok::kPunct;
    t.text = std::string(1, c);
    for (std::string_view two : kTwo) {
      if (src.substr(i, 2) == two) t.text = std::string(two);
    }
    i += t.text.size();
    t.end = i;
    out.push_back(std::move(t));
  }
  Token end;
  end.line = line;
  end.begin = end.end = n;
  out.push_back(end);
  return out;
}

// A YARA integer literal: decimal (with an optional KB or MB), 0x hex or
// 0o octal. nullopt for anything else or on overflow.
std::optional<std::int64_t> parse_int(std::string_view s) {
  int base = 10;
  std::int64_t scale = 1;
  if (s.starts_with("0x")) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.starts_with("0o")) {
    base = 8;
    s.remove_prefix(2);
  } else if (s.ends_with("KB")) {
    scale = 1024;
    s.remove_suffix(2);
  } else if (s.ends_with("MB")) {
    scale = 1024 * 1024;
    s.remove_suffix(2);
  }
  if (s.empty()) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    int d = 0;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    if (d >= base) return std::nullopt;
    if (v > (std::numeric_limits<std::int64_t>::max() - d) / base) return std::nullopt;
    v = v * base + d;
  }
  if (v > std::numeric_limits<std::int64_t>::max() / scale) return std::nullopt;
  return v * scale;
}

// The bytes a text string literal stands for; nullopt for an escape this
// reader does not know (the check is then not used).
std::optional<std::string> decode_string(std::string_view raw) {
  // libyara's lexer drops the rest of a run of plain characters at a raw
  // NUL; not worth imitating.
  if (raw.find('\0') != std::string_view::npos) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      out += raw[i];
      continue;
    }
    if (++i >= raw.size()) return std::nullopt;
    switch (raw[i]) {
      case '\\':
        out += '\\';
        break;
      case '"':
        out += '"';
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'x': {
        if (i + 2 >= raw.size()) return std::nullopt;
        const auto byte = parse_int("0x" + std::string(raw.substr(i + 1, 2)));
        if (!byte) return std::nullopt;
        out += static_cast<char>(*byte);
        i += 2;
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return out;
}

// One node of a rule's check: a formula of and/or over simple tests.
struct Node {
  enum class Kind { kTrue, kFalse, kAnd, kOr, kSize, kInt, kExternal };
  enum class Cmp { kLt, kLe, kGt, kGe, kEq };
  enum class Mask { kNone, kOr, kAnd };
  Kind kind = Kind::kTrue;
  Cmp cmp = Cmp::kEq;
  std::int64_t value = 0;  // kSize, kInt: the constant compared with
  // kInt: the integer read at `offset`.
  std::uint64_t offset = 0;
  int width = 1;
  bool big_endian = false;
  bool is_signed = false;
  Mask mask = Mask::kNone;
  std::int64_t mask_value = 0;
  // kExternal: externals[which] == text, or contains it.
  std::size_t which = 0;
  bool contains = false;
  std::string text;
  std::vector<Node> children;  // kAnd, kOr

  static Node truth(bool v) {
    Node n;
    n.kind = v ? Kind::kTrue : Kind::kFalse;
    return n;
  }
};

// Canonical text of a node: equal checks of different rules are kept once.
std::string key_of(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kTrue:
      return "T";
    case Node::Kind::kFalse:
      return "F";
    case Node::Kind::kSize:
      return "S" + std::to_string(static_cast<int>(n.cmp)) + ":" + std::to_string(n.value);
    case Node::Kind::kInt:
      return "I" + std::to_string(n.offset) + ":" + std::to_string(n.width) + (n.big_endian ? "b" : "l") +
             (n.is_signed ? "s" : "u") + std::to_string(static_cast<int>(n.mask)) + ":" + std::to_string(n.mask_value) +
             ":" + std::to_string(n.value);
    case Node::Kind::kExternal:
      return "E" + std::to_string(n.which) + (n.contains ? "c" : "e") + std::to_string(n.text.size()) + ":" + n.text;
    case Node::Kind::kAnd:
    case Node::Kind::kOr: {
      std::string out = n.kind == Node::Kind::kAnd ? "&(" : "|(";
      for (const Node& c : n.children) out += key_of(c) + ",";
      return out + ")";
    }
  }
  return "T";
}

// Folds constants: an `and` without its "true" parts, an `or` that any
// "true" part makes true.
Node combine(Node::Kind kind, std::vector<Node> parts) {
  const bool is_and = kind == Node::Kind::kAnd;
  std::vector<Node> kept;
  for (Node& p : parts) {
    if (p.kind == (is_and ? Node::Kind::kFalse : Node::Kind::kTrue)) return Node::truth(!is_and);
    if (p.kind == (is_and ? Node::Kind::kTrue : Node::Kind::kFalse)) continue;
    kept.push_back(std::move(p));
  }
  if (kept.empty()) return Node::truth(is_and);
  if (kept.size() == 1) return std::move(kept.front());
  Node n;
  n.kind = kind;
  n.children = std::move(kept);
  return n;
}

using Span = std::vector<Token>::const_iterator;

bool is_punct(const Token& t, std::string_view p) { return t.kind == Tok::kPunct && t.text == p; }
bool is_word(const Token& t, std::string_view w) { return t.kind == Tok::kIdent && t.text == w; }

// Splits [b, e) at the top-level (unparenthesised) keyword `word`.
std::vector<std::pair<Span, Span>> split_at(Span b, Span e, std::string_view word) {
  std::vector<std::pair<Span, Span>> parts;
  int depth = 0;
  Span start = b;
  for (Span it = b; it != e; ++it) {
    if (is_punct(*it, "(") || is_punct(*it, "[")) ++depth;
    if (is_punct(*it, ")") || is_punct(*it, "]")) --depth;
    if (depth == 0 && is_word(*it, word)) {
      parts.emplace_back(start, it);
      start = it + 1;
    }
  }
  parts.emplace_back(start, e);
  return parts;
}

// Whether [b, e) is one parenthesised group: "( ... )".
bool wrapped(Span b, Span e) {
  if (e - b < 2 || !is_punct(*b, "(") || !is_punct(*(e - 1), ")")) return false;
  int depth = 0;
  for (Span it = b; it != e; ++it) {
    if (is_punct(*it, "(")) ++depth;
    if (is_punct(*it, ")")) --depth;
    if (depth == 0 && it != e - 1) return false;
  }
  return true;
}

std::optional<Node::Cmp> comparison(const Token& t) {
  if (t.kind != Tok::kPunct) return std::nullopt;
  if (t.text == "<") return Node::Cmp::kLt;
  if (t.text == "<=") return Node::Cmp::kLe;
  if (t.text == ">") return Node::Cmp::kGt;
  if (t.text == ">=") return Node::Cmp::kGe;
  if (t.text == "==") return Node::Cmp::kEq;
  return std::nullopt;
}

// A possibly negative integer literal taking the whole of [b, e).
std::optional<std::int64_t> literal(Span b, Span e) {
  bool negative = false;
  if (b != e && is_punct(*b, "-")) {
    negative = true;
    ++b;
  }
  if (e - b != 1 || b->kind != Tok::kNumber) return std::nullopt;
  const auto v = parse_int(b->text);
  if (!v) return std::nullopt;
  return negative ? -*v : *v;
}

// `uint16(0)`, `int32be(0x3C)`, ... taking the whole of [b, e).
std::optional<Node> int_read(Span b, Span e) {
  if (e - b != 4 || b->kind != Tok::kIdent || !is_punct(b[1], "(") || b[2].kind != Tok::kNumber ||
      !is_punct(b[3], ")")) {
    return std::nullopt;
  }
  std::string_view name = b->text;
  Node n;
  n.kind = Node::Kind::kInt;
  if (name.ends_with("be")) {
    n.big_endian = true;
    name.remove_suffix(2);
  }
  if (name.starts_with("u")) {
    name.remove_prefix(1);
  } else {
    n.is_signed = true;
  }
  if (name == "int8") {
    n.width = 1;
  } else if (name == "int16") {
    n.width = 2;
  } else if (name == "int32") {
    n.width = 4;
  } else {
    return std::nullopt;
  }
  const auto offset = parse_int(b[2].text);
  if (!offset) return std::nullopt;
  n.offset = static_cast<std::uint64_t>(*offset);
  return n;
}

// Size of a check, in nodes.
std::size_t node_count(const Node& n) {
  std::size_t count = 1;
  for (const Node& c : n.children) count += node_count(c);
  return count;
}

// The checks of the rules already read in the source being read, by name:
// a condition naming one (`IsPE and $a`) is true only when that rule is,
// so its check stands in for the name. (libyara resolves a rule name in
// the namespace being compiled, among the rules defined before.)
using KnownRules = std::map<std::string, Node, std::less<>>;

// What reading one rule's condition needs besides its tokens.
struct Reading {
  // The checks of the rules read before it in its source (may be null).
  const KnownRules* known = nullptr;
  // Where the terms that read pe values are (byte offsets in the source):
  // each is undefined, so false, for a file not beginning with "MZ" (see
  // requires_pe). May be null.
  std::vector<std::pair<std::size_t, std::size_t>>* pe_terms = nullptr;
};

// Checks this large are not copied into the rules that name them (a chain
// of rules each naming the last twice would grow without bound).
constexpr std::size_t kMaxInlinedNodes = 64;

// The check `uint16(0) == 0x5A4D`.
Node mz_check() {
  Node n;
  n.kind = Node::Kind::kInt;
  n.width = 2;
  n.value = 0x5A4D;
  return n;
}

// Whether the and-term [b, e) can only be true for a file beginning with
// "MZ" because it reads a value of the pe module. For a file that does not
// begin with "MZ", libyara's pe module finds no PE header (it checks the
// DOS signature at offset 0 of the block, the whole file) and leaves every
// value undefined except its constants (upper case: pe.MACHINE_I386) and
// `pe.is_pe`, which it sets to 0; every function listed below returns
// undefined then. An undefined value makes any comparison, arithmetic,
// string operator, `not` and function call it enters undefined, `$a at X`
// false (libyara's exec.c), and an undefined or false and-term makes the
// rule false. So the term is read as requiring MZ when it is `pe.is_pe`
// alone, or when it reads such a value and holds nothing that can turn an
// undefined value into a truth: `and`, `or` (both make it false, which
// `not` would turn), loops, `of`, `defined`, nor `not` with `at`.
// rule_gate_test checks each shape against libyara.
bool requires_pe(Span b, Span e) {
  if (e - b == 3 && is_word(b[0], "pe") && is_punct(b[1], ".") && is_word(b[2], "is_pe")) return true;
  static constexpr std::string_view kTruthy[] = {"or",  "and", "for", "of",      "them",
                                                 "any", "all", "in",  "defined", "none"};
  // The pe functions whose first act, for a file that is not a PE, is to
  // return undefined (libyara 4.2's modules/pe/pe.c).
  static constexpr std::string_view kFunctions[] = {"exports",
                                                    "exports_index",
                                                    "imphash",
                                                    "imports",
                                                    "locale",
                                                    "language",
                                                    "is_dll",
                                                    "is_32bit",
                                                    "is_64bit",
                                                    "section_index",
                                                    "calculate_checksum",
                                                    "rva_to_offset"};
  bool reads_pe = false;
  bool negated = false;
  bool at = false;
  for (Span it = b; it != e; ++it) {
    if (it->kind == Tok::kIdent && std::find(std::begin(kTruthy), std::end(kTruthy), it->text) != std::end(kTruthy)) {
      return false;
    }
    if (is_word(*it, "not")) negated = true;
    if (is_word(*it, "at")) at = true;
    if (!is_word(*it, "pe") || (it != b && is_punct(it[-1], ".")) || e - it < 3 || !is_punct(it[1], ".") ||
        it[2].kind != Tok::kIdent) {
      continue;
    }
    const std::string& field = it[2].text;
    if (field.empty() || !(field[0] >= 'a' && field[0] <= 'z') || field == "is_pe") continue;
    // A function of the module itself: only those known to return
    // undefined. A field (`pe.sections[0].name`, `pe.rich_signature.
    // version(1)`) is undefined, and so is whatever hangs off it.
    const bool call = e - it > 3 && is_punct(it[3], "(");
    if (call && std::find(std::begin(kFunctions), std::end(kFunctions), field) == std::end(kFunctions)) continue;
    reads_pe = true;
  }
  return reads_pe && !(negated && at);
}

Node condition(Span b, Span e, int nesting, const Reading& r);
bool requires_mz(const Node& n);

// One and-term that is not a group: a test this reader knows, else true.

// `for any i in ITERABLE : ( BODY )`, `for 2 i, j in ...`: true only when
// BODY is for some values of the variables, so BODY's check must hold (it
// never reads a loop variable: only literals, externals, rules and pe are
// read, and a loop binding one of those names is not read). nullopt for
// other loops (`for all`, `for none`, percentages, string sets).
std::optional<Node> loop_term(Span b, Span e, int nesting, const Reading& r) {
  if (e - b < 7 || !is_word(b[0], "for")) return std::nullopt;
  const bool any = is_word(b[1], "any");
  const auto n = b[1].kind == Tok::kNumber ? parse_int(b[1].text) : std::nullopt;
  if (!any && !(n && *n >= 1 && !is_punct(b[2], "%"))) return std::nullopt;
  if (b[2].kind != Tok::kIdent || b[2].text[0] == '$') return std::nullopt;
  // The names the loop binds (`for any k, v in ...`) shadow whatever the
  // body would otherwise mean by them: a body naming `pe`, an external or
  // a rule read before is not read at all (found in review: `for any pe in
  // elf.sections : (pe.name == ".text")` was read as a pe term).
  for (Span it = b + 2; it != e && !is_word(*it, "in"); ++it) {
    if (it->kind != Tok::kIdent) continue;
    if (it->text == "pe" ||
        std::find(std::begin(kExternalNames), std::end(kExternalNames), it->text) != std::end(kExternalNames) ||
        (r.known != nullptr && r.known->count(it->text) != 0)) {
      return std::nullopt;
    }
  }
  int depth = 0;
  Span colon = e;
  for (Span it = b + 2; it != e; ++it) {
    if (is_punct(*it, "(") || is_punct(*it, "[")) ++depth;
    if (is_punct(*it, ")") || is_punct(*it, "]")) --depth;
    if (is_word(*it, "of")) return std::nullopt;
    if (depth == 0 && is_punct(*it, ":")) {
      colon = it;
      break;
    }
  }
  if (colon == e || !wrapped(colon + 1, e)) return std::nullopt;
  // Terms inside are only rewritten as the whole loop is.
  Reading inner{r.known, nullptr};
  Node body = condition(colon + 2, e - 1, nesting + 1, inner);
  // Written as false in the set for non-MZ files only when every string
  // it uses is named (`them` and anonymous `$` would leave strings unused
  // there, and that set would not compile).
  const bool names_its_strings =
      std::none_of(b, e, [](const Token& t) { return is_word(t, "them") || is_punct(t, "$"); });
  if (r.pe_terms != nullptr && names_its_strings && requires_mz(body)) r.pe_terms->emplace_back(b->begin, (e - 1)->end);
  return body;
}

// One and-term that is not a group: a test this reader knows, else true.
Node term(Span b, Span e, int nesting, const Reading& r) {
  if (auto loop = loop_term(b, e, nesting, r)) return std::move(*loop);
  if (requires_pe(b, e)) {
    if (r.pe_terms != nullptr) r.pe_terms->emplace_back(b->begin, (e - 1)->end);
    return mz_check();
  }
  const KnownRules* known = r.known;
  if (e - b == 1 && b->kind == Tok::kIdent && known != nullptr &&
      std::find(std::begin(kExternalNames), std::end(kExternalNames), b->text) == std::end(kExternalNames)) {
    const auto it = known->find(b->text);
    if (it != known->end() && node_count(it->second) <= kMaxInlinedNodes) return it->second;
  }
  // Find the comparison operator at depth 0.
  int depth = 0;
  Span op = e;
  for (Span it = b; it != e; ++it) {
    if (is_punct(*it, "(")) ++depth;
    if (is_punct(*it, ")")) --depth;
    if (depth == 0 && (comparison(*it) || is_word(*it, "contains"))) {
      if (op != e) return Node::truth(true);  // two operators: not a shape we know
      op = it;
    }
  }
  if (op == e || op == b) {
    if (e - b == 1 && is_word(*b, "false")) return Node::truth(false);
    return Node::truth(true);
  }
  const Span lhs_b = b, lhs_e = op, rhs_b = op + 1, rhs_e = e;
  // filesize CMP N
  if (lhs_e - lhs_b == 1 && is_word(*lhs_b, "filesize") && comparison(*op)) {
    const auto v = literal(rhs_b, rhs_e);
    if (!v) return Node::truth(true);
    Node n;
    n.kind = Node::Kind::kSize;
    n.cmp = *comparison(*op);
    n.value = *v;
    return n;
  }
  // external == "text", external contains "text"
  if (lhs_e - lhs_b == 1 && lhs_b->kind == Tok::kIdent && rhs_e - rhs_b == 1 && rhs_b->kind == Tok::kString &&
      (is_punct(*op, "==") || is_word(*op, "contains"))) {
    for (std::size_t i = 0; i < std::size(kExternalNames); ++i) {
      if (lhs_b->text != kExternalNames[i]) continue;
      auto text = decode_string(rhs_b->text);
      if (!text) return Node::truth(true);
      Node n;
      n.kind = Node::Kind::kExternal;
      n.which = i;
      n.contains = is_word(*op, "contains");
      n.text = std::move(*text);
      return n;
    }
    return Node::truth(true);
  }
  // intN(K) == V, (intN(K) | M) == V, (intN(K) & M) == V
  if (!is_punct(*op, "==")) return Node::truth(true);
  const auto v = literal(rhs_b, rhs_e);
  if (!v) return Node::truth(true);
  std::optional<Node> read = int_read(lhs_b, lhs_e);
  if (!read && wrapped(lhs_b, lhs_e) && lhs_e - lhs_b == 8) {
    // ( f ( K ) | M )
    const Span in = lhs_b + 1;
    read = int_read(in, in + 4);
    const auto m = parse_int(in[5].kind == Tok::kNumber ? in[5].text : std::string());
    if (!read || !m || !(is_punct(in[4], "|") || is_punct(in[4], "&"))) return Node::truth(true);
    read->mask = is_punct(in[4], "|") ? Node::Mask::kOr : Node::Mask::kAnd;
    read->mask_value = *m;
  }
  if (!read) return Node::truth(true);
  read->value = *v;
  return *read;
}

Node and_chain(Span b, Span e, int nesting, const Reading& r) {
  std::vector<Node> parts;
  for (const auto& [pb, pe] : split_at(b, e, "and")) {
    if (wrapped(pb, pe)) {
      parts.push_back(condition(pb + 1, pe - 1, nesting + 1, r));
    } else {
      parts.push_back(term(pb, pe, nesting, r));
    }
  }
  return combine(Node::Kind::kAnd, std::move(parts));
}

Node condition(Span b, Span e, int nesting, const Reading& r) {
  // Deeply nested conditions are taken as true rather than recursed into.
  if (nesting > 64 || b == e) return Node::truth(true);
  std::vector<Node> parts;
  for (const auto& [pb, pe] : split_at(b, e, "or")) parts.push_back(and_chain(pb, pe, nesting, r));
  return combine(Node::Kind::kOr, std::move(parts));
}

// The test on the integer libyara would read at `offset`: false when the
// file is too short (libyara: undefined, a false test), true when only
// the head is too short (unknown: the test passes).
bool eval_int(const Node& n, std::uint64_t size, ByteView head) {
  if (n.offset > size || size - n.offset < static_cast<std::uint64_t>(n.width)) return false;
  if (n.offset > head.size() || head.size() - n.offset < static_cast<std::uint64_t>(n.width)) return true;
  std::uint64_t raw = 0;
  for (int i = 0; i < n.width; ++i) {
    const std::uint64_t byte = head[static_cast<std::size_t>(n.offset) + static_cast<std::size_t>(i)];
    raw |= byte << (8 * (n.big_endian ? n.width - 1 - i : i));
  }
  std::int64_t v = static_cast<std::int64_t>(raw);
  if (n.is_signed) {
    const int bits = 8 * n.width;
    if (raw & (std::uint64_t{1} << (bits - 1))) v = static_cast<std::int64_t>(raw | (~std::uint64_t{0} << bits));
  }
  if (n.mask == Node::Mask::kOr) v |= n.mask_value;
  if (n.mask == Node::Mask::kAnd) v &= n.mask_value;
  return v == n.value;
}

bool eval(const Node& n, std::uint64_t size, ByteView head, const std::string_view* externals) {
  switch (n.kind) {
    case Node::Kind::kTrue:
      return true;
    case Node::Kind::kFalse:
      return false;
    case Node::Kind::kAnd:
      return std::all_of(n.children.begin(), n.children.end(),
                         [&](const Node& c) { return eval(c, size, head, externals); });
    case Node::Kind::kOr:
      return std::any_of(n.children.begin(), n.children.end(),
                         [&](const Node& c) { return eval(c, size, head, externals); });
    case Node::Kind::kSize: {
      if (size > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return true;
      const auto s = static_cast<std::int64_t>(size);
      switch (n.cmp) {
        case Node::Cmp::kLt:
          return s < n.value;
        case Node::Cmp::kLe:
          return s <= n.value;
        case Node::Cmp::kGt:
          return s > n.value;
        case Node::Cmp::kGe:
          return s >= n.value;
        case Node::Cmp::kEq:
          return s == n.value;
      }
      return true;
    }
    case Node::Kind::kInt:
      return eval_int(n, size, head);
    case Node::Kind::kExternal: {
      const std::string_view value = externals[n.which];
      return n.contains ? value.find(n.text) != std::string_view::npos : value == n.text;
    }
  }
  return true;
}

}  // namespace

struct RuleGate::Impl {
  bool admits_all = true;
  std::string reason;
  std::vector<Node> checks;  // any one passing admits the file
};

RuleGate::RuleGate() : impl_(std::make_shared<Impl>()) {}

RuleGate RuleGate::everything(std::string reason) {
  RuleGate gate;
  auto impl = std::make_shared<Impl>();
  impl->reason = std::move(reason);
  gate.impl_ = std::move(impl);
  return gate;
}
RuleGate::~RuleGate() = default;
RuleGate::RuleGate(const RuleGate&) = default;
RuleGate& RuleGate::operator=(const RuleGate&) = default;
RuleGate::RuleGate(RuleGate&&) noexcept = default;
RuleGate& RuleGate::operator=(RuleGate&&) noexcept = default;

namespace {

// One rule as read from its source.
struct ParsedRule {
  std::string name;
  int line = 0;
  bool global = false;
  bool is_private = false;
  std::size_t begin = 0;  // byte span of the whole rule, modifiers included
  std::size_t end = 0;
  // What its own condition requires (a rule it names stands for that
  // rule's check).
  Node check;
  // What it requires to be reported: its check and those of its
  // namespace's global rules (a false global rule makes every rule of the
  // namespace false).
  Node effective;
  // The terms of its condition that read pe values (byte spans in the
  // source, in order): false for a file not beginning with "MZ".
  std::vector<std::pair<std::size_t, std::size_t>> pe_terms;
  // Identifiers in its body (a module's name, another rule's name).
  std::set<std::string> identifiers;
  // Identifiers followed by `*` in its body: rule-set wildcards such as
  // `all of (Foo*)` name every rule whose name starts with one.
  std::set<std::string> prefixes;
};

struct ParsedSource {
  std::vector<ParsedRule> rules;
  std::vector<std::string> imports;
  bool locates_string_sets = false;  // as RulePrefilter::locates_string_sets
};

// Whether tokens `t` hold `of them in (...)` or `of (...) at N`.
bool locates_string_set(const std::vector<Token>& t) {
  for (std::size_t i = 0; t[i].kind != Tok::kEnd; ++i) {
    if (!is_word(t[i], "of")) continue;
    std::size_t j = i + 1;
    if (is_word(t[j], "them")) {
      ++j;
    } else if (is_punct(t[j], "(")) {
      // A string set holds names and wildcards only: no nested parentheses.
      while (t[j].kind != Tok::kEnd && !is_punct(t[j], ")")) ++j;
      if (t[j].kind == Tok::kEnd) return false;
      ++j;
    } else {
      continue;
    }
    if (is_word(t[j], "in") || is_word(t[j], "at")) return true;
  }
  return false;
}

// Reads the rules of one source, or says why it cannot.
std::optional<ParsedSource> parse_source(const RuleSource& source, std::string& why) {
  const auto tokens = tokenize(source.text);
  if (!tokens) {
    why = source.name + ": not read (unterminated string or comment)";
    return std::nullopt;
  }
  const std::vector<Token>& t = *tokens;
  ParsedSource out;
  out.locates_string_sets = locates_string_set(t);
  KnownRules known;
  std::size_t i = 0;
  while (t[i].kind != Tok::kEnd) {
    if (is_word(t[i], "include")) {
      why = source.name + ":" + std::to_string(t[i].line) + ": include: the included rules are not read";
      return std::nullopt;
    }
    if (is_word(t[i], "import") && t[i + 1].kind == Tok::kString) {
      out.imports.push_back(t[i + 1].text);
      i += 2;
      continue;
    }
    ParsedRule rule;
    rule.begin = t[i].begin;
    while (is_word(t[i], "private") || is_word(t[i], "global")) {
      rule.global = rule.global || is_word(t[i], "global");
      rule.is_private = rule.is_private || is_word(t[i], "private");
      ++i;
    }
    if (!is_word(t[i], "rule") || t[i + 1].kind != Tok::kIdent) {
      why = source.name + ":" + std::to_string(t[i].line) + ": not read";
      return std::nullopt;
    }
    rule.name = t[i + 1].text;
    rule.line = t[i].line;
    const std::string where = source.name + ":" + std::to_string(rule.line) + ": rule " + rule.name;
    // Tags, then the body: "{" ... "}" with hex strings nested inside.
    std::size_t j = i + 2;
    while (t[j].kind != Tok::kEnd && !is_punct(t[j], "{")) ++j;
    if (t[j].kind == Tok::kEnd) {
      why = where + ": not read";
      return std::nullopt;
    }
    int depth = 0;
    std::size_t cond_begin = 0;
    std::size_t k = j;
    for (; t[k].kind != Tok::kEnd; ++k) {
      if (is_punct(t[k], "{")) ++depth;
      if (is_punct(t[k], "}") && --depth == 0) break;
      if (depth == 1 && is_word(t[k], "condition") && is_punct(t[k + 1], ":")) cond_begin = k + 2;
      if (t[k].kind == Tok::kIdent) {
        rule.identifiers.insert(t[k].text);
        if (is_punct(t[k + 1], "*")) rule.prefixes.insert(t[k].text);
      }
    }
    if (t[k].kind == Tok::kEnd || cond_begin == 0) {
      why = where + ": not read";
      return std::nullopt;
    }
    rule.check = condition(t.begin() + static_cast<std::ptrdiff_t>(cond_begin),
                           t.begin() + static_cast<std::ptrdiff_t>(k), 0, Reading{&known, &rule.pe_terms});
    std::sort(rule.pe_terms.begin(), rule.pe_terms.end());
    known.insert_or_assign(rule.name, rule.check);
    rule.end = t[k].end;
    out.rules.push_back(std::move(rule));
    i = k + 1;
  }
  return out;
}

// Whether a check can only pass for a file that begins with "MZ": it
// requires uint16(0) == 0x5A4D in every way it can be true.
bool requires_mz(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kFalse:
      return true;
    case Node::Kind::kInt:
      return n.offset == 0 && n.width == 2 && !n.big_endian && n.mask == Node::Mask::kNone && n.value == 0x5A4D;
    case Node::Kind::kAnd:
      return std::any_of(n.children.begin(), n.children.end(), requires_mz);
    case Node::Kind::kOr:
      return std::all_of(n.children.begin(), n.children.end(), requires_mz);
    default:
      return false;
  }
}

}  // namespace

namespace {

// Every source read, or why one cannot be.
std::optional<std::vector<ParsedSource>> parse_sources(const std::vector<RuleSource>& sources, std::string& why) {
  std::vector<ParsedSource> parsed;
  for (const RuleSource& source : sources) {
    auto p = parse_source(source, why);
    if (!p) return std::nullopt;
    parsed.push_back(std::move(*p));
  }
  return parsed;
}

// Gives each rule its effective check: its own and its namespace's global
// rules' (libyara compiles each source in a namespace of its own).
void add_global_checks(std::vector<ParsedSource>& parsed) {
  for (ParsedSource& p : parsed) {
    std::vector<Node> globals;
    for (const ParsedRule& rule : p.rules) {
      if (rule.global) globals.push_back(rule.check);
    }
    for (ParsedRule& rule : p.rules) {
      std::vector<Node> parts = globals;
      parts.push_back(rule.check);
      rule.effective = combine(Node::Kind::kAnd, std::move(parts));
    }
  }
}

// A rule of the set: its source and its place there.
struct RuleRef {
  std::size_t source = 0;
  std::size_t rule = 0;
};

// The rules that must stay in one compiled set, whatever set that is: a
// global rule with every rule of its namespace, a rule with every rule it
// names, directly or through a wildcard (`all of (Foo*)` counts every rule
// whose name begins so). Names are matched across sources (libyara only
// resolves them in their own namespace: the wider closure is the safe
// side). `unit[i]` numbers the closure of rules()[i].
struct Closures {
  std::vector<RuleRef> rules;
  std::vector<std::size_t> unit;
};

Closures closures(const std::vector<ParsedSource>& parsed) {
  Closures out;
  std::multimap<std::string, std::size_t, std::less<>> by_name;
  std::vector<std::size_t> first_of_source;
  for (std::size_t s = 0; s < parsed.size(); ++s) {
    first_of_source.push_back(out.rules.size());
    for (std::size_t r = 0; r < parsed[s].rules.size(); ++r) {
      by_name.emplace(parsed[s].rules[r].name, out.rules.size());
      out.rules.push_back(RuleRef{s, r});
    }
  }
  std::vector<std::size_t> parent(out.rules.size());
  std::iota(parent.begin(), parent.end(), std::size_t{0});
  const auto find = [&](std::size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  const auto join = [&](std::size_t a, std::size_t b) { parent[find(a)] = find(b); };
  for (std::size_t i = 0; i < out.rules.size(); ++i) {
    const std::size_t source = out.rules[i].source;
    const ParsedRule& rule = parsed[source].rules[out.rules[i].rule];
    if (rule.global) {
      for (std::size_t r = 0; r < parsed[source].rules.size(); ++r) join(i, first_of_source[source] + r);
    }
    for (const std::string& id : rule.identifiers) {
      const auto [b, e] = by_name.equal_range(id);
      for (auto it = b; it != e; ++it) join(i, it->second);
    }
    for (const std::string& prefix : rule.prefixes) {
      for (auto it = by_name.lower_bound(prefix); it != by_name.end() && it->first.starts_with(prefix); ++it) {
        join(i, it->second);
      }
    }
  }
  out.unit.resize(out.rules.size());
  for (std::size_t i = 0; i < out.rules.size(); ++i) out.unit[i] = find(i);
  return out;
}

// Which rules the set for non-MZ files leaves out: every rule of each
// closure whose rules all require MZ (as their effective checks say).
// Empty when fewer than `min_left_out` rules, or a tenth of the set, would
// be: a second compiled set for a few rules' sake is not worth its memory.
std::vector<bool> left_out_for_non_mz(const std::vector<ParsedSource>& parsed, const Closures& c,
                                      std::size_t min_left_out) {
  std::vector<bool> unit_needs_mz(c.rules.size(), true);
  for (std::size_t i = 0; i < c.rules.size(); ++i) {
    if (!requires_mz(parsed[c.rules[i].source].rules[c.rules[i].rule].effective)) unit_needs_mz[c.unit[i]] = false;
  }
  std::vector<bool> out(c.rules.size(), false);
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < c.rules.size(); ++i) {
    out[i] = unit_needs_mz[c.unit[i]];
    if (out[i]) ++dropped;
  }
  if (dropped == 0 || dropped < min_left_out || dropped * 10 < c.rules.size()) return {};
  return out;
}

// `false`, written so that the strings `term` names stay referenced
// (libyara refuses a string no condition uses): `(false and $a and $b)`.
std::string false_keeping_strings(std::string_view term) {
  std::string out = "(false";
  std::set<std::string> named;
  if (const auto tokens = tokenize(term)) {
    for (const Token& t : *tokens) {
      if (t.kind != Tok::kIdent || t.text.size() < 2) continue;
      const char c = t.text[0];
      if ((c == '$' || c == '#' || c == '@' || c == '!') && named.insert(t.text.substr(1)).second) {
        // `$a*` names a set of strings.
        out += t.text.back() == '*' ? " and any of ($" + t.text.substr(1) + ")" : " and $" + t.text.substr(1);
      }
    }
  }
  return out + ")";
}

// The sources without the rules `left_out` marks (indexed as Closures::rules)
// and without the imports no rule kept uses (libyara builds each imported
// module's objects for every file it scans). With `pe_false`, for a set
// only files not beginning with "MZ" meet, each rule's pe terms are
// written as `false`.
std::vector<RuleSource> sources_without(const std::vector<RuleSource>& sources, const std::vector<ParsedSource>& parsed,
                                        const std::vector<bool>& left_out, bool pe_false) {
  std::vector<RuleSource> out;
  std::size_t i = 0;
  for (std::size_t s = 0; s < sources.size(); ++s) {
    std::string kept_rules;
    std::set<std::string> used;
    for (const ParsedRule& rule : parsed[s].rules) {
      if (left_out[i++]) continue;
      if (!pe_false) {
        kept_rules += sources[s].text.substr(rule.begin, rule.end - rule.begin) + "\n";
        used.insert(rule.identifiers.begin(), rule.identifiers.end());
        continue;
      }
      // Its pe terms are false for every file this set is for: written as
      // `false`, so a source whose kept rules only read pe there does not
      // import pe (libyara's pe module sets its hundreds of constants for
      // every file it scans, PE or not).
      std::string kept;
      std::size_t at = rule.begin;
      for (const auto& [from, to] : rule.pe_terms) {
        kept += sources[s].text.substr(at, from - at) + false_keeping_strings(sources[s].text.substr(from, to - from));
        at = to;
      }
      kept += sources[s].text.substr(at, rule.end - at);
      if (rule.pe_terms.empty()) {
        used.insert(rule.identifiers.begin(), rule.identifiers.end());
      } else if (const auto tokens = tokenize(kept)) {
        for (const Token& token : *tokens) {
          if (token.kind == Tok::kIdent) used.insert(token.text);
        }
      } else {
        used.insert(rule.identifiers.begin(), rule.identifiers.end());
      }
      kept_rules += kept + "\n";
    }
    std::string text;
    for (const std::string& module : parsed[s].imports) {
      if (used.count(module) != 0) text += "import \"" + module + "\"\n";
    }
    // Not a copy of the source with its text replaced: that copies the
    // text first (heaptrack: 6 MB for signature-base, alive at the load's
    // peak).
    RuleSource subset;
    subset.name = sources[s].name;
    subset.path = sources[s].path;
    subset.text = text + kept_rules;
    subset.skip_if_broken = false;
    out.push_back(std::move(subset));
  }
  return out;
}

}  // namespace

bool has_include_directive(std::string_view text) {
  // Cheap first: most sources never spell the word at all.
  if (text.find("include") == std::string_view::npos) return false;
  const auto tokens = tokenize(text);
  if (!tokens) return true;
  const std::vector<Token>& t = *tokens;
  // libyara takes `include "file"` wherever its lexer meets it; only the
  // top level compiles, but anywhere is counted, which is the safe side.
  for (std::size_t i = 0; t[i].kind != Tok::kEnd; ++i) {
    if (is_word(t[i], "include") && t[i + 1].kind == Tok::kString) return true;
  }
  return false;
}

bool may_read_external(std::string_view text, std::string_view name) {
  if (text.find(name) == std::string_view::npos) return false;
  const auto tokens = tokenize(text);
  if (!tokens) return true;
  const std::vector<Token>& t = *tokens;
  for (std::size_t i = 0; t[i].kind != Tok::kEnd; ++i) {
    if (!is_word(t[i], name)) continue;
    const bool field = i > 0 && t[i - 1].kind == Tok::kPunct && t[i - 1].text == ".";
    const bool meta_key = t[i + 1].kind == Tok::kPunct && t[i + 1].text == "=";
    if (!field && !meta_key) return true;
  }
  return false;
}

RulePrefilter read_prefilter(const std::vector<RuleSource>& sources, std::optional<std::size_t> non_mz_min_left_out) {
  RulePrefilter out;
  std::string why;
  std::optional<std::vector<ParsedSource>> parsed = parse_sources(sources, why);
  if (!parsed) {
    out.gate = RuleGate::everything(why);
    return out;
  }
  out.locates_string_sets =
      std::any_of(parsed->begin(), parsed->end(), [](const ParsedSource& p) { return p.locates_string_sets; });
  add_global_checks(*parsed);
  const Closures c = closures(*parsed);
  // The gate of the public rules not `left_out` (indexed as c.rules; every
  // rule when empty), from their effective checks. Private rules are never
  // reported (libyara calls back for public rules only), so what they
  // would match does not count.
  const auto gate_of = [&](const std::vector<bool>& left_out) {
    auto impl = std::make_shared<RuleGate::Impl>();
    impl->admits_all = false;
    std::set<std::string> seen;
    for (std::size_t i = 0; i < c.rules.size(); ++i) {
      if (!left_out.empty() && left_out[i]) continue;
      const ParsedRule& rule = (*parsed)[c.rules[i].source].rules[c.rules[i].rule];
      if (rule.is_private) continue;
      if (rule.effective.kind == Node::Kind::kTrue) {
        return RuleGate::everything(sources[c.rules[i].source].name + ":" + std::to_string(rule.line) + ": rule " +
                                    rule.name + ": condition can be true without a file size, header or name test");
      }
      if (rule.effective.kind != Node::Kind::kFalse && seen.insert(key_of(rule.effective)).second) {
        impl->checks.push_back(rule.effective);
      }
    }
    RuleGate gate;
    gate.impl_ = std::move(impl);
    return gate;
  };
  out.gate = gate_of({});
  if (!non_mz_min_left_out) return out;
  const std::vector<bool> left_out = left_out_for_non_mz(*parsed, c, *non_mz_min_left_out);
  if (left_out.empty()) return out;
  out.non_mz_sources = sources_without(sources, *parsed, left_out, true);
  out.non_mz_gate = gate_of(left_out);
  // The set for files beginning with "MZ", beside the non-MZ set: the
  // closures left out of that, and those whose pe terms it writes as
  // false (so it reports them wrongly for an MZ file), in their own text.
  std::vector<bool> has_pe(c.rules.size(), false);
  for (std::size_t i = 0; i < c.rules.size(); ++i) {
    if (!(*parsed)[c.rules[i].source].rules[c.rules[i].rule].pe_terms.empty()) has_pe[c.unit[i]] = true;
  }
  std::vector<bool> not_for_mz(c.rules.size(), false);
  for (std::size_t i = 0; i < c.rules.size(); ++i) not_for_mz[i] = !left_out[i] && !has_pe[c.unit[i]];
  out.mz_sources = sources_without(sources, *parsed, not_for_mz, false);
  out.mz_gate = gate_of(not_for_mz);
  return out;
}

RuleGate RuleGate::analyse(const std::vector<RuleSource>& sources) {
  return read_prefilter(sources, std::nullopt).gate;
}

std::optional<std::vector<RuleSource>> sources_for_non_mz_files(const std::vector<RuleSource>& sources,
                                                                std::size_t min_left_out) {
  return read_prefilter(sources, min_left_out).non_mz_sources;
}

bool RuleGate::admits_all() const { return impl_->admits_all; }
const std::string& RuleGate::reason() const { return impl_->reason; }
std::size_t RuleGate::checks() const { return impl_->checks.size(); }

bool RuleGate::admits(std::uint64_t size, ByteView head, const ScanExternals& externals) const {
  if (impl_->admits_all) return true;
  // As libyara sees them: C strings, cut at the first NUL.
  std::array<std::string_view, std::size(kExternalNames)> values;
  const auto strings = externals.values();
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = strings[i]->c_str();
  return std::any_of(impl_->checks.begin(), impl_->checks.end(),
                     [&](const Node& n) { return eval(n, size, head, values.data()); });
}

}  // namespace iocsweep
