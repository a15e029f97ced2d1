// Replays every seed input of every fuzz target (tests/fuzz/corpus/<target>/)
// through the same entry functions the libFuzzer mains use, so the corpora
// run in every ctest run, with any compiler.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/targets.hpp"

namespace iocsweep {
namespace {

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class FuzzCorpusReplay : public ::testing::TestWithParam<const char*> {};

TEST_P(FuzzCorpusReplay, EverySeedRunsCleanly) {
  const std::string target = GetParam();
  const fuzz::Target entry = fuzz::target_by_name(target);
  ASSERT_NE(entry, nullptr);
  const std::filesystem::path dir = std::filesystem::path(IOCSWEEP_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / target;
  std::vector<std::filesystem::path> seeds;
  for (const auto& entry_path : std::filesystem::directory_iterator(dir)) {
    if (entry_path.is_regular_file()) seeds.push_back(entry_path.path());
  }
  std::sort(seeds.begin(), seeds.end());
  ASSERT_FALSE(seeds.empty()) << "no seeds in " << dir;
  for (const auto& seed : seeds) {
    SCOPED_TRACE(seed.string());
    const std::string bytes = read_bytes(seed);
    EXPECT_EQ(entry(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzCorpusReplay,
                         ::testing::Values("fuzz_hash_iocs", "fuzz_filename_iocs", "fuzz_stix", "fuzz_misp",
                                           "fuzz_rules", "fuzz_baseline", "fuzz_archive", "fuzz_archive_recognition",
                                           "fuzz_file_types", "fuzz_pack", "fuzz_reports", "fuzz_cache_body"),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

}  // namespace
}  // namespace iocsweep
