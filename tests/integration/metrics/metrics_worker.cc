// A worker for the metrics tests: joins the job, then reports steps 1..--steps (one every
// --step-ms) with a falling loss and a rising test_accuracy, meeting the other ranks at a
// barrier every step like a data-parallel trainer.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "train/metrics.h"
#include "train/worker.h"

int main(int argc, char** argv) {
  int steps = 20, step_ms = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--steps") {
      steps = std::atoi(argv[i + 1]);
    } else if (flag == "--step-ms") {
      step_ms = std::atoi(argv[i + 1]);
    } else {
      std::cerr << "metrics_worker: unknown flag " << flag << "\n";
      return 2;
    }
  }
  auto worker = train::Worker::Init();
  if (!worker.ok()) {
    std::cerr << "metrics_worker: " << worker.status() << "\n";
    return 3;
  }
  for (int step = 1; step <= steps; ++step) {
    std::this_thread::sleep_for(std::chrono::milliseconds(step_ms));
    if (auto barrier = (*worker)->Barrier(); !barrier.ok()) {
      std::cerr << "metrics_worker: " << barrier << "\n";
      return 4;
    }
    train::StepReport report;
    report.step = step;
    report.epoch = step / 10;
    report.loss = 2.0 / step;
    report.samples = 32;
    report.values = {{"test_accuracy", static_cast<double>(step) / steps}};
    if (auto sent = train::ReportStep(report); !sent.ok()) {
      std::cerr << "metrics_worker: " << sent << "\n";
      return 5;
    }
  }
  return 0;
}
