#include "job_outcome.h"

#include <cstdint>
#include <nlohmann/json.hpp>

#include "agent.h"
#include "rendezvous.h"

namespace trainctl::agent {

std::string EncodeOutcome(const JobOutcome& outcome) {
  nlohmann::json record = {{"status", outcome.exit_code == 0 ? "succeeded" : "failed"},
                           {"exit_code", outcome.exit_code}};
  if (!outcome.reason.empty()) record["reason"] = outcome.reason;
  return record.dump();
}

int DecodeOutcomeExitCode(const std::string& text) {
  const nlohmann::json record = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!record.is_object()) return kExitAgentError;
  const auto code = record.find("exit_code");
  if (code == record.end() || !code->is_number_integer()) return kExitAgentError;
  const auto value = code->get<std::int64_t>();
  return value >= 0 && value <= 255 ? static_cast<int>(value) : kExitAgentError;
}

void RecordOutcome(train::Store* job_store, const JobOutcome& outcome) {
  (void)job_store->CompareSet(kOutcomeKey, std::nullopt, EncodeOutcome(outcome));
}

std::optional<int> RecordedExitCode(train::Store* job_store) {
  auto text = job_store->TryGet(kOutcomeKey);
  if (!text.ok() || !*text) return std::nullopt;
  return DecodeOutcomeExitCode(**text);
}

}  // namespace trainctl::agent
