// The process-wide preemption request behind train::Trainer: a SIGTERM handler that only sets
// an atomic flag (async-signal-safe: no allocation, no lock, no errno change), installed while
// at least one trainer wants it, and the state the trainers read at each step's end.
#ifndef TRAIN_SRC_PREEMPTION_H_
#define TRAIN_SRC_PREEMPTION_H_

namespace train::internal {

// Holds the SIGTERM handler for as long as it lives (counted: the first installs it, the last
// puts back what was there). What was there decides how:
//   the default action  ours replaces it;
//   ignored (SIG_IGN)   left alone: the program chose not to hear SIGTERM, so only
//                       RequestPreemption asks for a save;
//   a program's handler chained: ours records the request, then calls the program's, which
//                       does what it always did (if it exits, the process exits).
// A SIGTERM that arrived while ours was installed but that no trainer acted on is raised
// again when the last holder goes, if the default action was what ours replaced: the process
// then ends as it would have without a trainer, only later.
class SigtermHold {
 public:
  SigtermHold();
  ~SigtermHold();
  SigtermHold(const SigtermHold&) = delete;
  SigtermHold& operator=(const SigtermHold&) = delete;
};

// Whether preemption was requested (SIGTERM or RequestPreemption) in this process.
bool PreemptionPending();

// A trainer saved and is stopping because of the request: it was acted on.
void MarkPreemptionHandled();

// For a program that went on training after its step was saved on preemption (it does not
// check PreemptionRequested): when a SIGTERM caused the save and ours had replaced the default
// action, puts the default back and raises SIGTERM, so the process ends as it would have
// without a trainer, only after saving. Returns otherwise (no signal, or a program's own
// handler ran already, or SIGTERM is ignored). SigtermEndsUnheededProgram says which.
bool SigtermEndsUnheededProgram();
void EndProcessForUnheededSigterm();

// How the SIGTERM handler stands, for the log: "installed", "chained to the program's
// handler", "not installed: SIGTERM is ignored", "not installed".
const char* SigtermHandlerState();

}  // namespace train::internal

#endif  // TRAIN_SRC_PREEMPTION_H_
