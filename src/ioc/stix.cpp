// STIX 2.x bundles: indicators whose patterns compare file hashes or file
// names are imported; see ioc_formats.hpp for what is and is not.

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "ioc/import_common.hpp"
#include "iocsweep/ioc_formats.hpp"

namespace iocsweep {
namespace {

using ioc_import::Json;

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

// One-line, clipped rendering of pattern text or descriptions for messages.
std::string one_line(std::string_view s, std::size_t max = 200) {
  std::string out = to_valid_utf8(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  }
  if (out.size() > max) {
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "...";
  }
  return out;
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

// One comparison of an OR pattern.
struct Comparison {
  bool supported = false;
  bool is_name = false;  // else a hash of kind `digest`
  DigestKind digest = DigestKind::kSha256;
  std::string value;
  std::string text;  // as written in the pattern
  std::string why;   // when not supported
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
// become indicators here: observations and comparisons joined by OR.
// Anything that would need two facts about one file at once (AND,
// FOLLOWEDBY, qualifiers) fails the whole pattern; a comparison we cannot
// sweep for is kept as an unsupported alternative.
class PatternParser {
 public:
  PatternParser(std::string_view pattern, std::vector<Token> tokens) : pattern_(pattern), tokens_(std::move(tokens)) {}

  bool parse(std::vector<Comparison>& out) {
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

  bool observation_expression(std::vector<Comparison>& out, int depth) {
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

  bool observation(std::vector<Comparison>& out, int depth) {
    if (peek().kind == TokenKind::kLBracket) {
      ++pos_;
      if (!comparison_expression(out, depth) || !expect(TokenKind::kRBracket)) return false;
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

  bool comparison_expression(std::vector<Comparison>& out, int depth) {
    if (!comparison_term(out, depth)) return false;
    while (true) {
      const Token& t = peek();
      if (is_keyword(t, "OR")) {
        ++pos_;
        if (!comparison_term(out, depth)) return false;
      } else if (is_keyword(t, "AND")) {
        return fail("AND");
      } else {
        return true;
      }
    }
  }

  bool comparison_term(std::vector<Comparison>& out, int depth) {
    if (depth > kMaxPatternDepth) return fail("parentheses nested too deep");
    if (peek().kind == TokenKind::kLParen) {
      ++pos_;
      return comparison_expression(out, depth + 1) && expect(TokenKind::kRParen);
    }
    return comparison(out);
  }

  // A literal: string, number / boolean, t'...' / h'...' / b'...', or a
  // parenthesised list (for IN). `string_value` is set for a plain string.
  bool value(std::optional<std::string>& string_value, int depth) {
    const Token& t = peek();
    if (t.kind == TokenKind::kString) {
      string_value = t.text;
      ++pos_;
      return true;
    }
    if (t.kind == TokenKind::kWord) {
      ++pos_;
      if (peek().kind == TokenKind::kString && peek().begin == t.end) ++pos_;
      return true;
    }
    if (t.kind == TokenKind::kLParen && depth < kMaxPatternDepth) {
      ++pos_;
      std::optional<std::string> ignored;
      while (true) {
        if (!value(ignored, depth + 1)) return false;
        if (peek().kind != TokenKind::kComma) break;
        ++pos_;
      }
      return expect(TokenKind::kRParen);
    }
    return syntax_error();
  }

  bool comparison(std::vector<Comparison>& out) {
    const Token& path = peek();
    if (path.kind != TokenKind::kWord || path.text.find(':') == std::string::npos) return syntax_error();
    ++pos_;
    bool negated = false;
    if (is_keyword(peek(), "NOT")) {
      negated = true;
      ++pos_;
    }
    const Token& op = peek();
    std::string op_text;
    if (op.kind == TokenKind::kOperator) {
      op_text = op.text;
    } else if (is_keyword(op, "LIKE") || is_keyword(op, "MATCHES") || is_keyword(op, "IN") ||
               is_keyword(op, "ISSUBSET") || is_keyword(op, "ISSUPERSET")) {
      op_text = upper(op.text);
    } else {
      return syntax_error();
    }
    ++pos_;
    std::optional<std::string> string_value;
    if (!value(string_value, 0)) return false;

    Comparison c;
    c.text = std::string(pattern_.substr(path.begin, tokens_[pos_ - 1].end - path.begin));
    const std::string_view object_path = path.text;
    const std::size_t colon = object_path.find(':');
    const std::string_view object_type = object_path.substr(0, colon);
    const std::string_view property = object_path.substr(colon + 1);
    std::optional<DigestKind> digest;
    const bool is_name = object_type == "file" && property == "name";
    if (object_type == "file" && property.starts_with("hashes.")) digest = hash_algorithm(property.substr(7));
    if (!is_name && !digest) {
      c.why = object_type == "file" && property.starts_with("hashes.")
                  ? "hash algorithm " + std::string(property.substr(7)) + " is not MD5, SHA-1 or SHA-256"
                  : "not a file hash or file:name";
    } else if (negated) {
      c.why = "NOT";
    } else if (op_text != "=") {
      c.why = "operator " + op_text;
    } else if (!string_value) {
      c.why = "value is not a string";
    } else {
      c.supported = true;
      c.is_name = is_name;
      if (digest) c.digest = *digest;
      c.value = std::move(*string_value);
    }
    out.push_back(std::move(c));
    return true;
  }

  std::string_view pattern_;
  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  std::string why_;
};

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

  // valid_until is compared as text: both sides are UTC, in the same layout.
  const std::string now = now_rfc3339().substr(0, 19);
  for (std::size_t i = 0; i < objects->size(); ++i) {
    const Json& object = (*objects)[i];
    const std::string position = "objects[" + std::to_string(i) + "]";
    if (!object.is_object()) return Error{name + ": " + position + " is not a JSON object"};
    const std::string* type = string_member(object, "type");
    if (type == nullptr) return Error{name + ": " + position + " has no \"type\" string"};
    if (*type != "indicator") {
      ++out.ignored_objects;
      continue;
    }
    const std::string* id = string_member(object, "id");
    const std::string label = id != nullptr ? one_line(*id, 100) : position;
    const auto fail = [&](const std::string& why) { return Error{name + ": " + label + ": " + why}; };

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
    std::vector<Comparison> comparisons;
    std::string why;
    if (auto problem = tokenize(*pattern, tokens)) {
      why = *problem;
    } else {
      PatternParser parser(*pattern, std::move(tokens));
      if (!parser.parse(comparisons)) why = parser.why();
    }
    const bool any_supported =
        std::any_of(comparisons.begin(), comparisons.end(), [](const Comparison& c) { return c.supported; });
    if (!why.empty() || !any_supported) {
      if (why.empty() && comparisons.size() == 1) why = comparisons.front().why;
      add_unsupported(out, label + ": pattern " + one_line(*pattern) + " not supported" +
                               (why.empty() ? std::string() : " (" + why + ")"));
      continue;
    }
    for (const Comparison& c : comparisons) {
      if (!c.supported) {
        add_unsupported(out, label + ": " + one_line(c.text) + " in an OR pattern not supported (" + c.why + ")");
        continue;
      }
      if (c.is_name) {
        if (auto problem = file_name_problem(c.value)) return fail(*problem);
        out.filenames.push_back(
            make_filename_ioc(c.value, confidence.value_or(kDefaultFilenameScore), description, name));
      } else {
        if (auto problem = hash_value_problem(c.value, c.digest)) return fail(*problem);
        out.hashes.push_back(
            make_hash_ioc(c.digest, c.value, confidence.value_or(kDefaultHashScore), description, name));
      }
    }
  }
  return out;
}

}  // namespace iocsweep
