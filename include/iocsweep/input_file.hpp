#pragma once
// Reading configuration inputs (rule, indicator, baseline files) that may
// be hostile or simply wrong: bounded in size, and JSON bounded in depth
// before a parser builds anything.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "iocsweep/common.hpp"

namespace iocsweep {

/// Inputs are configuration, not evidence: a cap keeps a wrong path (a disk
/// image, /dev/zero) from eating memory.
inline constexpr std::uint64_t kMaxInputFileBytes = 512ull << 20;

/// The bytes of the regular file `path`. Fails, naming the file, when it
/// cannot be read, is not a regular file or is larger than `max_bytes`.
Result<std::string> read_input_file(const std::string& path, std::uint64_t max_bytes = kMaxInputFileBytes);

/// Offset of the first bracket that opens nesting deeper than `max_depth`
/// in JSON `text`, outside strings; nothing when there is none. A parsed
/// document is walked (copied, compared, dumped) recursively, so depth is
/// bounded before anything is built.
std::optional<std::size_t> json_too_deep_at(std::string_view text, std::size_t max_depth);

}  // namespace iocsweep
