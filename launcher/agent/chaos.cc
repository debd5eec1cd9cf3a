#include "chaos.h"

#include <charconv>
#include <sstream>

namespace trainctl::agent {
namespace {

constexpr char kExample[] = "kill:rank=1:step=50";

train::Status Bad(std::string_view text, const std::string& what) {
  return train::InvalidArgumentError("--chaos \"" + std::string(text) + "\": " + what +
                                     " (for example --chaos " + kExample + ")");
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

}  // namespace

std::string_view ChaosActionName(ChaosAction action) {
  switch (action) {
    case ChaosAction::kKill:
      return "kill";
    case ChaosAction::kStop:
      return "stop";
    case ChaosAction::kKillAgent:
      return "kill-agent";
  }
  return "?";
}

std::string ChaosRule::ToString() const {
  return std::string(ChaosActionName(action)) + ":rank=" + std::to_string(rank) +
         ":step=" + std::to_string(step);
}

train::Result<ChaosRule> ParseChaosRule(std::string_view text) {
  const std::vector<std::string_view> parts = Split(text, ':');
  ChaosRule rule;
  const std::string_view action = parts[0];
  if (action == "kill") {
    rule.action = ChaosAction::kKill;
  } else if (action == "stop") {
    rule.action = ChaosAction::kStop;
  } else if (action == "kill-agent") {
    rule.action = ChaosAction::kKillAgent;
  } else {
    return Bad(text, "the action \"" + std::string(action) +
                         "\" is not one of kill (SIGKILL the worker), stop (SIGSTOP it: a hang) "
                         "or kill-agent (SIGKILL its node's agent)");
  }
  bool have_rank = false, have_step = false;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const std::string_view part = parts[i];
    const std::size_t equals = part.find('=');
    const std::string_view key = part.substr(0, equals);
    if (equals == std::string_view::npos || (key != "rank" && key != "step")) {
      return Bad(text, "the part \"" + std::string(part) +
                           "\" is not rank=R or step=S (parts are separated by ':')");
    }
    bool& seen = key == "rank" ? have_rank : have_step;
    if (seen) return Bad(text, "\"" + std::string(key) + "\" is given twice");
    seen = true;
    const std::string_view value = part.substr(equals + 1);
    std::int64_t number = -1;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (value.empty() || error != std::errc() || end != value.data() + value.size() || number < 0 ||
        (key == "rank" && number > 1 << 30)) {
      return Bad(text, "\"" + std::string(part) + "\": " + std::string(key) +
                           " must be a whole number >= 0");
    }
    if (key == "rank") {
      rule.rank = static_cast<int>(number);
    } else {
      rule.step = number;
    }
  }
  if (!have_rank) return Bad(text, "the part rank=R (which worker) is missing");
  if (!have_step) return Bad(text, "the part step=S (when: the step it reports) is missing");
  return rule;
}

train::Status CheckChaosRules(const std::vector<ChaosRule>& rules, int max_workers, int max_nodes) {
  for (const ChaosRule& rule : rules) {
    if (rule.rank >= max_workers) {
      return train::InvalidArgumentError(
          "--chaos " + rule.ToString() + ": rank " + std::to_string(rule.rank) +
          " does not exist in a job of at most " + std::to_string(max_workers) +
          " worker(s): use a rank from 0 to " + std::to_string(max_workers - 1));
    }
    if (rule.action == ChaosAction::kKillAgent && max_nodes < 2) {
      return train::InvalidArgumentError(
          "--chaos " + rule.ToString() +
          ": kill-agent rehearses the loss of a node, which needs a job of 2 or more nodes "
          "(--nnodes 2, or --nnodes 1:2 to go on with one); with one node use kill or stop");
    }
  }
  return train::Status::Ok();
}

std::string EncodeChaosRules(const std::vector<ChaosRule>& rules) {
  std::string text;
  for (const ChaosRule& rule : rules) text += rule.ToString() + "\n";
  return text;
}

train::Result<std::vector<ChaosRule>> DecodeChaosRules(std::string_view text) {
  std::vector<ChaosRule> rules;
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty()) continue;
    TRAIN_ASSIGN_OR_RETURN(ChaosRule rule, ParseChaosRule(line));
    rules.push_back(rule);
  }
  return rules;
}

}  // namespace trainctl::agent
