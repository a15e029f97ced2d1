#include <archive.h>
#include <archive_entry.h>
#include <locale.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "iocsweep/archive.hpp"

namespace iocsweep {
namespace {

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveDeleter>;

bool bytes_at(ByteView head, std::size_t offset, std::string_view magic) {
  if (head.size() < offset + magic.size()) return false;
  return std::memcmp(head.data() + offset, magic.data(), magic.size()) == 0;
}

// Only formats and filters implemented inside libarchive: filters that run
// an external program (lrzip, lzop, grzip, uu...) must never be started by
// hostile input, so archive_read_support_filter_all is not used. Formats
// are those responders meet (RAR is what intruders often ship), all parsed
// in-process; looks_like_archive() mirrors their bidders.
void add_filters(struct archive* a) {
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_bzip2(a);
  archive_read_support_filter_xz(a);
  archive_read_support_filter_lzma(a);
  archive_read_support_filter_zstd(a);
}

ArchivePtr new_reader() {
  ArchivePtr a(archive_read_new());
  if (!a) return a;
  add_filters(a.get());
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
  archive_read_support_format_raw(a.get());
  return a;
}

// The same filters and only the raw format: a compressed stream read as
// the bytes it decompresses to, whatever they look like.
ArchivePtr new_stream_reader() {
  ArchivePtr a(archive_read_new());
  if (!a) return a;
  add_filters(a.get());
  archive_read_support_format_raw(a.get());
  return a;
}

// True when a compression filter sits between the bytes and the format
// (the bottom filter, "none", is the client's own bytes).
bool compressed(struct archive* a) { return archive_filter_count(a) > 1; }

// Bytes of the archive itself consumed so far.
std::uint64_t consumed(struct archive* a) {
  return static_cast<std::uint64_t>(std::max<la_int64_t>(0, archive_filter_bytes(a, -1)));
}

std::string error_of(struct archive* a) {
  const char* msg = archive_error_string(a);
  return msg != nullptr ? msg : "unknown libarchive error";
}

// The member of a single compressed stream is named after the file with
// its compression suffix removed.
std::string raw_member_name(std::string_view name) {
  for (std::string_view suffix : {".gz", ".bz2", ".xz", ".zst", ".lzma", ".tgz"}) {
    if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
      std::string out(name.substr(0, name.size() - suffix.size()));
      if (suffix == ".tgz") out += ".tar";
      return out;
    }
  }
  return "data";
}

class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) : fd_(fd) {}
  OwnedFd(OwnedFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  OwnedFd& operator=(OwnedFd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~OwnedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// Client data for a file read through pread.
struct ReadAtSource {
  const ReadAtFn* read_at = nullptr;
  std::uint64_t size = 0;
  std::uint64_t pos = 0;
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(256 * 1024);
  std::string error;
};

la_ssize_t read_at_read(struct archive* a, void* data, const void** out) {
  auto* src = static_cast<ReadAtSource*>(data);
  if (src->pos >= src->size) return 0;
  Result<std::size_t> n = (*src->read_at)(src->pos, std::span<std::uint8_t>(src->buf));
  if (!n) {
    archive_set_error(a, EIO, "%s", n.error().message.c_str());
    return -1;
  }
  src->pos += *n;
  *out = src->buf.data();
  return static_cast<la_ssize_t>(*n);
}

la_int64_t read_at_seek(struct archive*, void* data, la_int64_t offset, int whence) {
  auto* src = static_cast<ReadAtSource*>(data);
  la_int64_t base = 0;
  if (whence == SEEK_CUR) base = static_cast<la_int64_t>(src->pos);
  if (whence == SEEK_END) base = static_cast<la_int64_t>(src->size);
  const la_int64_t next = base + offset;
  if (next < 0) return ARCHIVE_FATAL;
  src->pos = static_cast<std::uint64_t>(next);
  return next;
}

la_int64_t read_at_skip(struct archive*, void* data, la_int64_t request) {
  auto* src = static_cast<ReadAtSource*>(data);
  const std::uint64_t left = src->size > src->pos ? src->size - src->pos : 0;
  const std::uint64_t n = std::min<std::uint64_t>(left, static_cast<std::uint64_t>(std::max<la_int64_t>(request, 0)));
  src->pos += n;
  return static_cast<la_int64_t>(n);
}

// Client data for an archive read straight out of a member of another
// (an image layer inside the image tar), without buffering it.
struct NestedSource {
  struct archive* parent = nullptr;
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(256 * 1024);
  std::uint64_t consumed = 0;
};

la_ssize_t nested_read(struct archive* a, void* data, const void** out) {
  auto* src = static_cast<NestedSource*>(data);
  const la_ssize_t n = archive_read_data(src->parent, src->buf.data(), src->buf.size());
  if (n < 0) {
    archive_set_error(a, EIO, "%s", error_of(src->parent).c_str());
    return -1;
  }
  src->consumed += static_cast<std::uint64_t>(n);
  *out = src->buf.data();
  return n;
}

// libarchive converts names flagged as UTF-8 (zip, pax) to the charset of
// the thread's locale, and under the C locale (the process default) any
// non-ASCII name fails to convert and is lost. For the life of a scan this
// thread uses C.UTF-8 for LC_CTYPE; uselocale() is per thread, so nothing
// global changes. Names in no declared charset are kept as raw bytes.
// The locale object is made once and kept for the life of the process:
// one per scan meant a newlocale/freelocale pair per archive, and glibc's
// freeing of the shared conversion data races (under its own locks) with
// other threads' conversions.
class Utf8Ctype {
 public:
  Utf8Ctype() : locale_(shared()) {
    if (locale_ != static_cast<locale_t>(nullptr)) previous_ = ::uselocale(locale_);
  }
  ~Utf8Ctype() {
    if (locale_ != static_cast<locale_t>(nullptr)) ::uselocale(previous_);
  }
  Utf8Ctype(const Utf8Ctype&) = delete;
  Utf8Ctype& operator=(const Utf8Ctype&) = delete;

 private:
  static locale_t shared() {
#if IOCSWEEP_STATIC_BUILD
    // A static glibc would read the host's locale files (of another glibc,
    // or none): the static executable answers CODESET itself instead
    // (src/cli/static_runtime.cpp).
    return static_cast<locale_t>(nullptr);
#else
    static const locale_t utf8 = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
    return utf8;
#endif
  }
  locale_t locale_;
  locale_t previous_ = LC_GLOBAL_LOCALE;
};

// A member's name as stored: the bytes of the header, or, where libarchive
// could not convert a name flagged as UTF-8 to the locale's charset (a zip
// name under the C locale), its UTF-8 form.
const char* entry_name(struct archive_entry* entry) {
  const char* p = archive_entry_pathname(entry);
  if (p == nullptr) p = archive_entry_pathname_utf8(entry);
  return p;
}

// A regular member with bytes of its own (a tar hard link repeats an
// earlier member and has none).
bool is_content(struct archive_entry* entry) {
  if (archive_entry_filetype(entry) != AE_IFREG) return false;
  return archive_entry_hardlink(entry) == nullptr || archive_entry_size(entry) > 0;
}

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

// The bytes of one archive level (the file, or a member read into memory),
// for what libarchive's entry API does not give: the raw bytes of a name
// it could not convert, and a second reading of a compressed stream.
struct LevelBytes {
  ByteView memory;                    // the whole level, when in memory
  const ReadAtFn* read_at = nullptr;  // else the file, through pread
  std::uint64_t size = 0;

  static LevelBytes of(ByteView bytes) { return {bytes, nullptr, bytes.size()}; }

  // Up to out.size() bytes at `offset`; 0 when none can be had.
  std::size_t read(std::uint64_t offset, std::span<std::uint8_t> out) const {
    if (offset >= size) return 0;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size - offset));
    if (read_at == nullptr) {
      std::memcpy(out.data(), memory.data() + offset, n);
      return n;
    }
    Result<std::size_t> got = (*read_at)(offset, out.first(n));
    return got ? *got : 0;
  }
};

// A reader over a LevelBytes, with the source it reads from.
struct LevelReader {
  std::unique_ptr<ReadAtSource> source;  // null for memory
  ArchivePtr a;                          // destroyed first
};

LevelReader open_stream_reader(const LevelBytes& bytes) {
  LevelReader out;
  out.a = new_stream_reader();
  if (!out.a) return out;
  if (bytes.read_at == nullptr) {
    if (archive_read_open_memory(out.a.get(), bytes.memory.data(), bytes.memory.size()) != ARCHIVE_OK) out.a.reset();
    return out;
  }
  out.source = std::make_unique<ReadAtSource>();
  out.source->read_at = bytes.read_at;
  out.source->size = bytes.size;
  if (archive_read_open2(out.a.get(), out.source.get(), nullptr, read_at_read, read_at_skip, nullptr) != ARCHIVE_OK) {
    out.a.reset();
  }
  return out;
}

// The name of a zip member read back from its local header, when
// libarchive dropped it (a name flagged as UTF-8 that is not: the
// conversion fails and the entry keeps no name). libarchive's reader stops
// right after the header, its name and its extra field, at `data_pos`; the
// header is the "PK\3\4" record whose two lengths end exactly there.
std::optional<std::string> zip_local_name(const LevelBytes& bytes, std::uint64_t data_pos) {
  constexpr std::uint64_t kMaxHeader = 30 + 2 * 0xffffull;
  const std::uint64_t from = data_pos > kMaxHeader ? data_pos - kMaxHeader : 0;
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(data_pos - from));
  buf.resize(bytes.read(from, std::span<std::uint8_t>(buf)));
  if (buf.size() < 30) return std::nullopt;
  for (std::size_t i = buf.size() - 30;; --i) {
    const std::uint8_t* h = buf.data() + i;
    if (h[0] == 'P' && h[1] == 'K' && h[2] == 3 && h[3] == 4) {
      const std::size_t name_len = le16(h + 26);
      const std::size_t extra_len = le16(h + 28);
      if (from + i + 30 + name_len + extra_len == data_pos && name_len > 0) {
        return std::string(reinterpret_cast<const char*>(h + 30), name_len);
      }
    }
    if (i == 0) break;
  }
  return std::nullopt;
}

// A member's name: as stored (entry_name), else for zip the raw bytes of
// its header, else a stand-in that says so and where, never an empty name
// (a file-name indicator must have something to test, and the report
// something to show).
std::string member_name(struct archive* a, struct archive_entry* entry, const LevelBytes* bytes, std::uint64_t index) {
  if (const char* p = entry_name(entry); p != nullptr && *p != '\0') return p;
  if (bytes != nullptr && (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP && !compressed(a)) {
    if (std::optional<std::string> raw = zip_local_name(*bytes, consumed(a))) return *raw;
  }
  return "(member " + std::to_string(index) + ": name not readable)";
}

// Client data for a layer blob of a layout directory read with plain
// read() (a blob truncated meanwhile ends the read, never SIGBUS), its
// bytes shown to a BlobDigest as they are read.
struct FdSource {
  OwnedFd fd;
  BlobDigest* digest = nullptr;
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(256 * 1024);
};

la_ssize_t fd_read(struct archive* a, void* data, const void** out) {
  auto* src = static_cast<FdSource*>(data);
  for (;;) {
    const ssize_t n = ::read(src->fd.get(), src->buf.data(), src->buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      if (a != nullptr) archive_set_error(a, err, "%s", std::strerror(err));
      return -1;
    }
    if (src->digest != nullptr) src->digest->update(ByteView(src->buf.data(), static_cast<std::size_t>(n)));
    *out = src->buf.data();
    return n;
  }
}

/// A layer blob of a layout directory opened for reading (members are
/// destroyed in reverse order: the layer reader before its source).
struct OpenedLayer {
  std::unique_ptr<FdSource> source;
  ArchivePtr layer;  // null when the layer could not be opened
  std::string error;
  /// Once the layer has been read: an error when its blob is not the one
  /// its name promises; null when nothing is checked.
  std::function<std::optional<std::string>()> check;
};
using LayerOpener = std::function<OpenedLayer(const ImagePlan::Layer&)>;

/// Claims a member of the image tar for the image (a layer blob, read as a
/// layer) before iterate() reads it as an ordinary member: true when it was
/// claimed and read.
using MemberClaim = std::function<bool(struct archive_entry*)>;

// A layer listed more than once is read once, at its last place in the
// list: there it is applied last, which decides what the final image holds
// (its files at an earlier place are the same files, replaced by itself).
// Without this a manifest naming one layer 10,000 times reads it 10,000
// times.
void keep_last_of_each(std::vector<ImagePlan::Layer>& layers) {
  std::unordered_set<std::string> seen;
  std::vector<ImagePlan::Layer> out;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    if (seen.insert(it->member).second) out.push_back(std::move(*it));
  }
  std::reverse(out.begin(), out.end());
  layers = std::move(out);
}

// Small JSON documents of an image (manifest, index, config) are read whole
// only up to this size.
constexpr std::size_t kMaxImageJson = 4u << 20;

std::string blob_digest(std::string_view member) {
  // "blobs/sha256/HEX" names its own digest.
  constexpr std::string_view kPrefix = "blobs/sha256/";
  if (member.starts_with("./")) member.remove_prefix(2);
  if (member.starts_with(kPrefix) && member.size() == kPrefix.size() + 64) {
    return "sha256:" + std::string(member.substr(kPrefix.size()));
  }
  return "";
}

std::string strip_dot_slash(std::string_view p) {
  while (p.starts_with("./")) p.remove_prefix(2);
  return std::string(p);
}

/// One scan of one file on disk: the shared budgets and the member chain.
class Walk {
 public:
  Walk(const ArchiveOptions& options, ArchiveVisitor& visitor)
      : o_(options), v_(visitor), start_(Clock::now()), idle_at_start_(idle()) {}

  // Iterates the members of the open archive `a` at nesting `depth` (1 =
  // the file itself); `bytes` are that archive's own (compressed) bytes.
  // `claim`, for an image tar, reads the members that are its layers.
  void iterate(struct archive* a, unsigned depth, std::string_view raw_name, const LevelBytes& bytes,
               const MemberClaim* claim = nullptr) {
    bool first = true;
    for (;;) {
      if (aborted_ || v_.stop_requested() || out_of_time()) return;
      struct archive_entry* entry = nullptr;
      const int r = archive_read_next_header(a, &entry);
      if (r == ARCHIVE_EOF) {
        if (first) read_as_stream(a, depth, raw_name, bytes);
        return;
      }
      if (r < ARCHIVE_WARN) {
        // A file no format recognised is not an archive (its magic bytes
        // were a coincidence); a failure after that is a corrupt one. The
        // rest of a damaged archive is not trusted: no loop of errors.
        // An archive whose headers are encrypted (7z) is reported as such.
        if (archive_read_has_encrypted_entries(a) > 0) {
          v_.on_skipped(chain_, "encrypted", "encrypted archive not read: " + error_of(a));
        } else if (first && archive_format(a) != 0 && read_as_stream(a, depth, raw_name, bytes)) {
          // Decompressed, the bytes were no archive after all: read as such.
        } else if (!first || archive_format(a) != 0) {
          v_.on_error(chain_, error_of(a));
        }
        return;
      }
      if (first) {
        first = false;
        // A stream with no compression filter that no archive format
        // claimed is just a file, already scanned as one.
        if (archive_format(a) == ARCHIVE_FORMAT_RAW && !compressed(a)) return;
      }
      if (++members_ > o_.max_members) {
        v_.on_skipped(chain_, "archive_limit", "more than " + std::to_string(o_.max_members) + " members");
        aborted_ = true;
        return;
      }
      if (!is_content(entry)) continue;
      if (claim != nullptr && (*claim)(entry)) continue;
      std::string name =
          archive_format(a) == ARCHIVE_FORMAT_RAW ? raw_member_name(raw_name) : member_name(a, entry, &bytes, members_);
      Pushed pushed(chain_, std::move(name));
      std::vector<std::uint8_t> data;
      if (!read_member(a, entry, data)) {
        if (aborted_ || level_aborted_) {
          level_aborted_ = false;
          return;
        }
        continue;
      }
      v_.on_member(chain_, ByteView(data), nullptr);
      nested(ByteView(data), depth);
    }
  }

  // A compressed stream whose content a format claimed but that held no
  // member (content starting with NUL blocks is an empty tar to libarchive,
  // and a damaged first header is no archive either) is a single
  // compressed file: read again, with only the raw format, so its
  // decompressed bytes are the member. False when there is nothing to
  // re-read (not compressed, already raw, or the bytes are not at hand).
  bool read_as_stream(struct archive* a, unsigned depth, std::string_view raw_name, const LevelBytes& bytes) {
    if (!compressed(a) || archive_format(a) == ARCHIVE_FORMAT_RAW) return false;
    if (bytes.read_at == nullptr && bytes.memory.empty()) return false;
    LevelReader stream = open_stream_reader(bytes);
    if (!stream.a) return false;
    iterate(stream.a.get(), depth, raw_name, bytes);
    return true;
  }

  // Recurses into a member that looks like an archive.
  void nested(ByteView data, unsigned depth) {
    if (!looks_like_archive(data)) return;
    if (depth >= o_.max_depth) {
      v_.on_skipped(chain_, "archive_depth",
                    "archive nested deeper than --archive-depth " + std::to_string(o_.max_depth) + " not opened");
      return;
    }
    ArchivePtr inner = new_reader();
    if (!inner || archive_read_open_memory(inner.get(), data.data(), data.size()) != ARCHIVE_OK) return;
    const std::string base = std::string(chain_.empty() ? "" : basename(chain_.back()));
    iterate(inner.get(), depth + 1, base, LevelBytes::of(data));
  }

  // Reads the layers of an image in order, each opened by `open`, then
  // tells the visitor the image is complete.
  void image(const ImagePlan& plan, const LayerOpener& open) {
    ImageLayers layers;
    for (std::size_t i = 0; i < plan.layers.size() && !aborted_ && !v_.stop_requested() && !out_of_time(); ++i) {
      const ImagePlan::Layer& layer = plan.layers[i];
      Pushed pushed(chain_, layer.member);
      OpenedLayer opened = open(layer);
      if (!opened.layer) {
        v_.on_error(chain_, "image layer: " + opened.error);
        continue;
      }
      scan_layer(opened.layer.get(), i, layer, plan.reference, layers);
      if (opened.check && !aborted_ && !v_.stop_requested()) {
        if (std::optional<std::string> wrong = opened.check()) v_.on_error(chain_, "image layer: " + *wrong);
      }
    }
    v_.on_image_end(layers);
  }

  // Reads an image tar in one pass, in the tar's order: each layer blob of
  // `plan` as a layer, streamed out of `a` without buffering it, every
  // other member (the JSON documents, anything planted beside the layers)
  // as an ordinary member. The manifest's order is kept by the layer index
  // each layer's entries are recorded under.
  void image_tar(struct archive* a, const ImagePlan& plan, const LevelBytes& bytes) {
    std::unordered_map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < plan.layers.size(); ++i) index.emplace(plan.layers[i].member, i);
    std::vector<bool> read(plan.layers.size(), false);
    ImageLayers layers;
    const MemberClaim claim = [&](struct archive_entry* entry) {
      const char* p = entry_name(entry);
      const auto it = index.find(strip_dot_slash(p != nullptr ? p : ""));
      if (it == index.end() || read[it->second]) return false;
      read[it->second] = true;
      const ImagePlan::Layer& layer = plan.layers[it->second];
      Pushed pushed(chain_, layer.member);
      NestedSource nested;
      nested.parent = a;
      ArchivePtr reader = new_reader();
      if (!reader || archive_read_open2(reader.get(), &nested, nullptr, nested_read, nullptr, nullptr) != ARCHIVE_OK) {
        v_.on_error(chain_, "image layer: " + (reader ? error_of(reader.get()) : std::string("out of memory")));
        return true;
      }
      scan_layer(reader.get(), it->second, layer, plan.reference, layers);
      return true;
    };
    iterate(a, 1, "", bytes, &claim);
    // The tar changed since it was indexed, or broke off before the layer:
    // said, never silently passed.
    for (std::size_t i = 0; i < read.size() && !aborted_ && !v_.stop_requested(); ++i) {
      if (read[i]) continue;
      Pushed pushed(chain_, plan.layers[i].member);
      v_.on_error(chain_, "image layer: named in the manifest but not met in the image");
    }
    v_.on_image_end(layers);
  }

  bool aborted() const { return aborted_; }

 private:
  // Pushes a member name for the life of a scope.
  struct Pushed {
    Pushed(std::vector<std::string>& chain, std::string name) : chain_(chain) { chain_.push_back(std::move(name)); }
    ~Pushed() { chain_.pop_back(); }
    Pushed(const Pushed&) = delete;
    Pushed& operator=(const Pushed&) = delete;
    std::vector<std::string>& chain_;
  };

  static std::string_view basename(std::string_view p) {
    const std::size_t slash = p.rfind('/');
    return slash == std::string_view::npos ? p : p.substr(slash + 1);
  }

  void scan_layer(struct archive* a, std::size_t index, const ImagePlan::Layer& layer, const std::string& reference,
                  ImageLayers& layers) {
    for (;;) {
      if (aborted_ || v_.stop_requested() || out_of_time()) return;
      struct archive_entry* entry = nullptr;
      const int r = archive_read_next_header(a, &entry);
      if (r == ARCHIVE_EOF) return;
      if (r < ARCHIVE_WARN) {
        v_.on_error(chain_, error_of(a));
        return;
      }
      if (++members_ > o_.max_members) {
        v_.on_skipped(chain_, "archive_limit", "more than " + std::to_string(o_.max_members) + " members");
        aborted_ = true;
        return;
      }
      const std::string path = member_name(a, entry, nullptr, members_);
      layers.add_entry(index, path);
      if (!is_content(entry)) continue;
      // A whiteout is an empty marker; one with bytes is recorded as a
      // deletion all the same but scanned, or it would hide them.
      if (ImageLayers::is_whiteout(path) && archive_entry_size_is_set(entry) && archive_entry_size(entry) == 0) {
        continue;
      }
      Pushed pushed(chain_, path);
      std::vector<std::uint8_t> data;
      if (!read_member(a, entry, data)) {
        if (aborted_ || level_aborted_) {
          level_aborted_ = false;
          return;
        }
        continue;
      }
      ImageLocation loc{reference, layer.digest, index, ImageLayers::normalise(path)};
      v_.on_member(chain_, ByteView(data), &loc);
      nested(ByteView(data), 2);
    }
  }

  // Reads the current member whole into `data`, enforcing every limit.
  // False when it was not read (reported; aborted_ / level_aborted_ say
  // whether to stop the whole file or this archive). A limit that stops a
  // member stops that member only: the next header is read as usual.
  bool read_member(struct archive* a, struct archive_entry* entry, std::vector<std::uint8_t>& data) {
    if (archive_entry_is_encrypted(entry)) {
      v_.on_skipped(chain_, "encrypted", "encrypted archive member not read");
      // Its data is still passed over as for any member not read: left to
      // the next header's own skip, a streamed zip member of unknown size
      // made libarchive lose the members after it, unreported (found by
      // fuzz_archive_recognition).
      pass_over(a);
      return false;
    }
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) >= 0 &&
        static_cast<std::uint64_t>(archive_entry_size(entry)) > o_.max_member_bytes) {
      v_.on_skipped(chain_, "archive_limit",
                    "member of " + std::to_string(archive_entry_size(entry)) + " bytes is larger than " +
                        std::to_string(o_.max_member_bytes) + " (--max-filesize)");
      pass_over(a);
      return false;
    }
    constexpr std::size_t kStep = 64 * 1024;
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0) {
      data.reserve(static_cast<std::size_t>(
          std::min<std::uint64_t>(static_cast<std::uint64_t>(archive_entry_size(entry)), o_.max_member_bytes)));
    }
    // The ratio is this member's output over the archive bytes its reading
    // consumed: a bomb member is skipped, its siblings are still read.
    const std::uint64_t in_before = consumed(a);
    std::size_t got = 0;
    for (;;) {
      if (out_of_time()) return false;
      if (data.size() < got + kStep) data.resize(got + kStep);
      const la_ssize_t n = archive_read_data(a, data.data() + got, kStep);
      if (n == 0) break;
      if (n < 0) {
        // After a fatal error libarchive reads nothing more of this archive:
        // that is said, or the members after this one would go unreported.
        const bool fatal = n == ARCHIVE_FATAL;
        if (archive_entry_is_encrypted(entry) || archive_read_has_encrypted_entries(a) > 0) {
          v_.on_skipped(chain_, "encrypted", "encrypted archive member not read: " + error_of(a));
          if (fatal) v_.on_error(chain_, "the rest of the archive is not read after this member");
        } else {
          v_.on_error(chain_, error_of(a) + (fatal ? " (the rest of the archive is not read)" : ""));
        }
        if (fatal) level_aborted_ = true;
        return false;
      }
      got += static_cast<std::size_t>(n);
      if (!count_output(static_cast<std::uint64_t>(n))) return false;
      if (got > o_.max_member_bytes) {
        v_.on_skipped(chain_, "archive_limit",
                      "member larger than " + std::to_string(o_.max_member_bytes) + " bytes (--max-filesize)");
        pass_over(a);
        return false;
      }
      if (got > o_.ratio_floor_bytes) {
        const std::uint64_t in = std::max<std::uint64_t>(1, consumed(a) - std::min(consumed(a), in_before));
        if (got / in > o_.max_ratio) {
          v_.on_skipped(chain_, "archive_limit",
                        "compression ratio above " + std::to_string(o_.max_ratio) + ":1 (" + std::to_string(got) +
                            " bytes out of " + std::to_string(in) + ")" + pass_over_cost(a));
          pass_over(a);
          return false;
        }
      }
    }
    data.resize(got);
    return true;
  }

  // Counts `n` uncompressed bytes against the file's total; false (and the
  // rest of the file abandoned, as documented) past it.
  bool count_output(std::uint64_t n) {
    total_ += n;
    if (total_ <= o_.max_total_bytes) return true;
    v_.on_skipped(chain_, "archive_limit",
                  "more than " + std::to_string(o_.max_total_bytes) + " uncompressed bytes in one archive");
    aborted_ = true;
    return false;
  }

  // Whether libarchive's own skip of the rest of a member lands where
  // reading it would: formats that store members uncompressed, one after
  // the other, with no filter over them. Not zip: a streamed zip whose
  // local header lies about the compressed size is skipped by that size
  // but read to its real end, and the skip can jump over the next member.
  static bool skips_cheaply(struct archive* a) {
    if (compressed(a)) return false;
    switch (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) {
      case ARCHIVE_FORMAT_TAR:
      case ARCHIVE_FORMAT_CPIO:
      case ARCHIVE_FORMAT_ISO9660:
      case ARCHIVE_FORMAT_AR:
        return true;
      default:
        return false;
    }
  }

  static std::string pass_over_cost(struct archive* a) {
    return skips_cheaply(a) ? "" : "; the rest of it is read to reach the next member (counted in the total)";
  }

  // Leaves the current member for the next header. In a solid stream
  // (tar.gz, 7z, rar...) that means decompressing the rest of it, and in a
  // zip it is where an extractor would go: done here rather than inside
  // libarchive's skip, so the next member is the one an extractor sees and
  // those bytes count against the total limit like any others.
  void pass_over(struct archive* a) {
    if (skips_cheaply(a)) return;
    std::vector<std::uint8_t> scratch(64 * 1024);
    for (;;) {
      const la_ssize_t n = archive_read_data(a, scratch.data(), scratch.size());
      if (n <= 0) {
        // A failure here is the next header's to report.
        return;
      }
      if (!count_output(static_cast<std::uint64_t>(n))) return;
    }
  }

  std::chrono::nanoseconds idle() const { return o_.idle_time ? o_.idle_time() : std::chrono::nanoseconds(0); }

  // --timeout bounds the whole file's archive work: once it is spent the
  // rest of the file is skipped, said once, and the walk unwinds. Time the
  // caller spent throttled is not work: a rate-limited sweep must not lose
  // the members of a large archive to its own throttle.
  bool out_of_time() {
    if (aborted_) return true;
    if (o_.time_limit.count() <= 0) return false;
    if (Clock::now() - start_ - (idle() - idle_at_start_) < o_.time_limit) return false;
    v_.on_skipped(chain_, "archive_limit",
                  "archive work on the file took longer than " + std::to_string(o_.time_limit.count()) +
                      " ms (--timeout); the rest of the file not read");
    aborted_ = true;
    return true;
  }

  using Clock = std::chrono::steady_clock;
  const ArchiveOptions& o_;
  ArchiveVisitor& v_;
  Clock::time_point start_;
  std::chrono::nanoseconds idle_at_start_;
  std::vector<std::string> chain_;
  std::uint64_t total_ = 0;
  std::uint64_t members_ = 0;
  bool aborted_ = false;
  bool level_aborted_ = false;
};

bool is_sha256_digest(std::string_view d) {
  return d.size() == 71 && d.starts_with("sha256:") &&
         std::all_of(d.begin() + 7, d.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

using ReadNamed = std::function<std::optional<std::string>(const std::string&)>;

// OCI image layout: index.json -> (first) manifest blob -> layer blobs, at
// least one. `read_named` reads a small file of the layout by its relative
// path.
std::optional<ImagePlan> oci_plan(const std::string& index, const ReadNamed& read_named) {
  using nlohmann::json;
  try {
    ImagePlan plan;
    const json idx = json::parse(index);
    if (!idx.is_object() || !idx.contains("manifests") || !idx["manifests"].is_array() || idx["manifests"].empty()) {
      return std::nullopt;
    }
    const json& desc = idx["manifests"][0];
    if (!desc.is_object() || !desc.contains("digest") || !desc["digest"].is_string()) return std::nullopt;
    if (desc.contains("annotations") && desc["annotations"].is_object() &&
        desc["annotations"].contains("org.opencontainers.image.ref.name") &&
        desc["annotations"]["org.opencontainers.image.ref.name"].is_string()) {
      plan.reference = desc["annotations"]["org.opencontainers.image.ref.name"].get<std::string>();
    }
    // Digests name files: only well-formed ones, so none can climb out.
    const std::string mdigest = desc["digest"].get<std::string>();
    if (!is_sha256_digest(mdigest)) return std::nullopt;
    auto m_text = read_named("blobs/sha256/" + mdigest.substr(7));
    if (!m_text) return std::nullopt;
    const json m = json::parse(*m_text);
    if (!m.is_object() || !m.contains("layers") || !m["layers"].is_array() || m["layers"].empty()) {
      return std::nullopt;
    }
    for (const json& l : m["layers"]) {
      if (!l.is_object() || !l.contains("digest") || !l["digest"].is_string()) return std::nullopt;
      const std::string digest = l["digest"].get<std::string>();
      if (!is_sha256_digest(digest)) return std::nullopt;
      plan.layers.push_back({"blobs/sha256/" + digest.substr(7), digest});
    }
    keep_last_of_each(plan.layers);
    return plan;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

// docker save: [{"Config": "...", "RepoTags": [...], "Layers": [...]}]: the
// first image, with a config and at least one layer. `is_member` says
// whether a path names exactly one regular member of the tar; `layer_of`
// gives the regular member a listed layer stands for (itself, or the
// target of a symlink: the legacy format links a layer whose content an
// earlier one already holds), nullopt when there is none.
std::optional<ImagePlan> docker_plan(const std::string& manifest,
                                     const std::function<bool(const std::string&)>& is_member,
                                     const ReadNamed& read_named,
                                     const std::function<std::optional<std::string>(const std::string&)>& layer_of) {
  using nlohmann::json;
  try {
    const json doc = json::parse(manifest);
    if (!doc.is_array() || doc.empty() || !doc[0].is_object()) return std::nullopt;
    const json& m = doc[0];
    if (!m.contains("Config") || !m["Config"].is_string() || !m.contains("Layers") || !m["Layers"].is_array() ||
        m["Layers"].empty()) {
      return std::nullopt;
    }
    const std::string config_name = strip_dot_slash(m["Config"].get<std::string>());
    if (!is_member(config_name)) return std::nullopt;
    ImagePlan plan;
    if (m.contains("RepoTags") && m["RepoTags"].is_array() && !m["RepoTags"].empty() && m["RepoTags"][0].is_string()) {
      plan.reference = m["RepoTags"][0].get<std::string>();
    }
    std::vector<std::string> diff_ids;
    if (auto config = read_named(config_name)) {
      const json c = json::parse(*config, nullptr, false);
      if (c.is_object() && c.contains("rootfs") && c["rootfs"].is_object() && c["rootfs"].contains("diff_ids") &&
          c["rootfs"]["diff_ids"].is_array()) {
        for (const json& d : c["rootfs"]["diff_ids"]) diff_ids.push_back(d.is_string() ? d.get<std::string>() : "");
      }
    }
    for (std::size_t i = 0; i < m["Layers"].size(); ++i) {
      if (!m["Layers"][i].is_string()) return std::nullopt;
      const std::optional<std::string> member = layer_of(strip_dot_slash(m["Layers"][i].get<std::string>()));
      if (!member) return std::nullopt;
      ImagePlan::Layer layer;
      layer.member = *member;
      layer.digest = blob_digest(layer.member);
      if (layer.digest.empty() && i < diff_ids.size()) layer.digest = diff_ids[i];
      plan.layers.push_back(std::move(layer));
    }
    keep_last_of_each(plan.layers);
    return plan;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

// The path a symlink member `name` pointing at `target` names inside the
// tar; "" when it leaves the tar's tree or is absolute.
std::string link_target(const std::string& name, std::string_view target) {
  if (target.empty() || target.front() == '/') return "";
  std::vector<std::string_view> parts;
  const std::size_t slash = name.rfind('/');
  std::string joined = (slash == std::string::npos ? std::string() : name.substr(0, slash + 1)) + std::string(target);
  std::string_view rest(joined);
  while (!rest.empty()) {
    const std::size_t next = rest.find('/');
    const std::string_view part = rest.substr(0, next);
    rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) return "";
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (const std::string_view part : parts) {
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

// Reads the whole current member when it is small (image JSON).
std::optional<std::string> read_small(struct archive* a, struct archive_entry* entry) {
  if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > static_cast<la_int64_t>(kMaxImageJson)) {
    return std::nullopt;
  }
  std::string out;
  char buf[16384];
  for (;;) {
    const la_ssize_t n = archive_read_data(a, buf, sizeof buf);
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > kMaxImageJson) return std::nullopt;
  }
  return out;
}

// Looks for an image in an uncompressed tar: one walk over the headers
// (data is skipped, which for a seekable tar is a seek) that indexes the
// regular members by name and reads manifest.json / index.json, then at
// most two more for the config or manifest blob the plan needs. An image
// is only an image when its manifest describes the tar: the manifest (or
// index), the config (docker) or manifest blob (OCI) and every listed
// layer are each exactly one regular member (a docker layer may be a
// symlink to one), and there is at least one layer; a name held by two
// members does not say which one is meant.
// Returns nullopt for anything else, which is then read as an ordinary
// tar (every member scanned, layers as nested archives).
std::optional<ImagePlan> find_image(const std::function<ArchivePtr()>& reopen, std::uint64_t max_members) {
  ArchivePtr a = reopen();
  if (!a) return std::nullopt;
  struct archive_entry* entry = nullptr;
  if (archive_read_next_header(a.get(), &entry) < ARCHIVE_WARN) return std::nullopt;
  if (archive_filter_code(a.get(), 0) != ARCHIVE_FILTER_NONE) return std::nullopt;
  const int format = archive_format(a.get()) & ARCHIVE_FORMAT_BASE_MASK;
  if (format != ARCHIVE_FORMAT_TAR) return std::nullopt;
  std::optional<std::string> manifest, index;
  bool oci_layout = false;
  std::unordered_map<std::string, unsigned> regular;   // name -> members of that name
  std::unordered_map<std::string, std::string> links;  // symlink -> target, "" when unusable
  std::uint64_t members = 0;
  int r = ARCHIVE_OK;
  do {
    // More than the walk will read: no image, the walk says where it stops.
    if (++members > max_members) return std::nullopt;
    const char* p = entry_name(entry);
    const std::string name = strip_dot_slash(p != nullptr ? p : "");
    if (is_content(entry)) {
      ++regular[name];
      if (name == "manifest.json") manifest = read_small(a.get(), entry);
      if (name == "index.json") index = read_small(a.get(), entry);
      if (name == "oci-layout") oci_layout = true;
    } else if (archive_entry_filetype(entry) == AE_IFLNK) {
      const char* target = archive_entry_symlink(entry);
      const auto [it, added] = links.emplace(name, link_target(name, target != nullptr ? target : ""));
      if (!added) it->second.clear();  // two links of one name: neither is meant
    }
    r = archive_read_next_header(a.get(), &entry);
  } while (r >= ARCHIVE_WARN && r != ARCHIVE_EOF);
  // A damaged tar is read as an ordinary one, which reports the damage.
  if (r != ARCHIVE_EOF) return std::nullopt;
  const auto is_member = [&](const std::string& name) {
    const auto it = regular.find(name);
    return it != regular.end() && it->second == 1;
  };
  // Small JSON blobs needed by name (config for diff_ids, OCI manifests).
  const auto read_named = [&](const std::string& want) -> std::optional<std::string> {
    if (!is_member(want)) return std::nullopt;
    ArchivePtr b = reopen();
    if (!b) return std::nullopt;
    struct archive_entry* e = nullptr;
    while (archive_read_next_header(b.get(), &e) >= ARCHIVE_WARN) {
      const char* p = entry_name(e);
      if (p != nullptr && is_content(e) && strip_dot_slash(p) == want) return read_small(b.get(), e);
    }
    return std::nullopt;
  };
  const auto layer_of = [&](const std::string& name) -> std::optional<std::string> {
    const auto link = links.find(name);
    if (link == links.end()) return is_member(name) ? std::optional<std::string>(name) : std::nullopt;
    if (regular.contains(name) || !is_member(link->second)) return std::nullopt;
    return link->second;
  };
  const auto all_layers_present = [&](const ImagePlan& plan) {
    return std::all_of(plan.layers.begin(), plan.layers.end(),
                       [&](const ImagePlan::Layer& l) { return is_member(l.member); });
  };
  if (manifest && is_member("manifest.json")) {
    std::optional<ImagePlan> plan = docker_plan(*manifest, is_member, read_named, layer_of);
    if (plan && all_layers_present(*plan)) return plan;
  }
  if (oci_layout && index && is_member("index.json")) {
    std::optional<ImagePlan> plan = oci_plan(*index, read_named);
    if (plan && all_layers_present(*plan)) return plan;
  }
  return std::nullopt;
}

// ---- Recognition: libarchive 3.6's bidders, as byte tests ---------------

// The tar bidder: not a magic (a v7 tar has none) but a header whose
// checksum holds (unsigned or, for old tars, signed bytes), with a type
// flag and a mode that could be real. An all-NUL block, which the bidder
// also takes, is an empty archive: nothing in it to read.
bool tar_header_bids(ByteView h) {
  if (h.size() < 512) return false;
  const std::uint8_t* b = h.data();
  for (std::size_t i = 148; i < 156; ++i) {
    if (b[i] != ' ' && b[i] != 0 && (b[i] < '0' || b[i] > '7')) return false;
  }
  const std::uint8_t type = b[156];
  if (type != 0 && !(type >= '0' && type <= '9') && !(type >= 'A' && type <= 'Z') && !(type >= 'a' && type <= 'z')) {
    return false;
  }
  if (!(b[100] == 0 || b[100] == 255 || b[100] == ' ' || (b[100] >= '0' && b[100] <= '7'))) return false;
  std::size_t i = 148;
  while (i < 156 && b[i] == ' ') ++i;
  long stored = 0;
  for (; i < 156 && b[i] >= '0' && b[i] <= '7'; ++i) stored = stored * 8 + (b[i] - '0');
  long unsigned_sum = 8 * ' ';
  long signed_sum = 8 * ' ';
  for (std::size_t j = 0; j < 512; ++j) {
    if (j >= 148 && j < 156) continue;
    unsigned_sum += b[j];
    signed_sum += static_cast<signed char>(b[j]);
  }
  return stored == unsigned_sum || stored == signed_sum;
}

// The lha bidder's header test: "-lh?-" or "-lz?-" at offset 2 with a
// level and attribute it accepts (self-extracting lha is not looked for).
bool lha_header_bids(ByteView h) {
  if (h.size() < 22 || h[0] == 0 || h[2] != '-' || h[3] != 'l' || h[6] != '-') return false;
  const std::uint8_t m = h[5];
  if (h[4] == 'h') {
    if (!((m >= '0' && m <= '7') || m == 'd')) return false;
    return h[20] == 0 || (h[20] <= 3 && h[19] == 0x20);
  }
  if (h[4] == 'z') return h[20] == 0 && (m == 's' || m == '4' || m == '5');
  return false;
}

// The lzma_alone bidder: a properties byte and a dictionary size it
// accepts (the format has no magic).
bool lzma_bids(ByteView h) {
  if (h.size() < 14 || h[0] > (4 * 5 + 4) * 9 + 8) return false;
  const std::uint32_t dict = le32(h.data() + 1);
  if (dict >= 0x1000 && dict <= 0x20000000 && (dict & (dict - 1)) == 0) return true;
  std::uint64_t unpacked = 0;
  for (int i = 7; i >= 0; --i) unpacked = (unpacked << 8) | h[5 + i];
  return (h[0] == 0x5d || h[0] == 0x5e) && unpacked == ~0ull && dict >= 0x00300000 && dict <= 0x03F00000 &&
         (dict & 0xfffff) == 0;
}

// The seekable zip bidder: the last "PK\5\6" in the final 16 KiB (never at
// the window's first byte, as there), for one volume whose central
// directory ends before it, or a Zip64 locator right before it. This is
// what opens a zip behind a prefix (a self-extractor's stub).
bool zip_eocd_bids(ByteView tail, std::uint64_t size) {
  const std::size_t window = static_cast<std::size_t>(std::min<std::uint64_t>({tail.size(), kArchiveTailBytes, size}));
  if (window < 22) return false;
  const ByteView t = tail.last(window);
  const std::uint64_t base = size - window;  // file offset of t[0]
  for (std::size_t i = window - 22; i > 0; --i) {
    if (t[i] != 'P' || t[i + 1] != 'K' || t[i + 2] != 5 || t[i + 3] != 6) continue;
    const std::uint8_t* p = t.data() + i;
    if (i >= 20 && t[i - 20] == 'P' && t[i - 19] == 'K' && t[i - 18] == 6 && t[i - 17] == 7) return true;
    const std::uint32_t cd_end = le32(p + 16) + le32(p + 12);  // wraps as libarchive's sum does
    return le16(p + 4) == 0 && le16(p + 6) == 0 && le16(p + 10) == le16(p + 8) && cd_end <= base + i;
  }
  return false;
}

void scan_with(const ArchiveOptions& options, ArchiveVisitor& visitor, std::string_view name,
               const std::function<ArchivePtr()>& reopen, const LevelBytes& bytes) {
  Walk walk(options, visitor);
  const std::optional<ImagePlan> plan = find_image(reopen, options.max_members);
  ArchivePtr a = reopen();
  if (!a) return;
  if (plan) {
    walk.image_tar(a.get(), *plan, bytes);
  } else {
    walk.iterate(a.get(), 1, name, bytes);
  }
}

}  // namespace

bool looks_like_archive(ByteView h, ByteView tail, std::uint64_t size) {
  if (h.size() >= 4) {
    switch (h[0]) {
      case 'P':
        // Local header, empty archive, spanned and split markers: what
        // libarchive's streaming zip bidder takes.
        if (h[1] == 'K' && ((h[2] == 3 && h[3] == 4) || (h[2] == 5 && h[3] == 6) || (h[2] == 6 && h[3] == 6) ||
                            (h[2] == 7 && h[3] == 8) || (h[2] == '0' && h[3] == '0'))) {
          return true;
        }
        break;
      case 0x1f:
        if (h[1] == 0x8b) return true;
        break;
      case 'B':
        if (bytes_at(h, 0, "BZh")) return true;
        break;
      case 0xfd:
        if (bytes_at(h, 0,
                     "\xfd"
                     "7zXZ"))
          return true;
        break;
      case 0x28:
        if (bytes_at(h, 0, "\x28\xb5\x2f\xfd")) return true;
        break;
      case '7':
        if (bytes_at(h, 0, "7z\xbc\xaf\x27\x1c")) return true;
        break;
      case 'M':
        if (bytes_at(h, 0, "MSCF")) return true;
        break;
      case 'R':
        if (bytes_at(h, 0, "Rar!\x1a\x07")) return true;  // rar (then 0x00) and rar5 (0x01 0x00)
        break;
      case '!':
        if (bytes_at(h, 0, "!<arch>\n")) return true;
        break;
      case 'x':
        if (bytes_at(h, 0, "xar!")) return true;
        break;
      case '0':
        if (bytes_at(h, 0, "07070") || bytes_at(h, 0, "070727")) return true;
        break;
      case 0xc7:
        if (h[1] == 0x71) return true;
        break;
      case 0x71:
        if (h[1] == 0xc7) return true;
        break;
      default:
        break;
    }
    // zstd skippable frame (0x184D2A50-5F, little-endian) before the data.
    if ((h[0] & 0xf0) == 0x50 && h[1] == 0x2a && h[2] == 0x4d && h[3] == 0x18) return true;
  }
  return lha_header_bids(h) || lzma_bids(h) || tar_header_bids(h) || bytes_at(h, 0x8001, "CD001") ||
         zip_eocd_bids(tail, size);
}

bool looks_like_archive(ByteView whole) {
  return looks_like_archive(whole.first(std::min(whole.size(), kArchiveSniffBytes)),
                            whole.last(std::min(whole.size(), kArchiveTailBytes)), whole.size());
}

void ArchiveScanner::scan(ByteView bytes, std::string_view name, ArchiveVisitor& visitor) const {
  const Utf8Ctype utf8;
  const auto reopen = [&]() -> ArchivePtr {
    ArchivePtr a = new_reader();
    if (a && archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) a.reset();
    return a;
  };
  scan_with(options_, visitor, name, reopen, LevelBytes::of(bytes));
}

void ArchiveScanner::scan(std::uint64_t size, const ReadAtFn& read_at, std::string_view name,
                          ArchiveVisitor& visitor) const {
  const Utf8Ctype utf8;
  // One source per open reader: each reopen gets its own position.
  std::vector<std::unique_ptr<ReadAtSource>> sources;
  const auto reopen = [&]() -> ArchivePtr {
    auto src = std::make_unique<ReadAtSource>();
    src->read_at = &read_at;
    src->size = size;
    ArchivePtr a = new_reader();
    if (!a) return a;
    archive_read_set_seek_callback(a.get(), read_at_seek);
    if (archive_read_open2(a.get(), src.get(), nullptr, read_at_read, read_at_skip, nullptr) != ARCHIVE_OK) {
      return nullptr;
    }
    sources.push_back(std::move(src));
    return a;
  };
  scan_with(options_, visitor, name, reopen, LevelBytes{{}, &read_at, size});
}

bool is_oci_blob_path(std::string_view path) {
  constexpr std::string_view kDir = "/blobs/sha256/";
  if (path.size() < kDir.size() + 64) return false;
  const std::string_view hex = path.substr(path.size() - 64);
  if (path.substr(path.size() - 64 - kDir.size(), kDir.size()) != kDir) return false;
  return std::all_of(hex.begin(), hex.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::optional<ImagePlan> ArchiveScanner::oci_layout_plan(const OpenBelowFn& open) const {
  const auto read_named = [&](const std::string& relative) -> std::optional<std::string> {
    Result<int> fd = open(relative);
    if (!fd) return std::nullopt;
    OwnedFd owned(*fd);
    std::string out;
    char buf[16384];
    for (;;) {
      const ssize_t n = ::read(owned.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return std::nullopt;
      if (n == 0) break;
      out.append(buf, static_cast<std::size_t>(n));
      if (out.size() > kMaxImageJson) return std::nullopt;
    }
    return out;
  };
  if (!read_named("oci-layout")) return std::nullopt;
  const std::optional<std::string> index = read_named("index.json");
  if (!index) return std::nullopt;
  return oci_plan(*index, read_named);
}

void ArchiveScanner::scan_oci_layout(const ImagePlan& plan, const OpenBelowFn& open, ArchiveVisitor& visitor,
                                     BlobDigest* digest) const {
  const Utf8Ctype utf8;
  Walk walk(options_, visitor);
  walk.image(plan, [&](const ImagePlan::Layer& layer) {
    OpenedLayer out;
    Result<int> fd = open(layer.member);
    if (!fd) {
      out.error = fd.error().message;
      return out;
    }
    out.source = std::make_unique<FdSource>();
    out.source->fd = OwnedFd(*fd);
    out.source->digest = digest;
    if (digest != nullptr) digest->begin();
    out.layer = new_reader();
    if (!out.layer ||
        archive_read_open2(out.layer.get(), out.source.get(), nullptr, fd_read, nullptr, nullptr) != ARCHIVE_OK) {
      out.error = out.layer ? error_of(out.layer.get()) : "out of memory";
      out.layer.reset();
      return out;
    }
    if (digest == nullptr) return out;
    // The digest covers the whole blob: what the layer's reader left
    // unread (padding after the end of the tar) is read here.
    out.check = [source = out.source.get(), digest, &layer]() -> std::optional<std::string> {
      const void* chunk = nullptr;
      for (;;) {
        const la_ssize_t n = fd_read(nullptr, source, &chunk);
        if (n < 0) return "cannot read the rest of the blob to check its digest: " + std::string(std::strerror(errno));
        if (n == 0) break;
      }
      const std::string got = digest->finish();
      if (got == layer.digest) return std::nullopt;
      return "the blob's content is not the one its name promises (" + got + "): read as the layer all the same";
    };
    return out;
  });
}

// ---- ImageLayers ----------------------------------------------------------

std::string ImageLayers::normalise(std::string_view p) {
  std::string out;
  std::size_t i = 0;
  while (i < p.size()) {
    std::size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    const std::string_view part = p.substr(i, j - i);
    if (!part.empty() && part != ".") {
      out += '/';
      out += part;
    }
    i = j + 1;
  }
  return out.empty() ? "/" : out;
}

bool ImageLayers::is_whiteout(std::string_view p) {
  const std::string n = normalise(p);
  const std::size_t slash = n.rfind('/');
  return std::string_view(n).substr(slash + 1).starts_with(".wh.");
}

void ImageLayers::add_entry(std::size_t index, std::string_view path_in_layer) {
  if (layers_.size() <= index) layers_.resize(index + 1);
  Layer& layer = layers_[index];
  const std::string n = normalise(path_in_layer);
  const std::size_t slash = n.rfind('/');
  const std::string dir = slash == 0 ? "" : n.substr(0, slash);
  const std::string_view base = std::string_view(n).substr(slash + 1);
  if (base == ".wh..wh..opq") {
    layer.opaque_dirs.insert(dir.empty() ? "/" : dir);
  } else if (base.starts_with(".wh.")) {
    layer.deleted.insert(dir + "/" + std::string(base.substr(4)));
  } else {
    layer.entries.insert(n);
  }
}

bool ImageLayers::in_final_image(std::size_t index, std::string_view path) const {
  const std::string n = normalise(path);
  for (std::size_t j = index + 1; j < layers_.size(); ++j) {
    const Layer& later = layers_[j];
    if (later.entries.contains(n) || later.deleted.contains(n)) return false;
    // Any ancestor deleted, replaced by a non-directory we cannot tell
    // apart cheaply (treated as present), or made opaque hides the file.
    for (std::size_t slash = n.rfind('/'); slash != std::string::npos && slash > 0; slash = n.rfind('/', slash - 1)) {
      const std::string dir = n.substr(0, slash);
      if (later.deleted.contains(dir) || later.opaque_dirs.contains(dir)) return false;
    }
    if (later.opaque_dirs.contains("/")) return false;
  }
  return true;
}

}  // namespace iocsweep
