#pragma once
// Output that appears whole or not at all: written to a temporary file in
// the destination's directory and renamed into place on commit().

#include <fstream>
#include <memory>
#include <string>

#include "iocsweep/common.hpp"

namespace iocsweep {

/// A report file under construction. Without commit(), the destructor
/// removes the temporary file and the destination is left untouched.
class AtomicOutputFile {
 public:
  /// Creates the temporary file next to `path` (mode 0666 minus umask,
  /// as an ordinary file would get).
  static Result<std::unique_ptr<AtomicOutputFile>> create(const std::string& path);
  ~AtomicOutputFile();
  AtomicOutputFile(const AtomicOutputFile&) = delete;
  AtomicOutputFile& operator=(const AtomicOutputFile&) = delete;

  std::ostream& stream() { return stream_; }
  /// Where the file is written until commit() renames it.
  const std::string& temp_path() const { return temp_path_; }
  /// Flushes, fsyncs and renames over the destination.
  Status commit();

 private:
  AtomicOutputFile(std::string path, std::string temp_path);
  std::string path_;
  std::string temp_path_;
  std::ofstream stream_;
  bool committed_ = false;
};

}  // namespace iocsweep
