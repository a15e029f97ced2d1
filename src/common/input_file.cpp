#include "iocsweep/input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/fd.hpp"

namespace iocsweep {

Result<std::string> read_input_file(const std::string& path, std::uint64_t max_bytes) {
  // Opened first and checked through the descriptor, so what is read is
  // what was checked: a name swapped for a FIFO or a device between a
  // check and the open cannot make the read wait or run on (O_NONBLOCK
  // keeps the open of a FIFO from waiting for a writer), and a file that
  // grows while it is read is refused at the limit rather than read on.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return Error{path + ": " + std::strerror(errno)};
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error{path + ": " + std::strerror(errno)};
  if (S_ISDIR(st.st_mode)) return Error{path + ": is a directory"};
  if (!S_ISREG(st.st_mode)) return Error{path + ": not a regular file"};
  const std::string too_large = path + ": larger than " + std::to_string(max_bytes >> 20) + " MiB, refusing to load it";
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) return Error{too_large};
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
    return Error{path + ": " + std::strerror(errno)};
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  char probe = 0;
  for (;;) {
    // Up to the size fstat gave, then one byte more to see whether it grew.
    char* const at = got < out.size() ? out.data() + got : &probe;
    const std::size_t want = got < out.size() ? out.size() - got : 1;
    const ssize_t n = ::read(fd.get(), at, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{path + ": read error: " + std::strerror(errno)};
    }
    if (n == 0) break;
    if (got >= out.size()) {
      // Grew while being read: taken on up to the limit.
      if (out.size() >= max_bytes) return Error{too_large};
      out.push_back(probe);
      out.resize(std::min<std::uint64_t>(max_bytes, out.size() + (1u << 20)));
      ++got;
      continue;
    }
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

std::optional<std::size_t> json_too_deep_at(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

}  // namespace iocsweep
