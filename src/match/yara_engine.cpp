#include <malloc.h>
#include <signal.h>
#include <unistd.h>
#include <yara.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csetjmp>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>

#include "iocsweep/hash.hpp"
#include "iocsweep/match.hpp"
#include "match/rule_cache.hpp"
#include "match/rule_gate.hpp"

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

// libyara keeps, for every pointer inside a compiled set, a relocation
// entry (16 bytes, each its own malloc: 32 with malloc's header), which it
// needs only to move the set's buffers while the set is being built and to
// save it. A set that is complete, and saved if it is to be, is neither
// moved nor saved again, so the entries are freed: signature-base's whole set
// has 490,000 of them, 15 MB. The layout read is libyara 4.2's (struct
// YR_ARENA in <yara/arena.h>); with another version nothing is freed.
void drop_relocations(YR_RULES* rules) {
#if YR_MAJOR_VERSION == 4 && YR_MINOR_VERSION == 2
  if (rules == nullptr || rules->arena == nullptr) return;
  YR_ARENA* arena = rules->arena;
  for (YR_RELOC* reloc = arena->reloc_list_head; reloc != nullptr;) {
    YR_RELOC* next = reloc->next;
    yr_free(reloc);
    reloc = next;
  }
  arena->reloc_list_head = nullptr;
  arena->reloc_list_tail = nullptr;
#else
  (void)rules;
#endif
}

// Loading or compiling a large set frees more than it keeps (the cache file
// read, the relocation entries, the compiler's own structures), mostly in
// small pieces that malloc keeps for reuse: given back to the kernel once
// the set is ready, so they do not count in the sweep's memory.
void return_freed_memory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

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

int score_from_meta(const std::vector<std::pair<std::string_view, MetaValue>>& meta) {
  for (const auto& [key, value] : meta) {
    if (key != "score") continue;
    std::int64_t score = -1;
    if (const auto* i = std::get_if<std::int64_t>(&value)) {
      score = *i;
    } else if (const auto* s = std::get_if<const char*>(&value)) {
      try {
        const std::string text(*s);
        std::size_t used = 0;
        score = std::stoll(text, &used);
        if (used != text.size()) score = -1;
      } catch (const std::exception&) {
        score = -1;
      }
    }
    if (score >= 0 && score <= 100) return static_cast<int>(score);
  }
  return kDefaultYaraScore;
}

// The SIGBUS guard for scans of mapped files.
//
// A mapped file that another process truncates raises SIGBUS when a scan
// touches a page past its new end. libyara 4.2 has a guard for this
// (scans without SCAN_FLAGS_NO_TRYCATCH), but it is not safe with more
// than one scanning thread: each guarded scan installs its handler with
// sigaction(), keeping the previous action in a local, and puts that
// action back when it ends. With two threads, the first to finish puts
// back SIG_DFL while the other is still scanning, whose next SIGBUS then
// kills the process (and the other order leaves libyara's handler behind
// for good; outside a scan it returns, so a later fault would repeat
// forever). So libyara's guard is never used, and this one is installed
// once, before any worker exists, and never changed again: the handler
// jumps back into the scan of the faulting thread when the fault lies in
// the mapping that thread is scanning, and otherwise does what would have
// happened without it.
struct FaultGuard {
  const std::uint8_t* begin;
  const std::uint8_t* end;
  sigjmp_buf* jump;
};
// Set only around yr_scanner_scan_mem of a mapping, and first written by
// the thread itself (so its TLS block exists before the handler reads it).
thread_local FaultGuard* t_fault_guard = nullptr;
struct sigaction g_previous_sigbus {};
std::once_flag g_fault_guard_installed;

void on_sigbus(int sig, siginfo_t* info, void* context) {
  // si_code > 0: raised by the kernel for a memory access, not sent.
  const FaultGuard* guard = t_fault_guard;
  if (guard != nullptr && info != nullptr && info->si_code > 0) {
    const auto* addr = static_cast<const std::uint8_t*>(info->si_addr);
    if (addr >= guard->begin && addr < guard->end) siglongjmp(*guard->jump, 1);
  }
  // Not ours: the previous handler, or the default action (the process
  // dies of SIGBUS, as it would have).
  if ((g_previous_sigbus.sa_flags & SA_SIGINFO) != 0 && g_previous_sigbus.sa_sigaction != nullptr) {
    g_previous_sigbus.sa_sigaction(sig, info, context);
    return;
  }
  if (g_previous_sigbus.sa_handler != SIG_DFL && g_previous_sigbus.sa_handler != SIG_IGN) {
    g_previous_sigbus.sa_handler(sig);
    return;
  }
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  // Pending until the handler returns (SIGBUS is blocked in it); a fault
  // would also recur when the access is retried.
  ::raise(sig);
}

void install_fault_guard() {
  std::call_once(g_fault_guard_installed, [] {
    struct sigaction action {};
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    if (::sigaction(SIGBUS, &action, &g_previous_sigbus) != 0) {
      throw std::runtime_error("cannot install the SIGBUS handler for mapped files");
    }
  });
}

// Scans a mapping under the guard: false when the mapping faulted (the file
// shrank), and libyara's scan was abandoned where it stood. Nothing in this
// frame has a destructor, and the frames the jump skips are libyara's (C),
// entered from here: the fault only counts when it is an access to the
// mapping, which only libyara's scan code makes.
bool scan_mapping(YR_SCANNER* scanner, ByteView bytes, int& rc) {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  sigjmp_buf jump;
  // A fault is reported for the page, so the range is the whole pages the
  // mapping covers. savemask: the jump leaves the handler with SIGBUS
  // blocked; sigsetjmp's saved mask unblocks it again.
  FaultGuard guard{bytes.data(), bytes.data() + (bytes.size() + page - 1) / page * page, &jump};
  if (sigsetjmp(jump, 1) != 0) {
    t_fault_guard = nullptr;
    return false;
  }
  t_fault_guard = &guard;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  rc = yr_scanner_scan_mem(scanner, bytes.data(), bytes.size());
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_fault_guard = nullptr;
  return true;
}

// What libyara's own clean-up of a scan would have freed and the jump
// skipped: the scan's match notebook (yr_scanner_scan_mem_blocks creates
// it at the start of every scan and destroys it at the end; 72 KiB each,
// so a file truncated under every scan would leak without bound). libyara
// does not export yr_notebook_destroy, so its pages are freed here by the
// layout of libyara 4.2's notebook.c, pinned by the check below.
#if YR_MAJOR_VERSION != 4 || YR_MINOR_VERSION != 2
#error "free_abandoned_scan() knows libyara 4.2's notebook layout only: check it against this libyara"
#endif
struct NotebookPage42 {
  std::size_t used;
  NotebookPage42* next;
};
struct Notebook42 {
  std::size_t page_size;
  NotebookPage42* page_list_head;
};
void free_abandoned_scan(YR_SCANNER* scanner) {
  auto* notebook = reinterpret_cast<Notebook42*>(scanner->matches_notebook);
  if (notebook == nullptr) return;
  for (NotebookPage42* page = notebook->page_list_head; page != nullptr;) {
    NotebookPage42* next = page->next;
    std::free(page);
    page = next;
  }
  std::free(notebook);
  scanner->matches_notebook = nullptr;
}

}  // namespace

std::string_view yara_version() { return YR_VERSION; }

YaraLibrary::YaraLibrary() {
  if (yr_initialize() != ERROR_SUCCESS) throw std::runtime_error("libyara failed to initialise");
  // Here, on the main thread before any worker: the handler is in place
  // before the first scan and never changes while scans run.
  install_fault_guard();
  yr_set_configuration_uint32(YR_CONFIG_MAX_MATCH_DATA, kMaxMatchData);
}

YaraLibrary::~YaraLibrary() { yr_finalize(); }

namespace {

// One attempt at compiling `sources` minus the skipped ones.
struct Attempt {
  RulesPtr rules;
  std::size_t failed = 0;  // index of the failing source when !rules
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

Attempt try_compile(const std::vector<RuleSource>& sources, const std::vector<bool>& skipped) {
  Attempt attempt;
  YR_COMPILER* raw_compiler = nullptr;
  if (yr_compiler_create(&raw_compiler) != ERROR_SUCCESS) {
    attempt.errors.push_back("libyara: cannot create a compiler");
    return attempt;
  }
  CompilerPtr compiler(raw_compiler);
  CompileDiagnostics diag;
  yr_compiler_set_callback(compiler.get(), compiler_callback, &diag);
  for (const char* name : kExternalNames) {
    if (yr_compiler_define_string_variable(compiler.get(), name, "") != ERROR_SUCCESS) {
      attempt.errors.push_back(std::string("libyara: cannot define external variable ") + name);
      return attempt;
    }
  }
  // A source read from a file resolves `include` as libyara does (its own
  // callback, relative to the including file). One that was not (the
  // built-in pack, a signed pack's member) must hold every rule it uses:
  // includes are disabled while it is parsed, so no file outside what was
  // embedded or verified reaches the compiler, however the directive is
  // spelt ("includes are disabled" names the source and line).
  const YR_COMPILER_INCLUDE_CALLBACK_FUNC file_include = compiler->include_callback;
  const YR_COMPILER_INCLUDE_FREE_FUNC file_include_free = compiler->include_free;
  void* const file_include_data = compiler->incl_clbk_user_data;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    if (skipped[i]) continue;
    const RuleSource& source = sources[i];
    diag.current_source = source.name;
    if (source.path.empty()) {
      yr_compiler_set_include_callback(compiler.get(), nullptr, nullptr, nullptr);
    } else {
      yr_compiler_set_include_callback(compiler.get(), file_include, file_include_free, file_include_data);
    }
    // fmemopen + add_file (rather than add_string) so diagnostics name the
    // file and `include` resolves relative to it.
    // fmemopen refuses a size of 0: an empty source is read as one newline
    // (not from /dev/null, which need not be what it should).
    static char kEmpty[] = "\n";
    std::unique_ptr<FILE, FileClose> stream(
        source.text.empty() ? fmemopen(kEmpty, 1, "r")
                            : fmemopen(const_cast<char*>(source.text.data()), source.text.size(), "r"));
    if (!stream) {
      attempt.failed = i;
      attempt.errors.push_back(source.name + ": cannot open rule source in memory");
      return attempt;
    }
    const std::string& file_name = source.path.empty() ? source.name : source.path;
    if (yr_compiler_add_file(compiler.get(), stream.get(), source.name.c_str(), file_name.c_str()) > 0) {
      // libyara's compiler cannot be used again after an error.
      attempt.failed = i;
      attempt.errors = std::move(diag.errors);
      if (attempt.errors.empty()) attempt.errors.push_back(source.name + ": rule compilation failed");
      return attempt;
    }
  }
  YR_RULES* raw_rules = nullptr;
  if (yr_compiler_get_rules(compiler.get(), &raw_rules) != ERROR_SUCCESS) {
    attempt.failed = sources.size();
    attempt.errors.push_back("libyara: cannot build the compiled rule set (out of memory?)");
    return attempt;
  }
  attempt.rules.reset(raw_rules);
  attempt.warnings = std::move(diag.warnings);
  return attempt;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += (out.empty() ? "" : "\n") + l;
  return out;
}

// Whether libyara would read other files for `source`: the cache key covers
// only the sources' own text.
bool uses_include(const RuleSource& source) { return has_include_directive(source.text); }

bool is_identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Whether `text` could refer to an external variable: the name as a whole
// identifier, not a member (hash.md5) or part of a longer name. Strings and
// comments are not told apart, so this over-approximates, which is safe.
bool mentions_externals(const std::string& text) {
  for (const char* name : kExternalNames) {
    const std::string_view n(name);
    for (std::size_t pos = text.find(n); pos != std::string::npos; pos = text.find(n, pos + 1)) {
      const bool starts = pos == 0 || (!is_identifier_char(text[pos - 1]) && text[pos - 1] != '.');
      const bool ends = pos + n.size() >= text.size() || !is_identifier_char(text[pos + n.size()]);
      if (starts && ends) return true;
    }
  }
  return false;
}

// The cache key: every byte that decides the compiled result.
std::string cache_key(const std::vector<RuleSource>& sources) {
  std::string material = "iocsweep-compiled-rules-v1\n" YR_VERSION "\n";
  for (const char* name : kExternalNames) material += std::string(name) + "\n";
  for (const RuleSource& s : sources) {
    material += s.name + '\0' + s.path + '\0' + sha256_hex(s.text) + '\n';
  }
  return sha256_hex(material);
}

// A rule's meta, pointing into its compiled set.
std::vector<std::pair<std::string_view, MetaValue>> meta_of(const YR_RULE* rule) {
  std::vector<std::pair<std::string_view, MetaValue>> out;
  const YR_META* meta = nullptr;
  yr_rule_metas_foreach(rule, meta) {
    switch (meta->type) {
      case META_TYPE_INTEGER:
        out.emplace_back(meta->identifier, meta->integer);
        break;
      case META_TYPE_BOOLEAN:
        out.emplace_back(meta->identifier, meta->integer != 0);
        break;
      default:
        out.emplace_back(meta->identifier, static_cast<const char*>(meta->string));
        break;
    }
  }
  return out;
}

}  // namespace

void CompiledRules::describe() {
  std::map<std::string, std::size_t> per_namespace;
  const YR_RULE* rule = nullptr;
  yr_rules_foreach(static_cast<YR_RULES*>(rules_handle_), rule) {
    RuleInfo info;
    info.name = rule->identifier;
    info.ns = rule->ns->name;
    const char* tag = nullptr;
    yr_rule_tags_foreach(rule, tag) { info.tags.emplace_back(tag); }
    info.meta = meta_of(rule);
    info.score = score_from_meta(info.meta);
    ++per_namespace[info.ns];
    rules_.push_back(std::move(info));
  }
  for (RulesetInfo& set : rulesets_) set.rules = per_namespace[set.name];
}

namespace {
const char* const kCannotRemake =
    "libyara: the rules compiled, but after a split set failed they could not be made again (out of memory?)";
}  // namespace

Result<std::shared_ptr<const CompiledRules>> CompiledRules::compile(const std::vector<RuleSource>& sources,
                                                                    const RuleCacheOptions& cache,
                                                                    std::optional<std::size_t> non_mz_min_rules) {
  std::shared_ptr<CompiledRules> compiled(new CompiledRules());
  compiled->uses_externals_ =
      std::any_of(sources.begin(), sources.end(), [](const RuleSource& s) { return mentions_externals(s.text); });
  compiled->reads_md5_ =
      compiled->uses_externals_ &&
      std::any_of(sources.begin(), sources.end(), [](const RuleSource& s) { return may_read_external(s.text, "md5"); });
  const bool cacheable = !cache.dir.empty() && std::none_of(sources.begin(), sources.end(), uses_include);
  const std::string key = cacheable ? cache_key(sources) : std::string();
  if (cacheable) {
    if (YR_RULES* loaded = static_cast<YR_RULES*>(rule_cache::load(cache.dir, key, compiled->warnings_))) {
      drop_relocations(loaded);
      compiled->rules_handle_ = loaded;
      compiled->from_cache_ = true;
      for (const RuleSource& source : sources) {
        compiled->rulesets_.push_back(RulesetInfo{source.name, sha256_hex(source.text), 0});
      }
      compiled->describe();
      // The whole set is freed before the gate reads the sources: the
      // gate's parse of every rule is about as large as the set
      // (docs/performance.md, a load's peak), and the cache can give the
      // set again should it be needed (no split). Rule meta points into the
      // set: it is read again from the sets kept.
      compiled->free_whole_set();
      if (!compiled->prepare_prefilter(read_prefilter(sources, non_mz_min_rules), sources, cache)) {
        return Error{kCannotRemake};
      }
      return_freed_memory();
      return std::shared_ptr<const CompiledRules>(std::move(compiled));
    }
  }

  std::vector<bool> skipped(sources.size(), false);
  std::vector<std::string> skip_warnings;
  Attempt attempt;
  for (;;) {
    attempt = try_compile(sources, skipped);
    if (attempt.rules) break;
    if (attempt.failed < sources.size() && sources[attempt.failed].skip_if_broken) {
      // Left out with a warning; start again without it (each retry drops
      // one more source, so this ends).
      skipped[attempt.failed] = true;
      skip_warnings.push_back(sources[attempt.failed].name +
                              ": skipped, it does not compile: " + join_lines(attempt.errors));
      continue;
    }
    return Error{join_lines(attempt.errors)};
  }
  std::vector<RuleSource> kept;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    if (skipped[i]) continue;
    compiled->rulesets_.push_back(RulesetInfo{sources[i].name, sha256_hex(sources[i].text), 0});
    kept.push_back(sources[i]);
  }
  compiled->warnings_.insert(compiled->warnings_.end(), attempt.warnings.begin(), attempt.warnings.end());
  compiled->warnings_.insert(compiled->warnings_.end(), skip_warnings.begin(), skip_warnings.end());
  compiled->rules_handle_ = attempt.rules.release();
  compiled->describe();
  // A set with skipped sources is not cached: its warnings would be lost.
  if (cacheable && skip_warnings.empty())
    rule_cache::save(cache.dir, key, compiled->rules_handle_, compiled->warnings_);
  drop_relocations(static_cast<YR_RULES*>(compiled->rules_handle_));
  if (!compiled->prepare_prefilter(read_prefilter(kept, non_mz_min_rules), kept,
                                   cacheable ? cache : RuleCacheOptions{})) {
    return Error{kCannotRemake};
  }
  return_freed_memory();
  return std::shared_ptr<const CompiledRules>(std::move(compiled));
}

namespace {

// A subset of the rules, from the cache or compiled; null (with a warning)
// when it does not compile on its own, which is not expected: its rules
// compiled as part of the whole set.
RulesPtr subset_rules(const std::vector<RuleSource>& subset, const RuleCacheOptions& cache, std::string_view what,
                      std::vector<std::string>& warnings) {
  const bool cacheable = !cache.dir.empty();
  const std::string key = cacheable ? cache_key(subset) : std::string();
  RulesPtr rules(cacheable ? static_cast<YR_RULES*>(rule_cache::load(cache.dir, key, warnings)) : nullptr);
  if (!rules) {
    Attempt attempt = try_compile(subset, std::vector<bool>(subset.size(), false));
    if (!attempt.rules) {
      warnings.push_back("prefilter: the rules for files " + std::string(what) +
                         " do not compile on their own, so such files meet every rule (please report this): " +
                         join_lines(attempt.errors));
      return nullptr;
    }
    rules = std::move(attempt.rules);
    if (cacheable) rule_cache::save(cache.dir, key, rules.get(), warnings);
  }
  drop_relocations(rules.get());
  return rules;
}

// For each rule of `rules` (null: none), the index of the same rule
// (namespace and name) in `all`; nullopt, with a warning, if one is not
// there (not expected: a split set holds rules of the whole set).
std::optional<std::vector<std::size_t>> index_in(YR_RULES* rules, const std::vector<RuleInfo>& all,
                                                 std::string_view what, std::vector<std::string>& warnings) {
  if (rules == nullptr) return std::nullopt;
  using Key = std::pair<std::string_view, std::string_view>;
  std::map<Key, std::size_t> index;
  for (std::size_t i = 0; i < all.size(); ++i) index.emplace(Key(all[i].ns, all[i].name), i);
  std::vector<std::size_t> mapping;
  const YR_RULE* rule = nullptr;
  yr_rules_foreach(rules, rule) {
    const auto it = index.find(Key(rule->ns->name, rule->identifier));
    if (it == index.end()) {
      warnings.push_back("prefilter: the rules for files " + std::string(what) +
                         " hold a rule the rule set does not (" + rule->ns->name + ":" + rule->identifier +
                         "), so such files meet every rule (please report this)");
      return std::nullopt;
    }
    mapping.push_back(it->second);
  }
  return mapping;
}

}  // namespace

bool CompiledRules::restore_whole_set(const std::vector<RuleSource>& sources, const RuleCacheOptions& cache) {
  // The cache's warnings were kept when the set was first loaded.
  std::vector<std::string> ignored;
  RulesPtr whole(cache.dir.empty() ? nullptr
                                   : static_cast<YR_RULES*>(rule_cache::load(cache.dir, cache_key(sources), ignored)));
  if (!whole) whole = try_compile(sources, std::vector<bool>(sources.size(), false)).rules;
  if (!whole) return false;
  // The same rules in the same order, or rules_ would name others.
  std::size_t k = 0;
  const YR_RULE* rule = nullptr;
  yr_rules_foreach(whole.get(), rule) {
    if (k >= rules_.size() || rules_[k].ns != rule->ns->name || rules_[k].name != rule->identifier) return false;
    ++k;
  }
  if (k != rules_.size()) return false;
  drop_relocations(whole.get());
  k = 0;
  yr_rules_foreach(whole.get(), rule) { rules_[k++].meta = meta_of(rule); }
  rules_handle_ = whole.release();
  return true;
}

void CompiledRules::free_whole_set() {
  for (RuleInfo& info : rules_) info.meta.clear();  // it points into the set
  yr_rules_destroy(static_cast<YR_RULES*>(rules_handle_));
  rules_handle_ = nullptr;
  return_freed_memory();
}

bool CompiledRules::prepare_prefilter(RulePrefilter&& prefilter, const std::vector<RuleSource>& sources,
                                      const RuleCacheOptions& cache) {
  gate_summary_.admits_all_ = prefilter.gate.admits_all();
  gate_summary_.reason_ = prefilter.gate.reason();
  gate_ = std::make_unique<const RuleGate>(std::move(prefilter.gate));
  fast_mode_ = !prefilter.locates_string_sets;
  // Freed already (a set from the cache): made again when it is the set
  // scanned with.
  if (!prefilter.non_mz_sources) return rules_handle_ != nullptr || restore_whole_set(sources, cache);
  // The two split sets replace the whole set, which is freed before they
  // are loaded or compiled: the three are never in memory together (each
  // is about as large as the other two). Should a split set fail, which is
  // not expected, the whole set is made again. Rule meta points into the
  // set it is read from, so it is read again from the sets kept.
  if (rules_handle_ != nullptr) free_whole_set();
  // Without the set for non-MZ files, every file is scanned with the whole
  // set, which costs time only.
  static constexpr std::string_view kNonMz = "not beginning with MZ", kMz = "beginning with MZ";
  RulesPtr rules = subset_rules(*prefilter.non_mz_sources, cache, kNonMz, warnings_);
  auto mapping = index_in(rules.get(), rules_, kNonMz, warnings_);
  if (!mapping) {
    rules.reset();  // not beside the whole set made again
    return restore_whole_set(sources, cache);
  }
  non_mz_handle_ = rules.release();
  non_mz_index_ = std::move(*mapping);
  non_mz_gate_summary_.admits_all_ = prefilter.non_mz_gate.admits_all();
  non_mz_gate_summary_.reason_ = prefilter.non_mz_gate.reason();
  non_mz_gate_ = std::make_unique<const RuleGate>(std::move(prefilter.non_mz_gate));
  // Without the set for MZ files, MZ files are scanned with the whole set.
  RulesPtr mz = subset_rules(*prefilter.mz_sources, cache, kMz, warnings_);
  auto mz_mapping = index_in(mz.get(), rules_, kMz, warnings_);
  if (!mz_mapping) {
    mz.reset();
    return restore_whole_set(sources, cache);
  }
  mz_handle_ = mz.release();
  mz_index_ = std::move(*mz_mapping);
  in_mz_set_.assign(rules_.size(), false);
  for (std::size_t i : mz_index_) in_mz_set_[i] = true;
  mz_gate_ = std::make_unique<const RuleGate>(std::move(prefilter.mz_gate));
  // The two copies of a rule's meta are the same text: only conditions
  // are rewritten.
  for (const auto& [handle, index] : {std::pair{non_mz_handle_, &non_mz_index_}, std::pair{mz_handle_, &mz_index_}}) {
    std::size_t k = 0;
    const YR_RULE* rule = nullptr;
    yr_rules_foreach(static_cast<YR_RULES*>(handle), rule) { rules_[(*index)[k++]].meta = meta_of(rule); }
  }
  return true;
}

const RuleGate& compiled_gate(const CompiledRules& rules) { return *rules.gate_; }

std::size_t relocation_entries(const CompiledRules& rules) {
  std::size_t n = 0;
#if YR_MAJOR_VERSION == 4 && YR_MINOR_VERSION == 2
  for (void* handle : {rules.rules_handle_, rules.non_mz_handle_, rules.mz_handle_}) {
    if (handle == nullptr) continue;
    for (const YR_RELOC* r = static_cast<YR_RULES*>(handle)->arena->reloc_list_head; r != nullptr; r = r->next) ++n;
  }
#else
  (void)rules;
#endif
  return n;
}

CompiledRules::~CompiledRules() {
  if (rules_handle_ != nullptr) yr_rules_destroy(static_cast<YR_RULES*>(rules_handle_));
  if (non_mz_handle_ != nullptr) yr_rules_destroy(static_cast<YR_RULES*>(non_mz_handle_));
  if (mz_handle_ != nullptr) yr_rules_destroy(static_cast<YR_RULES*>(mz_handle_));
}

namespace {

// One YR_SCANNER over one compiled set; matched rules are reported as
// indexes into CompiledRules::rules() (through `index` for the non-MZ set).
struct ScannerSlot {
  YR_RULES* rules = nullptr;
  const std::vector<std::size_t>* index = nullptr;
  ScannerPtr scanner;
  YaraScanResult* current = nullptr;
  // Set by scan_memory: record each matching rule's first string address.
  bool want_addresses = false;
  // Set for a pass: rules (indexed as CompiledRules::rules()) whose match
  // in this set is not reported.
  const std::vector<bool>* skip = nullptr;
};

// Only matching rules are reported. libyara's own SIGBUS guard is never
// used: it is not thread-safe (see FaultGuard); scan_mapping guards mapped
// files instead. (begin_pass adds fast mode for each pass that may use it.)
constexpr int kScanFlags = SCAN_FLAGS_REPORT_RULES_MATCHING | SCAN_FLAGS_NO_TRYCATCH;

// False when libyara cannot create the scanner (out of memory); the slot
// then has none.
bool open_slot(ScannerSlot& slot, YR_RULES* rules, const std::vector<std::size_t>* index, int timeout_s) {
  slot.rules = rules;
  slot.index = index;
  slot.scanner.reset();
  YR_SCANNER* raw = nullptr;
  if (yr_scanner_create(rules, &raw) != ERROR_SUCCESS) return false;
  slot.scanner.reset(raw);
  yr_scanner_set_callback(
      raw,
      [](YR_SCAN_CONTEXT* context, int message, void* message_data, void* user_data) -> int {
        auto* s = static_cast<ScannerSlot*>(user_data);
        if (message == CALLBACK_MSG_RULE_MATCHING) {
          const auto* rule = static_cast<const YR_RULE*>(message_data);
          // Rules live in one array in compile order, so the offset is the
          // index into the set's rules.
          const auto i = static_cast<std::size_t>(rule - s->rules->rules_table);
          const std::size_t index = s->index != nullptr ? (*s->index)[i] : i;
          if (s->skip != nullptr && (*s->skip)[index]) return CALLBACK_CONTINUE;
          s->current->matched.push_back(index);
          if (s->want_addresses) {
            std::optional<std::uint64_t> first;
            const YR_STRING* string = nullptr;
            yr_rule_strings_foreach(rule, string) {
              // libyara 4.2 keeps matches in its notebook at 4-byte
              // alignment: their fields are copied out, not accessed in
              // place (a misaligned member access is undefined behaviour).
              const auto* match = context->matches[string->idx].head;
              while (match != nullptr) {
                const auto* raw = reinterpret_cast<const unsigned char*>(match);
                std::int64_t base = 0, offset = 0;
                bool is_private = false;
                std::memcpy(&base, raw + offsetof(YR_MATCH, base), sizeof base);
                std::memcpy(&offset, raw + offsetof(YR_MATCH, offset), sizeof offset);
                std::memcpy(&is_private, raw + offsetof(YR_MATCH, is_private), sizeof is_private);
                if (!is_private) {
                  const auto at = static_cast<std::uint64_t>(base + offset);
                  if (!first || at < *first) first = at;
                }
                std::memcpy(&match, raw + offsetof(YR_MATCH, next), sizeof match);
              }
            }
            s->current->first_address.push_back(first);
          }
        }
        // CALLBACK_MSG_TOO_MANY_MATCHES: keep scanning; that string is merely
        // capped, and other rules can still match.
        return CALLBACK_CONTINUE;
      },
      &slot);
  yr_scanner_set_flags(raw, kScanFlags);
  yr_scanner_set_timeout(raw, timeout_s);
  return true;
}

void open_slot_or_throw(ScannerSlot& slot, YR_RULES* rules, const std::vector<std::size_t>* index, int timeout_s) {
  if (!open_slot(slot, rules, index, timeout_s)) throw std::runtime_error("libyara: cannot create a scanner");
}

bool begins_with_mz(ByteView head) { return head.size() >= 2 && head[0] == 'M' && head[1] == 'Z'; }

}  // namespace

struct YaraScanner::Impl {
  std::shared_ptr<const CompiledRules> rules;
  // The whole set, when it is kept.
  std::optional<ScannerSlot> all;
  // For files not beginning with "MZ", when the set was split; without
  // the whole set, every file's first pass.
  std::optional<ScannerSlot> non_mz;
  // The second pass of an MZ file, beside non_mz, when the whole set is
  // not kept.
  std::optional<ScannerSlot> mz;
  int timeout_s = 0;
  bool use_gate = true;
  StringMatches matches = StringMatches::kWhatConditionsNeed;

  // One scan of a buffer (or of memory blocks) with one set.
  struct Pass {
    ScannerSlot* slot = nullptr;
    const RuleGate* gate = nullptr;
    // Rules whose result from this set does not count (in_mz_set_).
    const std::vector<bool>* skip = nullptr;
  };
  // The passes a file needs: the whole set; or the non-MZ set alone for a
  // file not beginning with "MZ"; or both split sets (the rules in both
  // counted from the MZ one). Without the gate, a file not beginning with
  // "MZ" meets every rule too.
  std::size_t passes(bool not_mz, std::array<Pass, 2>& out) {
    const CompiledRules& r = *rules;
    if (all) {
      const bool split = use_gate && non_mz && not_mz;
      out[0] = split ? Pass{&*non_mz, r.non_mz_gate_.get(), nullptr} : Pass{&*all, r.gate_.get(), nullptr};
      return 1;
    }
    const bool mz_pass = !not_mz || !use_gate;
    out[0] = Pass{&*non_mz, r.non_mz_gate_.get(), mz_pass ? &r.in_mz_set_ : nullptr};
    if (!mz_pass) return 1;
    out[1] = Pass{&*mz, r.mz_gate_.get(), nullptr};
    return 2;
  }

  // Readies `slot`'s scanner for a pass that begins at `now` of a scan
  // that began at `start` (the first pass: now == start): the timeout
  // left of timeout_s, the externals, and which matches are recorded
  // (every one for `memory`, whose first address is reported). Null, with
  // result.error said, when the pass cannot run: no scanner, or no time
  // left.
  YR_SCANNER* begin_pass(ScannerSlot& slot, std::chrono::steady_clock::time_point start, const ScanExternals& externals,
                         YaraScanResult& result, bool memory) const {
    YR_SCANNER* s = slot.scanner.get();
    if (s == nullptr) {
      // Not recreated after an abandoned scan.
      result.error = "YARA scanner unavailable (libyara could not create one)";
      return nullptr;
    }
    int timeout = timeout_s;
    if (timeout_s != 0) {
      const auto spent =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count();
      if (spent >= timeout_s) {
        result.error = "YARA scan timed out after " + std::to_string(timeout_s) + " s";
        return nullptr;
      }
      timeout = timeout_s - static_cast<int>(spent);
    }
    yr_scanner_set_timeout(s, timeout);
    // Fast mode stops a string at its first match only where libyara's
    // compiler saw that the condition needs no more (STRING_FLAGS_SINGLE_MATCH).
    const bool fast = !memory && matches == StringMatches::kWhatConditionsNeed && rules->fast_mode_;
    yr_scanner_set_flags(s, fast ? kScanFlags | SCAN_FLAGS_FAST_MODE : kScanFlags);
    if (rules->uses_externals()) {
      const auto values = externals.values();
      for (std::size_t i = 0; i < std::size(kExternalNames); ++i) {
        // A name with an embedded NUL is cut there for YARA's C strings.
        yr_scanner_define_string_variable(s, kExternalNames[i], values[i]->c_str());
      }
    }
    return s;
  }
};

namespace {

std::string scan_error(int rc, int timeout_s) {
  switch (rc) {
    case ERROR_SUCCESS:
      return {};
    case ERROR_SCAN_TIMEOUT:
      return "YARA scan timed out after " + std::to_string(timeout_s) + " s";
    case ERROR_INSUFFICIENT_MEMORY:
      return "YARA ran out of memory";
    default:
      return "YARA scan failed (libyara error " + std::to_string(rc) + ")";
  }
}

// Matches in rule order (two passes report two runs of it), with their
// first addresses when recorded.
void sort_matches(YaraScanResult& result) {
  if (std::is_sorted(result.matched.begin(), result.matched.end())) return;
  if (result.first_address.empty()) {
    std::sort(result.matched.begin(), result.matched.end());
    return;
  }
  std::vector<std::pair<std::size_t, std::optional<std::uint64_t>>> both;
  for (std::size_t i = 0; i < result.matched.size(); ++i) both.emplace_back(result.matched[i], result.first_address[i]);
  std::sort(both.begin(), both.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 0; i < both.size(); ++i) {
    result.matched[i] = both[i].first;
    result.first_address[i] = both[i].second;
  }
}

}  // namespace

YaraScanner::YaraScanner(std::shared_ptr<const CompiledRules> rules, int timeout_s, bool use_gate,
                         StringMatches matches)
    : impl_(std::make_unique<Impl>()) {
  impl_->rules = std::move(rules);
  impl_->timeout_s = timeout_s;
  impl_->use_gate = use_gate;
  impl_->matches = matches;
  const CompiledRules& r = *impl_->rules;
  if (r.rules_handle_ != nullptr) {
    impl_->all.emplace();
    open_slot_or_throw(*impl_->all, static_cast<YR_RULES*>(r.rules_handle_), nullptr, timeout_s);
  }
  // Without the whole set, both split sets are needed with or without the
  // gate.
  if (r.non_mz_handle_ != nullptr && (use_gate || !impl_->all)) {
    impl_->non_mz.emplace();
    open_slot_or_throw(*impl_->non_mz, static_cast<YR_RULES*>(r.non_mz_handle_), &r.non_mz_index_, timeout_s);
  }
  if (!impl_->all) {
    impl_->mz.emplace();
    open_slot_or_throw(*impl_->mz, static_cast<YR_RULES*>(r.mz_handle_), &r.mz_index_, timeout_s);
  }
}

YaraScanner::~YaraScanner() = default;

YaraScanResult YaraScanner::scan(ByteView bytes, const ScanExternals& externals, bool mapped, ByteView head) {
  YaraScanResult result;
  const ByteView header = mapped ? head : bytes;
  // A file that does not begin with "MZ" (known from its bytes or its
  // head) needs only the rules that do not require it, and meets only
  // their checks.
  const bool not_mz = header.size() >= 2 ? !begins_with_mz(header) : bytes.size() < 2;
  std::array<Impl::Pass, 2> passes;
  const std::size_t n = impl_->passes(not_mz, passes);
  const auto start = std::chrono::steady_clock::now();
  bool scanned = false;
  for (std::size_t p = 0; p < n; ++p) {
    Impl::Pass& pass = passes[p];
    if (impl_->use_gate && !pass.gate->admits(bytes.size(), header, externals)) continue;
    // No rule left for such files. (The gate has ruled them out already: it
    // has no check.)
    if (pass.slot == &*impl_->non_mz && impl_->rules->non_mz_index_.empty()) continue;
    scanned = true;
    ScannerSlot& slot = *pass.slot;
    YR_SCANNER* s = impl_->begin_pass(slot, start, externals, result, false);
    if (s == nullptr) break;
    slot.current = &result;
    slot.skip = pass.skip;
    int rc = ERROR_SUCCESS;
    bool finished = true;
    if (mapped) {
      finished = scan_mapping(s, bytes, rc);
    } else {
      rc = yr_scanner_scan_mem(s, bytes.data(), bytes.size());
    }
    slot.current = nullptr;
    slot.skip = nullptr;
    if (!finished) {
      // The scan was left in the middle, without libyara's clean-up of the
      // scanner's matches and flags: it starts over with a new scanner
      // (module data loaded for this file, if any, is not freed).
      result.matched.clear();
      // (A page the kernel cannot read, an I/O error, faults the same way;
      // truncation is what another local user can cause at will.)
      result.error = "file shrank while being scanned";
      free_abandoned_scan(s);
      open_slot(slot, slot.rules, slot.index, impl_->timeout_s);
      return result;
    }
    result.error = scan_error(rc, impl_->timeout_s);
    if (!result.error.empty()) break;
  }
  result.gated = !scanned;
  sort_matches(result);
  return result;
}

namespace {

// libyara's block iterator over a MemoryBlocks. No file_size function:
// `filesize` is undefined, as when libyara scans a process.
struct BlockIteration {
  MemoryBlocks* blocks = nullptr;
  std::size_t next = 0;
  std::vector<YR_MEMORY_BLOCK> table;
};

const std::uint8_t* fetch_block(YR_MEMORY_BLOCK* block) {
  auto* it = static_cast<BlockIteration*>(block->context);
  const auto i = static_cast<std::size_t>(block - it->table.data());
  const ByteView bytes = it->blocks->fetch(i);
  // A block that shrank is scanned as far as it still reads; libyara reads
  // block->size bytes, so the size follows what was read.
  block->size = bytes.size();
  return bytes.empty() ? nullptr : bytes.data();
}

YR_MEMORY_BLOCK* next_block(YR_MEMORY_BLOCK_ITERATOR* iterator) {
  auto* it = static_cast<BlockIteration*>(iterator->context);
  iterator->last_error = ERROR_SUCCESS;
  if (it->next >= it->table.size()) return nullptr;
  YR_MEMORY_BLOCK* block = &it->table[it->next++];
  // Restored for a block fetched again after fetch_block shortened it.
  block->size = it->blocks->size(static_cast<std::size_t>(block - it->table.data()));
  return block;
}

YR_MEMORY_BLOCK* first_block(YR_MEMORY_BLOCK_ITERATOR* iterator) {
  static_cast<BlockIteration*>(iterator->context)->next = 0;
  return next_block(iterator);
}

}  // namespace

YaraScanResult YaraScanner::scan_memory(MemoryBlocks& blocks, const ScanExternals& externals) {
  YaraScanResult result;
  // Every rule: the whole set, or both split sets.
  std::array<Impl::Pass, 2> passes;
  std::size_t n = 1;
  if (impl_->all) {
    passes[0] = Impl::Pass{&*impl_->all, nullptr, nullptr};
  } else {
    passes[0] = Impl::Pass{&*impl_->non_mz, nullptr, &impl_->rules->in_mz_set_};
    passes[1] = Impl::Pass{&*impl_->mz, nullptr, nullptr};
    n = 2;
  }
  BlockIteration it;
  it.blocks = &blocks;
  it.table.resize(blocks.count());
  for (std::size_t i = 0; i < it.table.size(); ++i) {
    it.table[i].base = blocks.base(i);
    it.table[i].size = blocks.size(i);
    it.table[i].context = &it;
    it.table[i].fetch_data = fetch_block;
  }
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t p = 0; p < n; ++p) {
    ScannerSlot& slot = *passes[p].slot;
    YR_SCANNER* s = impl_->begin_pass(slot, start, externals, result, true);
    if (s == nullptr) break;
    YR_MEMORY_BLOCK_ITERATOR iterator{};
    iterator.context = &it;
    iterator.first = first_block;
    iterator.next = next_block;
    iterator.file_size = nullptr;
    iterator.last_error = ERROR_SUCCESS;
    slot.current = &result;
    slot.skip = passes[p].skip;
    slot.want_addresses = true;
    const int rc = yr_scanner_scan_mem_blocks(s, &iterator);
    slot.want_addresses = false;
    slot.skip = nullptr;
    slot.current = nullptr;
    result.error = scan_error(rc, impl_->timeout_s);
    if (!result.error.empty()) break;
  }
  sort_matches(result);
  return result;
}

}  // namespace iocsweep
