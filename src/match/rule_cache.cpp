#include "match/rule_cache.hpp"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yara.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>

#include "common/fd.hpp"
#include "iocsweep/hash.hpp"

namespace iocsweep::rule_cache {
namespace {

// Compiled rules are bytecode that libyara trusts: only a directory and a
// file that this user owns and nobody else can write are acceptable.
bool trusted(const struct stat& st, bool directory) {
  if (st.st_uid != ::geteuid()) return false;
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) return false;
  return directory ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

// The cache directory opened once and checked through its descriptor;
// every entry is then created, read, renamed and removed relative to it. A
// check of the path followed by uses of the path would let another user
// who can rename entries beside it swap in a link (renameat2 exchange)
// between the two. The way there is walked through descriptors too
// (links on it followed only when root or this user made them), so a
// swapped parent cannot send even the creation of missing directories
// elsewhere; the directory itself is never a link (O_NOFOLLOW, with any
// trailing slash dropped: it would make the kernel follow one).
UniqueFd open_trusted_dir(std::string dir, bool create) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  int links = 0;
  auto parent = open_directory_path(dir_of(dir), links, create);
  const std::string name = base_of(dir);
  if (!parent || name.empty()) return UniqueFd();
  // Missing parents too (~/.cache may not exist yet), private like the
  // XDG base directory specification asks.
  if (create && ::mkdirat(parent->get(), name.c_str(), 0700) != 0 && errno != EEXIST) return UniqueFd();
  UniqueFd fd(::openat(parent->get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !trusted(st, true)) return UniqueFd();
  return fd;
}

std::string entry_name(const std::string& key) { return "rules-" + key + ".yarc"; }

// A refused key is met by every load and save of a compile: said once.
void warn_once(std::vector<std::string>& warnings, std::string message) {
  if (std::find(warnings.begin(), warnings.end(), message) == warnings.end()) warnings.push_back(std::move(message));
}

constexpr std::size_t kKeySize = 32;
constexpr std::size_t kMacSize = 32;  // HMAC-SHA256
// A compiled set larger than this is not a set this installation wrote.
constexpr off_t kMaxEntrySize = off_t{1} << 30;

using Key = std::array<unsigned char, kKeySize>;
using Mac = std::array<unsigned char, kMacSize>;

bool read_all(int fd, unsigned char* out, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::read(fd, out, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool write_all(int fd, const unsigned char* in, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, in, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    in += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// The key authenticates everything loaded, so it must be this user's alone:
// a regular file (never a link: O_NOFOLLOW), owned by this user, that
// neither group nor others can read or write, of exactly the key's size.
// `missing` tells a key not made yet (no warning) from a refused one.
std::optional<Key> read_key(int dirfd, std::vector<std::string>& warnings, const std::string& dir, bool& missing) {
  missing = false;
  UniqueFd fd(::openat(dirfd, kKeyFileName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) {
    missing = errno == ENOENT;
    if (!missing) {
      warn_once(warnings, "rule cache " + dir + ": key file " + kKeyFileName + " refused (" + std::strerror(errno) +
                              "); the cache is not used");
    }
    return std::nullopt;
  }
  struct stat st {};
  Key key{};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
      (st.st_mode & (S_IRWXG | S_IRWXO)) != 0 || st.st_size != static_cast<off_t>(kKeySize) ||
      !read_all(fd.get(), key.data(), key.size())) {
    warn_once(warnings, "rule cache " + dir + ": key file " + kKeyFileName +
                            " refused (not a regular file of this user with mode 0600 and 32 bytes); the cache is not "
                            "used");
    return std::nullopt;
  }
  return key;
}

// Made under a temporary name (O_EXCL | O_NOFOLLOW) and linked into place:
// the link fails rather than replace a key another run made meanwhile, and
// no reader ever sees a partly written key.
std::optional<Key> read_or_create_key(int dirfd, std::vector<std::string>& warnings, const std::string& dir) {
  bool missing = false;
  if (auto key = read_key(dirfd, warnings, dir, missing)) return key;
  if (!missing) return std::nullopt;
  Key key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) return std::nullopt;
  auto temp = create_file_at(dirfd, ".rule-cache-key.", 0600);
  if (!temp) return std::nullopt;
  const bool written = ::fchmod(temp->fd.get(), 0600) == 0 && write_all(temp->fd.get(), key.data(), key.size()) &&
                       ::fsync(temp->fd.get()) == 0;
  const bool linked = written && ::linkat(dirfd, temp->name.c_str(), dirfd, kKeyFileName, 0) == 0;
  const int link_errno = errno;
  ::unlinkat(dirfd, temp->name.c_str(), 0);
  if (linked) return key;
  // Another run made it first: use theirs, under the same checks.
  if (written && link_errno == EEXIST) return read_key(dirfd, warnings, dir, missing);
  if (!written || (link_errno != EPERM && link_errno != EOPNOTSUPP)) return std::nullopt;
  // A file system without hard links: made in place, O_EXCL | O_NOFOLLOW
  // still. A reader meeting it half written refuses it (its size), once.
  UniqueFd fd(::openat(dirfd, kKeyFileName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600));
  if (!fd || ::fchmod(fd.get(), 0600) != 0 || !write_all(fd.get(), key.data(), key.size()) || ::fsync(fd.get()) != 0) {
    return std::nullopt;
  }
  return key;
}

// The MAC binds the cache key (the sources' hashes, libyara's version, the
// externals) as well as the bytes, so a valid file renamed to another
// entry does not verify either. Fed in pieces, so a large set is never
// held whole.
class MacStream {
 public:
  MacStream(const Key& key, const std::string& cache_key) {
    if (!mac_ || !ctx_) return;
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
    static constexpr char kDomain[] = "iocsweep-rule-cache-v1";
    const std::string header = std::string(kDomain, sizeof kDomain) + cache_key + '\0';
    ok_ = EVP_MAC_init(ctx_.get(), key.data(), key.size(), params) == 1 &&
          EVP_MAC_update(ctx_.get(), reinterpret_cast<const unsigned char*>(header.data()), header.size()) == 1;
  }
  void update(const unsigned char* data, std::size_t size) { ok_ = ok_ && EVP_MAC_update(ctx_.get(), data, size) == 1; }
  std::optional<Mac> final() {
    Mac out{};
    std::size_t out_size = 0;
    if (!ok_ || EVP_MAC_final(ctx_.get(), out.data(), &out_size, out.size()) != 1 || out_size != out.size()) {
      return std::nullopt;
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)> mac_{EVP_MAC_fetch(nullptr, "HMAC", nullptr), EVP_MAC_free};
  std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx_{mac_ ? EVP_MAC_CTX_new(mac_.get()) : nullptr,
                                                                 EVP_MAC_CTX_free};
  bool ok_ = false;
};

std::optional<Mac> mac_of(const Key& key, const std::string& cache_key, const unsigned char* data, std::size_t size) {
  MacStream mac(key, cache_key);
  mac.update(data, size);
  return mac.final();
}

// A cached set is read twice, a piece at a time, rather than held whole
// (signature-base's is 16 MB): once to check its MAC, noting each piece's
// SHA-256, and once for libyara, which is handed a piece only when it
// hashes as it did the first time. So libyara reads only bytes whose MAC
// was checked, even if the file changed between the two reads.
constexpr std::size_t kPieceSize = std::size_t{1} << 20;

// Reads piece `index` of the `body` bytes at the start of `fd` into `out`;
// false on a read error or a short read.
bool read_piece(int fd, std::size_t body, std::size_t index, std::vector<unsigned char>& out) {
  const std::size_t offset = index * kPieceSize;
  out.resize(std::min(kPieceSize, body - offset));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::string piece_digest(const std::vector<unsigned char>& piece) {
  return sha256_hex(std::string_view(reinterpret_cast<const char*>(piece.data()), piece.size()));
}

// libyara's reader for the second read (YR_STREAM).
struct PieceReader {
  int fd;
  std::size_t body;
  const std::vector<std::string>* digests;
  std::vector<unsigned char> piece;
  std::size_t next_piece = 0;  // the piece after the one in `piece`
  std::size_t pos = 0;         // within `piece`
  bool changed = false;        // a piece did not hash as it did, or could not be read again
  // Everything checked was handed over, and nothing else.
  bool read_whole() const { return !changed && next_piece == digests->size() && pos == piece.size(); }
};

size_t piece_read(void* ptr, size_t size, size_t count, void* user_data) {
  auto* in = static_cast<PieceReader*>(user_data);
  if (size == 0 || count > (std::numeric_limits<std::size_t>::max)() / size) return 0;
  auto* out = static_cast<unsigned char*>(ptr);
  std::size_t want = size * count, done = 0;
  while (done < want) {
    if (in->pos == in->piece.size()) {
      const std::size_t i = in->next_piece;
      if (i >= in->digests->size()) return done / size;  // the end of what was checked
      if (!read_piece(in->fd, in->body, i, in->piece) || piece_digest(in->piece) != (*in->digests)[i]) {
        in->changed = true;
        in->piece.clear();
        in->pos = 0;
        return done / size;
      }
      in->next_piece = i + 1;
      in->pos = 0;
    }
    const std::size_t n = std::min(want - done, in->piece.size() - in->pos);
    std::memcpy(out + done, in->piece.data() + in->pos, n);
    in->pos += n;
    done += n;
  }
  return count;
}

size_t memory_write(const void* ptr, size_t size, size_t count, void* user_data) {
  auto* out = static_cast<std::vector<unsigned char>*>(user_data);
  const auto* bytes = static_cast<const unsigned char*>(ptr);
  out->insert(out->end(), bytes, bytes + size * count);
  return count;
}

}  // namespace

void* load(const std::string& dir, const std::string& key, std::vector<std::string>& warnings,
           const std::function<void()>& between_reads) {
  const UniqueFd dirfd = open_trusted_dir(dir, false);
  if (!dirfd) return nullptr;
  const std::string name = entry_name(key);
  UniqueFd fd(::openat(dirfd.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME | O_NONBLOCK));
  if (!fd) return nullptr;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !trusted(st, false) || st.st_size > kMaxEntrySize) return nullptr;
  bool missing = false;
  const std::optional<Key> mac_key = read_key(dirfd.get(), warnings, dir, missing);
  const std::string rejected = "rule cache " + dir + ": " + name + " ignored, ";
  if (!mac_key) {
    if (missing) warn_once(warnings, rejected + "no key to authenticate it; it is rebuilt");
    return nullptr;
  }
  // Files without a MAC (written before the cache was authenticated) fail
  // here like altered ones.
  const std::size_t size = static_cast<std::size_t>(st.st_size);
  const std::size_t body = size >= kMacSize ? size - kMacSize : 0;
  std::vector<std::string> digests;
  std::vector<unsigned char> piece;
  MacStream mac(*mac_key, key);
  bool read_ok = size >= kMacSize;
  for (std::size_t i = 0; read_ok && i * kPieceSize < body; ++i) {
    read_ok = read_piece(fd.get(), body, i, piece);
    if (!read_ok) break;
    mac.update(piece.data(), piece.size());
    digests.push_back(piece_digest(piece));
  }
  Mac stored{};
  std::size_t got = 0;
  while (read_ok && got < kMacSize) {
    const ssize_t n = ::pread(fd.get(), stored.data() + got, kMacSize - got, static_cast<off_t>(body + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      read_ok = false;
    else
      got += static_cast<std::size_t>(n);
  }
  // A read error is no evidence of tampering: not said, and rebuilt.
  if (!read_ok && size >= kMacSize) return nullptr;
  const std::optional<Mac> expected = read_ok ? mac.final() : std::nullopt;
  if (!expected || CRYPTO_memcmp(expected->data(), stored.data(), kMacSize) != 0) {
    warn_once(warnings, rejected +
                            "its HMAC does not verify (altered, or not written by this installation); it is "
                            "rebuilt");
    return nullptr;
  }
  std::vector<unsigned char>().swap(piece);
  if (between_reads) between_reads();
  PieceReader reader{fd.get(), body, &digests, {}, 0, 0, false};
  YR_STREAM stream{&reader, piece_read, nullptr};
  YR_RULES* rules = nullptr;
  const bool loaded = yr_rules_load_stream(&stream, &rules) == ERROR_SUCCESS;
  // libyara reads its relocation table until the stream ends, so a short
  // read there (a piece that changed) is a success to it, with the
  // pointers after that point never relocated: only a set read to the end
  // of exactly the checked bytes is used.
  if (loaded && reader.read_whole()) return rules;
  if (loaded) yr_rules_destroy(rules);
  if (reader.changed) warn_once(warnings, rejected + "it changed while it was read; it is rebuilt");
  return nullptr;
}

void save(const std::string& dir, const std::string& key, void* rules, std::vector<std::string>& warnings) {
  const UniqueFd dirfd = open_trusted_dir(dir, true);
  if (!dirfd) return;
  const std::optional<Key> mac_key = read_or_create_key(dirfd.get(), warnings, dir);
  if (!mac_key) return;
  std::vector<unsigned char> bytes;
  YR_STREAM stream{&bytes, nullptr, memory_write};
  if (yr_rules_save_stream(static_cast<YR_RULES*>(rules), &stream) != ERROR_SUCCESS) return;
  const std::optional<Mac> mac = mac_of(*mac_key, key, bytes.data(), bytes.size());
  if (!mac) return;
  bytes.insert(bytes.end(), mac->begin(), mac->end());
  auto temp = create_file_at(dirfd.get(), ".rules-" + key + ".", 0600);
  if (!temp) return;
  const bool ok = write_all(temp->fd.get(), bytes.data(), bytes.size()) && ::fsync(temp->fd.get()) == 0;
  temp->fd = UniqueFd();
  if (!ok || ::renameat(dirfd.get(), temp->name.c_str(), dirfd.get(), entry_name(key).c_str()) != 0) {
    ::unlinkat(dirfd.get(), temp->name.c_str(), 0);
  }
}

}  // namespace iocsweep::rule_cache
