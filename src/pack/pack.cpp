// Pack files: the manifest, the deterministic tar that holds it, reading
// and verifying one, the rollback state and the trusted keys.

#include "iocsweep/pack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "iocsweep/hash.hpp"
#include "iocsweep/input_file.hpp"
#include "iocsweep/output_file.hpp"
#include "match/rule_gate.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;

struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

constexpr std::string_view kManifestName = "manifest.json";
constexpr std::string_view kSignatureName = "manifest.json.minisig";
// Bounds on what one pack may make iocsweep hold in memory; far above any
// real rule release.
constexpr std::uint64_t kMaxMemberBytes = 256ull << 20;
constexpr std::uint64_t kMaxTotalBytes = 512ull << 20;
constexpr std::size_t kMaxEntries = 10000;
constexpr std::uint64_t kMaxManifestBytes = 16ull << 20;
constexpr std::uint64_t kMaxVersion = (std::uint64_t{1} << 53) - 1;  // exact in every JSON reader

Error malformed(const std::string& why) { return Error{"malformed pack: " + why}; }

bool is_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool is_pack_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), is_name_char);
}

// A member file's own name: [A-Za-z0-9._+-], not starting with '.', at
// most 128 characters; rules end in .yar or .yara.
bool is_member_file_name(std::string_view name, std::string_view kind) {
  if (name.empty() || name.size() > 128 || name[0] == '.') return false;
  if (!std::all_of(name.begin(), name.end(), [](char c) { return is_name_char(c) || c == '+'; })) return false;
  return kind != "rules" || name.ends_with(".yar") || name.ends_with(".yara");
}

// "rules/x.yar" -> kind "rules"; empty when the path is not a member path.
std::string kind_of_member_path(std::string_view path) {
  for (std::string_view kind : {"rules", "iocs"}) {
    if (path.size() > kind.size() + 1 && path.starts_with(kind) && path[kind.size()] == '/' &&
        is_member_file_name(path.substr(kind.size() + 1), kind)) {
      return std::string(kind);
    }
  }
  return {};
}

bool is_lower_hex64(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// A pack holds every rule it uses: a rules member may not `include`
// another file (libyara would read it from wherever the path leads, outside
// the signed pack). Found as libyara's lexer finds the directive (anywhere
// outside comments and strings, after any whitespace: CR too), by the
// prefilter's tokenizer; text it cannot follow counts as an include. The
// compiler refuses includes in pack sources as well (CompiledRules).
Status check_no_include(const std::string& path, std::string_view text) {
  if (!has_include_directive(text)) return Ok{};
  return Error{path + ": include is not allowed in a pack (it must hold every rule it uses)"};
}

Status check_header(const PackManifest& m) {
  if (m.format != 1) return Error{"format " + std::to_string(m.format) + " is not known (this iocsweep reads 1)"};
  if (!is_pack_name(m.name)) return Error{"name must be 1 to 64 of A-Z a-z 0-9 . _ -"};
  if (m.version < 1 || m.version > kMaxVersion) return Error{"version must be a whole number from 1 to 2^53-1"};
  if (!is_pack_date(m.created)) return Error{"created must be a date, YYYY-MM-DD"};
  if (!is_pack_date(m.expires)) return Error{"expires must be a date, YYYY-MM-DD"};
  if (m.expires < m.created) return Error{"expires is before created"};
  if (m.publisher.size() > 256 || m.publisher.find_first_of(std::string_view("\0\n\r", 3)) != std::string::npos) {
    return Error{"publisher must be one line of at most 256 bytes"};
  }
  return Ok{};
}

// Regular files directly in `dir` (none when it does not exist), sorted.
Result<std::vector<std::string>> files_in(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return std::vector<std::string>{};
    return Error{dir + ": " + std::strerror(errno)};
  }
  std::vector<std::string> names;
  std::string bad;
  while (const dirent* ent = ::readdir(d)) {
    const std::string name = ent->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::lstat((dir + "/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      if (bad.empty()) bad = dir + "/" + name + ": not a regular file (a pack holds only files)";
      continue;
    }
    names.push_back(name);
  }
  ::closedir(d);
  if (!bad.empty()) return Error{bad};
  std::sort(names.begin(), names.end());
  return names;
}

la_ssize_t la_write_callback(archive*, void* data, const void* buf, size_t len) {
  static_cast<std::string*>(data)->append(static_cast<const char*>(buf), len);
  return static_cast<la_ssize_t>(len);
}

Status add_entry(archive* a, const std::string& path, std::string_view data) {
  std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new());
  archive_entry_set_pathname(entry.get(), path.c_str());
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(data.size()));
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0644);
  archive_entry_set_mtime(entry.get(), 0, 0);
  archive_entry_set_uid(entry.get(), 0);
  archive_entry_set_gid(entry.get(), 0);
  if (archive_write_header(a, entry.get()) != ARCHIVE_OK ||
      (!data.empty() && archive_write_data(a, data.data(), data.size()) != static_cast<la_ssize_t>(data.size()))) {
    return Error{path + ": " + (archive_error_string(a) ? archive_error_string(a) : "cannot be written")};
  }
  return Ok{};
}

}  // namespace

bool is_pack_date(std::string_view d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (d[i] < '0' || d[i] > '9') return false;
  }
  const int y = std::atoi(std::string(d.substr(0, 4)).c_str());
  const int m = std::atoi(std::string(d.substr(5, 2)).c_str());
  const int day = std::atoi(std::string(d.substr(8, 2)).c_str());
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || m < 1 || m > 12 || day < 1) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return day <= kDays[m - 1] + (m == 2 && leap ? 1 : 0);
}

std::string utc_today() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::string pack_trusted_comment(const PackManifest& m) {
  return "iocsweep-pack name=" + m.name + " version=" + std::to_string(m.version);
}

std::string manifest_bytes(const PackManifest& m) {
  json members = json::array();
  for (const PackMember& mem : m.members) {
    members.push_back({{"path", mem.path}, {"kind", mem.kind}, {"size", mem.size}, {"sha256", mem.sha256}});
  }
  const json doc = {{"format", m.format},   {"name", m.name},           {"version", m.version}, {"created", m.created},
                    {"expires", m.expires}, {"publisher", m.publisher}, {"members", members}};
  return doc.dump(2) + "\n";
}

Result<PackManifest> parse_manifest(std::string_view bytes) {
  if (bytes.size() > kMaxManifestBytes) return malformed("manifest.json is larger than 16 MiB");
  if (json_too_deep_at(bytes, 16)) return malformed("manifest.json nests too deep");
  const json doc = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return malformed("manifest.json is not a JSON object");
  PackManifest m;
  auto str = [&](const char* key, std::string& out) {
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  auto f = doc.find("format");
  auto v = doc.find("version");
  if (f == doc.end() || !f->is_number_unsigned() || v == doc.end() || !v->is_number_unsigned() ||
      !str("name", m.name) || !str("created", m.created) || !str("expires", m.expires) ||
      !str("publisher", m.publisher)) {
    return malformed(
        "manifest.json needs format and version (whole numbers) and name, created, expires, publisher (strings)");
  }
  if (f->get<std::uint64_t>() != 1) return malformed("manifest format " + f->dump() + " is not known");
  m.version = v->get<std::uint64_t>();
  if (Status ok = check_header(m); !ok) return malformed("manifest.json: " + ok.error().message);
  auto members = doc.find("members");
  if (members == doc.end() || !members->is_array()) return malformed("manifest.json has no members array");
  if (members->size() > kMaxEntries) return malformed("manifest.json lists too many members");
  std::set<std::string> seen;
  for (const json& e : *members) {
    PackMember mem;
    auto p = e.find("path");
    auto k = e.find("kind");
    auto s = e.find("size");
    auto h = e.find("sha256");
    if (!e.is_object() || p == e.end() || !p->is_string() || k == e.end() || !k->is_string() || s == e.end() ||
        !s->is_number_unsigned() || h == e.end() || !h->is_string()) {
      return malformed("manifest.json: a member needs path, kind, sha256 (strings) and size (a whole number)");
    }
    mem.path = p->get<std::string>();
    mem.kind = k->get<std::string>();
    mem.size = s->get<std::uint64_t>();
    mem.sha256 = h->get<std::string>();
    if (kind_of_member_path(mem.path) != mem.kind || mem.kind.empty()) {
      return malformed("manifest.json: member path \"" + mem.path + "\" is not rules/NAME.yar or iocs/NAME, or " +
                       "its kind differs");
    }
    if (!is_lower_hex64(mem.sha256)) return malformed("manifest.json: " + mem.path + ": sha256 is not 64 hex digits");
    if (!seen.insert(mem.path).second) return malformed("manifest.json lists " + mem.path + " twice");
    m.members.push_back(std::move(mem));
  }
  return m;
}

Result<PackManifest> manifest_of_directory(const std::string& dir, const PackManifest& header) {
  if (Status ok = check_header(header); !ok) return ok.error();
  PackManifest m = header;
  m.members.clear();
  for (const char* kind : {"iocs", "rules"}) {
    const std::string sub = dir + "/" + kind;
    auto names = files_in(sub);
    if (!names) return names.error();
    for (const std::string& name : *names) {
      if (!is_member_file_name(name, kind)) {
        return Error{sub + "/" + name + ": not a member name a pack allows (A-Z a-z 0-9 . _ + -, not starting " +
                     "with a dot; rules end in .yar or .yara)"};
      }
      auto text = read_input_file(sub + "/" + name, kMaxMemberBytes);
      if (!text) return text.error();
      if (std::string_view(kind) == "rules") {
        if (Status ok = check_no_include(sub + "/" + name, *text); !ok) return ok.error();
      }
      m.members.push_back(PackMember{std::string(kind) + "/" + name, kind, text->size(), sha256_hex(*text)});
    }
  }
  if (m.members.empty()) return Error{dir + ": no rules/*.yar, rules/*.yara or iocs/* files to pack"};
  return m;
}

Result<std::string> write_pack_archive(const std::string& dir, std::string_view manifest_text,
                                       std::string_view signature) {
  auto parsed = parse_manifest(manifest_text);
  if (!parsed) return parsed.error();
  const PackManifest& manifest = *parsed;
  auto current = manifest_of_directory(dir, manifest);
  if (!current) return current.error();
  for (std::size_t i = 0; i < std::max(current->members.size(), manifest.members.size()); ++i) {
    const PackMember* now = i < current->members.size() ? &current->members[i] : nullptr;
    const PackMember* listed = i < manifest.members.size() ? &manifest.members[i] : nullptr;
    if (now == nullptr || listed == nullptr || now->path != listed->path || now->size != listed->size ||
        now->sha256 != listed->sha256) {
      const std::string which = now != nullptr ? now->path : listed->path;
      return Error{dir + "/" + which + ": the directory differs from the manifest here (changed after the " +
                   "manifest was made?)"};
    }
  }
  std::string out;
  std::unique_ptr<archive, ArchiveWriteFree> a(archive_write_new());
  if (!a || archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a.get(), 1) != ARCHIVE_OK ||
      archive_write_open(a.get(), &out, nullptr, la_write_callback, nullptr) != ARCHIVE_OK) {
    return Error{"cannot start the pack archive"};
  }
  if (Status s = add_entry(a.get(), std::string(kManifestName), manifest_text); !s) return s.error();
  if (Status s = add_entry(a.get(), std::string(kSignatureName), signature); !s) return s.error();
  for (const PackMember& mem : manifest.members) {
    auto text = read_input_file(dir + "/" + mem.path, kMaxMemberBytes);
    if (!text) return text.error();
    if (text->size() != mem.size || sha256_hex(*text) != mem.sha256) {
      return Error{dir + "/" + mem.path + ": changed while the pack was written"};
    }
    if (Status s = add_entry(a.get(), mem.path, *text); !s) return s.error();
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return Error{"cannot finish the pack archive"};
  return out;
}

Result<PackArchive> read_pack_archive(std::string_view bytes) {
  if (bytes.size() > kMaxTotalBytes + (kMaxTotalBytes >> 4)) return malformed("the file is larger than 512 MiB");
  std::unique_ptr<archive, ArchiveReadFree> a(archive_read_new());
  if (!a || archive_read_support_format_tar(a.get()) != ARCHIVE_OK ||
      archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    return malformed("not a tar archive");
  }
  PackArchive out;
  bool has_manifest = false;
  std::set<std::string> seen;
  std::uint64_t total = 0;
  for (;;) {
    archive_entry* entry = nullptr;
    const int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK) {
      const char* why = archive_error_string(a.get());
      return malformed(std::string("not a tar archive, or a truncated one") + (why ? std::string(": ") + why : ""));
    }
    if (seen.size() >= kMaxEntries) return malformed("more than 10000 entries");
    const char* raw_path = archive_entry_pathname(entry);
    const std::string path = raw_path ? raw_path : "";
    const std::string shown = "\"" + path.substr(0, 200) + "\"";
    if (path.empty() || path[0] == '/' || path == ".." || path.starts_with("../") || path.ends_with("/..") ||
        path.find("/../") != std::string::npos || path.find("//") != std::string::npos) {
      return malformed("entry " + shown + " has an empty, absolute or \"..\" path");
    }
    if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry) != nullptr ||
        archive_entry_symlink(entry) != nullptr) {
      return malformed("entry " + shown + " is not a regular file");
    }
    if (!seen.insert(path).second) return malformed("entry " + shown + " is in the archive twice");
    if (!archive_entry_size_is_set(entry) || archive_entry_size(entry) < 0) {
      return malformed("entry " + shown + " has no size");
    }
    // The writer never makes sparse entries; a hole would expand to zeros
    // that the file does not hold (a tiny file claiming hundreds of MiB).
    if (archive_entry_sparse_count(entry) > 0) return malformed("entry " + shown + " is sparse");
    const auto size = static_cast<std::uint64_t>(archive_entry_size(entry));
    if (size > kMaxMemberBytes) return malformed("entry " + shown + " is larger than 256 MiB");
    total += size;
    if (total > kMaxTotalBytes) return malformed("the entries hold more than 512 MiB");
    // Nothing is allocated for more than the file holds: an entry whose
    // header claims more is truncated whatever comes after it.
    if (total > bytes.size()) return malformed("entry " + shown + " claims more bytes than the file holds");
    std::string data(size, '\0');
    std::size_t got = 0;
    while (got < size) {
      const la_ssize_t n = archive_read_data(a.get(), data.data() + got, size - got);
      if (n <= 0) return malformed("entry " + shown + " is truncated");
      got += static_cast<std::size_t>(n);
    }
    if (path == kManifestName) {
      out.manifest = std::move(data);
      has_manifest = true;
    } else if (path == kSignatureName) {
      out.signature = std::move(data);
      out.has_signature = true;
    } else {
      out.members.emplace(path, std::move(data));
    }
  }
  if (!has_manifest) return malformed("no manifest.json in it");
  return out;
}

Result<VerifiedPack> verify_pack(std::string_view bytes, const std::vector<MinisignKey>& trusted,
                                 const std::string& today) {
  auto archive = read_pack_archive(bytes);
  if (!archive) return archive.error();
  if (!archive->has_signature) return Error{"missing signature: the pack has no manifest.json.minisig"};
  // The signature is checked before the manifest is parsed: nothing an
  // untrusted signer wrote is interpreted beyond the tar and signature
  // framing.
  auto sig = verify_minisign(archive->manifest, archive->signature, trusted);
  if (!sig) {
    if (sig.error().message.starts_with("malformed signature")) return Error{"bad signature: " + sig.error().message};
    return sig.error();
  }
  auto manifest = parse_manifest(archive->manifest);
  if (!manifest) return manifest.error();
  const std::string expected = pack_trusted_comment(*manifest);
  if (sig->trusted_comment != expected) {
    return Error{"trusted comment mismatch: the signature's trusted comment is \"" +
                 sig->trusted_comment.substr(0, 200) + "\", the manifest needs \"" + expected + "\""};
  }
  VerifiedPack out;
  for (const PackMember& mem : manifest->members) {
    auto it = archive->members.find(mem.path);
    if (it == archive->members.end()) return Error{"member missing: " + mem.path + " is listed but not in the pack"};
    if (it->second.size() != mem.size || sha256_hex(it->second) != mem.sha256) {
      return Error{"member hash differs: " + mem.path + " is not the file the manifest lists"};
    }
  }
  for (const auto& member : archive->members) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one.
    const std::string& path = member.first;
    const bool listed = std::any_of(manifest->members.begin(), manifest->members.end(),
                                    [&](const PackMember& m) { return m.path == path; });
    if (!listed) return Error{"member not in manifest: \"" + path.substr(0, 200) + "\""};
  }
  if (today > manifest->expires) {
    return Error{"expired: " + manifest->name + " version " + std::to_string(manifest->version) + " expired on " +
                 manifest->expires + " (today is " + today + ", UTC)"};
  }
  for (const PackMember& mem : manifest->members) {
    if (mem.kind == "rules") {
      if (Status ok = check_no_include(mem.path, archive->members[mem.path]); !ok) return malformed(ok.error().message);
    }
  }
  for (const PackMember& mem : manifest->members) {
    out.members.emplace_back(mem.path, std::move(archive->members[mem.path]));
  }
  out.manifest = std::move(*manifest);
  out.key_id_hex = sig->key_id_hex;
  out.prehashed = sig->prehashed;
  out.fingerprint = sha256_hex(bytes);
  return out;
}

Result<PackState> PackState::load(const std::string& path) {
  PackState state;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) return state;
  auto text = read_input_file(path, 16ull << 20);
  if (!text) return text.error();
  const json doc = json::parse(*text, nullptr, false);
  auto packs = doc.is_object() ? doc.find("packs") : doc.end();
  if (!doc.is_object() || packs == doc.end() || !packs->is_object()) {
    return Error{path + ": not an iocsweep pack state file ({\"packs\": {NAME: VERSION}})"};
  }
  for (const auto& [name, version] : packs->items()) {
    if (!version.is_number_unsigned()) return Error{path + ": " + name + ": the version is not a whole number"};
    state.highest_[name] = version.get<std::uint64_t>();
  }
  return state;
}

Status PackState::check(const PackManifest& manifest) const {
  auto it = highest_.find(manifest.name);
  if (it != highest_.end() && manifest.version < it->second) {
    return Error{"rollback: " + manifest.name + " version " + std::to_string(manifest.version) +
                 " is older than version " + std::to_string(it->second) + ", accepted on this host before"};
  }
  return Ok{};
}

void PackState::record(const PackManifest& manifest) {
  std::uint64_t& v = highest_[manifest.name];
  v = std::max(v, manifest.version);
}

std::string PackState::text() const {
  json packs = json::object();
  for (const auto& [name, version] : highest_) packs[name] = version;
  return json{{"packs", packs}}.dump(2) + "\n";
}

Status PackState::save(const std::string& path) const {
  auto file = OutputFile::create(path);
  if (!file) return file.error();
  (*file)->stream() << text();
  return (*file)->commit();
}

namespace {

// $VAR/iocsweep when VAR is an absolute path, else ~/FALLBACK/iocsweep.
std::string user_dir(const char* var, const char* fallback) {
  const char* v = std::getenv(var);
  if (v != nullptr && v[0] == '/') return std::string(v) + "/iocsweep";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && home[0] == '/' ? home : "") + "/" + fallback + "/iocsweep";
}

// Refused unless root or this user owns it and nobody else may write it:
// a key another user could swap is no trust anchor.
Status check_owned(const std::string& path, const struct stat& st) {
  if ((st.st_uid != 0 && st.st_uid != ::geteuid()) || (st.st_mode & 022) != 0) {
    return Error{path + ": refused as a trusted key location: it must belong to root or to this user and be " +
                 "writable by nobody else"};
  }
  return Ok{};
}

}  // namespace

std::string default_pack_state_path() {
  if (::geteuid() == 0) return "/var/lib/iocsweep/packs.json";
  return user_dir("XDG_STATE_HOME", ".local/state") + "/packs.json";
}

std::string default_trusted_keys_dir() {
  if (::geteuid() == 0) return "/etc/iocsweep/trusted-keys";
  return user_dir("XDG_CONFIG_HOME", ".config") + "/trusted-keys";
}

Result<std::vector<MinisignKey>> load_trusted_keys(const std::vector<std::string>& trust, const std::string& dir) {
  std::vector<MinisignKey> keys;
  for (const std::string& t : trust) {
    struct stat st {};
    if (::stat(t.c_str(), &st) != 0) {
      // Not a file: the base64 key itself, as minisign -P takes it.
      auto key = parse_minisign_public_key(t, "--trust key");
      if (!key) return Error{t + ": neither a readable public key file nor a base64 minisign key"};
      keys.push_back(std::move(*key));
      continue;
    }
    auto text = read_input_file(t, 4096);
    if (!text) return text.error();
    auto key = parse_minisign_public_key(*text, t);
    if (!key) return key.error();
    keys.push_back(std::move(*key));
  }
  if (!trust.empty()) return keys;
  struct stat dst {};
  if (::stat(dir.c_str(), &dst) != 0) return keys;
  if (Status ok = check_owned(dir, dst); !ok) return ok.error();
  auto names = files_in(dir);
  if (!names) return names.error();
  for (const std::string& name : *names) {
    if (!name.ends_with(".pub")) continue;
    const std::string path = dir + "/" + name;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return Error{path + ": " + std::strerror(errno)};
    if (Status ok = check_owned(path, st); !ok) return ok.error();
    auto text = read_input_file(path, 4096);
    if (!text) return text.error();
    auto key = parse_minisign_public_key(*text, path);
    if (!key) return key.error();
    keys.push_back(std::move(*key));
  }
  return keys;
}

}  // namespace iocsweep
