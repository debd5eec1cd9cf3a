// Reading environment variables for WorkerEnv::FromVariables: values shown as NAME="value" in
// every error, integers, ports and hosts checked, and the six topology numbers that the
// trainctl and torchrun forms share. Private to libtrain/src (env.cc, store_location.cc).
#ifndef TRAIN_SRC_ENV_PARSE_H_
#define TRAIN_SRC_ENV_PARSE_H_

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "train/env.h"
#include "train/status.h"

namespace train::internal::env {

using Vars = std::map<std::string, std::string>;

// NAME="value": how every error shows what it saw.
std::string Shown(std::string_view name, std::string_view value);

// Decimal, whole string, no sign other than '-', no spaces: "08" is 8, "+8" and " 8" are not.
Result<int> ParseInt(std::string_view name, std::string_view text);
Result<int> ParsePort(std::string_view name, std::string_view text);

// A host name or address literal, without brackets.
Status CheckHost(std::string_view name, std::string_view value, std::string_view host);

// A resolved integer and where it came from, so that errors show what was read or derived.
struct Field {
  std::string name;
  int value = 0;
  bool is_set = false;  // read from the variables rather than derived
  std::string text;     // the variable's value as given, when is_set

  // NAME="text" when read, NAME=value (unset; derived) otherwise: the subject of an error.
  std::string Shown() const {
    if (is_set) return env::Shown(name, text);
    return name + "=" + std::to_string(value) + " (unset; derived)";
  }
  // NAME=value: a bound in "must be in [0, NAME=value)".
  std::string Bound() const { return name + "=" + std::to_string(value); }
  // Appended to an error whose bound was derived.
  std::string Note() const {
    return is_set ? std::string() : " (" + name + " is unset; derived from the other variables)";
  }
};

// Reads one form's variables; errors say which form was detected and why.
class Reader {
 public:
  Reader(const Vars& vars, std::string form, std::string detected_by)
      : vars_(vars), form_(std::move(form)), detected_by_(std::move(detected_by)) {}

  const std::string* Get(const std::string& name) const {
    auto it = vars_.find(name);
    return it == vars_.end() ? nullptr : &it->second;
  }

  Status Missing(const std::string& name, std::string_view why) const {
    return InvalidArgumentError(name + " is not set: the " + form_ +
                                " environment (detected from " + detected_by_ + ") requires it" +
                                std::string(why));
  }

  Result<Field> Required(const std::string& name) const {
    const std::string* text = Get(name);
    if (text == nullptr) return Missing(name, "");
    TRAIN_ASSIGN_OR_RETURN(int value, ParseInt(name, *text));
    return Field{name, value, true, *text};
  }

  // `fallback` when unset.
  Result<Field> Optional(const std::string& name, int fallback) const {
    const std::string* text = Get(name);
    if (text == nullptr) return Field{name, fallback, false, std::string()};
    TRAIN_ASSIGN_OR_RETURN(int value, ParseInt(name, *text));
    return Field{name, value, true, *text};
  }

  std::string String(const std::string& name) const {
    const std::string* text = Get(name);
    return text == nullptr ? std::string() : *text;
  }

 private:
  const Vars& vars_;
  std::string form_;
  std::string detected_by_;
};

struct Topology {
  Field rank, world_size, local_rank, local_world_size, node_rank, num_nodes;
};

struct TopologyNames {
  std::string rank, world_size, local_rank, local_world_size, node_rank, num_nodes;
  bool uniform_required;     // every node runs local_world_size workers
  bool one_node_by_default;  // neither per-node size given: one node (else one worker per node)
};

// 0 <= f < bound.
Status CheckIndex(const Field& f, const Field& bound);
// 1 <= f (<= bound when given).
Status CheckCount(const Field& f, const Field* bound);
Status CheckNonNegative(const Field& f);

// Reads and checks the six topology numbers of the trainctl and torchrun forms.
Result<Topology> ReadTopology(const Reader& r, const TopologyNames& n);
void ApplyTopology(const Topology& t, WorkerEnv& env);

// A torch name present beside TRAIN_* must agree with the trainctl value.
Status Disagree(const std::string& torch_name, const std::string& torch_value,
                const std::string& train_shown);
Status CheckTorchInt(const Reader& r, const std::string& torch_name, const Field& train);

// "[::1]" -> "::1"; anything else unchanged.
std::string StripBrackets(std::string_view host);
// "a,b,,c" -> {"a", "b", "", "c"}.
std::vector<std::string> SplitCommas(std::string_view text);

}  // namespace train::internal::env

#endif  // TRAIN_SRC_ENV_PARSE_H_
