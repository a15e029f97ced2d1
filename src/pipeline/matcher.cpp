#include "pipeline/matcher.hpp"

#include <algorithm>

namespace iocsweep {
namespace {

// A coarse type from magic bytes, in the words Loki rules compare
// `filetype` with: used when no file-type table was loaded.
std::string builtin_file_type_of(ByteView bytes) {
  const auto starts = [&](std::string_view magic) {
    return bytes.size() >= magic.size() &&
           std::equal(magic.begin(), magic.end(), bytes.begin(),
                      [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; });
  };
  if (starts("MZ")) return "EXE";
  if (starts("\x7f"
             "ELF"))
    return "ELF";
  if (starts("PK\x03\x04")) return "ZIP";
  if (starts("Rar!")) return "RAR";
  if (starts("\x1f\x8b")) return "GZIP";
  if (starts("%PDF")) return "PDF";
  if (starts("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")) return "OLE";
  return "UNKNOWN";
}

// Digests every file needs before matching whatever its size: the kinds
// the allow-lists use, and MD5 when rules may read the `md5` external.
DigestSet digests_needed_by_every_file(const Pack& pack) {
  DigestSet needed;
  if (pack.allow_hashes) needed = needed | pack.allow_hashes->kinds();
  if (pack.rules && pack.rules->reads_md5()) needed = needed.with(DigestKind::kMd5);
  return needed;
}

}  // namespace

std::string loki_extension_of(std::string_view name) {
  // Python's os.path.splitext: the last dot, unless only dots precede it
  // (".bashrc" and "..x" have none); then str.lower(), here for ASCII.
  const std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || name.find_first_not_of('.') >= dot) return "";
  std::string ext(name.substr(dot));
  for (char& c : ext) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return ext;
}

std::string_view base_name(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

Feed feed_of(ByteView bytes) {
  return [bytes](const std::function<void(ByteView)>& sink) -> Status {
    sink(bytes);
    return Ok{};
  };
}

Matcher::Matcher(const Pack& pack, const AccountNames& accounts, int yara_timeout_s, bool rule_gate)
    : pack_(pack), accounts_(accounts), needed_always_(digests_needed_by_every_file(pack)) {
  if (pack.rules) scanner_.emplace(pack.rules, yara_timeout_s, rule_gate);
}

DigestSet Matcher::needed_for(std::uint64_t size) const {
  return pack_.hash_iocs ? needed_always_ | pack_.hash_iocs->kinds_for_size(size) : needed_always_;
}

void Matcher::match_path(std::string_view path, Finding& finding) const {
  if (!pack_.filename_iocs || pack_.filename_iocs->size() == 0) return;
  for (const FilenameIoc* ioc : pack_.filename_iocs->match(path)) {
    finding.matches.emplace_back(FilenameMatchRecord{ioc});
  }
}

MatchOutcome Matcher::match(const Subject& s, DigestSet kinds, Finding& finding) {
  MatchOutcome out;
  // Hash first, through the feed: for a mapped file this reads with pread
  // (safe against truncation) and leaves the pages in the page cache for
  // the YARA scan of the mapping.
  if (!kinds.empty()) {
    hasher_.begin(kinds);
    Status streamed = (*s.feed)([&](ByteView chunk) { hasher_.update(chunk); });
    if (!streamed) {
      out.kind = MatchOutcome::Kind::kError;
      out.error = streamed.error().message;
      return out;
    }
    finding.digests = hasher_.finish();
  }
  if (pack_.allow_hashes && pack_.allow_hashes->contains(finding.digests)) {
    // Known good: not matched, not reported (Loki's false-positive list).
    out.kind = MatchOutcome::Kind::kAllowListed;
    return out;
  }
  if (pack_.hash_iocs) {
    for (const HashIoc* ioc : pack_.hash_iocs->lookup(finding.digests, s.bytes.size())) {
      finding.matches.emplace_back(HashMatchRecord{ioc});
    }
  }
  if (scanner_) {
    ScanExternals ext;
    if (pack_.rules->uses_externals()) {
      ext.filename = std::string(base_name(s.path));
      ext.filepath = std::string(s.path);
      ext.extension = loki_extension_of(ext.filename);
      ext.filetype = pack_.file_types ? std::string(pack_.file_types->type_of(s.head)) : builtin_file_type_of(s.head);
      ext.owner = s.owner_known ? accounts_.name_of(s.uid) : std::string();
      // Empty when no rule reads it (then it need not be computed).
      if (pack_.rules->reads_md5()) ext.md5 = finding.digests.hex(DigestKind::kMd5);
    }
    out.yara = scanner_->scan(s.bytes, ext, s.mapped, s.head);
    for (const std::size_t index : out.yara.matched) {
      finding.matches.emplace_back(YaraMatchRecord{&pack_.rules->rules()[index]});
    }
    out.error = out.yara.error;
  }
  return out;
}

YaraScanResult Matcher::match_memory(MemoryBlocks& blocks, std::string_view path, std::uint32_t uid) {
  if (!scanner_) return {};
  ScanExternals ext;
  ext.scope = "memory";
  if (pack_.rules->uses_externals()) {
    ext.filename = std::string(base_name(path));
    ext.filepath = std::string(path);
    ext.extension = loki_extension_of(ext.filename);
    ext.owner = accounts_.name_of(uid);
  }
  return scanner_->scan_memory(blocks, ext);
}

Status Matcher::complete_digests(const Feed& feed, Finding& finding) {
  const DigestSet missing = DigestSet::all().minus(finding.digests.present);
  if (missing.empty()) return Ok{};
  hasher_.begin(missing);
  Status streamed = feed([&](ByteView chunk) { hasher_.update(chunk); });
  if (streamed) finding.digests.merge(hasher_.finish());
  return streamed;
}

std::string Matcher::sha256_of(const Feed& feed, const Digests& digests) {
  if (digests.present.has(DigestKind::kSha256)) return digests.hex(DigestKind::kSha256);
  hasher_.begin(DigestSet().with(DigestKind::kSha256));
  if (!feed([&](ByteView chunk) { hasher_.update(chunk); })) return "";
  return hasher_.finish().hex(DigestKind::kSha256);
}

}  // namespace iocsweep
