#include <yara.h>

#include <cstdio>
#include <map>
#include <stdexcept>

#include "iocsweep/hash.hpp"
#include "iocsweep/match.hpp"

namespace iocsweep {
namespace {

struct CompilerFree {
  void operator()(YR_COMPILER* c) const { yr_compiler_destroy(c); }
};
struct RulesFree {
  void operator()(YR_RULES* r) const { yr_rules_destroy(r); }
};
struct ScannerFree {
  void operator()(YR_SCANNER* s) const { yr_scanner_destroy(s); }
};
struct FileClose {
  void operator()(FILE* f) const { std::fclose(f); }
};
using CompilerPtr = std::unique_ptr<YR_COMPILER, CompilerFree>;
using RulesPtr = std::unique_ptr<YR_RULES, RulesFree>;
using ScannerPtr = std::unique_ptr<YR_SCANNER, ScannerFree>;

// The external variables of Loki / THOR rules (signature-base uses them);
// defined for every compile so such rules work unchanged.
constexpr const char* kExternalNames[] = {"filename", "filepath", "extension", "filetype", "owner", "md5"};

// Only the fact that a string matched is needed, never the matched bytes:
// keep libyara from copying more than a few of them per match.
constexpr std::uint32_t kMaxMatchData = 16;

struct CompileDiagnostics {
  std::string current_source;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

void compiler_callback(int error_level, const char* file_name, int line_number, const YR_RULE* /*rule*/,
                       const char* message, void* user_data) {
  auto* diag = static_cast<CompileDiagnostics*>(user_data);
  std::string where = file_name != nullptr ? file_name : diag->current_source;
  if (line_number > 0) where += ":" + std::to_string(line_number);
  std::string text = where + ": " + (message != nullptr ? message : "unknown error");
  if (error_level == YARA_ERROR_LEVEL_ERROR) {
    diag->errors.push_back(std::move(text));
  } else {
    diag->warnings.push_back(std::move(text));
  }
}

int score_from_meta(const std::vector<std::pair<std::string, MetaValue>>& meta) {
  for (const auto& [key, value] : meta) {
    if (key != "score") continue;
    std::int64_t score = -1;
    if (const auto* i = std::get_if<std::int64_t>(&value)) {
      score = *i;
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      try {
        std::size_t used = 0;
        score = std::stoll(*s, &used);
        if (used != s->size()) score = -1;
      } catch (const std::exception&) {
        score = -1;
      }
    }
    if (score >= 0 && score <= 100) return static_cast<int>(score);
  }
  return kDefaultYaraScore;
}

}  // namespace

YaraLibrary::YaraLibrary() {
  if (yr_initialize() != ERROR_SUCCESS) throw std::runtime_error("libyara failed to initialise");
  yr_set_configuration_uint32(YR_CONFIG_MAX_MATCH_DATA, kMaxMatchData);
}

YaraLibrary::~YaraLibrary() { yr_finalize(); }

Result<std::shared_ptr<const CompiledRules>> CompiledRules::compile(const std::vector<RuleSource>& sources) {
  YR_COMPILER* raw_compiler = nullptr;
  if (yr_compiler_create(&raw_compiler) != ERROR_SUCCESS) return Error{"libyara: cannot create a compiler"};
  CompilerPtr compiler(raw_compiler);
  CompileDiagnostics diag;
  yr_compiler_set_callback(compiler.get(), compiler_callback, &diag);
  for (const char* name : kExternalNames) {
    if (yr_compiler_define_string_variable(compiler.get(), name, "") != ERROR_SUCCESS) {
      return Error{std::string("libyara: cannot define external variable ") + name};
    }
  }

  std::shared_ptr<CompiledRules> compiled(new CompiledRules());
  for (const RuleSource& source : sources) {
    diag.current_source = source.name;
    // fmemopen + add_file (rather than add_string) so diagnostics name the
    // file and `include` resolves relative to it.
    std::unique_ptr<FILE, FileClose> stream(
        source.text.empty() ? std::fopen("/dev/null", "r")
                            : fmemopen(const_cast<char*>(source.text.data()), source.text.size(), "r"));
    if (!stream) return Error{source.name + ": cannot open rule source in memory"};
    const std::string& file_name = source.path.empty() ? source.name : source.path;
    const int errors = yr_compiler_add_file(compiler.get(), stream.get(), source.name.c_str(), file_name.c_str());
    if (errors > 0) {
      // libyara's compiler cannot be used again after an error.
      std::string message;
      for (const std::string& e : diag.errors) message += (message.empty() ? "" : "\n") + e;
      if (message.empty()) message = source.name + ": rule compilation failed";
      return Error{message};
    }
    compiled->rulesets_.push_back(RulesetInfo{source.name, sha256_hex(source.text), 0});
  }
  compiled->warnings_ = std::move(diag.warnings);

  YR_RULES* raw_rules = nullptr;
  if (yr_compiler_get_rules(compiler.get(), &raw_rules) != ERROR_SUCCESS) {
    return Error{"libyara: cannot build the compiled rule set (out of memory?)"};
  }
  compiled->rules_handle_ = raw_rules;

  std::map<std::string, std::size_t> per_namespace;
  const YR_RULE* rule = nullptr;
  yr_rules_foreach(raw_rules, rule) {
    RuleInfo info;
    info.name = rule->identifier;
    info.ns = rule->ns->name;
    const char* tag = nullptr;
    yr_rule_tags_foreach(rule, tag) { info.tags.emplace_back(tag); }
    const YR_META* meta = nullptr;
    yr_rule_metas_foreach(rule, meta) {
      switch (meta->type) {
        case META_TYPE_INTEGER: info.meta.emplace_back(meta->identifier, meta->integer); break;
        case META_TYPE_BOOLEAN: info.meta.emplace_back(meta->identifier, meta->integer != 0); break;
        default: info.meta.emplace_back(meta->identifier, std::string(meta->string)); break;
      }
    }
    info.score = score_from_meta(info.meta);
    ++per_namespace[info.ns];
    compiled->rules_.push_back(std::move(info));
  }
  for (RulesetInfo& set : compiled->rulesets_) set.rules = per_namespace[set.name];
  return std::shared_ptr<const CompiledRules>(std::move(compiled));
}

CompiledRules::~CompiledRules() {
  if (rules_handle_ != nullptr) yr_rules_destroy(static_cast<YR_RULES*>(rules_handle_));
}

struct YaraScanner::Impl {
  std::shared_ptr<const CompiledRules> rules;
  YR_RULES* yr_rules = nullptr;
  ScannerPtr scanner;
  YaraScanResult* current = nullptr;
  int timeout_s = 0;
};

YaraScanner::YaraScanner(std::shared_ptr<const CompiledRules> rules, int timeout_s) : impl_(std::make_unique<Impl>()) {
  impl_->rules = std::move(rules);
  impl_->yr_rules = static_cast<YR_RULES*>(impl_->rules->rules_handle_);
  impl_->timeout_s = timeout_s;
  YR_SCANNER* raw = nullptr;
  if (yr_scanner_create(impl_->yr_rules, &raw) != ERROR_SUCCESS) {
    throw std::runtime_error("libyara: cannot create a scanner");
  }
  impl_->scanner.reset(raw);
  yr_scanner_set_callback(
      raw,
      [](YR_SCAN_CONTEXT* /*context*/, int message, void* message_data, void* user_data) -> int {
        auto* impl = static_cast<Impl*>(user_data);
        if (message == CALLBACK_MSG_RULE_MATCHING) {
          const auto* rule = static_cast<const YR_RULE*>(message_data);
          // Rules live in one array in compile order, so the offset is the
          // index into CompiledRules::rules().
          impl->current->matched.push_back(static_cast<std::size_t>(rule - impl->yr_rules->rules_table));
        }
        // CALLBACK_MSG_TOO_MANY_MATCHES: keep scanning; that string is merely
        // capped, and other rules can still match.
        return CALLBACK_CONTINUE;
      },
      impl_.get());
  // Only matching rules are reported. Flags are set again per scan: the
  // SIGBUS guard is only needed for mapped files.
  yr_scanner_set_flags(raw, SCAN_FLAGS_REPORT_RULES_MATCHING | SCAN_FLAGS_NO_TRYCATCH);
  yr_scanner_set_timeout(raw, timeout_s);
}

YaraScanner::~YaraScanner() = default;

YaraScanResult YaraScanner::scan(ByteView bytes, const ScanExternals& externals, bool mapped) {
  YaraScanResult result;
  YR_SCANNER* s = impl_->scanner.get();
  const std::string* values[] = {&externals.filename,  &externals.filepath, &externals.extension,
                                 &externals.filetype, &externals.owner,    &externals.md5};
  for (std::size_t i = 0; i < std::size(kExternalNames); ++i) {
    // A name with an embedded NUL is cut there for YARA's C strings.
    yr_scanner_define_string_variable(s, kExternalNames[i], values[i]->c_str());
  }
  yr_scanner_set_flags(s, SCAN_FLAGS_REPORT_RULES_MATCHING | (mapped ? 0 : SCAN_FLAGS_NO_TRYCATCH));
  impl_->current = &result;
  const int rc = yr_scanner_scan_mem(s, bytes.data(), bytes.size());
  impl_->current = nullptr;
  switch (rc) {
    case ERROR_SUCCESS: break;
    case ERROR_SCAN_TIMEOUT:
      result.error = "YARA scan timed out after " + std::to_string(impl_->timeout_s) + " s";
      break;
    case ERROR_INSUFFICIENT_MEMORY: result.error = "YARA ran out of memory"; break;
    case ERROR_COULD_NOT_MAP_FILE:
      // libyara caught SIGBUS: the mapped file was truncated under the scan.
      result.error = "file shrank while being scanned";
      break;
    default: result.error = "YARA scan failed (libyara error " + std::to_string(rc) + ")"; break;
  }
  return result;
}

}  // namespace iocsweep
