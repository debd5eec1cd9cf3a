// What a run directory's metrics.jsonl says about a job: its curves, its restarts, and what the
// resources it held were spent on. Behind `trainctl report` and the summary `trainctl run`
// prints at the end.
#ifndef TRAINCTL_REPORT_RUN_REPORT_H_
#define TRAINCTL_REPORT_RUN_REPORT_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "train/status.h"

namespace trainctl::report {

struct Point {
  double x = 0;  // seconds since the job started
  double y = 0;
  std::int64_t step = 0;
  std::int64_t restart = 0;  // the restart count of the round that reported it
};

struct Marker {
  double x = 0;           // seconds since the job started
  std::string label;      // why the round ended, or what chaos did
  std::int64_t step = 0;  // the last step reported by then
};

// Where the held resources went, in unit-hours ("gpu" or "core" hours). The parts add up to
// `held` (see docs/metrics.md for how each interval is classified).
struct Cost {
  std::string unit = "core";
  double held = 0;
  double productive = 0;  // steps that advanced the job
  double restarts = 0;    // lost: work redone after a restart, dead time before it, backoff
  double rendezvous = 0;  // nodes meeting for a round
  double waiting = 0;     // workers starting up (loading, restoring) before their first step
  double wall_seconds = 0;
  int restart_count = 0;
  double LostShare() const { return held > 0 ? (restarts + rendezvous + waiting) / held : 0; }
};

struct RunReport {
  std::string job;
  std::vector<Point> loss;                             // mean over ranks, per step
  std::vector<Point> samples_per_s;                    // the job's, summed over ranks
  std::map<std::string, std::vector<Point>> accuracy;  // values named *accuracy*
  std::vector<Marker> restarts;                        // rounds that ended in a restart
  std::vector<Marker> chaos;
  std::int64_t last_step = 0;
  int exit_code = -1;     // -1: the job's end is not in the file
  double start_time = 0;  // the first line's time, seconds since the Unix epoch
  Cost cost;
};

// Reads RUN_DIR/metrics.jsonl. A line that is not JSON is skipped (a torn last line).
train::Result<RunReport> ReadRunReport(const std::string& run_dir);
// The same from the file's text (tests).
RunReport BuildRunReport(std::string_view jsonl);

// The end-of-run lines: "held 0.12 core-hours; lost 18% to restarts 10%, rendezvous 3%, ...".
std::vector<std::string> SummaryLines(const RunReport& report);

// What the plots are drawn against: the step (default) or the time since the job started.
enum class XAxis { kStep, kTime };

// One self-contained HTML page: inline SVG plots drawn here, no scripts, fonts or links. Each
// round is a line of its own (a restart breaks the line, and its redone steps are drawn again),
// a noisy curve is smoothed with its raw points kept faint, and ticks are round numbers.
std::string RenderHtml(const RunReport& report, XAxis x_axis = XAxis::kStep);

// Writes the curves as TensorBoard event files under `dir` (tensorboard.h).
train::Status WriteTensorBoard(const RunReport& report, const std::string& dir);

// & < > " ' as entities.
std::string HtmlEscape(std::string_view text);

}  // namespace trainctl::report

#endif  // TRAINCTL_REPORT_RUN_REPORT_H_
