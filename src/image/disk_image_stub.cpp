// Temporary stand-in until the TSK implementation lands.
#include "iocsweep/disk_image.hpp"

namespace iocsweep {
struct DiskImage::Impl {};
DiskImage::DiskImage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DiskImage::~DiskImage() = default;
Result<std::unique_ptr<DiskImage>> DiskImage::open(const std::string& path, DiskImageOptions) {
  return Error{path + ": disk images are not supported yet"};
}
std::string DiskImage::format() const { return ""; }
std::uint64_t DiskImage::media_size() const { return 0; }
void DiskImage::walk(DiskImageVisitor&, std::stop_token) const {}
Result<std::unique_ptr<ByteSource>> DiskImage::open(const DiskEntry&) const { return Error{"unsupported"}; }
std::string disk_path(const DiskLocation& where) {
  std::string out = where.image + "#";
  if (where.partition >= 0) out += "p" + std::to_string(where.partition);
  out += where.path;
  if (!where.stream.empty()) out += ":" + where.stream;
  return out;
}
}  // namespace iocsweep
