#include "iocsweep/filename_ioc.hpp"

#include <re2/filtered_re2.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include "ioc/filename_patterns.hpp"
#include "ioc/indicator_lines.hpp"
#include "iocsweep/common.hpp"
#include "iocsweep/hash.hpp"

namespace iocsweep {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

RE2::Options regex_options(std::int64_t max_mem) {
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingUTF8);
  options.set_case_sensitive(false);
  // Errors come back as values; RE2 must not also write them to stderr.
  options.set_log_errors(false);
  options.set_max_mem(max_mem);
  return options;
}

// Copies the character class that starts at p[i] == '['; returns the index
// after it. A class that contains '/' also gets '\', because the paths it
// will see have no '/' left.
std::size_t copy_class(std::string_view p, std::size_t i, std::string& out) {
  out += '[';
  ++i;
  if (i < p.size() && p[i] == '^') out += p[i++];
  if (i < p.size() && p[i] == ']') out += p[i++];  // a leading ']' is literal
  bool has_slash = false;
  while (i < p.size() && p[i] != ']') {
    if (p[i] == '\\' && i + 1 < p.size()) {
      has_slash = has_slash || p[i + 1] == '/';
      out.append(p.substr(i, 2));
      i += 2;
      continue;
    }
    if (p[i] == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // [:alpha:]
      const std::size_t end = p.find(":]", i + 2);
      if (end != std::string_view::npos) {
        out.append(p.substr(i, end + 2 - i));
        i = end + 2;
        continue;
      }
    }
    has_slash = has_slash || p[i] == '/';
    out += p[i++];
  }
  if (i < p.size()) {
    if (has_slash) out += "\\\\";
    out += ']';
    ++i;
  }
  return i;
}

// What a Windows environment variable in a pattern stands for on any
// machine (Loki expands it with the sweeping host's own values, which say
// nothing of a mounted image or another user): the usual locations, as RE2
// with `\\` separators. Names compare case-insensitively.
struct EnvVar {
  std::string_view name;
  std::string_view regex;
};
constexpr EnvVar kEnvVars[] = {
    {"SYSTEMROOT", R"(\\Windows)"},
    {"WINDIR", R"(\\Windows)"},
    {"SYSTEMDRIVE", ""},
    {"TEMP",
     R"((?:\\Users\\[^\\]+\\AppData\\Local\\Temp|\\Windows\\Temp|\\Documents and Settings\\[^\\]+\\Local Settings\\Temp))"},
    {"TMP",
     R"((?:\\Users\\[^\\]+\\AppData\\Local\\Temp|\\Windows\\Temp|\\Documents and Settings\\[^\\]+\\Local Settings\\Temp))"},
    {"APPDATA", R"((?:\\Users\\[^\\]+\\AppData\\Roaming|\\Documents and Settings\\[^\\]+\\Application Data))"},
    {"LOCALAPPDATA", R"((?:\\Users\\[^\\]+\\AppData\\Local|\\Documents and Settings\\[^\\]+\\Local Settings))"},
    {"USERPROFILE", R"((?:\\Users|\\Documents and Settings)\\[^\\]+)"},
    {"HOMEPATH", R"((?:\\Users|\\Documents and Settings)\\[^\\]+)"},
    {"PUBLIC", R"(\\Users\\Public)"},
    {"PROGRAMDATA", R"((?:\\ProgramData|\\Documents and Settings\\All Users))"},
    {"ALLUSERSPROFILE", R"((?:\\ProgramData|\\Documents and Settings\\All Users))"},
    {"PROGRAMFILES", R"(\\Program Files(?: \(x86\))?)"},
    {"PROGRAMFILES(X86)", R"(\\Program Files \(x86\))"},
    {"COMMONPROGRAMFILES", R"(\\Program Files(?: \(x86\))?\\Common Files)"},
};

// The expansion of the environment variable written `%NAME%` at `p[i]`,
// with the length written, or nothing for text that is not a known one.
std::optional<std::pair<std::string_view, std::size_t>> env_var_at(std::string_view p, std::size_t i) {
  const std::size_t end = p.find('%', i + 1);
  if (end == std::string_view::npos || end - i > 24) return std::nullopt;
  const std::string name = ascii_lower(p.substr(i + 1, end - i - 1));
  for (const EnvVar& v : kEnvVars) {
    if (ascii_lower(v.name) == name) return std::pair{v.regex, end - i + 1};
  }
  return std::nullopt;
}

// The separator rewrite described in filename_ioc.hpp, the environment
// variables above, and the two Python spellings ({,n} and \Z). Malformed
// input is copied as is, for RE2 to report.
std::string rewrite_pattern(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 8);
  std::size_t i = 0;
  while (i < p.size()) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char next = p[i + 1];
      if (next == '/') {
        out += "\\\\";
        i += 2;
      } else if (next == 'Z') {
        out += "\\z";
        i += 2;
      } else if (next == 'Q') {
        // \Q...\E quotes literally; requote it with '/' as a separator.
        const std::size_t end = p.find("\\E", i + 2);
        std::string literal(p.substr(i + 2, end == std::string_view::npos ? std::string_view::npos : end - (i + 2)));
        std::replace(literal.begin(), literal.end(), '/', '\\');
        out += RE2::QuoteMeta(literal);
        i = end == std::string_view::npos ? p.size() : end + 2;
      } else {
        out.append(p.substr(i, 2));
        i += 2;
      }
    } else if (c == '/') {
      out += "\\\\";
      ++i;
    } else if (const auto var = c == '%' ? env_var_at(p, i) : std::nullopt) {
      out += var->first;
      i += var->second;
    } else if (c == '[') {
      i = copy_class(p, i, out);
    } else if (c == '{' && i + 1 < p.size() && p[i + 1] == ',') {
      // Python reads {,n} as {0,n}; RE2 would read it as literal text.
      std::size_t j = i + 2;
      while (j < p.size() && is_digit(p[j])) ++j;
      if (j > i + 2 && j < p.size() && p[j] == '}') {
        out += "{0,";
        out.append(p.substr(i + 2, j - (i + 2)));
        out += '}';
        i = j + 1;
      } else {
        out += c;
        ++i;
      }
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

// "8 MiB", "64 KiB": a regex memory limit in messages.
std::string memory_text(std::int64_t bytes) {
  return bytes >= (std::int64_t{1} << 20) ? std::to_string(bytes >> 20) + " MiB" : std::to_string(bytes >> 10) + " KiB";
}

// Programs above this many instructions are also checked in a set of their
// own (see pattern_problem); below it they fit with a wide margin.
constexpr int kLargeProgram = 20000;

// Why `pattern` cannot be used, or nothing. What counts is the rewritten
// pattern; when that fails, RE2 is asked about the pattern as written too,
// so that its message quotes what the user wrote.
std::optional<std::string> pattern_problem(std::string_view pattern, const char* what) {
  const std::string kind(what);
  if (pattern.empty()) return kind + " is empty";
  if (!is_valid_utf8(pattern)) return kind + " is not valid UTF-8";
  const RE2::Options options = regex_options(kFilenamePatternMaxMem);
  const RE2 rewritten(rewrite_pattern(pattern), options);
  if (!rewritten.ok()) {
    const RE2 as_written(re2::StringPiece(pattern.data(), pattern.size()), options);
    if (!as_written.ok()) return kind + " rejected by RE2: " + as_written.error();
    return kind + " cannot be made separator-agnostic: " + rewritten.error();
  }
  if (RE2::PartialMatch("", rewritten)) return kind + " matches the empty string, so every path";
  // An indicator's pattern is matched in an RE2::Set, which needs room for
  // a DFA besides the program (a lone RE2 falls back to a slower engine
  // instead). Only a large program can miss it; checked here so that every
  // pattern that loads fits a group of the default budget on its own.
  if (kind == "pattern" && rewritten.ProgramSize() > kLargeProgram) {
    RE2::Set alone(regex_options(kFilenameGroupMaxMem), RE2::UNANCHORED);
    if (alone.Add(rewritten.pattern(), nullptr) < 0 || !alone.Compile()) {
      return kind + " is too large: it does not fit the regex memory limit of " + memory_text(kFilenameGroupMaxMem);
    }
  }
  return std::nullopt;
}

std::string location(const FilenameIoc& ioc, const std::string& set_name) {
  std::string where = ioc.source.empty() ? set_name : ioc.source;
  if (ioc.line > 0) where += ":" + std::to_string(ioc.line);
  return where;
}

std::string location(const FilenameIoc& ioc, const IocSetInfo& info) { return location(ioc, info.name); }

}  // namespace

std::string filename_pattern_as_compiled(std::string_view pattern) { return rewrite_pattern(pattern); }

std::optional<std::string> filename_pattern_problem(std::string_view pattern) {
  return pattern_problem(pattern, "pattern");
}

Status check_filename_iocs(const std::vector<FilenameIoc>& iocs, const std::string& set_name) {
  for (const FilenameIoc& ioc : iocs) {
    const std::string where = location(ioc, set_name);
    if (ioc.score < 0 || ioc.score > 100) return Error{where + ": score is not an integer from 0 to 100"};
    if (auto problem = pattern_problem(ioc.pattern, "pattern")) return Error{where + ": " + *problem};
    if (!ioc.false_positive.empty()) {
      if (auto problem = pattern_problem(ioc.false_positive, "false-positive pattern")) {
        return Error{where + ": " + *problem};
      }
    }
    if (!is_valid_utf8(ioc.description)) return Error{where + ": description is not valid UTF-8"};
  }
  return Ok{};
}

Result<std::vector<FilenameIoc>> parse_filename_iocs(std::string_view text, const std::string& name,
                                                     std::vector<std::string>* skipped_lines) {
  using Outcome = ioc_lines::LineOutcome<FilenameIoc>;
  std::string description;  // of the block the next indicator belongs to
  return ioc_lines::parse_lines<FilenameIoc>(
      text, name, skipped_lines, [&](std::string_view line, std::size_t line_no) -> Outcome {
        if (line.empty()) {
          description.clear();
          return std::monostate{};
        }
        if (line.front() == '#') {
          std::string_view comment = line;
          while (!comment.empty() && comment.front() == '#') comment.remove_prefix(1);
          // Stray bytes (Latin-1, say) cost their characters, not the block.
          description = to_valid_utf8(ioc_lines::trim(comment));
          return std::monostate{};
        }
        // REGEX;SCORE[;FALSE_POSITIVE_REGEX], or without a score (older
        // blocks of filename-iocs.txt, otx-filename-iocs.txt): REGEX alone
        // or REGEX;DESCRIPTION, scored kDefaultFilenameListScore.
        const std::size_t semi = line.find(';');
        const std::string_view pattern = ioc_lines::trim(line.substr(0, semi));
        if (pattern.empty()) return std::string("missing pattern before ';'");
        const std::string_view rest = semi == std::string_view::npos ? std::string_view{} : line.substr(semi + 1);
        const std::size_t semi2 = rest.find(';');
        const std::string_view score_text = ioc_lines::trim(rest.substr(0, semi2));
        std::string_view false_positive =
            semi2 == std::string_view::npos ? std::string_view{} : ioc_lines::trim(rest.substr(semi2 + 1));
        int score = kDefaultFilenameListScore;
        std::string line_description = description;
        // A number (all digits, perhaps signed) is a score and must be one;
        // any other text ("7ev3n Ransomware") is a description, and then
        // everything after the first ';' is.
        const std::string_view digits = !score_text.empty() && (score_text.front() == '-' || score_text.front() == '+')
                                            ? score_text.substr(1)
                                            : score_text;
        if (!digits.empty() && std::all_of(digits.begin(), digits.end(), is_digit)) {
          const auto [ptr, ec] = std::from_chars(score_text.data(), score_text.data() + score_text.size(), score);
          if (ec != std::errc() || ptr != score_text.data() + score_text.size() || score < 0 || score > 100 ||
              !is_digit(score_text.front())) {
            return "score '" + std::string(score_text) + "' is not an integer from 0 to 100";
          }
        } else if (!score_text.empty()) {
          line_description = to_valid_utf8(ioc_lines::trim(rest));
          false_positive = {};
        }
        if (auto problem = pattern_problem(pattern, "pattern")) return *problem;
        if (!false_positive.empty()) {
          if (auto problem = pattern_problem(false_positive, "false-positive pattern")) return *problem;
        }
        FilenameIoc ioc;
        ioc.pattern = std::string(pattern);
        ioc.score = score;
        ioc.false_positive = std::string(false_positive);
        ioc.description = std::move(line_description);
        ioc.source = name;
        ioc.line = line_no;
        return ioc;
      });
}

std::string filename_pattern_for_exact_name(std::string_view file_name) {
  std::string name(file_name);
  std::replace(name.begin(), name.end(), '/', '\\');
  // Written Windows-style like every other pattern: `\\` is the separator.
  return "(?:^|\\\\)" + RE2::QuoteMeta(name) + "$";
}

namespace {

// Shortest literal the prefilter looks for. A pattern whose required text
// has only shorter literals is run on every path (with the unfiltered ones).
constexpr int kMinAtomLength = 3;

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Which of the prefilter's literals (lowercased, distinct) occur in a
// lowercased text: an index by their first kMinAtomLength bytes, then a
// compare. Touches a few cache lines per path where a DFA over thousands
// of patterns walks states of thousands of instructions each.
class AtomFinder {
 public:
  explicit AtomFinder(std::vector<std::string> atoms) : atoms_(std::move(atoms)) {
    for (std::size_t i = 0; i < atoms_.size(); ++i) {
      if (atoms_[i].size() < kKey) {
        short_.push_back(static_cast<int>(i));
      } else {
        by_key_[key_at(atoms_[i], 0)].push_back(static_cast<int>(i));
      }
    }
  }

  // The indices of the atoms in `text`, sorted and distinct, into `out`.
  void find(std::string_view text, std::vector<int>& out) const {
    out.clear();
    for (const int i : short_) {
      if (text.find(atoms_[static_cast<std::size_t>(i)]) != std::string_view::npos) out.push_back(i);
    }
    if (!by_key_.empty()) {
      for (std::size_t pos = 0; pos + kKey <= text.size(); ++pos) {
        const auto it = by_key_.find(key_at(text, pos));
        if (it == by_key_.end()) continue;
        for (const int i : it->second) {
          const std::string& atom = atoms_[static_cast<std::size_t>(i)];
          if (text.compare(pos, atom.size(), atom) == 0) out.push_back(i);
        }
      }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }

 private:
  static constexpr std::size_t kKey = kMinAtomLength;
  static std::uint32_t key_at(std::string_view s, std::size_t pos) {
    std::uint32_t key = 0;
    std::memcpy(&key, s.data() + pos, kKey);
    return key;
  }
  std::vector<std::string> atoms_;
  std::unordered_map<std::uint32_t, std::vector<int>> by_key_;
  std::vector<int> short_;
};

// Patterns per compiled group: small enough that a path meets few patterns
// it cannot match, large enough that the groups' fixed costs stay small.
constexpr std::size_t kGroupSize = 64;

// A pattern whose prefilter needs more literals than this, or whose
// formula has more than kMaxLiteralSets minimal sets, is a candidate when
// any one of its literals is found (looser, never a miss) rather than
// having the 2^n combinations tried or its sets kept.
constexpr std::size_t kMaxEnumeratedAtoms = 10;
constexpr std::size_t kMaxLiteralSets = 32;

// A second pattern for each probe, with a literal of its own (three
// Unicode noncharacters, lowercased as they are). RE2 prunes the children
// of an AND that many nodes share, by an estimate that starts at the
// logarithm of the number of patterns: with one pattern that is 0, and an
// AND could lose every child and never let a path through. With two, each
// AND keeps at least one child, as in a FilteredRE2 of many patterns.
constexpr std::string_view kGuardPattern = "\\x{10FFFD}\\x{10FFFE}\\x{10FFFF}";
constexpr std::string_view kGuardAtom = "\xf4\x8f\xbf\xbd\xf4\x8f\xbf\xbe\xf4\x8f\xbf\xbf";

// What the prefilter needs of one pattern: its literals and the minimal
// sets of them that let it through (indices into `atoms`), or `always`
// when it has to run on every ASCII path.
struct PatternPrefilter {
  std::vector<std::string> atoms;
  std::vector<std::vector<int>> sets;
  bool always = false;
};

PatternPrefilter prefilter_of(const std::string& pattern) {
  PatternPrefilter p;
  const auto run_always = [&p] {
    p = PatternPrefilter{};
    p.always = true;
    return p;
  };
  re2::FilteredRE2 probe(kMinAtomLength);
  int id = -1;
  int guard = -1;
  const RE2::Options options = regex_options(kFilenamePatternMaxMem);
  if (probe.Add(pattern, options, &id) != RE2::NoError ||
      probe.Add(re2::StringPiece(kGuardPattern.data(), kGuardPattern.size()), options, &guard) != RE2::NoError) {
    return run_always();
  }
  std::vector<std::string> all_atoms;
  probe.Compile(&all_atoms);
  std::vector<int> passes;
  probe.AllPotentials({}, &passes);
  // Passes with no literal found, or the guard did not count.
  if (!passes.empty()) return run_always();
  // The pattern's literals: all but the guard's. A pattern that shares the
  // guard's literal cannot be told apart from it and runs on every path.
  std::vector<int> probe_index;  // per literal of the pattern: its index in the probe
  for (std::size_t i = 0; i < all_atoms.size(); ++i) {
    if (all_atoms[i] == kGuardAtom) continue;
    probe_index.push_back(static_cast<int>(i));
    p.atoms.push_back(all_atoms[i]);
  }
  if (p.atoms.empty() || p.atoms.size() + 1 != all_atoms.size()) return run_always();
  const std::size_t n = p.atoms.size();
  const auto any_one = [&p, n] {
    p.sets.clear();
    for (std::size_t i = 0; i < n; ++i) p.sets.push_back({static_cast<int>(i)});
    return p;
  };
  if (n > kMaxEnumeratedAtoms) return any_one();
  // The formula is monotone (ANDs and ORs of literals found), so it is
  // its minimal true sets. A subset's bits make a smaller number, so when
  // `m` comes up every proper subset of it has been tried: `m` is minimal
  // when it passes and contains no minimal set found before.
  const auto literals_of = [n](std::uint32_t m) {  // the pattern's literals in `m`
    std::vector<int> literals;
    for (std::size_t b = 0; b < n; ++b) {
      if (((m >> b) & 1U) != 0) literals.push_back(static_cast<int>(b));
    }
    return literals;
  };
  std::vector<std::uint32_t> minimal;
  std::vector<int> on;
  for (std::uint32_t m = 1; m < (std::uint32_t{1} << n); ++m) {
    if (std::any_of(minimal.begin(), minimal.end(), [m](std::uint32_t t) { return (m & t) == t; })) continue;
    on.clear();
    for (const int b : literals_of(m)) on.push_back(probe_index[static_cast<std::size_t>(b)]);
    passes.clear();
    probe.AllPotentials(on, &passes);
    if (std::find(passes.begin(), passes.end(), id) == passes.end()) continue;
    minimal.push_back(m);
    if (minimal.size() > kMaxLiteralSets) return any_one();
  }
  // Not even with every literal: leave nothing to chance.
  if (minimal.empty()) return run_always();
  for (const std::uint32_t m : minimal) p.sets.push_back(literals_of(m));
  return p;
}

}  // namespace

// Matching. The patterns are compiled in groups of up to kGroupSize, each
// group one RE2::Set, and a path meets only the groups that hold a pattern
// it could match. For an ASCII path (nearly every path) that is decided by
// a literal prefilter: RE2's FilteredRE2, asked about one pattern at a time
// while compiling, gives the lowercased literals (kMinAtomLength bytes or
// longer) the pattern needs and how they combine (AND / OR); that formula is
// kept as its minimal sets of literals, the pattern's RE2 objects are not.
// A path is lowercased, its literals looked up (AtomFinder), and a pattern
// is a candidate when every literal of one of its sets is there. RE2 turns
// a case-folded letter into the class of its whole fold orbit (`s` into
// [Ssſ]) and the prefilter keeps every member of a small class, so on an
// ASCII path, lowercased the same way, it misses nothing. The groups whose
// patterns have no such literal are run on every ASCII path. A path with
// other characters would need RE2's own Unicode lowercasing: it meets every
// group. Either way the groups' sets give the answer, so the prefilter only
// decides which sets run.
//
// The grouping keeps memory low where a FilteredRE2 kept for matching would
// hold every pattern compiled on its own (about 5 KB each, 20 MB for
// signature-base's 3,711) and a DFA for each that ever ran: the groups
// together are one program the size of a single set of every pattern, and
// each group's DFA is bounded by the memory limit.
struct FilenameIocDb::Regexes {
  struct Group {
    std::unique_ptr<RE2::Set> set;
    std::vector<std::size_t> entries;  // pattern j of `set` is entry entries[j]
  };
  std::vector<std::unique_ptr<RE2>> false_positive;  // per entry; null when it has none
  std::vector<Group> groups;
  std::vector<std::uint32_t> group_of;  // per entry: its group
  std::vector<std::uint32_t> always;    // groups run on every ASCII path
  std::unique_ptr<AtomFinder> atoms;    // null when no pattern has a literal
  // Per atom: the entries that have it in one of their sets of literals.
  std::vector<std::vector<std::uint32_t>> atom_entries;
  // Per entry: its sets of literals, each as its size and then its atoms.
  std::vector<std::vector<std::uint32_t>> formula;
  bool compiled = false;
};

FilenameIocDb::FilenameIocDb(std::int64_t max_mem) : max_mem_(max_mem), regexes_(std::make_unique<Regexes>()) {}
FilenameIocDb::~FilenameIocDb() = default;
FilenameIocDb::FilenameIocDb(FilenameIocDb&&) noexcept = default;
FilenameIocDb& FilenameIocDb::operator=(FilenameIocDb&&) noexcept = default;

Status FilenameIocDb::add_set(std::string_view text, const std::string& name, std::vector<std::string>* skipped_lines) {
  if (regexes_->compiled) return Error{name + ": file-name IOC sets must be added before they are compiled"};
  auto parsed = parse_filename_iocs(text, name, skipped_lines);
  if (!parsed) return parsed.error();
  IocSetInfo info;
  info.name = name;
  info.sha256 = sha256_hex(text);
  return add_entries(std::move(*parsed), std::move(info), /*checked=*/true);
}

Status FilenameIocDb::add_iocs(std::vector<FilenameIoc> iocs, IocSetInfo info) {
  return add_entries(std::move(iocs), std::move(info), /*checked=*/false);
}

Status FilenameIocDb::add_entries(std::vector<FilenameIoc> iocs, IocSetInfo info, bool checked) {
  if (regexes_->compiled) return Error{info.name + ": file-name IOC sets must be added before they are compiled"};
  // Check and prepare everything first so a bad indicator leaves the
  // database as it was.
  std::vector<std::string> rewritten;
  std::vector<std::unique_ptr<RE2>> false_positive;
  std::vector<FilenameIoc> kept;
  // (pattern, false-positive pattern) -> index in kept
  std::map<std::pair<std::string, std::string>, std::size_t> seen;
  const RE2::Options options = regex_options(kFilenamePatternMaxMem);
  if (!checked) {
    Status valid = check_filename_iocs(iocs, info.name);
    if (!valid) return valid;
  }
  for (FilenameIoc& ioc : iocs) {
    const auto [at, added] = seen.emplace(std::pair(ioc.pattern, ioc.false_positive), kept.size());
    if (!added) {
      // The highest score given wins, with its description and line: a
      // low-score duplicate must not hide a high-score one.
      FilenameIoc& first = kept[at->second];
      if (ioc.score > first.score) {
        first.score = ioc.score;
        first.description = std::move(ioc.description);
        first.line = ioc.line;
      }
      continue;
    }
    if (ioc.source.empty()) ioc.source = info.name;
    rewritten.push_back(rewrite_pattern(ioc.pattern));
    if (ioc.false_positive.empty()) {
      false_positive.push_back(nullptr);
    } else {
      auto re = std::make_unique<RE2>(rewrite_pattern(ioc.false_positive), options);
      // pattern_problem() compiled the same text with the same options.
      if (!re->ok()) return Error{location(ioc, info) + ": false-positive pattern rejected by RE2: " + re->error()};
      false_positive.push_back(std::move(re));
    }
    kept.push_back(std::move(ioc));
  }
  info.count = kept.size();
  info.filename = kept.size();
  for (std::size_t i = 0; i < kept.size(); ++i) {
    entries_.push_back(std::move(kept[i]));
    rewritten_.push_back(std::move(rewritten[i]));
    regexes_->false_positive.push_back(std::move(false_positive[i]));
  }
  sets_.push_back(std::move(info));
  return Ok{};
}

Status FilenameIocDb::compile() {
  Regexes& r = *regexes_;
  if (r.compiled) return Ok{};
  // The prefilter of each pattern, its literals numbered across all.
  std::vector<std::string> atoms;
  std::unordered_map<std::string, std::uint32_t> atom_id;
  std::vector<std::vector<std::uint32_t>> formula(entries_.size());
  std::vector<std::string> first_atom(entries_.size());  // its smallest literal, for grouping
  std::vector<std::size_t> filtered;
  std::vector<std::size_t> unfiltered;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const PatternPrefilter p = prefilter_of(rewritten_[i]);
    if (p.always) {
      unfiltered.push_back(i);
      continue;
    }
    std::vector<std::uint32_t> ids;
    for (const std::string& atom : p.atoms) {
      const auto [at, added] = atom_id.emplace(atom, static_cast<std::uint32_t>(atoms.size()));
      if (added) atoms.push_back(atom);
      ids.push_back(at->second);
    }
    for (const std::vector<int>& set : p.sets) {
      formula[i].push_back(static_cast<std::uint32_t>(set.size()));
      for (const int b : set) formula[i].push_back(ids[static_cast<std::size_t>(b)]);
    }
    first_atom[i] = *std::min_element(p.atoms.begin(), p.atoms.end());
    filtered.push_back(i);
  }
  // Patterns that share literals go together, so that a path that has
  // them meets one group rather than several.
  std::stable_sort(filtered.begin(), filtered.end(),
                   [&](std::size_t a, std::size_t b) { return first_atom[a] < first_atom[b]; });
  std::vector<Regexes::Group> groups;
  std::vector<std::uint32_t> always;
  std::vector<std::uint32_t> group_of(entries_.size(), 0);
  const auto build = [&](const std::vector<std::size_t>& members, bool run_always) -> Status {
    std::vector<std::vector<std::size_t>> pending;
    for (std::size_t at = 0; at < members.size(); at += kGroupSize) {
      pending.emplace_back(members.begin() + static_cast<std::ptrdiff_t>(at),
                           members.begin() + static_cast<std::ptrdiff_t>(std::min(members.size(), at + kGroupSize)));
    }
    while (!pending.empty()) {
      std::vector<std::size_t> chunk = std::move(pending.back());
      pending.pop_back();
      auto set = std::make_unique<RE2::Set>(regex_options(max_mem_), RE2::UNANCHORED);
      for (const std::size_t i : chunk) {
        std::string error;
        if (set->Add(rewritten_[i], &error) < 0) {
          return Error{location(entries_[i], IocSetInfo{}) + ": pattern rejected by RE2: " + error};
        }
      }
      // Compile() fails when the program, or the DFA that has to run it
      // (a set has no slower fallback), does not fit the budget: then the
      // group is halved, down to the one pattern that does not fit.
      if (!set->Compile()) {
        if (chunk.size() == 1) {
          return Error{"file-name IOCs: " + location(entries_[chunk[0]], IocSetInfo{}) +
                       ": the pattern does not fit the regex memory limit of " + memory_text(max_mem_) +
                       " on its own; simplify it or leave it out"};
        }
        const auto half = chunk.begin() + static_cast<std::ptrdiff_t>(chunk.size() / 2);
        pending.emplace_back(chunk.begin(), half);
        pending.emplace_back(half, chunk.end());
        continue;
      }
      const auto g = static_cast<std::uint32_t>(groups.size());
      for (const std::size_t i : chunk) group_of[i] = g;
      if (run_always) always.push_back(g);
      groups.push_back(Regexes::Group{std::move(set), std::move(chunk)});
    }
    return Ok{};
  };
  if (Status built = build(filtered, false); !built) return built;
  if (Status built = build(unfiltered, true); !built) return built;
  std::vector<std::vector<std::uint32_t>> atom_entries(atoms.size());
  for (const std::size_t i : filtered) {
    const std::vector<std::uint32_t>& f = formula[i];
    for (std::size_t k = 0; k < f.size(); k += f[k] + 1) {
      for (std::size_t j = k + 1; j <= k + f[k]; ++j) {
        std::vector<std::uint32_t>& list = atom_entries[f[j]];
        if (list.empty() || list.back() != i) list.push_back(static_cast<std::uint32_t>(i));
      }
    }
  }
  if (!atoms.empty()) r.atoms = std::make_unique<AtomFinder>(std::move(atoms));
  r.atom_entries = std::move(atom_entries);
  r.formula = std::move(formula);
  r.groups = std::move(groups);
  r.group_of = std::move(group_of);
  r.always = std::move(always);
  r.compiled = true;
  return Ok{};
}

std::size_t FilenameIocDb::group_count() const { return regexes_->groups.size(); }

std::vector<const FilenameIoc*> FilenameIocDb::match(std::string_view path) const {
  std::vector<const FilenameIoc*> hits;
  if (regexes_->groups.empty()) return hits;
  // Per thread, so a sweep does not allocate a copy of every path.
  thread_local std::string normalised;
  if (is_valid_utf8(path)) {
    normalised.assign(path);
  } else {
    normalised = to_valid_utf8(path);
  }
  std::replace(normalised.begin(), normalised.end(), '/', '\\');
  std::vector<int> matched;
  if (is_ascii(normalised)) {
    match_prefiltered(normalised, matched);
  } else {
    match_all(normalised, matched);
  }
  std::sort(matched.begin(), matched.end());
  for (const int i : matched) {
    const auto index = static_cast<std::size_t>(i);
    const RE2* false_positive = regexes_->false_positive[index].get();
    if (false_positive != nullptr && RE2::PartialMatch(normalised, *false_positive)) continue;
    hits.push_back(&entries_[index]);
  }
  return hits;
}

void FilenameIocDb::run_group(std::size_t g, const std::string& normalised, std::vector<int>& matched) const {
  const Regexes::Group& group = regexes_->groups[g];
  thread_local std::vector<int> in_group;
  in_group.clear();
  RE2::Set::ErrorInfo error{RE2::Set::kNoError};
  if (group.set->Match(normalised, &in_group, &error)) {
    for (const int j : in_group) matched.push_back(static_cast<int>(group.entries[static_cast<std::size_t>(j)]));
  } else if (error.kind != RE2::Set::kNoError) {
    // Not reachable once Compile() succeeded (it probes the DFA, and a set
    // DFA resets its cache rather than giving up), but a silent miss would
    // be worse than a slow path: each pattern on its own.
    const RE2::Options options = regex_options(kFilenamePatternMaxMem);
    for (const std::size_t i : group.entries) {
      const RE2 re(rewritten_[i], options);
      if (re.ok() && RE2::PartialMatch(normalised, re)) matched.push_back(static_cast<int>(i));
    }
  }
}

void FilenameIocDb::match_prefiltered(const std::string& normalised, std::vector<int>& matched) const {
  const Regexes& r = *regexes_;
  thread_local std::vector<std::uint32_t> to_run;
  to_run.assign(r.always.begin(), r.always.end());
  if (r.atoms) {
    thread_local std::string lowered;
    thread_local std::vector<int> found;
    thread_local std::vector<char> is_found;
    thread_local std::vector<char> will_run;
    lowered.assign(normalised);
    for (char& c : lowered) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    r.atoms->find(lowered, found);
    if (!found.empty()) {
      is_found.resize(r.atom_entries.size());
      will_run.assign(r.groups.size(), 0);
      for (const int a : found) is_found[static_cast<std::size_t>(a)] = 1;
      for (const int a : found) {
        for (const std::uint32_t i : r.atom_entries[static_cast<std::size_t>(a)]) {
          const std::uint32_t g = r.group_of[i];
          if (will_run[g] != 0) continue;
          // Passes when every literal of one of its sets was found.
          const std::vector<std::uint32_t>& f = r.formula[i];
          for (std::size_t k = 0; k < f.size(); k += f[k] + 1) {
            bool all = true;
            for (std::size_t j = k + 1; j <= k + f[k] && all; ++j) all = is_found[f[j]] != 0;
            if (all) {
              will_run[g] = 1;
              to_run.push_back(g);
              break;
            }
          }
        }
      }
      for (const int a : found) is_found[static_cast<std::size_t>(a)] = 0;
    }
  }
  for (const std::uint32_t g : to_run) run_group(g, normalised, matched);
}

void FilenameIocDb::match_all(const std::string& normalised, std::vector<int>& matched) const {
  for (std::size_t g = 0; g < regexes_->groups.size(); ++g) run_group(g, normalised, matched);
}

}  // namespace iocsweep
