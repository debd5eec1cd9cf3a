// The report's plots: against the step by default, a line per round (never drawn across a
// restart), round ticks in human units, and smoothed noisy curves over faint raw points.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "plot_scale.h"
#include "run_report.h"

namespace trainctl::report {
namespace {

// Steps 1-300 of round 0 at 0.1 s each, a restart at step 300, then steps 201-400 of round 1,
// losses around 44000 with noise.
std::string RestartedRun() {
  std::string jsonl =
      R"({"type":"agent_start","t":1000,"node":-1,"job":"j","unit":"core","units_per_node":1,"max_nodes":1})"
      "\n";
  double t = 1000;
  auto step = [&](int restart, int s) {
    t += 0.1;
    const double loss = 44000 + 500 * ((s * 7919) % 13) - 10 * s;
    jsonl += R"({"type":"step","t":)" + std::to_string(t) + R"(,"rank":0,"restart":)" +
             std::to_string(restart) + R"(,"step":)" + std::to_string(s) + R"(,"loss":)" +
             std::to_string(loss) + "}\n";
  };
  for (int s = 1; s <= 300; ++s) step(0, s);
  jsonl += R"({"type":"round_end","t":)" + std::to_string(t + 1) +
           R"(,"round":0,"node":0,"outcome":"restart","reason":"rank 1 killed"})"
           "\n";
  t += 5;
  for (int s = 201; s <= 400; ++s) step(1, s);
  return jsonl;
}

// The text of every element of `svg` with class `cls`.
std::vector<std::string> Texts(const std::string& svg, const std::string& cls) {
  std::vector<std::string> out;
  const std::regex pattern("<text class=\"" + cls + "\"[^>]*>([^<]*)</text>");
  for (std::sregex_iterator it(svg.begin(), svg.end(), pattern), end; it != end; ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

std::string LossPlot(const std::string& html) {
  const std::size_t begin = html.find("<svg id=\"loss\"");
  return html.substr(begin, html.find("</svg>", begin) - begin);
}

TEST(ReportPlotTest, TicksAreRoundAndInHumanUnits) {
  const Ticks t = NiceTicks(40123, 47890);
  EXPECT_EQ(t.step, 2000);
  EXPECT_EQ(t.lo, 40000);
  EXPECT_EQ(t.hi, 48000);
  EXPECT_EQ(HumanNumber(44000, 2000), "44k");
  EXPECT_EQ(HumanNumber(44500, 500), "44.5k");
  EXPECT_EQ(HumanNumber(1500000, 500000), "1.5M");
  EXPECT_EQ(HumanNumber(5.822, 0.5), "5.8");  // not 5.822
  EXPECT_EQ(HumanNumber(0.25, 0.05), "0.25");
  EXPECT_EQ(HumanNumber(3, 1), "3");
  EXPECT_EQ(HumanNumber(0, 0.2), "0.0");
  const Ticks small = NiceTicks(0.0012, 0.0029);
  EXPECT_NEAR(small.step, 0.0005, 1e-15);
  EXPECT_EQ(HumanNumber(small.values[1], small.step), "0.0015");
}

TEST(ReportPlotTest, LossIsPlottedAgainstTheStepWithALinePerRound) {
  const RunReport r = BuildRunReport(RestartedRun());
  ASSERT_EQ(r.restarts.size(), 1u);
  EXPECT_EQ(r.restarts[0].step, 300) << "the restart is marked where the round stopped";
  const std::string svg = LossPlot(RenderHtml(r));
  EXPECT_NE(svg.find(">step</text>"), std::string::npos);
  // Round 0 (steps 1-300) and round 1 (201-400) are separate lines: none joins step 300 to 201.
  std::regex smoothed("<polyline class=\"smoothed\"");
  EXPECT_EQ(
      std::distance(std::sregex_iterator(svg.begin(), svg.end(), smoothed), std::sregex_iterator()),
      2);
  EXPECT_NE(svg.find("<polyline class=\"raw\" stroke=\"#1565c0\" stroke-opacity=\"0.25\""),
            std::string::npos)
      << "the raw points stay, faint";
  for (const std::string& label : Texts(svg, "ytick")) {
    EXPECT_EQ(label.find('e'), std::string::npos) << label;  // no 4.409e+04
    EXPECT_TRUE(label.back() == 'k') << label;
  }
  const std::vector<std::string> x = Texts(svg, "xtick");
  ASSERT_FALSE(x.empty());
  EXPECT_EQ(x.front(), "0");
  EXPECT_EQ(x.back(), "400");
}

TEST(ReportPlotTest, TimeIsAnOption) {
  const std::string svg = LossPlot(RenderHtml(BuildRunReport(RestartedRun()), XAxis::kTime));
  EXPECT_NE(svg.find("seconds since the job started"), std::string::npos);
  for (const std::string& label : Texts(svg, "xtick")) {
    EXPECT_EQ(label.find('.'), std::string::npos) << "round seconds: " << label;
  }
}

TEST(ReportPlotTest, SmoothingFollowsTensorBoard) {
  // TensorBoard's debiased EMA: the first value is kept, then a weighted mean.
  const std::vector<double> smoothed = Smooth({10, 0, 10}, 0.5);
  EXPECT_DOUBLE_EQ(smoothed[0], 10);
  EXPECT_NEAR(smoothed[1], (0.5 * 5 + 0) / 0.75, 1e-12);
  EXPECT_EQ(Smooth({1, 2, 3}, 0), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(SmoothingFor(5), 0);
  EXPECT_GT(SmoothingFor(500), 0.6);
  EXPECT_LE(SmoothingFor(1000000), 0.9);
}

}  // namespace
}  // namespace trainctl::report
