#pragma once
#include <string_view>

namespace iocsweep {
/// The tool's version string, e.g. "0.1.0".
std::string_view version();
/// The tool's name as it appears in reports.
inline constexpr std::string_view kToolName = "iocsweep";
}  // namespace iocsweep
