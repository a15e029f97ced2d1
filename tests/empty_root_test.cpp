// The binary under test (IOCSWEEP_TEST_BINARY: the static build, or a
// cross-built one run through IOCSWEEP_TEST_EMULATOR) sweeps from inside an
// empty root: a directory holding only the binary, a test tree and what
// the test puts there. No loader, no shared library, no locale data, no
// NSS module, no gconv module, no libmagic database, no openssl.cnf: what
// it needs at run time it must carry.

#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <locale.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "archive_builder.hpp"
#include "iocsweep/common.hpp"
#include "iocsweep/hash.hpp"
#include "report_support.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;
using test::finding_for;
using test::read_file;
using test::RunResult;
using test::TempDir;
using test::write_file;

constexpr const char* kEngineRule = "IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine";

// True when the ELF file at `path` asks for a program interpreter (a
// dynamic executable); false for a static one. Reads the ELF header and the
// program headers only: a sanitizer build's binary runs to hundreds of MB,
// and reading it whole took most of a minute per test under ASan.
bool needs_interpreter(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const auto read_at = [&](std::size_t offset, void* out, std::size_t size) {
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(static_cast<char*>(out), static_cast<std::streamsize>(size));
    return static_cast<std::size_t>(in.gcount()) == size;
  };
  Elf64_Ehdr eh;
  if (!in || !read_at(0, &eh, sizeof eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64) {
    throw std::runtime_error(path + ": not a 64-bit ELF file");
  }
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    const std::size_t off = eh.e_phoff + static_cast<std::size_t>(i) * eh.e_phentsize;
    if (!read_at(off, &ph, sizeof ph)) throw std::runtime_error(path + ": truncated program headers");
    if (ph.p_type == PT_INTERP) return true;
  }
  return false;
}

void copy_executable(const std::string& from, const std::string& to) {
  write_file(to, read_file(from));
  ASSERT_EQ(::chmod(to.c_str(), 0755), 0);
}

// An empty root with the binary (and the emulator, which must itself be
// static) in it; `run` executes it there, chrooted, with no environment
// but `env`.
class EmptyRoot {
 public:
  explicit EmptyRoot(const TempDir& dir) : root_(dir.path()) {
    copy_executable(test::binary_under_test(), root_ + "/iocsweep");
    if (test::under_emulator()) copy_executable(test::test_emulator(), root_ + "/emulator");
    test::make_dir(root_ + "/tree");
  }
  const std::string& path() const { return root_; }

  RunResult run(std::vector<std::string> args, std::vector<std::string> env = {}) const {
    args.insert(args.begin(), "/iocsweep");
    if (test::under_emulator()) args.insert(args.begin(), "/emulator");
    const std::string out = root_ + "/.out", err = root_ + "/.err";
    std::vector<char*> argv = test::exec_argv(args);
    std::vector<char*> envp = test::exec_argv(env);
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (o < 0 || e < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) ::_exit(120);
      if (::chroot(root_.c_str()) != 0) ::_exit(errno == EPERM ? 121 : 122);
      if (::chdir("/") != 0) ::_exit(122);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(123);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    RunResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_file(out);
    r.err = read_file(err);
    ::unlink(out.c_str());
    ::unlink(err.c_str());
    return r;
  }

 private:
  std::string root_;
};

// Whether this process may chroot (root in a container can lack
// CAP_SYS_CHROOT): tried in a child, so nothing here changes.
bool can_chroot() {
  TempDir d;
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(::chroot(d.path().c_str()) == 0 ? 0 : 1);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Skips (with the reason) unless the binary under test is static and this
// process may chroot.
#define REQUIRE_STATIC_BINARY_AND_CHROOT()                                                             \
  do {                                                                                                 \
    if (needs_interpreter(test::binary_under_test())) {                                                \
      GTEST_SKIP() << test::binary_under_test()                                                        \
                   << " is a dynamic executable: the empty-root sweep is for the static build "        \
                      "(IOCSWEEP_TEST_BINARY=build/static/iocsweep, as scripts/run-tests.sh runs it)"; \
    }                                                                                                  \
    if (!can_chroot()) {                                                                               \
      GTEST_SKIP() << "chroot is refused here (needs CAP_SYS_CHROOT; uid " << ::geteuid() << ")";      \
    }                                                                                                  \
  } while (0)

TEST(EmptyRoot, StaticBinarySweepsASynthesisedPositiveWithNothingElseThere) {
  REQUIRE_STATIC_BINARY_AND_CHROOT();
  TempDir dir;
  EmptyRoot root(dir);
  const std::string positive = test::synth_swift_engine();
  write_file(root.path() + "/tree/evtdiag.exe", positive);
  write_file(root.path() + "/tree/readme.txt", "an ordinary text file");
  // Names that need a charset conversion: UTF-16 in 7z, UTF-8 in xar.
  const std::string name = "d\xc3\xa9p\xc3\xb4t-\xe2\x82\xac.exe";
  write_file(root.path() + "/tree/names.7z", test::make_archive_utf8_names({"7zip"}, {{name, positive}}));
  write_file(root.path() + "/tree/names.xar", test::make_archive_utf8_names({"xar"}, {{name, positive}}));
  // A name in no charset at all (Latin-1 bytes in a tar): kept as its bytes.
  const std::string raw = "caf\xe9-\xff.exe";
  write_file(root.path() + "/tree/raw.tar", test::make_archive({"gnutar"}, {{raw, positive}}));
  // The owner's name comes from this root's /etc/passwd, without NSS.
  test::make_dir(root.path() + "/etc");
  write_file(root.path() + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nswiftop:x:4242:4242::/:/bin/sh\n");
  write_file(root.path() + "/tree/owned.bin", "a file of the operator's");
  ASSERT_EQ(::chown((root.path() + "/tree/owned.bin").c_str(), 4242, 4242), 0);
  write_file(root.path() + "/owner.yar", "rule owned_by_swiftop { condition: owner == \"swiftop\" }\n");
  // An openssl.cnf that breaks every digest if it were read.
  write_file(root.path() + "/openssl.cnf",
             "config_diagnostics = 1\nopenssl_conf = conf\n[conf]\nproviders = prov\n"
             "[prov]\nbroken = broken_sect\n[broken_sect]\nmodule = /nonexistent.so\nactivate = 1\n");

  RunResult r = root.run({"scan", "--rules", "/owner.yar", "--no-rule-cache", "--format", "json", "/tree"},
                         {"OPENSSL_CONF=/openssl.cnf"});
  ASSERT_EQ(r.exit_code, 1) << r.err << r.out;
  const json doc = test::parse_report(r);
  EXPECT_EQ(doc["scan"]["complete"], true);
  EXPECT_EQ(doc["stats"]["errors"], 0) << doc["errors"].dump(2);
  EXPECT_EQ(doc["stats"]["skipped_unscanned"], 0);
  const json* engine = finding_for(doc, "/tree/evtdiag.exe");
  ASSERT_NE(engine, nullptr) << r.out;
  bool engine_rule = false;
  for (const json& m : (*engine)["matches"]) engine_rule = engine_rule || m.value("rule", "") == kEngineRule;
  EXPECT_TRUE(engine_rule) << engine->dump(2);
  EXPECT_EQ((*engine)["sha256"], sha256_hex(positive));
  EXPECT_NE(finding_for(doc, "/tree/names.7z", {name}), nullptr) << r.out;
  EXPECT_NE(finding_for(doc, "/tree/names.xar", {name}), nullptr) << r.out;
  const json* raw_member = finding_for(doc, "/tree/raw.tar", {to_valid_utf8(raw)});
  ASSERT_NE(raw_member, nullptr) << r.out;
  EXPECT_EQ((*raw_member)["member_hex"], json::array({to_hex(std::string_view(raw))}));
  const json* owned = finding_for(doc, "/tree/owned.bin");
  ASSERT_NE(owned, nullptr) << r.out;
  EXPECT_EQ((*owned)["matches"][0]["rule"], "owned_by_swiftop");
  EXPECT_EQ(finding_for(doc, "/tree/readme.txt"), nullptr);
}

// libyara's magic module reads libmagic's database from the host's file
// (none here): it cannot answer, and the files it was to look at are
// errors (exit 3), never clean.
TEST(EmptyRoot, MagicModuleWithoutItsDatabaseLeavesErrorsNotCleanFiles) {
  REQUIRE_STATIC_BINARY_AND_CHROOT();
  TempDir dir;
  EmptyRoot root(dir);
  write_file(root.path() + "/tree/a.txt", "some text");
  write_file(root.path() + "/magic.yar",
             "import \"magic\"\nrule typed { condition: magic.type() contains \"text\" }\n");
  RunResult r = root.run({"scan", "--no-builtin", "--no-rule-cache", "--rules", "/magic.yar", "/tree"});
  ASSERT_EQ(r.exit_code, 3) << r.err << r.out;
  const json doc = test::parse_report(r);
  EXPECT_EQ(doc["stats"]["errors"], 1);
  ASSERT_EQ(doc["errors"].size(), 1u);
  EXPECT_EQ(doc["errors"][0]["path"], "/tree/a.txt");
}

}  // namespace
}  // namespace iocsweep
