// SIGTERM to a flag: the handler does two atomic stores and, when it chains, calls the
// program's own handler. Installing and removing it take a mutex; the handler never does.
#include "preemption.h"

#include <signal.h>

#include <atomic>
#include <mutex>

#include "train/trainer.h"

namespace train {
namespace internal {
namespace {

static_assert(std::atomic<bool>::is_always_lock_free, "the handler needs a lock-free flag");
static_assert(std::atomic<int>::is_always_lock_free, "the handler needs a lock-free flag");

enum HandlerState : int { kNotInstalled, kInstalled, kChained, kIgnored };

std::atomic<bool> g_requested{false};       // SIGTERM or RequestPreemption, ever
std::atomic<bool> g_signal_pending{false};  // a SIGTERM our handler took
std::atomic<bool> g_handled{false};         // a trainer saved and stopped for it
std::atomic<int> g_state{kNotInstalled};

// What was there before ours; written only while the handler is not installed.
struct sigaction g_previous = {};

std::mutex g_mutex;  // installs and removals
int g_holders = 0;

bool IsFunction(const struct sigaction& action) {
  if (action.sa_flags & SA_SIGINFO) return action.sa_sigaction != nullptr;
  return action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN;
}

extern "C" void OnSigterm(int signal, siginfo_t* info, void* context) {
  g_requested.store(true, std::memory_order_relaxed);
  g_signal_pending.store(true, std::memory_order_relaxed);
  if (g_state.load(std::memory_order_relaxed) != kChained) return;
  if (g_previous.sa_flags & SA_SIGINFO) {
    g_previous.sa_sigaction(signal, info, context);
  } else {
    g_previous.sa_handler(signal);
  }
}

void Install() {
  struct sigaction current = {};
  if (::sigaction(SIGTERM, nullptr, &current) != 0) return;
  if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN) {
    g_state = kIgnored;
    return;
  }
  g_previous = current;
  const bool chain = IsFunction(current);
  struct sigaction ours = {};
  ours.sa_sigaction = OnSigterm;
  // SA_RESTART: a blocking call of the program (a read, a collective's poll) goes on instead of
  // failing with EINTR because of a signal the program did not ask to hear.
  ours.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&ours.sa_mask);
  g_state = chain ? kChained : kInstalled;
  if (::sigaction(SIGTERM, &ours, nullptr) != 0) g_state = kNotInstalled;
}

void Remove() {
  const int state = g_state.exchange(kNotInstalled);
  if (state != kInstalled && state != kChained) return;
  // Put back only our own: a program that replaced ours meanwhile keeps its handler.
  struct sigaction current = {};
  if (::sigaction(SIGTERM, nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) &&
      current.sa_sigaction == OnSigterm) {
    (void)::sigaction(SIGTERM, &g_previous, nullptr);
  }
  // A SIGTERM nobody acted on takes the effect it would have had without us.
  if (state == kInstalled && g_signal_pending.exchange(false) && !g_handled.load()) {
    (void)::raise(SIGTERM);
  }
}

}  // namespace

SigtermHold::SigtermHold() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_holders++ == 0) Install();
}

SigtermHold::~SigtermHold() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (--g_holders == 0) Remove();
}

bool PreemptionPending() { return g_requested.load(std::memory_order_relaxed); }

void MarkPreemptionHandled() { g_handled.store(true, std::memory_order_relaxed); }

bool SigtermEndsUnheededProgram() {
  return g_state.load() == kInstalled && g_signal_pending.load();
}

void EndProcessForUnheededSigterm() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_state.load() != kInstalled || !g_signal_pending.load()) return;
  g_state = kNotInstalled;
  (void)::sigaction(SIGTERM, &g_previous, nullptr);
  (void)::raise(SIGTERM);
}

const char* SigtermHandlerState() {
  switch (g_state.load()) {
    case kInstalled:
      return "installed";
    case kChained:
      return "chained to the program's own handler";
    case kIgnored:
      return "not installed: SIGTERM is ignored";
    default:
      return "not installed";
  }
}

}  // namespace internal

void RequestPreemption() { internal::g_requested.store(true, std::memory_order_relaxed); }

}  // namespace train
