#pragma once
// The walker's own rules, shared by FileWalker and WalkPlanner and private
// to the walk component: how --exclude globs match the paths of a walk, and
// which filesystem types a sweep skips unless asked. Knows paths and
// filesystem type names only.

#include <string>
#include <string_view>
#include <vector>

namespace iocsweep {

/// Matches the paths met while walking one root against --exclude globs as
/// the walker does: every glob against the path as spelt from the root (the
/// root as given, then "/NAME" per level), and a glob that starts with '/'
/// also against the absolute path (the root resolved once with realpath(),
/// plus the same rest), so "$PWD/tree/x" excludes tree/x when the root is
/// given as "tree". Immutable after construction.
class ExcludeMatcher {
 public:
  ExcludeMatcher(const std::vector<std::string>& globs, const std::string& root);
  /// The first glob `path` matches, or null. `path` must be spelt from the
  /// root (start with it), as the walk spells it.
  const std::string* match(const std::string& path) const;
  /// True when `path` or a directory on the way to it from the root (the
  /// root included) matches: the walk would never reach `path`.
  bool excludes_on_the_way(const std::string& path) const;

 private:
  std::vector<std::string> globs_;
  std::string root_;
  std::string absolute_root_;  // "" when no glob starts with '/'
  std::string absolute_of(const std::string& path) const;
};

/// True for filesystem types a sweep skips unless asked: kernel pseudo
/// filesystems (proc, sysfs, devtmpfs, cgroup, debugfs, tracefs, ...) whose
/// "files" are not data on disk, and network filesystems (nfs, cifs, smb3,
/// sshfs, ...) that would sweep another machine over the wire.
bool skip_by_default_fs(std::string_view type);

}  // namespace iocsweep
