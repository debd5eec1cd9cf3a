// The agent's view of its workers' reports, and the Prometheus text it serves.
#include <cmath>
#include <regex>
#include <set>
#include <sstream>

#include "gtest/gtest.h"
#include "metrics_registry.h"

namespace trainctl::agent {
namespace {

WorkerReport Report(int rank, pid_t pid, double t, std::int64_t step, std::int64_t bytes) {
  WorkerReport r;
  r.t = t;
  r.rank = rank;
  r.pid = pid;
  r.step = step;
  r.loss = 0.5;
  r.samples = 100;
  r.library.allreduce_bytes = bytes;
  r.library.allreduce_ops = bytes / 10;
  r.values = {{"test_accuracy", 0.9}};
  return r;
}

// Every line is a comment (# HELP / # TYPE) or a sample `name{labels} value`, and every
// sample's family was declared with a TYPE before it.
void ExpectValidExposition(const std::string& text) {
  static const std::regex kSample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\} (NaN|[+-]Inf|[-+0-9.eE]+))");
  static const std::regex kHelp(R"(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+)");
  static const std::regex kType(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge))");
  std::set<std::string> typed;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, kType)) {
      EXPECT_TRUE(typed.insert(m[1]).second) << "TYPE twice: " << line;
    } else if (std::regex_match(line, kHelp)) {
    } else if (std::regex_match(line, m, kSample)) {
      EXPECT_EQ(typed.count(m[1]), 1u) << "sample before its TYPE: " << line;
    } else {
      ADD_FAILURE() << "not exposition format: \"" << line << "\"";
    }
  }
  EXPECT_EQ(text.back(), '\n');
}

TEST(PrometheusTest, ServesEveryFamilyInValidFormat) {
  MetricsRegistry registry("fashion-mnist");
  registry.SetRound(2, 1, 2);
  registry.Add(Report(0, 100, 10.0, 1, 1000));
  registry.Add(Report(0, 100, 10.5, 2, 2000));
  registry.Add(Report(1, 101, 10.5, 2, 2000));
  const std::string text = registry.Prometheus();
  ExpectValidExposition(text);
  for (const char* family :
       {"trainctl_step", "trainctl_loss", "trainctl_samples_per_second", "trainctl_restarts_total",
        "trainctl_allreduce_bytes_total", "trainctl_allreduce_seconds_total",
        "trainctl_checkpoint_save_seconds_total", "trainctl_checkpoint_saves_total"}) {
    EXPECT_NE(text.find("# TYPE " + std::string(family) + " "), std::string::npos) << family;
    EXPECT_NE(text.find("# HELP " + std::string(family) + " "), std::string::npos) << family;
  }
  EXPECT_NE(text.find("trainctl_step{job=\"fashion-mnist\",rank=\"0\"} 2\n"), std::string::npos)
      << text;
  // 100 samples in the 0.5 s between rank 0's two reports.
  EXPECT_NE(text.find("trainctl_samples_per_second{job=\"fashion-mnist\",rank=\"0\"} 200\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("trainctl_restarts_total{job=\"fashion-mnist\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("trainctl_value{job=\"fashion-mnist\",rank=\"1\",name=\"test_accuracy\"} "
                      "0.90000000000000002\n"),
            std::string::npos)
      << text;
}

TEST(PrometheusTest, CountersSurviveARestartedWorker) {
  MetricsRegistry registry("j");
  registry.Add(Report(1, 100, 1.0, 5, 5000));
  // The restarted process (new pid) counts from zero again.
  registry.Add(Report(1, 200, 2.0, 3, 300));
  const std::string text = registry.Prometheus();
  EXPECT_NE(text.find("trainctl_allreduce_bytes_total{job=\"j\",rank=\"1\"} 5300\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("trainctl_samples_total{job=\"j\",rank=\"1\"} 200\n"), std::string::npos);
  // No rate across two processes.
  EXPECT_NE(text.find("trainctl_samples_per_second{job=\"j\",rank=\"1\"} 0\n"), std::string::npos);
}

TEST(PrometheusTest, EscapesLabelsAndSpellsSpecialValues) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(FormatSampleValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatSampleValue(INFINITY), "+Inf");
  EXPECT_EQ(FormatSampleValue(-INFINITY), "-Inf");
  EXPECT_EQ(FormatSampleValue(42), "42");
  MetricsRegistry registry("job \"quoted\"");
  WorkerReport r = Report(0, 1, 1.0, 1, 0);
  r.loss = std::nan("");
  r.values = {{"weird \"name\"\n", 1.0}};
  registry.Add(r);
  const std::string text = registry.Prometheus();
  ExpectValidExposition(text);
  EXPECT_NE(text.find("trainctl_loss{job=\"job \\\"quoted\\\"\",rank=\"0\"} NaN\n"),
            std::string::npos)
      << text;
}

TEST(WorkerReportTest, DecodesTheWireFormatAndRejectsGarbage) {
  auto r = DecodeWorkerReport(
      R"({"v":1,"t":12.5,"rank":2,"pid":77,"run":"3","restart":1,"step":9,"epoch":1,)"
      R"("loss":null,"samples":32,"values":{"lr":0.1},"allreduce_bytes":64})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rank, 2);
  EXPECT_EQ(r->pid, 77);
  EXPECT_EQ(r->step, 9);
  EXPECT_TRUE(std::isnan(r->loss));
  EXPECT_EQ(r->library.allreduce_bytes, 64);
  ASSERT_EQ(r->values.size(), 1u);
  EXPECT_EQ(r->values[0].first, "lr");
  EXPECT_FALSE(DecodeWorkerReport("not json").ok());
  EXPECT_FALSE(DecodeWorkerReport(R"({"v":2,"t":1,"rank":0,"pid":1,"step":1})").ok());
  EXPECT_FALSE(DecodeWorkerReport(R"({"v":1,"t":1,"rank":0,"pid":1})").ok());
  EXPECT_FALSE(DecodeWorkerReport(R"({"v":1,"t":1,"rank":-1,"pid":1,"step":1})").ok());
}

}  // namespace
}  // namespace trainctl::agent
