// STIX 2.x bundles: indicators whose patterns compare file hashes or file
// names are imported; see ioc_formats.hpp for what is and is not.

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ioc/import_common.hpp"
#include "iocsweep/ioc_formats.hpp"

namespace iocsweep {
namespace {

using ioc_import::Json;
using ioc_import::one_line;

// Parentheses nest at most this deep in a pattern we try to understand;
// the parser below is recursive.
constexpr int kMaxPatternDepth = 32;

char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_upper);
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == ':' || c == '.' || c == '+';
}

enum class TokenKind { kLBracket, kRBracket, kLParen, kRParen, kComma, kOperator, kWord, kString, kEnd };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;  // strings unescaped; quoted path components unquoted
  std::size_t begin = 0, end = 0;
};

// A single-quoted STIX string starting at p[i] == '\''; only \' and \\ are
// escapes. Advances `i` past it.
std::optional<std::string> read_string(std::string_view p, std::size_t& i) {
  std::string out;
  for (std::size_t j = i + 1; j < p.size(); ++j) {
    if (p[j] == '\\') {
      if (j + 1 >= p.size() || (p[j + 1] != '\'' && p[j + 1] != '\\')) return std::nullopt;
      out += p[++j];
    } else if (p[j] == '\'') {
      i = j + 1;
      return out;
    } else {
      out += p[j];
    }
  }
  return std::nullopt;
}

// Splits a pattern into tokens, or says why it cannot.
std::optional<std::string> tokenize(std::string_view p, std::vector<Token>& out) {
  std::size_t i = 0;
  while (true) {
    while (i < p.size() && is_space(p[i])) ++i;
    if (i >= p.size()) break;
    Token t;
    t.begin = i;
    const char c = p[i];
    if (c == '[' || c == ']' || c == '(' || c == ')' || c == ',') {
      t.kind = c == '['   ? TokenKind::kLBracket
               : c == ']' ? TokenKind::kRBracket
               : c == '(' ? TokenKind::kLParen
               : c == ')' ? TokenKind::kRParen
                          : TokenKind::kComma;
      ++i;
    } else if (c == '\'') {
      auto s = read_string(p, i);
      if (!s) return "unterminated string or bad escape at column " + std::to_string(t.begin + 1);
      t.kind = TokenKind::kString;
      t.text = std::move(*s);
    } else if (c == '=' || c == '<' || c == '>' || c == '!') {
      t.kind = TokenKind::kOperator;
      t.text = c;
      ++i;
      if (i < p.size() && p[i] == '=') {
        t.text += '=';
        ++i;
      } else if (c == '!') {
        return "unexpected '!' at column " + std::to_string(t.begin + 1);
      }
    } else if (is_word_char(c)) {
      // Object paths may quote a component (file:hashes.'SHA-256') and
      // index a list (sections[*]); both stay part of the one word.
      t.kind = TokenKind::kWord;
      while (i < p.size()) {
        if (is_word_char(p[i])) {
          t.text += p[i++];
        } else if (p[i] == '\'' && !t.text.empty() && t.text.back() == '.') {
          auto s = read_string(p, i);
          if (!s) return "unterminated string or bad escape at column " + std::to_string(i + 1);
          t.text += *s;
        } else if (p[i] == '[' && !t.text.empty() && t.text.find(':') != std::string::npos) {
          const std::size_t close = p.find(']', i);
          if (close == std::string_view::npos) break;
          const std::string_view index = p.substr(i + 1, close - i - 1);
          if (index != "*" && (index.empty() ||
                               !std::all_of(index.begin(), index.end(), [](char d) { return d >= '0' && d <= '9'; }))) {
            break;
          }
          t.text.append(p.substr(i, close + 1 - i));
          i = close + 1;
        } else {
          break;
        }
      }
    } else {
      return "unexpected character at column " + std::to_string(t.begin + 1);
    }
    t.end = i;
    out.push_back(std::move(t));
  }
  Token end;
  end.begin = end.end = p.size();
  out.push_back(std::move(end));
  return std::nullopt;
}

// One comparison, as written.
struct Comparison {
  std::string object_type;  // "file"
  std::string property;     // "hashes.MD5", "name", "size", ...
  bool negated = false;
  std::string op;                           // "=", "LIKE", "IN", ...
  std::optional<std::string> string_value;  // a plain string literal
  std::optional<std::string> word_value;    // a number or boolean literal
  std::string text;                         // as written in the pattern
};

// Comparisons ANDed inside one observation: one alternative of the
// pattern's OR (a lone comparison is an AND of one).
struct Conjunction {
  std::vector<Comparison> facts;
  std::size_t begin = 0, end = 0;  // where it is written in the pattern
};

std::optional<DigestKind> hash_algorithm(std::string_view name) {
  std::string key;
  for (const char c : name) {
    if (c != '-' && c != '_') key += ascii_upper(c);
  }
  if (key == "MD5") return DigestKind::kMd5;
  if (key == "SHA1") return DigestKind::kSha1;
  if (key == "SHA256") return DigestKind::kSha256;
  return std::nullopt;
}

// Recursive descent over the part of the STIX patterning grammar that can
// become indicators here: observations joined by OR, each holding
// comparisons joined by OR and AND (AND binding tighter). An AND operand
// that is itself an OR (`(A OR B) AND C`) would need the alternatives
// multiplied out and fails the whole pattern, as do AND and FOLLOWEDBY
// between observations and qualifiers. Which alternatives can be swept for
// is decided afterwards (sweep_for_all).
class PatternParser {
 public:
  PatternParser(std::string_view pattern, std::vector<Token> tokens) : pattern_(pattern), tokens_(std::move(tokens)) {}

  bool parse(std::vector<Conjunction>& out) {
    if (!observation_expression(out, 0)) return false;
    if (peek().kind != TokenKind::kEnd) return syntax_error();
    return true;
  }
  const std::string& why() const { return why_; }

 private:
  const Token& peek() const { return tokens_[pos_]; }
  static bool is_keyword(const Token& t, std::string_view keyword) {
    return t.kind == TokenKind::kWord && upper(t.text) == keyword;
  }
  bool fail(std::string why) {
    if (why_.empty()) why_ = std::move(why);
    return false;
  }
  bool syntax_error() {
    const Token& t = peek();
    return fail(t.kind == TokenKind::kEnd ? std::string("unexpected end of pattern")
                                          : "unexpected " + one_line(pattern_.substr(t.begin, t.end - t.begin), 40) +
                                                " at column " + std::to_string(t.begin + 1));
  }
  bool expect(TokenKind kind) {
    if (peek().kind != kind) return syntax_error();
    ++pos_;
    return true;
  }

  bool observation_expression(std::vector<Conjunction>& out, int depth) {
    if (depth > kMaxPatternDepth) return fail("parentheses nested too deep");
    if (!observation(out, depth)) return false;
    while (true) {
      const Token& t = peek();
      if (is_keyword(t, "OR")) {
        ++pos_;
        if (!observation(out, depth)) return false;
      } else if (is_keyword(t, "AND") || is_keyword(t, "FOLLOWEDBY")) {
        return fail(upper(t.text) + " between observations");
      } else {
        return true;
      }
    }
  }

  bool observation(std::vector<Conjunction>& out, int depth) {
    if (peek().kind == TokenKind::kLBracket) {
      ++pos_;
      if (!comparison_or(out, depth) || !expect(TokenKind::kRBracket)) return false;
    } else if (peek().kind == TokenKind::kLParen) {
      ++pos_;
      if (!observation_expression(out, depth + 1) || !expect(TokenKind::kRParen)) return false;
    } else {
      return syntax_error();
    }
    const Token& t = peek();
    if (is_keyword(t, "WITHIN") || is_keyword(t, "REPEATS") || is_keyword(t, "START")) {
      return fail("qualifier " + upper(t.text));
    }
    return true;
  }

  bool comparison_or(std::vector<Conjunction>& out, int depth) {
    if (!comparison_and(out, depth)) return false;
    while (is_keyword(peek(), "OR")) {
      ++pos_;
      if (!comparison_and(out, depth)) return false;
    }
    return true;
  }

  bool comparison_and(std::vector<Conjunction>& out, int depth) {
    std::vector<Conjunction> first;
    if (!comparison_term(first, depth)) return false;
    if (!is_keyword(peek(), "AND")) {
      std::move(first.begin(), first.end(), std::back_inserter(out));
      return true;
    }
    if (first.size() != 1) return fail("OR inside AND");
    Conjunction all = std::move(first.front());
    while (is_keyword(peek(), "AND")) {
      ++pos_;
      std::vector<Conjunction> next;
      if (!comparison_term(next, depth)) return false;
      if (next.size() != 1) return fail("OR inside AND");
      std::move(next.front().facts.begin(), next.front().facts.end(), std::back_inserter(all.facts));
      all.end = next.front().end;
    }
    out.push_back(std::move(all));
    return true;
  }

  bool comparison_term(std::vector<Conjunction>& out, int depth) {
    if (depth > kMaxPatternDepth) return fail("parentheses nested too deep");
    if (peek().kind == TokenKind::kLParen) {
      ++pos_;
      return comparison_or(out, depth + 1) && expect(TokenKind::kRParen);
    }
    return comparison(out);
  }

  // A literal: string, number / boolean, t'...' / h'...' / b'...', or a
  // parenthesised list (for IN). `string_value` is set for a plain string,
  // `word_value` for a number or boolean.
  bool value(std::optional<std::string>& string_value, std::optional<std::string>& word_value, int depth) {
    const Token& t = peek();
    if (t.kind == TokenKind::kString) {
      string_value = t.text;
      ++pos_;
      return true;
    }
    if (t.kind == TokenKind::kWord) {
      ++pos_;
      if (peek().kind == TokenKind::kString && peek().begin == t.end) {
        ++pos_;
      } else {
        word_value = t.text;
      }
      return true;
    }
    if (t.kind == TokenKind::kLParen && depth < kMaxPatternDepth) {
      ++pos_;
      std::optional<std::string> ignored_string, ignored_word;
      while (true) {
        if (!value(ignored_string, ignored_word, depth + 1)) return false;
        if (peek().kind != TokenKind::kComma) break;
        ++pos_;
      }
      return expect(TokenKind::kRParen);
    }
    return syntax_error();
  }

  bool comparison(std::vector<Conjunction>& out) {
    const Token& path = peek();
    if (path.kind != TokenKind::kWord || path.text.find(':') == std::string::npos) return syntax_error();
    ++pos_;
    Comparison c;
    if (is_keyword(peek(), "NOT")) {
      c.negated = true;
      ++pos_;
    }
    const Token& op = peek();
    if (op.kind == TokenKind::kOperator) {
      c.op = op.text;
    } else if (is_keyword(op, "LIKE") || is_keyword(op, "MATCHES") || is_keyword(op, "IN") ||
               is_keyword(op, "ISSUBSET") || is_keyword(op, "ISSUPERSET")) {
      c.op = upper(op.text);
    } else {
      return syntax_error();
    }
    ++pos_;
    if (!value(c.string_value, c.word_value, 0)) return false;

    Conjunction one;
    one.begin = path.begin;
    one.end = tokens_[pos_ - 1].end;
    c.text = std::string(pattern_.substr(one.begin, one.end - one.begin));
    const std::size_t colon = path.text.find(':');
    c.object_type = path.text.substr(0, colon);
    c.property = path.text.substr(colon + 1);
    one.facts.push_back(std::move(c));
    out.push_back(std::move(one));
    return true;
  }

  std::string_view pattern_;
  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  std::string why_;
};

// What one alternative of a pattern is swept for.
struct Sweep {
  std::string why;  // not empty: it cannot be swept for, and why
  std::vector<std::pair<DigestKind, std::string>> hashes;
  std::optional<std::string> name;
  std::optional<std::uint64_t> size;
  std::vector<std::string> names_not_required;  // file:name comparisons ANDed with a hash
};

// Properties of a file that its content fixes: ANDed with a hash they add
// nothing the hash does not already say, so they are not checked.
bool implied_by_content(std::string_view property) {
  return property.starts_with("hashes.") || property == "mime_type" || property == "magic_number_hex" ||
         property == "x_misp_entropy" || property.starts_with("extensions.windows-pebinary-ext.");
}

// A lone comparison: a file hash or a file name.
Sweep sweep_for_one(const Comparison& c) {
  Sweep s;
  const bool is_name = c.object_type == "file" && c.property == "name";
  const bool is_hash = c.object_type == "file" && c.property.starts_with("hashes.");
  const std::optional<DigestKind> digest = is_hash ? hash_algorithm(c.property.substr(7)) : std::nullopt;
  if (!is_name && !digest) {
    s.why = is_hash ? "hash algorithm " + c.property.substr(7) + " is not MD5, SHA-1 or SHA-256"
                    : "not a file hash or file:name";
  } else if (c.negated) {
    s.why = "NOT";
  } else if (c.op != "=") {
    s.why = "operator " + c.op;
  } else if (!c.string_value) {
    s.why = "value is not a string";
  } else if (is_name) {
    s.name = *c.string_value;
  } else {
    s.hashes.emplace_back(*digest, *c.string_value);
  }
  return s;
}

// An AND of comparisons about one file. It needs a file hash of a kind
// swept for; each such hash is imported, with the size when a file:size is
// ANDed too. A file:name is not required (the hash identifies the file),
// nor are facts the content fixes; anything else, or two different values
// of one hash kind or size, and the alternative is not swept for.
Sweep sweep_for_all(const Conjunction& all) {
  if (all.facts.size() == 1) return sweep_for_one(all.facts.front());
  Sweep s;
  for (const Comparison& c : all.facts) {
    const auto problem = [&](const std::string& why) { s.why = "AND with " + one_line(c.text, 80) + " (" + why + ")"; };
    if (c.object_type != "file") {
      problem("not a file property");
    } else if (c.negated) {
      problem("NOT");
    } else if (c.op != "=") {
      problem("operator " + c.op);
    } else if (c.property == "name") {
      if (!c.string_value) {
        problem("value is not a string");
      } else {
        s.names_not_required.push_back(c.text);
        continue;
      }
    } else if (c.property == "size") {
      // STIX writes an integer; MISP's export quotes it.
      const std::optional<std::uint64_t> size =
          ioc_import::parse_byte_count(c.word_value ? *c.word_value : c.string_value.value_or(std::string()));
      if (!size) {
        problem("not a whole number of bytes");
      } else if (s.size && *s.size != *size) {
        s.why = "AND of two different file:size values";
      } else {
        s.size = size;
        continue;
      }
    } else if (const auto digest =
                   c.property.starts_with("hashes.") ? hash_algorithm(c.property.substr(7)) : std::nullopt) {
      if (!c.string_value) {
        problem("value is not a string");
      } else {
        const std::string value = ascii_lower(*c.string_value);
        const auto same_kind =
            std::find_if(s.hashes.begin(), s.hashes.end(), [&](const auto& h) { return h.first == *digest; });
        if (same_kind == s.hashes.end()) {
          s.hashes.emplace_back(*digest, value);
          continue;
        }
        if (same_kind->second == value) continue;
        s.why = "AND of two different " + std::string(digest_name(*digest)) + " values";
      }
    } else if (implied_by_content(c.property)) {
      continue;
    } else {
      problem("not a file hash, size, name or property the content fixes");
    }
    return s;
  }
  if (s.hashes.empty()) s.why = "AND without a file hash of MD5, SHA-1 or SHA-256";
  return s;
}

// `modified` / `created` as a key that sorts in time order: the seconds,
// then the fraction padded to nanoseconds (text order of the raw values
// would put "...:00Z" after "...:00.5Z"). Empty sorts first.
std::string timestamp_key(std::string_view s) {
  if (s.size() < 19) return {};
  std::string key(s.substr(0, 19));
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') ++i;
  std::string fraction;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && fraction.size() < 9) fraction += s[i++];
  fraction.resize(9, '0');
  return key + fraction;
}

// RFC 3339 as STIX writes it: YYYY-MM-DDTHH:MM:SS[.fraction]Z.
bool looks_like_timestamp(std::string_view s) {
  if (s.size() < 20) return false;
  for (std::size_t i = 0; i < 19; ++i) {
    const char c = s[i];
    const bool ok = (i == 4 || i == 7)     ? c == '-'
                    : i == 10              ? (c == 'T' || c == 't')
                    : (i == 13 || i == 16) ? c == ':'
                                           : (c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<ImportedIocs> parse_stix_bundle(std::string_view json_text, const std::string& name) {
  using namespace ioc_import;
  auto document = parse_json_document(json_text, name);
  if (!document) return document.error();
  const Json& root = *document;
  const std::string* root_type = string_member(root, "type");
  if (root_type == nullptr || *root_type != "bundle") {
    return Error{name + ": not a STIX bundle (expected a JSON object with \"type\": \"bundle\")"};
  }
  ImportedIocs out;
  const Json* objects = member(root, "objects");
  if (objects == nullptr) return out;  // a bundle may be empty
  if (!objects->is_array()) return Error{name + ": the bundle's \"objects\" is not an array"};

  // Versions of one indicator share its id and differ in `modified`; only
  // the latest counts (ties: the later in the bundle), so a newer version
  // that revokes or changes the indicator wins over the older ones.
  struct Latest {
    std::size_t index = 0;
    std::string key;  // timestamp_key of its modified
  };
  std::unordered_map<std::string, Latest> latest;
  for (std::size_t i = 0; i < objects->size(); ++i) {
    const Json& object = (*objects)[i];
    const std::string position = "objects[" + std::to_string(i) + "]";
    if (!object.is_object()) return Error{name + ": " + position + " is not a JSON object"};
    const std::string* type = string_member(object, "type");
    if (type == nullptr) return Error{name + ": " + position + " has no \"type\" string"};
    const std::string* id = string_member(object, "id");
    if (*type != "indicator" || id == nullptr) continue;
    std::string key;
    if (const Json* modified = member(object, "modified")) {
      if (!modified->is_string() || !looks_like_timestamp(modified->get_ref<const std::string&>())) {
        return Error{name + ": " + one_line(*id, 100) + ": \"modified\" is not an RFC 3339 timestamp"};
      }
      key = timestamp_key(modified->get_ref<const std::string&>());
    }
    const auto [it, first] = latest.try_emplace(*id, Latest{i, key});
    if (!first && key >= it->second.key) it->second = Latest{i, std::move(key)};
  }

  std::size_t superseded = 0;
  std::string superseded_example;
  std::size_t names_not_required = 0;
  std::string name_example;
  // valid_until is compared as text: both sides are UTC, in the same layout.
  const std::string now = now_rfc3339().substr(0, 19);
  for (std::size_t i = 0; i < objects->size(); ++i) {
    const Json& object = (*objects)[i];
    const std::string position = "objects[" + std::to_string(i) + "]";
    if (*string_member(object, "type") != "indicator") {
      ++out.ignored_objects;
      continue;
    }
    const std::string* id = string_member(object, "id");
    const std::string label = id != nullptr ? one_line(*id, 100) : position;
    const auto fail = [&](const std::string& why) { return Error{name + ": " + label + ": " + why}; };
    if (id != nullptr) {
      const std::size_t newest = latest.at(*id).index;
      if (newest != i) {
        if (superseded++ == 0) {
          const auto version = [&](std::size_t at) {
            const std::string* modified = string_member((*objects)[at], "modified");
            return modified != nullptr ? "modified " + one_line(*modified, 40) : std::string("without modified");
          };
          superseded_example = label + " " + version(i) + ", replaced by " + version(newest);
        }
        continue;
      }
    }

    if (const Json* revoked = member(object, "revoked")) {
      if (!revoked->is_boolean()) return fail("\"revoked\" is not a boolean");
      if (revoked->get<bool>()) {
        add_unsupported(out, label + ": revoked, not imported");
        continue;
      }
    }
    if (const Json* valid_until = member(object, "valid_until")) {
      if (!valid_until->is_string() || !looks_like_timestamp(valid_until->get_ref<const std::string&>())) {
        return fail("\"valid_until\" is not an RFC 3339 timestamp");
      }
      const std::string& until = valid_until->get_ref<const std::string&>();
      if (until.substr(0, 19) <= now) {
        add_unsupported(out, label + ": expired (valid_until " + one_line(until, 40) + "), not imported");
        continue;
      }
    }
    if (const Json* pattern_type = member(object, "pattern_type")) {
      if (!pattern_type->is_string()) return fail("\"pattern_type\" is not a string");
      if (pattern_type->get_ref<const std::string&>() != "stix") {
        add_unsupported(out, label + ": pattern_type " + quoted(pattern_type->get_ref<const std::string&>(), 40) +
                                 " not supported");
        continue;
      }
    }
    const std::string* pattern = string_member(object, "pattern");
    if (pattern == nullptr) return fail("indicator has no \"pattern\" string");
    if (pattern->size() > kMaxStixPatternBytes) {
      add_unsupported(out, label + ": pattern of " + std::to_string(pattern->size()) +
                               " bytes not parsed (longer than " + std::to_string(kMaxStixPatternBytes >> 20) +
                               " MiB)");
      continue;
    }

    std::optional<int> confidence;
    if (const Json* value = member(object, "confidence")) {
      if (!value->is_number_integer() || value->get<std::int64_t>() < 0 || value->get<std::int64_t>() > 100) {
        return fail("\"confidence\" is not an integer from 0 to 100");
      }
      confidence = static_cast<int>(value->get<std::int64_t>());
    }
    std::string description = label;
    if (const std::string* title = string_member(object, "name"); title != nullptr && !title->empty()) {
      description = one_line(*title) + " (" + label + ")";
    } else if (const std::string* text = string_member(object, "description"); text != nullptr && !text->empty()) {
      description = one_line(*text) + " (" + label + ")";
    }

    std::vector<Token> tokens;
    std::vector<Conjunction> alternatives;
    std::string why;
    if (auto problem = tokenize(*pattern, tokens)) {
      why = *problem;
    } else {
      PatternParser parser(*pattern, std::move(tokens));
      if (!parser.parse(alternatives)) why = parser.why();
    }
    std::vector<Sweep> sweeps;
    if (why.empty()) {
      for (const Conjunction& alternative : alternatives) sweeps.push_back(sweep_for_all(alternative));
    }
    const bool any_supported = std::any_of(sweeps.begin(), sweeps.end(), [](const Sweep& s) { return s.why.empty(); });
    if (!why.empty() || !any_supported) {
      if (why.empty() && sweeps.size() == 1) why = sweeps.front().why;
      add_unsupported(out, label + ": pattern " + one_line(*pattern) + " not supported" +
                               (why.empty() ? std::string() : " (" + why + ")"));
      continue;
    }
    for (std::size_t a = 0; a < alternatives.size(); ++a) {
      const Sweep& sweep = sweeps[a];
      if (!sweep.why.empty()) {
        const Conjunction& alternative = alternatives[a];
        const std::string_view text =
            std::string_view(*pattern).substr(alternative.begin, alternative.end - alternative.begin);
        add_unsupported(out, label + ": " + one_line(text) + " in an OR pattern not supported (" + sweep.why + ")");
        continue;
      }
      if (sweep.name) {
        if (auto problem = file_name_problem(*sweep.name)) return fail(*problem);
        out.filenames.push_back(
            make_filename_ioc(*sweep.name, confidence.value_or(kDefaultFilenameScore), description, name));
      }
      for (const auto& [digest, value] : sweep.hashes) {
        if (auto problem = hash_value_problem(value, digest)) return fail(*problem);
        out.hashes.push_back(make_hash_ioc(digest, value, confidence.value_or(kDefaultHashScore), description, name));
        out.hashes.back().size = sweep.size;
      }
      for (const std::string& text : sweep.names_not_required) {
        if (names_not_required++ == 0) name_example = label + ": " + one_line(text, 100);
      }
    }
  }
  if (superseded > 0) {
    out.notes.push_back(std::to_string(superseded) +
                        " older indicator version(s) superseded by a later version with the same id, not imported "
                        "(e.g. " +
                        superseded_example + ")");
  }
  if (names_not_required > 0) {
    out.notes.push_back(std::to_string(names_not_required) +
                        " file:name comparison(s) ANDed with a file hash not required: the hash is imported and "
                        "matches the file under any name (e.g. " +
                        name_example + ")");
  }
  return out;
}

}  // namespace iocsweep
