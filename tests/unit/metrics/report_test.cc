// Run reports from a metrics.jsonl: the curves, the cost walk, and the HTML page.
#include <string>

#include "gtest/gtest.h"
#include "run_report.h"

namespace trainctl::report {
namespace {

// A job of 2 cores: 10 s rendezvous, 10 s start-up, steps 1-2 in 20 s, a restart at 40 s,
// 10 s backoff and rendezvous, then steps 1-3 again (1-2 redone) and success.
constexpr char kRun[] =
    R"({"type":"agent_start","t":0,"node":-1,"job":"demo <b>","unit":"core","units_per_node":2,"max_nodes":1}
{"type":"rendezvous_start","t":0,"node":-1}
{"type":"round_start","t":10,"round":0,"node":0,"nodes":1,"workers":2,"restart":0}
{"type":"step","t":20,"rank":0,"restart":0,"step":1,"loss":2.0,"samples_per_s":10,"values":{"test_accuracy":0.5}}
{"type":"step","t":20,"rank":1,"restart":0,"step":1,"loss":1.0,"samples_per_s":10,"values":{"test_accuracy":0.5}}
{"type":"step","t":40,"rank":0,"restart":0,"step":2,"loss":1.0,"samples_per_s":20,"values":{}}
{"type":"chaos","t":41,"rule":"kill:rank=1:step=2","action":"kill","rank":1}
{"type":"round_end","t":50,"round":0,"node":0,"outcome":"restart","reason":"rank 1 <killed>"}
{"type":"rendezvous_start","t":60,"node":0}
{"type":"round_start","t":70,"round":1,"node":0,"nodes":1,"workers":2,"restart":1}
{"type":"step","t":80,"rank":0,"restart":1,"step":1,"loss":1.5,"samples_per_s":10,"values":{}}
{"type":"step","t":90,"rank":0,"restart":1,"step":2,"loss":1.0,"samples_per_s":10,"values":{}}
{"type":"step","t":100,"rank":0,"restart":1,"step":3,"loss":0.5,"samples_per_s":10,"values":{}}
{"type":"round_end","t":110,"round":1,"node":0,"outcome":"succeeded","reason":""}
not json: a torn last line
{"type":"job_end","t":110,"node":0,"exit_code":0}
)";

TEST(RunReportTest, ReadsCurvesAndEvents) {
  RunReport r = BuildRunReport(kRun);
  EXPECT_EQ(r.job, "demo <b>");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.last_step, 3);
  ASSERT_EQ(r.loss.size(), 5u);                // (restart, step) pairs
  EXPECT_DOUBLE_EQ(r.loss[0].y, 1.5);          // mean of the ranks' 2.0 and 1.0
  EXPECT_DOUBLE_EQ(r.samples_per_s[0].y, 20);  // sum over ranks
  ASSERT_EQ(r.accuracy.count("test_accuracy"), 1u);
  ASSERT_EQ(r.restarts.size(), 1u);
  EXPECT_DOUBLE_EQ(r.restarts[0].x, 50);
  ASSERT_EQ(r.chaos.size(), 1u);
}

TEST(RunReportTest, SplitsTheHeldCoreHours) {
  const Cost c = BuildRunReport(kRun).cost;
  const double hour = 2.0 / 3600;  // one second of 2 cores, in core-hours
  EXPECT_NEAR(c.held, 110 * hour, 1e-12);
  EXPECT_NEAR(c.rendezvous, 20 * hour, 1e-12);  // 0-10 and 60-70
  EXPECT_NEAR(c.waiting, 20 * hour, 1e-12);     // 10-20 and 70-80
  // 40-50 after the last step, 50-60 backoff, 80-90 redoing step 2 (step 1 was start-up).
  EXPECT_NEAR(c.restarts, 30 * hour, 1e-12);
  EXPECT_NEAR(c.productive, 40 * hour, 1e-12);  // 20-40, 90-100, 100-110
  EXPECT_EQ(c.restart_count, 1);
  EXPECT_NEAR(c.LostShare(), 70.0 / 110, 1e-12);
  const auto lines = SummaryLines(BuildRunReport(kRun));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("core-hours"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("lost 64%"), std::string::npos) << lines[1];
}

TEST(RunReportTest, RanksReportingTheSameStepsApartLoseNothing) {
  // Two ranks, rank 1 a little behind rank 0 at every step, no restart: all productive.
  constexpr char kTwoRanks[] =
      R"({"type":"agent_start","t":0,"node":-1,"job":"j","unit":"core","units_per_node":1,"max_nodes":1}
{"type":"round_start","t":0,"round":0,"node":0,"nodes":1,"workers":2,"restart":0}
{"type":"step","t":10,"rank":0,"restart":0,"step":1}
{"type":"step","t":11,"rank":1,"restart":0,"step":1}
{"type":"step","t":20,"rank":0,"restart":0,"step":2}
{"type":"step","t":21,"rank":1,"restart":0,"step":2}
{"type":"round_end","t":30,"round":0,"node":0,"outcome":"succeeded","reason":""}
)";
  const Cost c = BuildRunReport(kTwoRanks).cost;
  const double second = 1.0 / 3600;
  EXPECT_NEAR(c.waiting, 10 * second, 1e-12);
  EXPECT_NEAR(c.productive, 20 * second, 1e-12);
  EXPECT_EQ(c.restarts, 0);
}

TEST(RunReportTest, HtmlHoldsThePlotsAndEscapesText) {
  const std::string html = RenderHtml(BuildRunReport(kRun));
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<svg id=\"loss\""), std::string::npos);
  EXPECT_NE(html.find("<svg id=\"accuracy-test_accuracy\""), std::string::npos);
  EXPECT_NE(html.find("<svg id=\"samples-per-second\""), std::string::npos);
  EXPECT_NE(html.find("<line class=\"restart\""), std::string::npos);
  EXPECT_NE(html.find("<polyline"), std::string::npos);
  EXPECT_NE(html.find("demo &lt;b&gt;"), std::string::npos);
  EXPECT_EQ(html.find("demo <b>"), std::string::npos);
  EXPECT_NE(html.find("rank 1 &lt;killed&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(HtmlEscape("a&b<\"'>"), "a&amp;b&lt;&quot;&#39;&gt;");
}

TEST(RunReportTest, AMissingRunDirSaysWhatToGive) {
  auto r = ReadRunReport("/nonexistent/run");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("metrics.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace trainctl::report
