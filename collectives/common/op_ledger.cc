#include "common/op_ledger.h"

#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "train/log.h"

namespace train::internal {
namespace {

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "?";
  return name;
}

std::string JoinRanks(const std::vector<int>& ranks) {
  std::ostringstream out;
  for (std::size_t i = 0; i < ranks.size(); ++i) out << (i ? ", " : "") << ranks[i];
  return out.str();
}

std::string Seconds(Milliseconds waited) {
  std::ostringstream out;
  out.precision(3);
  out << static_cast<double>(waited.count()) / 1000.0 << " s";
  return out.str();
}

// A published record: "<op> | <host> | pid <pid>".
struct Published {
  OpRecord op;
  std::string where;
};

bool ParsePublished(const std::string& value, Published* out) {
  const auto bar = value.find(" | ");
  if (bar == std::string::npos) return false;
  out->where = value.substr(bar + 3);
  return OpRecord::Decode(value.substr(0, bar), &out->op);
}

bool SameOp(const OpRecord& a, const OpRecord& b) {
  return a.kind == b.kind && a.dtype == b.dtype && a.count == b.count && a.reduce == b.reduce &&
         a.root == b.root;
}

}  // namespace

OpLedger::OpLedger(Store* store, std::string name, int rank, int world_size)
    : store_(store), name_(std::move(name)), rank_(rank), world_size_(world_size) {}

std::string OpLedger::KeyFor(int rank) const { return name_ + "/op/" + std::to_string(rank); }

void OpLedger::Publish(const OpRecord& op) {
  if (store_ == nullptr) return;
  const std::string value =
      op.Encode() + " | " + HostName() + " | pid " + std::to_string(::getpid());
  Status status = store_->Set(KeyFor(rank_), value);
  if (!status.ok()) {
    LogWarning("could not publish " + op.Describe() + " to the store: " + status.ToString());
  }
}

Status OpLedger::TimeoutError(const OpRecord& op, Milliseconds waited,
                              const std::vector<int>& suspects) {
  std::ostringstream message;
  message << op.Describe() << " timed out after " << Seconds(waited) << " on rank " << rank_;
  if (store_ == nullptr) {
    if (!suspects.empty()) message << ": still waiting for rank(s) " << JoinRanks(suspects);
    return DeadlineExceededError(message.str());
  }
  Publish(op);
  std::vector<std::string> keys;
  for (int r = 0; r < world_size_; ++r) keys.push_back(KeyFor(r));
  auto values = store_->MultiGet(keys);
  if (!values.ok()) {
    message << ": still waiting for rank(s) " << JoinRanks(suspects)
            << " (the store could not say more: " << values.status().ToString() << ")";
    return DeadlineExceededError(message.str());
  }
  std::vector<int> missing;
  std::vector<std::string> details;
  for (int r = 0; r < world_size_; ++r) {
    if (r == rank_) continue;
    const auto& value = (*values)[r];
    Published published;
    if (!value || !ParsePublished(*value, &published)) {
      missing.push_back(r);
      details.push_back("rank " + std::to_string(r) +
                        " has not entered it (no op of it ever blocked)");
    } else if (published.op.seq < op.seq) {
      missing.push_back(r);
      details.push_back("rank " + std::to_string(r) + " (" + published.where +
                        ") last blocked in " + published.op.Describe() +
                        " and has not entered this one");
    } else if (published.op.seq == op.seq && !SameOp(published.op, op)) {
      missing.push_back(r);
      details.push_back("rank " + std::to_string(r) + " (" + published.where +
                        ") entered a different op under that number: " + published.op.Describe());
    }
  }
  if (missing.empty()) {
    // Every rank published this op: the transport's view is all there is.
    if (!suspects.empty()) message << ": still waiting for rank(s) " << JoinRanks(suspects);
    message << " (every rank published that it entered this op)";
    return DeadlineExceededError(message.str());
  }
  message << ": rank(s) " << JoinRanks(missing) << " did not arrive";
  for (const auto& detail : details) message << "; " << detail;
  return DeadlineExceededError(message.str());
}

}  // namespace train::internal
