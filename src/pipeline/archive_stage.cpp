#include "pipeline/archive_stage.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iocsweep/hash.hpp"
#include "iocsweep/read.hpp"

namespace iocsweep {
namespace {

std::string join_chain(const std::vector<std::string>& chain) {
  std::string out;
  for (const std::string& m : chain) {
    if (!out.empty()) out += " > ";
    out += m;
  }
  return out;
}

// The digest of each layer blob a layout's image reads, from the bytes
// read. Its own hasher: the members' matching uses the worker's.
class LayerSha256 final : public BlobDigest {
 public:
  void begin() override { hasher_.begin(DigestSet().with(DigestKind::kSha256)); }
  void update(ByteView bytes) override { hasher_.update(bytes); }
  std::string finish() override { return "sha256:" + hasher_.finish().hex(DigestKind::kSha256); }

 private:
  Hasher hasher_;
};

}  // namespace

/// Reports archive members into the scan, for one item.
class ArchiveStage::MemberVisitor final : public ArchiveVisitor {
 public:
  MemberVisitor(ArchiveHost& host, const MemberOrigin& origin) : host_(host), origin_(origin) {}

  /// Nothing to report came from the members: no match (of any score),
  /// no skipped member, no error.
  bool clean() const { return clean_; }

  void on_member(const std::vector<std::string>& chain, ByteView bytes, const ImageLocation* image) override {
    Matcher& matcher = host_.matcher();
    Finding finding;
    // Path indicators see the member's own path, and for an image file its
    // path inside the image.
    matcher.match_path(image != nullptr ? std::string_view(image->path) : std::string_view(chain.back()), finding);
    const Feed feed = feed_of(bytes);
    const Subject subject{bytes, false, bytes, &feed, chain.back(), origin_.uid};
    const MatchOutcome matched = matcher.match(subject, matcher.needed_for(bytes.size()), finding);
    if (matched.kind == MatchOutcome::Kind::kAllowListed) host_.sink().allowlisted();
    if (matched.yara.gated) host_.sink().prefiltered();
    if (!matched.error.empty()) {
      clean_ = false;
      error("archive member " + join_chain(chain) + ": " + matched.error);
    }
    if (matched.kind != MatchOutcome::Kind::kMatched || finding.matches.empty()) return;
    clean_ = false;
    if (Status done = matcher.complete_digests(feed, finding); !done) {
      error("archive member " + join_chain(chain) + ": " + done.error().message);
    }
    finding.member = chain;
    finding.path = origin_.path;
    finding.size = bytes.size();
    if (origin_.disk != nullptr) finding.disk = *origin_.disk;
    if (image != nullptr) {
      finding.image = FindingImage{image->reference, image->layer, image->layer_index, image->path, true};
      held_.push_back(std::move(finding));
      return;
    }
    host_.report(std::move(finding));
  }
  void on_skipped(const std::vector<std::string>& chain, std::string_view reason, std::string detail) override {
    clean_ = false;
    SkippedFile skipped{
        origin_.path, std::string(reason), chain.empty() ? detail : "member " + join_chain(chain) + ": " + detail, {}};
    if (origin_.disk != nullptr) skipped.disk = *origin_.disk;
    host_.sink().skipped(std::move(skipped));
  }
  void on_error(const std::vector<std::string>& chain, std::string message) override {
    clean_ = false;
    error(chain.empty() ? "archive: " + message : "archive member " + join_chain(chain) + ": " + message);
  }
  void on_image_end(const ImageLayers& layers) override {
    for (Finding& f : held_) {
      f.image->in_final_image = layers.in_final_image(f.image->layer_index, f.image->path);
      host_.report(std::move(f));
    }
    held_.clear();
  }
  bool stop_requested() override { return host_.stop_requested(); }

 private:
  void error(std::string message) {
    FileError e{origin_.path, std::move(message), {}};
    if (origin_.disk != nullptr) e.disk = *origin_.disk;
    host_.sink().error(std::move(e));
  }
  ArchiveHost& host_;
  const MemberOrigin& origin_;
  std::vector<Finding> held_;  // image findings wait for in_final_image
  bool clean_ = true;
};

bool ArchiveStage::scan_members(const MemberOrigin& origin, ByteView bytes, std::string_view name) {
  MemberVisitor visitor(host_, origin);
  archives_.scan(bytes, name, visitor);
  return visitor.clean();
}

bool ArchiveStage::scan_members(const MemberOrigin& origin, std::uint64_t size, const ReadAtFn& read_at,
                                std::string_view name) {
  MemberVisitor visitor(host_, origin);
  archives_.scan(size, read_at, name, visitor);
  return visitor.clean();
}

bool ArchiveStage::read_layout_image(const DirHandle& dir, OciLayouts::Layout& layout, std::uint32_t uid) {
  if (!layout.plan || layout.claimed.exchange(true)) return true;
  const MemberOrigin origin{dir.path(), uid, nullptr};
  MemberVisitor visitor(host_, origin);
  LayerSha256 digest;
  archives_.scan_oci_layout(*layout.plan, layout_opener(dir.fd()), visitor, &digest);
  return visitor.clean();
}

// Opens the files of the layout directory `dir`, each paid for to
// --max-rate when opened (blobs are read from disk again for the image).
OpenBelowFn ArchiveStage::layout_opener(int dir) {
  return [this, dir](const std::string& relative) -> Result<int> {
    Result<int> fd = open_below(dir, relative);
    struct stat st {};
    if (fd && host_.rate_limited() && ::fstat(*fd, &st) == 0 &&
        !host_.pay_rate(static_cast<std::uint64_t>(st.st_size))) {
      ::close(*fd);
      return Error{"interrupted"};
    }
    return fd;
  };
}

// The layout of the open directory `dir`, its plan read on first use
// (once per sweep, whichever worker asks first).
std::shared_ptr<OciLayouts::Layout> ArchiveStage::layout_at(int dir) {
  struct stat st {};
  if (::fstat(dir, &st) != 0) return nullptr;
  std::shared_ptr<OciLayouts::Layout> layout = layouts_.at(st.st_dev, st.st_ino);
  std::call_once(layout->parsed, [&] {
    layout->plan = archives_.oci_layout_plan(layout_opener(dir));
    if (!layout->plan) return;
    for (const ImagePlan::Layer& l : layout->plan->layers) layout->layers.insert(l.member);
  });
  return layout;
}

// For a file that looks like an archive, at .../blobs/sha256/HEX: the
// layout (two directories up) whose image reads it as a layer, with that
// directory in `dir`; null when it is to be opened as a plain archive (no
// valid layout there, one that does not name it as a layer, or bytes
// that are not the blob its name promises). The image checks the bytes
// it reads against the same name, so a blob changed between the two
// reads is an error, never a layer read by neither.
std::shared_ptr<OciLayouts::Layout> ArchiveStage::layout_reading_as_layer(const WalkEntry& entry, const Feed& feed,
                                                                          const Digests& digests,
                                                                          std::shared_ptr<const DirHandle>& dir) {
  if (!entry.parent || !is_oci_blob_path(entry.path)) return nullptr;
  constexpr std::size_t kBlobTail = std::string_view("/blobs/sha256/").size() + 64;
  std::string layout_path = entry.path.substr(0, entry.path.size() - kBlobTail);
  if (!under_a_root(layout_path)) return nullptr;
  // ".." is the directory's real parent, whatever its path says.
  const int fd = ::openat(entry.parent->fd(), "../..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  auto handle = std::make_shared<const DirHandle>(fd, std::move(layout_path));
  std::shared_ptr<OciLayouts::Layout> layout = layout_at(fd);
  if (!layout || !layout->layers.contains(entry.path.substr(entry.path.size() - kBlobTail + 1))) return nullptr;
  if (host_.matcher().sha256_of(feed, digests) != entry.path.substr(entry.path.size() - 64)) return nullptr;
  dir = std::move(handle);
  return layout;
}

// Whether `path` (spelt as the walk spells paths) is a scan root or lies
// below one. A layout above the roots was not named: it is not read, and
// its blobs are plain files.
bool ArchiveStage::under_a_root(std::string_view path) const {
  for (std::string_view root : config_.roots) {
    while (root.size() > 1 && root.back() == '/') root.remove_suffix(1);
    if (path == root || (path.starts_with(root) && (root == "/" || path[root.size()] == '/'))) return true;
  }
  return false;
}

}  // namespace iocsweep
