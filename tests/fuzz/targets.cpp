#include "targets.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "iocsweep/archive.hpp"
#include "iocsweep/baseline.hpp"
#include "iocsweep/filename_ioc.hpp"
#include "iocsweep/ioc.hpp"
#include "iocsweep/ioc_formats.hpp"
#include "iocsweep/match.hpp"

namespace iocsweep::fuzz {
namespace {

// A broken promise is a bug: stop loudly so the fuzzer keeps the input.
void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

bool is_lower_hex(const std::string& s, std::size_t digits) {
  return s.size() == digits &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

void check_hashes(const std::vector<HashIoc>& hashes) {
  for (const HashIoc& ioc : hashes) {
    check(is_lower_hex(ioc.value, digest_hex_length(ioc.kind)), "hash IOC value is lower-case hex of its length");
    check(ioc.score >= 0 && ioc.score <= 100, "hash IOC score is 0-100");
    check(is_valid_utf8(ioc.description), "hash IOC description is UTF-8");
  }
}

// Anything a format parser accepted must load into the databases.
void load_imported(const ImportedIocs& imported) {
  check(imported.unsupported_examples.size() <= kMaxUnsupportedExamples, "unsupported examples are capped");
  check(imported.unsupported_examples.size() <= imported.unsupported, "examples never outnumber the count");
  check(
      std::all_of(imported.notes.begin(), imported.notes.end(), [](const std::string& n) { return is_valid_utf8(n); }),
      "import notes are UTF-8");
  check_hashes(imported.hashes);
  HashIocDb hashes;
  check(hashes.add_iocs(imported.hashes, IocSetInfo{"fuzz", "", 0, 0, 0, 0, 0}).ok(), "imported hashes load");
  FilenameIocDb names;
  check(names.add_iocs(imported.filenames, IocSetInfo{"fuzz", "", 0, 0, 0, 0, 0}).ok(), "imported names load");
  if (names.compile().ok()) (void)names.match("/mnt/img/Windows/System32/evil.exe");
}

}  // namespace

int fuzz_hash_iocs(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text(data, size);
  auto parsed = parse_hash_iocs(text, "fuzz.txt");
  HashIocDb db;
  HashAllowList allow;
  const bool added = db.add_set(text, "fuzz.txt").ok();
  const bool allowed = allow.add_set(text, "fuzz.txt").ok();
  check(parsed.ok() == added && added == allowed, "parser, database and allow-list agree on validity");
  if (!parsed) {
    check(!parsed.error().message.empty() && parsed.error().message.starts_with("fuzz.txt:"), "errors name the file");
    return 0;
  }
  check_hashes(*parsed);
  check(db.size() <= parsed->size(), "database holds at most what was parsed");
  Digests digests;
  (void)db.lookup(digests, size);
  for (const HashIoc& ioc : *parsed) {
    check(db.kinds_for_size(ioc.size.value_or(size)).has(ioc.kind), "a file of an indicator's size is hashed for it");
  }
  (void)allow.contains(digests);
  return 0;
}

int fuzz_filename_iocs(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text(data, size);
  auto parsed = parse_filename_iocs(text, "fuzz.txt");
  if (parsed) {
    FilenameIocDb db;
    check(db.add_iocs(*parsed, IocSetInfo{"fuzz.txt", "", 0, 0, 0, 0, 0}).ok(), "parsed patterns load");
    if (db.compile().ok()) {
      (void)db.match("/mnt/img/Windows/System32/drivers/etc/hosts");
      (void)db.match("C:\\Users\\Public\\evil.exe");
      const std::size_t eol = text.find('\n');
      (void)db.match(text.substr(0, eol == std::string_view::npos ? text.size() : eol));
    }
  } else {
    check(parsed.error().message.starts_with("fuzz.txt:"), "errors name the file");
  }

  // The exact-name helper: any valid name must match a path ending in it.
  if (size > 0 && size <= 512 && is_valid_utf8(text) && text.find('\0') == std::string_view::npos) {
    FilenameIoc ioc;
    ioc.pattern = filename_pattern_for_exact_name(text);
    ioc.score = 50;
    FilenameIocDb db;
    check(db.add_iocs({ioc}, IocSetInfo{"exact", "", 0, 0, 0, 0, 0}).ok(), "exact-name pattern is valid");
    check(db.compile().ok(), "exact-name pattern compiles");
    check(db.match("/some/dir/" + std::string(text)).size() == 1, "exact-name pattern matches its own name");
  }
  return 0;
}

int fuzz_stix(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text(data, size);
  (void)detect_ioc_format(text);
  auto imported = parse_stix_bundle(text, "fuzz.json");
  if (imported) load_imported(*imported);
  return 0;
}

int fuzz_misp(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text(data, size);
  (void)detect_ioc_format(text);
  auto imported = parse_misp_event(text, "fuzz.json");
  if (imported) {
    check(imported->ignored_objects == 0, "MISP ignores no objects");
    load_imported(*imported);
  }
  return 0;
}

int fuzz_rules(const std::uint8_t* data, std::size_t size) {
  // libyara is initialised once for the process, like in iocsweep itself.
  static YaraLibrary library;
  const std::string_view text = as_text(data, size);
  if (text.find("include") != std::string_view::npos) return 0;
  // Any rule requiring MZ gets the second set, so the fuzzer reaches it.
  auto rules = CompiledRules::compile({RuleSource{"fuzz.yar", std::string(text), ""}}, {}, 1);
  if (!rules) {
    check(!rules.error().message.empty(), "rule errors say something");
    return 0;
  }
  // The prefilter (the gate, then the set for files not beginning with
  // "MZ") must report what scanning every file with every rule reports.
  // Files: the rule text itself and a few common headers; names that
  // external-variable tests may compare with.
  const RuleGate& gate = (*rules)->gate();
  if (gate.admits_all() && (*rules)->non_mz_rules() < 0) return 0;
  YaraScanner every(*rules, 0, false);
  YaraScanner prefiltered(*rules);
  static const std::string kFiles[] = {"",
                                       "M",
                                       "MZ",
                                       std::string("MZ\x90\0\3\0\0\0", 8),
                                       "\x7f"
                                       "ELF\2\1\1",
                                       "%PDF-1.7\n",
                                       "@echo off\r\ndel x.exe\r\n",
                                       std::string(5000, 'a')};
  ScanExternals ext;
  ext.filename = "a.exe";
  ext.filepath = "/tmp/a.exe";
  ext.extension = ".exe";
  ext.filetype = "EXE";
  ext.owner = "root";
  ext.md5 = "d41d8cd98f00b204e9800998ecf8427e";
  std::vector<ByteView> files;
  for (const std::string& f : kFiles) files.emplace_back(reinterpret_cast<const std::uint8_t*>(f.data()), f.size());
  files.emplace_back(data, size);
  for (const ByteView file : files) {
    std::vector<std::size_t> expected = every.scan(file, ext).matched;
    std::vector<std::size_t> got = prefiltered.scan(file, ext).matched;
    std::sort(expected.begin(), expected.end());
    std::sort(got.begin(), got.end());
    check(got == expected, "the prefilter changes no verdict");
    if (!gate.admits(file.size(), file, ext)) check(expected.empty(), "the gate rules out only files no rule matches");
  }
  return 0;
}

int fuzz_baseline(const std::uint8_t* data, std::size_t size) {
  auto parsed = Baseline::parse(as_text(data, size), "fuzz.json");
  if (!parsed) {
    check(parsed.error().message.starts_with("fuzz.json: "), "baseline errors name the file");
    return 0;
  }
  // Whatever loaded must answer for findings of each kind without trouble.
  static const RuleInfo rule{"R", "fuzz.yar", {}, {}, 75};
  static const HashIoc hash{DigestKind::kSha256, std::string(64, 'a'), 100, "", "fuzz.txt", 1, std::nullopt};
  static const FilenameIoc name{"x", 80, "", "", "fuzz.txt", 1};
  Finding f;
  f.path = "/p";
  f.matches = {YaraMatchRecord{&rule}, HashMatchRecord{&hash}, FilenameMatchRecord{&name}};
  const std::size_t removed = parsed->suppress(f);
  check(removed + f.matches.size() == 3, "suppress only removes matches");
  return 0;
}

namespace {

// Checks what the archive reader promises about every callback.
class CheckingVisitor final : public ArchiveVisitor {
 public:
  explicit CheckingVisitor(const ArchiveOptions& o) : o_(o) {}
  void on_member(const std::vector<std::string>& chain, ByteView bytes, const ImageLocation* image) override {
    check(!chain.empty() && chain.size() <= o_.max_depth + 1, "member chain within the depth limit");
    check(bytes.size() <= o_.max_member_bytes, "member within the size limit");
    delivered_ += bytes.size();
    check(delivered_ <= o_.max_total_bytes, "members within the total limit");
    ++members_;
    check(members_ <= o_.max_members, "member count within the limit");
    // Touch every byte, so a view past its buffer shows under ASan.
    std::size_t sum = 0;
    for (const std::uint8_t b : bytes) sum += b;
    (void)sum;
    if (image != nullptr) check(image->path.starts_with("/"), "image path is absolute");
  }
  void on_skipped(const std::vector<std::string>&, std::string_view reason, std::string detail) override {
    check(reason == "archive_limit" || reason == "archive_depth" || reason == "encrypted", "known skip reason");
    check(!detail.empty(), "skip has a detail");
  }
  void on_error(const std::vector<std::string>&, std::string error) override {
    check(!error.empty(), "error has a message");
  }
  void on_image_end(const ImageLayers& layers) override { (void)layers.in_final_image(0, "/x"); }

 private:
  const ArchiveOptions& o_;
  std::uint64_t delivered_ = 0;
  std::uint64_t members_ = 0;
};

}  // namespace

int fuzz_archive(const std::uint8_t* data, std::size_t size) {
  ArchiveOptions o;
  o.max_member_bytes = 1u << 20;
  o.max_total_bytes = 4u << 20;
  o.max_members = 2000;
  o.ratio_floor_bytes = 256u << 10;
  const ByteView bytes(data, size);
  (void)looks_like_archive(bytes.first(std::min(size, kArchiveSniffBytes)));
  {
    CheckingVisitor v(o);
    ArchiveScanner(o).scan(bytes, "input.gz", v);
  }
  // The pread path (large files) on the same bytes.
  const ReadAtFn read_at = [&](std::uint64_t offset, std::span<std::uint8_t> out) -> Result<std::size_t> {
    if (offset >= size) return std::size_t{0};
    const std::size_t n = std::min<std::size_t>(out.size(), size - static_cast<std::size_t>(offset));
    std::copy_n(data + offset, n, out.begin());
    return n;
  };
  CheckingVisitor v(o);
  ArchiveScanner(o).scan(size, read_at, "input", v);
  return 0;
}

Target target_by_name(std::string_view name) {
  if (name == "fuzz_archive") return fuzz_archive;
  if (name == "fuzz_hash_iocs") return fuzz_hash_iocs;
  if (name == "fuzz_filename_iocs") return fuzz_filename_iocs;
  if (name == "fuzz_stix") return fuzz_stix;
  if (name == "fuzz_misp") return fuzz_misp;
  if (name == "fuzz_rules") return fuzz_rules;
  if (name == "fuzz_baseline") return fuzz_baseline;
  return nullptr;
}

}  // namespace iocsweep::fuzz
