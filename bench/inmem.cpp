// iocsweep_inmem: the in-memory ceiling for issue 4 ("Fast sweeps").
//
// Loads the regular files below the given paths into memory first, then on
// N threads hashes (through iocsweep::Hasher) and YARA-scans
// (iocsweep::YaraScanner) the same bytes, and prints MB/s for hashing alone
// (all three digests), YARA alone (every file, then only the files the
// rules' prefilter lets through) and both the way a scan worker does them
// (only the digest kinds the pack needs for a file of that size, YARA
// prefiltered). No disk, no
// walker, no report: whatever iocsweep's end-to-end throughput loses against
// these figures is I/O and pipeline overhead.
//
//   iocsweep_inmem [--rules PATH]... [--no-builtin] [--threads N]
//                  [--max-bytes SIZE] [--repeat K] PATH...

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "iocsweep/hash.hpp"
#include "iocsweep/match.hpp"
#include "iocsweep/pipeline.hpp"

namespace {

namespace fs = std::filesystem;

struct Options {
  std::vector<std::string> roots;
  std::vector<std::string> rules;
  bool builtin = true;
  unsigned threads = 0;
  std::uint64_t max_bytes = 2ull << 30;
  std::uint64_t max_filesize = 256ull << 20;
  int repeat = 3;
};

struct LoadedFile {
  std::string path;
  std::vector<std::uint8_t> bytes;
};

[[noreturn]] void usage(const std::string& problem) {
  if (!problem.empty()) std::cerr << "iocsweep_inmem: " << problem << "\n";
  std::cerr << "usage: iocsweep_inmem [--rules PATH]... [--no-builtin] [--threads N] [--max-bytes SIZE]\n"
               "                      [--max-filesize SIZE] [--repeat K] PATH...\n"
               "Loads the files below PATH into memory (at most --max-bytes, default 2G), then hashes and\n"
               "YARA-scans them on N threads (default: all CPUs) and prints MB/s (best of K, default 3).\n";
  std::exit(2);
}

std::uint64_t size_arg(const std::string& flag, const char* text) {
  auto parsed = iocsweep::parse_size(text);
  if (!parsed) usage(flag + ": " + parsed.error().message);
  return *parsed;
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--rules") {
      o.rules.emplace_back(value());
    } else if (a == "--no-builtin") {
      o.builtin = false;
    } else if (a == "--threads") {
      o.threads = static_cast<unsigned>(std::strtoul(value(), nullptr, 10));
      if (o.threads == 0 || o.threads > 256) usage("--threads must be 1..256");
    } else if (a == "--max-bytes") {
      o.max_bytes = size_arg(a, value());
    } else if (a == "--max-filesize") {
      o.max_filesize = size_arg(a, value());
    } else if (a == "--repeat") {
      o.repeat = std::atoi(value());
      if (o.repeat < 1) usage("--repeat must be >= 1");
    } else if (a == "-h" || a == "--help") {
      usage("");
    } else if (a.starts_with("-")) {
      usage("unknown option " + a);
    } else {
      o.roots.push_back(a);
    }
  }
  if (o.roots.empty()) usage("no PATH given");
  if (o.threads == 0) o.threads = iocsweep::default_thread_count();
  return o;
}

bool read_whole(const fs::path& p, std::uint64_t size, std::vector<std::uint8_t>& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  out.resize(size);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(size));
  out.resize(static_cast<std::size_t>(in.gcount()));
  return true;
}

// Same walk policy as iocsweep: regular files only, symlinks below a root
// not followed, files above max_filesize skipped. Stops at max_bytes.
std::vector<LoadedFile> load(const Options& o, std::uint64_t& total, std::size_t& unreadable) {
  std::vector<LoadedFile> files;
  total = 0;
  unreadable = 0;
  auto take = [&](const fs::path& p) {
    std::error_code ec;
    const auto st = fs::symlink_status(p, ec);
    if (ec || !fs::is_regular_file(st)) return true;
    const std::uint64_t size = fs::file_size(p, ec);
    if (ec || size > o.max_filesize) return true;
    if (total + size > o.max_bytes) return false;
    LoadedFile f{p.string(), {}};
    if (!read_whole(p, size, f.bytes)) {
      ++unreadable;
      return true;
    }
    total += f.bytes.size();
    files.push_back(std::move(f));
    return true;
  };
  for (const std::string& root : o.roots) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) {
      if (!take(root)) return files;
      continue;
    }
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!take(it->path())) return files;
    }
  }
  return files;
}

std::string extension_of(const std::string& name) {
  const std::size_t dot = name.rfind('.');
  return dot == std::string::npos || dot == 0 ? "" : name.substr(dot);
}

// kYara scans every file; kYaraGated and kBoth skip the files the rules'
// own checks rule out (RuleGate), as a scan worker does by default.
enum class Work { kHash, kYara, kYaraGated, kBoth };

struct RunResult {
  double seconds = 0;
  std::size_t matches = 0;
  std::size_t errors = 0;
};

// Each thread owns its Hasher and YaraScanner for the whole run, as a scan
// worker does; files are handed out through one atomic index.
RunResult run(const std::vector<LoadedFile>& files, const iocsweep::Pack& pack, unsigned threads, Work work) {
  const auto& rules = pack.rules;
  // What a worker hashes before matching (pipeline.cpp: needed_for).
  const auto kinds_for = [&](std::uint64_t size) {
    if (work == Work::kHash) return iocsweep::DigestSet::all();
    iocsweep::DigestSet kinds;
    if (rules && rules->uses_externals()) kinds = kinds.with(iocsweep::DigestKind::kMd5);
    if (pack.hash_iocs) kinds = kinds | pack.hash_iocs->kinds_for_size(size);
    return kinds;
  };
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> matches{0};
  std::atomic<std::size_t> errors{0};
  const auto t0 = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        iocsweep::Hasher hasher;
        std::optional<iocsweep::YaraScanner> scanner;
        if (rules && work != Work::kHash) scanner.emplace(rules, 0, work != Work::kYara);
        iocsweep::ScanExternals ext;
        ext.owner = "root";
        ext.filetype = "UNKNOWN";
        for (std::size_t i = next++; i < files.size(); i = next++) {
          const LoadedFile& f = files[i];
          const iocsweep::ByteView bytes(f.bytes.data(), f.bytes.size());
          iocsweep::Digests d{};
          if (work == Work::kHash || work == Work::kBoth) {
            hasher.begin(kinds_for(bytes.size()));
            hasher.update(bytes);
            d = hasher.finish();
          }
          if (scanner) {
            const std::size_t slash = f.path.rfind('/');
            ext.filepath = f.path;
            ext.filename = slash == std::string::npos ? f.path : f.path.substr(slash + 1);
            ext.extension = extension_of(ext.filename);
            ext.md5 = d.present.has(iocsweep::DigestKind::kMd5) ? d.hex(iocsweep::DigestKind::kMd5) : std::string();
            auto r = scanner->scan(bytes, ext);
            matches += r.matched.size();
            if (!r.error.empty()) ++errors;
          }
        }
      });
    }
  }
  RunResult r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.matches = matches;
  r.errors = errors;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_args(argc, argv);

  std::uint64_t total = 0;
  std::size_t unreadable = 0;
  const auto t_load = std::chrono::steady_clock::now();
  const std::vector<LoadedFile> files = load(o, total, unreadable);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();

  iocsweep::YaraLibrary yara;
  const auto t_compile = std::chrono::steady_clock::now();
  iocsweep::PackRequest request;
  request.builtin = o.builtin;
  request.rule_paths = o.rules;
  auto pack = iocsweep::load_pack(request);
  if (!pack) {
    std::cerr << "iocsweep_inmem: " << pack.error().message << "\n";
    return 2;
  }
  const double compile_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_compile).count();
  const auto rules = pack->rules;
  const std::size_t rule_count = rules ? rules->rules().size() : 0;

  const double mb = static_cast<double>(total) / 1e6;
  std::printf("files %zu  bytes %llu (%.1f MB)  unreadable %zu  load %.2f s\n", files.size(),
              static_cast<unsigned long long>(total), mb, unreadable, load_s);
  std::printf("rules %zu  compile %.2f s  threads %u  best of %d\n", rule_count, compile_s, o.threads, o.repeat);

  struct Case {
    const char* name;
    Work work;
  };
  const Case cases[] = {{"hash (md5+sha1+sha256)", Work::kHash},
                        {"yara, every file", Work::kYara},
                        {"yara, prefiltered", Work::kYaraGated},
                        {"hash+yara (as a scan worker)", Work::kBoth}};
  for (const Case& c : cases) {
    if (c.work != Work::kHash && !rules) continue;
    RunResult best;
    best.seconds = 1e300;
    for (int k = 0; k < o.repeat; ++k) {
      RunResult r = run(files, *pack, o.threads, c.work);
      if (r.seconds < best.seconds) best = r;
    }
    const double secs = std::max(best.seconds, 1e-9);
    std::printf("%-30s %9.1f MB/s  %8.0f files/s  %.3f s", c.name, mb / secs, static_cast<double>(files.size()) / secs,
                best.seconds);
    if (c.work != Work::kHash) std::printf("  matches %zu  errors %zu", best.matches, best.errors);
    std::printf("\n");
  }
  return 0;
}
