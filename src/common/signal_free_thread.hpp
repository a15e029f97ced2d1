#pragma once
// A thread that never takes a signal meant for the process. The CLI blocks
// SIGINT and SIGTERM in its threads and waits for them in one of its own;
// a thread started with them unblocked (before that, or from a library)
// would be where the kernel delivers them, and the process would die of
// them instead of stopping cleanly. SIGPIPE, too, becomes EPIPE there.

#include <pthread.h>
#include <signal.h>

#include <thread>
#include <utility>

namespace iocsweep {

/// Starts `f` on a new thread with every signal blocked (a thread inherits
/// its creator's mask), and leaves the caller's mask as it was, also when
/// the thread cannot be started (std::system_error, as std::thread).
template <class F>
std::thread start_signal_free_thread(F&& f) {
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  struct Restore {
    sigset_t* old;
    ~Restore() { pthread_sigmask(SIG_SETMASK, old, nullptr); }
  } restore{&old};
  return std::thread(std::forward<F>(f));
}

}  // namespace iocsweep
