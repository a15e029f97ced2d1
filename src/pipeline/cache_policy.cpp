#include "pipeline/cache_policy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "iocsweep/hash.hpp"

namespace iocsweep {
namespace {

// A file whose ctime or mtime is less than this before the moment it was
// stat'ed is never cached: far above the kernel's timestamp granularity
// (one jiffy, at most 10 ms). The writeback delay (CacheContext) is
// usually far longer.
constexpr std::int64_t kRacyWindowNs = 100'000'000;

// Fingerprint of everything that decides a YARA verdict besides the
// file: the rule sources and the libyara that runs them. The externals
// come from the path (part of the cache key), from the owner and the
// bytes (a change of either changes ctime) and from the account names
// (`accounts`: the text they were read from, when rules use them).
std::string rules_fingerprint(const Pack& pack, const AccountNames& accounts) {
  std::string text = "iocsweep rules fingerprint 1\nlibyara ";
  text += yara_version();
  text += '\n';
  for (const RulesetInfo& r : pack.rules->rulesets()) {
    text += r.name;
    text += '\0';
    text += r.sha256;
    text += '\n';
  }
  if (pack.rules->uses_externals()) {
    text += "accounts " + accounts.source_sha256() + "\n";
    // The other externals' values: `extension` as Loki gives it (2) and
    // `filetype` from the file-type table, or the built-in list.
    text += "externals 2 filetypes " + (pack.file_types ? pack.file_types->sha256() : std::string("builtin")) + "\n";
  }
  return sha256_hex(text);
}

// Everything an archive's members are matched with: a clean archive stays
// clean while this holds.
std::string members_fingerprint(const ScanConfig& config, const std::string& rules_fp) {
  // Bumped when the same indicator files can load differently (2: sized
  // hashes, STIX AND patterns, lists classified by name, REGEX;DESCRIPTION
  // lines) or archives are read differently (3: members once hidden by a
  // ratio skip, a NUL-led stream or a dropped name are read), so an archive
  // found clean before is looked at again.
  std::string text = "iocsweep members fingerprint 3\nrules " + rules_fp + "\n";
  const auto sets = [&](const char* kind, const std::vector<IocSetInfo>& infos) {
    for (const IocSetInfo& s : infos) text += std::string(kind) + " " + s.name + '\0' + s.sha256 + "\n";
  };
  if (config.pack.hash_iocs) sets("hash", config.pack.hash_iocs->sets());
  if (config.pack.filename_iocs) sets("filename", config.pack.filename_iocs->sets());
  if (config.pack.allow_hashes) sets("allow", config.pack.allow_hashes->sets());
  const ArchiveOptions& a = config.archive;
  text += "archive " + std::to_string(a.max_depth) + " " + std::to_string(a.max_member_bytes) + " " +
          std::to_string(a.max_total_bytes) + " " + std::to_string(a.max_members) + " " + std::to_string(a.max_ratio) +
          " " + std::to_string(a.ratio_floor_bytes) + "\n";
  return sha256_hex(text);
}

std::int64_t realtime_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

// The stat identity of `entry`, without opening it (so a cache hit costs
// no open, no read and no atime change); nothing when it is not a
// regular file or cannot be stat'ed (the read will say why).
std::optional<FileKey> stat_key(const WalkEntry& entry) {
  struct stat st {};
  const int dir = entry.parent ? entry.parent->fd() : AT_FDCWD;
  if (::fstatat(dir, entry.name.c_str(), &st, entry.follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) return std::nullopt;
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  return file_key_of(st);
}

}  // namespace

CacheContext CacheContext::make(const ScanConfig& config) {
  CacheContext ctx;
  if (config.pack.rules && config.pack.rules->uses_externals()) ctx.accounts = AccountNames::load("/etc/passwd");
  ctx.cache = config.cache.get();
  ctx.verify = config.verify_cache;
  // Read once per scan: the kernel's settings, unless the user chose.
  if (ctx.cache != nullptr) {
    ctx.min_age_ns = config.cache_min_age_ns ? config.cache_min_age_ns : current_writeback_settle_ns();
    if (ctx.min_age_ns) ctx.min_age_ns = std::max(*ctx.min_age_ns, kRacyWindowNs);
  }
  if (ctx.cache != nullptr && config.pack.rules) {
    ctx.fingerprint = rules_fingerprint(config.pack, ctx.accounts);
    const auto& rules = config.pack.rules->rules();
    for (std::size_t i = 0; i < rules.size(); ++i) ctx.rule_index.emplace(rules[i].ns + '\0' + rules[i].name, i);
  }
  if (ctx.cache != nullptr && config.archives) ctx.members = members_fingerprint(config, ctx.fingerprint);
  return ctx;
}

CachePolicy::CachePolicy(const ScanConfig& config, const CacheContext& context) : config_(config), ctx_(context) {
  if (context.cache != nullptr) {
    if (auto r = context.cache->reader()) reader_ = std::move(*r);
  }
}

CachePolicy::Lookup CachePolicy::lookup(const WalkEntry& entry) {
  Lookup out;
  if (!reader_) return out;
  out.stat_ns = realtime_ns();
  if (reader_->answers_nothing()) {
    out.key_after_read = true;
    return out;
  }
  out.key = stat_key(entry);
  // On a filesystem whose times a write through a mapping may leave
  // alone, the key proves nothing: neither answered nor stored.
  if (out.key && !trusts_device(entry, *out.key)) out.key.reset();
  if (out.key) out.cached = reader_->find(entry.path, *out.key);
  // A file now above --max-filesize is skipped by the reader, as any.
  if (out.key && out.key->size > config_.read.max_filesize) out.cached.reset();
  return out;
}

void CachePolicy::key_from_read(const WalkEntry& entry, const FileInfo& info, Lookup& look) {
  if (!look.key_after_read) return;
  look.key_after_read = false;
  // st_size, not the bytes read: a file of size 0 that had grown by the
  // read is not stored (pipeline.cpp compares the two), as for a stat key.
  look.key = FileKey{info.device, info.inode, info.stat_size, info.mtime_ns, info.ctime_ns};
  if (!trusts_device(entry, *look.key)) look.key.reset();
}

CachePolicy::Answer CachePolicy::answer(const FileKey& key, const CachedFile& c, const Matcher& matcher,
                                        Finding& finding) const {
  if (!matcher.needed_for(key.size).minus(c.digests.present).empty()) return Answer::kRead;
  const Pack& pack = config_.pack;
  // Known good, archive or not (its members are not looked at when read
  // either).
  if (pack.allow_hashes && pack.allow_hashes->contains(c.digests)) return Answer::kAllowListed;
  // Stored by a sweep that did not look for members, it may be an
  // archive; an archive answers only when its members were clean under
  // the same rules, indicators and limits.
  // "Not an archive" holds only as far as the recognition that said so:
  // one stored before looks_like_archive() followed libarchive's bidders
  // (a zip behind a prefix, a v7 tar) does not answer.
  const bool not_archive = c.not_archive && c.clean_members_fingerprint == kNotArchiveMark;
  if (config_.archives && !not_archive &&
      (c.clean_members_fingerprint.empty() || c.clean_members_fingerprint != ctx_.members)) {
    return Answer::kRead;
  }
  std::vector<MatchRecord> matches = finding.matches;
  if (pack.hash_iocs) {
    for (const HashIoc* ioc : pack.hash_iocs->lookup(c.digests, key.size)) matches.emplace_back(HashMatchRecord{ioc});
  }
  if (matcher.has_rules()) {
    if (c.rules_fingerprint.empty() || c.rules_fingerprint != ctx_.fingerprint) return Answer::kRead;
    for (const RuleId& id : c.yara_matches) {
      const auto it = ctx_.rule_index.find(id.ns + '\0' + id.name);
      if (it == ctx_.rule_index.end()) return Answer::kRead;
      matches.emplace_back(YaraMatchRecord{&pack.rules->rules()[it->second]});
    }
  }
  // A finding carries every digest; an entry that lacks some is read.
  if (!matches.empty() && c.digests.present != DigestSet::all()) return Answer::kRead;
  if (matches.empty()) return Answer::kClean;
  finding.matches = std::move(matches);
  finding.digests = c.digests;
  finding.cached = true;
  return Answer::kFinding;
}

// Whether the cache may answer for and store `entry`, by the type of the
// filesystem on its device: one O_PATH open and fstatfs per device and
// worker (no read, no atime change), remembered only when the descriptor
// is the file that was stat'ed.
bool CachePolicy::trusts_device(const WalkEntry& entry, const FileKey& key) {
  if (const auto it = trusted_devices_.find(key.device); it != trusted_devices_.end()) return it->second;
  const int dir = entry.parent ? entry.parent->fd() : AT_FDCWD;
  const int fd = ::openat(dir, entry.name.c_str(), O_PATH | O_CLOEXEC | (entry.follow ? 0 : O_NOFOLLOW));
  if (fd < 0) return false;
  struct stat st {};
  struct statfs fs {};
  const bool known = ::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_dev) == key.device &&
                     static_cast<std::uint64_t>(st.st_ino) == key.inode && ::fstatfs(fd, &fs) == 0;
  ::close(fd);
  if (!known) return false;
  const bool trusted = cache_trusts_filesystem(static_cast<std::uint64_t>(fs.f_type));
  trusted_devices_.emplace(key.device, trusted);
  return trusted;
}

void CachePolicy::remember(const std::string& path, const std::optional<FileKey>& key, std::int64_t stat_ns,
                           const Digests& digests, const YaraScanResult* yara, bool checked_not_archive,
                           const std::string& clean_members) {
  if (!key || ctx_.cache == nullptr || !ctx_.min_age_ns) return;
  // A file changed less than min_age_ns before its stat is not stored.
  // Racy clean (as git's index): the kernel stamps ctime from a coarse
  // clock, so a write just after the stat could leave the key unchanged.
  // Writeback: a page dirtied through a shared mapping is rewritten
  // without a fault, so without a time update, until it is written back;
  // the fault that dirtied it moved ctime, so a file whose ctime is older
  // than the writeback delay has no such page, and any later write
  // through a mapping faults and moves ctime. An entry stored so stays
  // true for as long as its key does: lookups need no such check.
  const std::int64_t settled_before = stat_ns - *ctx_.min_age_ns;
  if (key->ctime_ns > settled_before || key->mtime_ns > settled_before) return;
  CachedFile file;
  file.digests = digests;
  file.not_archive = checked_not_archive;
  file.clean_members_fingerprint = clean_members;
  if (config_.pack.rules && yara != nullptr) {
    file.rules_fingerprint = ctx_.fingerprint;
    for (const std::size_t index : yara->matched) {
      const RuleInfo& rule = config_.pack.rules->rules()[index];
      file.yara_matches.push_back(RuleId{rule.ns, rule.name});
    }
  }
  ctx_.cache->store(path, *key, std::move(file));
}

std::string CachePolicy::verify(const CachedFile& c, const Digests& now) {
  for (const DigestKind kind : {DigestKind::kSha256, DigestKind::kSha1, DigestKind::kMd5}) {
    if (!c.digests.present.has(kind) || !now.present.has(kind)) continue;
    if (c.digests.hex(kind) == now.hex(kind)) return "";
    return std::string(
               "content differs from the scan cache although device, inode, size, "
               "mtime and ctime are unchanged (cached ") +
           std::string(digest_name(kind)) + " " + c.digests.hex(kind) + ", now " + now.hex(kind) + ")";
  }
  return "";
}

}  // namespace iocsweep
