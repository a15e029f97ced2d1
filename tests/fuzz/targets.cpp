#include "targets.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "../filename_reference.hpp"
#include "cache/dir_entries.hpp"
#include "ioc/filename_patterns.hpp"
#include "iocsweep/archive.hpp"
#include "iocsweep/baseline.hpp"
#include "iocsweep/file_types.hpp"
#include "iocsweep/filename_ioc.hpp"
#include "iocsweep/ioc.hpp"
#include "iocsweep/ioc_formats.hpp"
#include "iocsweep/match.hpp"
#include "iocsweep/pack.hpp"
#include "match/rule_gate.hpp"
#include "report/html_report.hpp"
#include "report/report_reader.hpp"

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
    // Every pattern that parses fits a group on its own, so the whole set
    // compiles.
    check(db.compile().ok(), "parsed patterns compile");
    (void)db.match("/mnt/img/Windows/System32/drivers/etc/hosts");
    (void)db.match("C:\\Users\\Public\\evil.exe");
    const std::size_t eol = text.find('\n');
    const std::string_view first_line = text.substr(0, eol == std::string_view::npos ? text.size() : eol);
    // The prefilter and the groups miss nothing and add nothing: on the
    // first line as a path, the indicators reported are those whose
    // pattern RE2 matches on its own (and whose false positive does not).
    if (is_valid_utf8(first_line)) {
      check(test::ids_of(db, first_line) == test::Reference(*parsed).ids(first_line),
            "file-name matches are those of each pattern on its own");
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
  const RuleGate& gate = compiled_gate(**rules);
  if (gate.admits_all() && (*rules)->non_mz_rules() < 0) return 0;
  // The reference: one whole set, no gate, no split, every match
  // recorded (plain yara).
  auto whole = CompiledRules::compile({RuleSource{"fuzz.yar", std::string(text), ""}}, {}, std::nullopt);
  check(bool(whole), "a set that compiles split compiles whole");
  YaraScanner every(*whole, 0, false, StringMatches::kEvery);
  YaraScanner ungated(*rules, 0, false);
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
    check(ungated.scan(file, ext).matched == expected, "the split sets hold every rule");
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

namespace {

// Small limits, so that one input costs little; every limit still applies.
ArchiveOptions fuzz_limits() {
  ArchiveOptions o;
  o.max_member_bytes = 1u << 20;
  o.max_total_bytes = 4u << 20;
  o.max_members = 2000;
  o.ratio_floor_bytes = 256u << 10;
  return o;
}

}  // namespace

int fuzz_archive(const std::uint8_t* data, std::size_t size) {
  const ArchiveOptions o = fuzz_limits();
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

namespace {

// What ArchiveScanner reported about the members of the file itself.
class ListingVisitor final : public ArchiveVisitor {
 public:
  void on_member(const std::vector<std::string>& chain, ByteView, const ImageLocation*) override {
    if (!chain.empty()) seen.insert(chain.front());
  }
  void on_skipped(const std::vector<std::string>& chain, std::string_view, std::string detail) override {
    // A skip without a member, or past a total or count limit, covers the
    // rest of the file.
    if (chain.empty() || detail.find("uncompressed bytes") != std::string::npos ||
        detail.find(" members") != std::string::npos) {
      rest_covered = true;
    }
    if (!chain.empty()) seen.insert(chain.front());
  }
  void on_error(const std::vector<std::string>&, std::string) override { rest_covered = true; }
  void on_image_end(const ImageLayers&) override { image = true; }
  std::set<std::string> seen;
  bool rest_covered = false;
  bool image = false;
};

struct ReaderFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using Reader = std::unique_ptr<struct archive, ReaderFree>;

// An independent reader: every format and filter iocsweep enables, none
// that runs a program. A copy of new_reader()'s list on purpose: a format
// dropped there, or read differently, then shows as a listed member that
// was not scanned.
Reader independent_reader(bool raw_only) {
  Reader a(archive_read_new());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_lzma(a.get());
  archive_read_support_filter_zstd(a.get());
  if (!raw_only) {
    archive_read_support_format_zip(a.get());
    archive_read_support_format_tar(a.get());
    archive_read_support_format_gnutar(a.get());
    archive_read_support_format_7zip(a.get());
    archive_read_support_format_cpio(a.get());
    archive_read_support_format_iso9660(a.get());
    archive_read_support_format_cab(a.get());
    archive_read_support_format_rar(a.get());
    archive_read_support_format_rar5(a.get());
    archive_read_support_format_ar(a.get());
    archive_read_support_format_lha(a.get());
    archive_read_support_format_xar(a.get());
  }
  archive_read_support_format_raw(a.get());
  return a;
}

// A regular member (with bytes of its own) as libarchive lists it: its name
// ("" when it gives none) and whether its bytes are themselves an archive.
struct Listed {
  std::string name;
  bool archive = false;
};

// The members libarchive lists in `bytes`; a single compressed stream is
// one member, "data". Bounded: a listing that costs more stops early.
std::vector<Listed> list_members(ByteView bytes, bool raw_only) {
  std::vector<Listed> out;
  Reader a = independent_reader(raw_only);
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) return out;
  bool any_header = false;
  for (int i = 0; i < 500; ++i) {
    struct archive_entry* e = nullptr;
    const int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF || r < ARCHIVE_WARN) break;
    any_header = true;
    const bool filtered = archive_filter_count(a.get()) > 1;
    if (archive_format(a.get()) == ARCHIVE_FORMAT_RAW) {
      if (filtered) out.push_back({"data", false});
      break;
    }
    if (archive_entry_filetype(e) == AE_IFREG && (archive_entry_hardlink(e) == nullptr || archive_entry_size(e) > 0)) {
      const char* p = archive_entry_pathname(e);
      // Read whole, as an extractor would: where libarchive goes next can
      // depend on it.
      std::vector<std::uint8_t> head(kArchiveSniffBytes);
      const la_ssize_t n = archive_read_data(a.get(), head.data(), head.size());
      const bool archive = n > 0 && looks_like_archive(ByteView(head.data(), static_cast<std::size_t>(n)));
      out.push_back({p != nullptr ? p : "", archive});
      for (la_ssize_t more = n; more > 0 && archive_filter_bytes(a.get(), 0) <= (16 << 20);) {
        more = archive_read_data(a.get(), head.data(), head.size());
      }
    }
    if (archive_filter_bytes(a.get(), 0) > (16 << 20)) break;
  }
  // A compressed stream whose content holds no member is its bytes.
  if (!raw_only && !any_header && archive_filter_count(a.get()) > 1) return list_members(bytes, true);
  return out;
}

}  // namespace

int fuzz_archive_recognition(const std::uint8_t* data, std::size_t size) {
  const ArchiveOptions o = fuzz_limits();
  const ByteView bytes(data, size);
  locale_t utf8 = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  locale_t previous = utf8 != static_cast<locale_t>(nullptr) ? ::uselocale(utf8) : LC_GLOBAL_LOCALE;
  const std::vector<Listed> listed = list_members(bytes, false);
  if (utf8 != static_cast<locale_t>(nullptr)) {
    ::uselocale(previous);
    ::freelocale(utf8);
  }
  const bool recognised = looks_like_archive(bytes);
  // The pipeline's form (head, and a tail read apart) decides the same.
  check(recognised == looks_like_archive(bytes.first(std::min(size, kArchiveSniffBytes)),
                                         bytes.last(std::min(size, kArchiveTailBytes)), size),
        "recognition is the same from the whole bytes and from head and tail");
  if (listed.empty()) return 0;
  check(recognised, "libarchive lists a member of a file iocsweep does not open as an archive");
  ListingVisitor v;
  ArchiveScanner(o).scan(bytes, "input", v);
  if (v.rest_covered) return 0;
  for (const Listed& m : listed) {
    if (m.name.empty()) continue;  // named by iocsweep's own stand-in
    // An image's layers are read as layers, not matched as files: one
    // that holds no file leaves no trace (which layers the image has is
    // the image reader's to check).
    if (v.image && m.archive) continue;
    if (!v.seen.contains(m.name)) {
      std::fprintf(stderr, "member not scanned nor listed: %s\n", m.name.c_str());
      check(false, "libarchive lists a member iocsweep neither scanned nor listed in skipped[]/errors[]");
    }
  }
  return 0;
}

int fuzz_file_types(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text(data, size);
  FileTypeTable table;
  const Status added = table.add(text, "fuzz.txt");
  if (!added) {
    check(added.error().message.starts_with("fuzz.txt:"), "errors name the file and line");
    check(table.size() == 0, "nothing of a bad table is kept");
    return 0;
  }
  const std::string_view type = table.type_of(ByteView(data, size));
  check(table.size() > 0 || type == kUnknownFileType, "an empty table types every file UNKNOWN");
  return 0;
}

int fuzz_pack(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = as_text(data, size);
  if (auto archive = read_pack_archive(bytes)) {
    for (const auto& [path, member] : archive->members) {
      check(!path.empty() && path[0] != '/' && path != ".." && !path.starts_with("../") && !path.ends_with("/..") &&
                path.find("/../") == std::string::npos,
            "pack entry with an unsafe path accepted");
      check(member.size() <= (256u << 20), "pack entry beyond the size limit accepted");
    }
    if (auto manifest = parse_manifest(archive->manifest)) {
      // What parses re-serialises to bytes that parse to the same manifest.
      auto again = parse_manifest(manifest_bytes(*manifest));
      check(again && manifest_bytes(*again) == manifest_bytes(*manifest), "manifest does not round-trip");
    }
  }
  (void)parse_manifest(bytes);
  (void)parse_minisign_public_key(bytes, "input");
  // A fixed key no input holds the secret of: every input is refused.
  MinisignKey key;
  key.key_id = {1, 2, 3, 4, 5, 6, 7, 8};
  key.public_key[0] = 0x3b;  // any point; verification just fails
  key.origin = "fuzz";
  check(!verify_minisign("message", bytes, {key}), "a signature verified without the key's secret");
  check(!verify_pack(bytes, {key}, "2026-01-01"), "a pack verified without the key's secret");
  return 0;
}

int fuzz_reports(const std::uint8_t* data, std::size_t size) {
  auto parsed = parse_reports(as_text(data, size), "fuzz.json");
  if (!parsed) {
    check(parsed.error().message.starts_with("fuzz.json"), "report errors name the file");
    return 0;
  }
  const std::string merged = merged_report(*parsed).dump();
  auto again = parse_reports(merged, "merged.json");
  check(again && again->size() == parsed->size(), "a merged report reads back");
  for (std::size_t i = 0; again && i < again->size(); ++i) {
    check((*again)[i].document == (*parsed)[i].document, "a merged report keeps each document");
  }
  const std::string page = render_html_report(*parsed);
  // The page's own markup has no script, image, frame or event handler:
  // any there came from the input.
  for (const char* markup : {"<script", "<img", "<iframe", "<svg", "<object", "<embed", "<link"}) {
    check(page.find(markup) == std::string::npos, "no markup from the report reaches the page");
  }
  return 0;
}

namespace {

// The checks of fuzz_cache_body on one body.
void check_cache_body(std::string_view body) {
  auto index = index_dir_body(body);
  std::size_t decoded_entries = 0;
  if (index) {
    for (const auto& [name, entry] : index->entries) {
      auto e = decode_dir_entry(*index, entry);
      if (!e) continue;
      ++decoded_entries;
      check(e->name == name, "an entry decodes to the name it was indexed by");
    }
  }
  auto all = decode_dir_body(body);
  if (!all) return;
  check(index && all->size() == index->entries.size() && decoded_entries == all->size(),
        "a body decodes whole only when every indexed entry does");
  std::vector<DirEntryRef> refs;
  for (const DirEntry& e : *all) refs.push_back(DirEntryRef{e.name, &e.key, &e.file});
  const std::string again = encode_dir_body(refs);
  auto back = decode_dir_body(again);
  check(back && back->size() == all->size(), "a decoded body encodes and decodes again");
  for (std::size_t i = 0; back && i < back->size(); ++i) {
    const DirEntry& a = (*all)[i];
    const DirEntry& b = (*back)[i];
    check(a.name == b.name && a.key == b.key && a.file.digests.present == b.file.digests.present &&
              a.file.digests.hex(DigestKind::kMd5) == b.file.digests.hex(DigestKind::kMd5) &&
              a.file.digests.hex(DigestKind::kSha1) == b.file.digests.hex(DigestKind::kSha1) &&
              a.file.digests.hex(DigestKind::kSha256) == b.file.digests.hex(DigestKind::kSha256) &&
              a.file.rules_fingerprint == b.file.rules_fingerprint && a.file.yara_matches == b.file.yara_matches &&
              a.file.not_archive == b.file.not_archive &&
              a.file.clean_members_fingerprint == b.file.clean_members_fingerprint,
          "an entry encodes and decodes to itself");
  }
}

}  // namespace

int fuzz_cache_body(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = as_text(data, size);
  // As a whole body (whose checksum random bytes almost never pass), and as
  // what follows the checksum, with the checksum a writer would give it: the
  // decoder's own checks past the checksum are what is fuzzed.
  check_cache_body(input);
  check_cache_body(seal_dir_body(input));
  return 0;
}

Target target_by_name(std::string_view name) {
  if (name == "fuzz_cache_body") return fuzz_cache_body;
  if (name == "fuzz_file_types") return fuzz_file_types;
  if (name == "fuzz_pack") return fuzz_pack;
  if (name == "fuzz_archive") return fuzz_archive;
  if (name == "fuzz_archive_recognition") return fuzz_archive_recognition;
  if (name == "fuzz_hash_iocs") return fuzz_hash_iocs;
  if (name == "fuzz_filename_iocs") return fuzz_filename_iocs;
  if (name == "fuzz_stix") return fuzz_stix;
  if (name == "fuzz_misp") return fuzz_misp;
  if (name == "fuzz_rules") return fuzz_rules;
  if (name == "fuzz_baseline") return fuzz_baseline;
  if (name == "fuzz_reports") return fuzz_reports;
  return nullptr;
}

}  // namespace iocsweep::fuzz
