#include <algorithm>
#include <set>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <dirent.h>

#include "iocsweep/pipeline.hpp"
#include "pipeline/builtin_data.hpp"

namespace iocsweep {
namespace {

// Indicator and rule files are configuration, not evidence: a size cap
// keeps a wrong path (a disk image, /dev/zero) from eating memory.
constexpr std::uint64_t kMaxInputFileBytes = 512ull << 20;

Result<std::string> read_input_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Error{path + ": " + std::strerror(errno)};
  if (S_ISDIR(st.st_mode)) return Error{path + ": is a directory"};
  if (!S_ISREG(st.st_mode)) return Error{path + ": not a regular file"};
  if (static_cast<std::uint64_t>(st.st_size) > kMaxInputFileBytes) {
    return Error{path + ": larger than 512 MiB, refusing to load it"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": " + std::strerror(errno)};
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Error{path + ": read error"};
  return buf.str();
}

bool has_rule_extension(std::string_view name) { return name.ends_with(".yar") || name.ends_with(".yara"); }

struct RuleFiles {
  std::vector<std::string> files;
  bool from_directory = false;
};

// The rule files a --rules argument names: the file itself, or the .yar /
// .yara files directly inside a directory, in name order.
Result<RuleFiles> rule_files_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Error{path + ": " + std::strerror(errno)};
  if (!S_ISDIR(st.st_mode)) return RuleFiles{{path}, false};
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return Error{path + ": " + std::strerror(errno)};
  std::vector<std::string> files;
  while (const dirent* ent = ::readdir(dir)) {
    if (!has_rule_extension(ent->d_name)) continue;
    std::string full = path;
    if (full.back() != '/') full += '/';
    full += ent->d_name;
    struct stat fst {};
    if (::stat(full.c_str(), &fst) == 0 && S_ISREG(fst.st_mode)) files.push_back(std::move(full));
  }
  ::closedir(dir);
  std::sort(files.begin(), files.end());
  if (files.empty()) return Error{path + ": no .yar or .yara files in this directory"};
  return RuleFiles{std::move(files), true};
}

// True the first time a file (by device and inode) is seen.
bool loaded_once(const std::string& path, std::set<std::pair<dev_t, ino_t>>& seen) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return true;  // the read reports the error
  return seen.emplace(st.st_dev, st.st_ino).second;
}

}  // namespace

std::vector<RuleSource> builtin_rule_sources() {
  std::vector<RuleSource> out;
  for (const auto& file : builtin_data::rule_files()) {
    out.push_back(RuleSource{"builtin:" + std::string(file.name), std::string(file.data), ""});
  }
  return out;
}

Result<Pack> load_pack(const PackRequest& request) {
  std::set<std::pair<dev_t, ino_t>> seen;
  std::vector<RuleSource> sources;
  auto db = std::make_shared<HashIocDb>();
  if (request.builtin) {
    sources = builtin_rule_sources();
    for (const auto& file : builtin_data::ioc_files()) {
      Status st = db->add_set(file.data, "builtin:" + std::string(file.name));
      if (!st) return Error{"built-in pack is broken: " + st.error().message};
    }
  }
  for (const std::string& arg : request.rule_paths) {
    auto found = rule_files_of(arg);
    if (!found) return found.error();
    for (const std::string& file : found->files) {
      // The same file named twice (a directory and a file in it, say) is
      // loaded once.
      if (!loaded_once(file, seen)) continue;
      auto text = read_input_file(file);
      if (!text) return text.error();
      sources.push_back(RuleSource{file, std::move(*text), file, found->from_directory});
    }
  }
  for (const std::string& path : request.ioc_paths) {
    if (!loaded_once(path, seen)) continue;
    auto text = read_input_file(path);
    if (!text) return text.error();
    Status st = db->add_set(*text, path);
    if (!st) return st.error();
  }
  Pack pack;
  if (!sources.empty()) {
    // The built-in pack compiles in milliseconds: a sweep with it alone
    // writes nothing to disk at all, not even a cache.
    auto rules = CompiledRules::compile(sources, request.rule_paths.empty() ? RuleCacheOptions{} : request.rule_cache);
    if (!rules) return rules.error();
    pack.rules = std::move(*rules);
  }
  pack.hash_iocs = std::move(db);
  return pack;
}

Result<std::vector<RuleFileCheck>> check_rule_files(const std::vector<std::string>& paths) {
  std::vector<RuleFileCheck> out;
  for (const std::string& arg : paths) {
    auto found = rule_files_of(arg);
    if (!found) return found.error();
    for (const std::string& file : found->files) {
      RuleFileCheck check;
      check.path = file;
      auto text = read_input_file(file);
      if (!text) {
        check.messages.push_back(text.error().message);
        out.push_back(std::move(check));
        continue;
      }
      auto compiled = CompiledRules::compile({RuleSource{file, std::move(*text), file}});
      if (compiled) {
        check.ok = true;
        check.rules = (*compiled)->rules().size();
        check.messages = (*compiled)->warnings();
      } else {
        const std::string& msg = compiled.error().message;
        for (std::size_t start = 0; start <= msg.size();) {
          const std::size_t nl = msg.find('\n', start);
          check.messages.push_back(msg.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
          if (nl == std::string::npos) break;
          start = nl + 1;
        }
      }
      out.push_back(std::move(check));
    }
  }
  return out;
}

}  // namespace iocsweep
