#pragma once
// Where a report or a baseline is written, run as root among users who may
// plant things where it writes. A regular file (or a new name) appears
// whole or not at all: written to a temporary file in the destination's
// directory, through the descriptor that created it, and renamed into
// place on commit(). A character device or FIFO (/dev/null, a pipe to a
// collector) is written in place, and /dev/stdout, /dev/stderr, /dev/fd/N
// and /proc/self/fd/N mean the descriptor already open. Anything else is
// refused before anything is created:
//  - a symbolic link, as the destination or on the way to its directory,
//    is followed only when root or this user owns it; one another user
//    planted is refused, never written through nor replaced;
//  - a device or FIFO another user owns is refused (it is theirs to read);
//  - block devices, sockets and directories are never written.
// The path is walked one component at a time through descriptors (links
// followed by hand), and the destination's directory is used through its
// descriptor from then on, so a name swapped meanwhile redirects nothing.

#include <iosfwd>
#include <memory>
#include <string>

#include "iocsweep/common.hpp"

namespace iocsweep {

/// A report file under construction. Without commit(), the destructor
/// removes the temporary file and the destination is left untouched.
/// Not thread-safe, except remove_unfinished().
class OutputFile {
 public:
  /// Decides how `path` is written (see the file comment) and opens it: a
  /// temporary file next to the destination (mode 0666 minus umask, as an
  /// ordinary new file gets), or the device, FIFO or descriptor itself.
  /// Fails, with a message naming `path`, for a target that is refused or
  /// cannot be opened; nothing is created then. A FIFO blocks here until a
  /// reader opens it.
  static Result<std::unique_ptr<OutputFile>> create(const std::string& path);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  /// Where the report is written; errors show as the stream's state.
  std::ostream& stream();
  /// True when the destination is written in place (a device, a FIFO, an
  /// open descriptor), with no temporary file and no rename.
  bool in_place() const;
  /// Flushes; for a file, fsyncs and renames it over the destination
  /// through the directory's descriptor. Fails if a write failed or if the
  /// temporary file's name no longer leads to the file written (someone
  /// else writes in that directory): nothing is renamed then.
  Status commit();
  /// Removes the unfinished temporary file (nothing for an in-place
  /// target). Async-signal-safe (one unlinkat), for the second-signal exit.
  void remove_unfinished() const noexcept;

  struct State;

 private:
  explicit OutputFile(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

/// Whether create(`path`) would write `path` in place (see
/// OutputFile::in_place), as it stands now; false when it would be
/// refused. For checks made before anything is created.
bool output_written_in_place(const std::string& path);

}  // namespace iocsweep
