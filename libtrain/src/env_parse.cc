#include "env_parse.h"

#include <charconv>
#include <cstdint>
#include <system_error>

namespace train::internal::env {
namespace {

std::string Quoted(std::string_view text) {
  std::string out = "\"";
  out += text;
  out += '"';
  return out;
}

}  // namespace

// NAME="value": how every error shows what it saw.
std::string Shown(std::string_view name, std::string_view value) {
  return std::string(name) + "=" + Quoted(value);
}

// Decimal, whole string, no sign other than '-', no spaces: "08" is 8, "+8" and " 8" are not.
Result<int> ParseInt(std::string_view name, std::string_view text) {
  int value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc::result_out_of_range) {
    return InvalidArgumentError(Shown(name, text) +
                                " is out of range: does not fit in a 32-bit integer");
  }
  if (text.empty() || ec != std::errc() || ptr != end) {
    return InvalidArgumentError(Shown(name, text) +
                                " is not an integer: expected a plain decimal number like 0 or 8");
  }
  return value;
}

Result<int> ParsePort(std::string_view name, std::string_view text) {
  auto port = ParseInt(name, text);
  if (!port.ok() || *port < 1 || *port > 65535) {
    return InvalidArgumentError(Shown(name, text) +
                                " is not a valid port: must be an integer in [1, 65535]");
  }
  return port;
}

// A host name or address literal, without brackets.
Status CheckHost(std::string_view name, std::string_view value, std::string_view host) {
  if (host.empty()) {
    return InvalidArgumentError(Shown(name, value) + " has an empty host");
  }
  for (char c : host) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '/' || c == '[' || c == ']') {
      return InvalidArgumentError(Shown(name, value) + " has an invalid host \"" +
                                  std::string(host) +
                                  "\": expected a host name, an IPv4 address or an IPv6 address");
    }
  }
  return Status::Ok();
}

// 0 <= f < bound.
Status CheckIndex(const Field& f, const Field& bound) {
  if (f.value >= 0 && f.value < bound.value) return Status::Ok();
  return InvalidArgumentError(f.Shown() + " is out of range: must be in [0, " + bound.Bound() +
                              ")" + bound.Note());
}

// 1 <= f (<= bound when given).
Status CheckCount(const Field& f, const Field* bound) {
  if (f.value >= 1 && (bound == nullptr || f.value <= bound->value)) return Status::Ok();
  if (bound == nullptr) {
    return InvalidArgumentError(f.Shown() + " is out of range: must be at least 1");
  }
  return InvalidArgumentError(f.Shown() + " is out of range: must be in [1, " + bound->Bound() +
                              "]" + bound->Note());
}

Status CheckNonNegative(const Field& f) {
  if (f.value >= 0) return Status::Ok();
  return InvalidArgumentError(f.Shown() + " is out of range: must be 0 or more");
}

// Reads and checks the six topology numbers of the trainctl and torchrun forms.
Result<Topology> ReadTopology(const Reader& r, const TopologyNames& n) {
  Topology t;
  TRAIN_ASSIGN_OR_RETURN(t.rank, r.Required(n.rank));
  TRAIN_ASSIGN_OR_RETURN(t.world_size, r.Required(n.world_size));
  TRAIN_RETURN_IF_ERROR(CheckCount(t.world_size, nullptr));
  TRAIN_RETURN_IF_ERROR(CheckIndex(t.rank, t.world_size));

  const int world = t.world_size.value;
  TRAIN_ASSIGN_OR_RETURN(t.local_world_size, r.Optional(n.local_world_size, 0));
  TRAIN_ASSIGN_OR_RETURN(t.num_nodes, r.Optional(n.num_nodes, 0));
  if (t.local_world_size.is_set)
    TRAIN_RETURN_IF_ERROR(CheckCount(t.local_world_size, &t.world_size));
  if (t.num_nodes.is_set) TRAIN_RETURN_IF_ERROR(CheckCount(t.num_nodes, &t.world_size));

  if (t.local_world_size.is_set && !t.num_nodes.is_set) {
    if (world % t.local_world_size.value != 0) {
      return InvalidArgumentError(t.world_size.Shown() + " is not a multiple of " +
                                  t.local_world_size.Shown() +
                                  ": every node must run the same number of workers, or set " +
                                  n.num_nodes + " to the number of nodes");
    }
    t.num_nodes.value = world / t.local_world_size.value;
  } else if (t.num_nodes.is_set && !t.local_world_size.is_set) {
    if (world % t.num_nodes.value != 0) {
      return InvalidArgumentError(t.world_size.Shown() + " is not a multiple of " +
                                  t.num_nodes.Shown() + ": set " + n.local_world_size +
                                  " to the number of workers on this node");
    }
    t.local_world_size.value = world / t.num_nodes.value;
  } else if (!t.local_world_size.is_set && !t.num_nodes.is_set) {
    t.local_world_size.value = n.one_node_by_default ? world : 1;
    t.num_nodes.value = n.one_node_by_default ? 1 : world;
  }
  // 64-bit: both factors may be up to INT_MAX.
  const bool uniform = int64_t{t.num_nodes.value} * t.local_world_size.value == world;
  if (n.uniform_required && !uniform) {
    return InvalidArgumentError(t.num_nodes.Shown() + " times " + t.local_world_size.Shown() +
                                " is not " + t.world_size.Shown() +
                                ": every node runs the same number of workers");
  }

  const int lws = t.local_world_size.value;
  TRAIN_ASSIGN_OR_RETURN(t.local_rank, r.Optional(n.local_rank, t.rank.value % lws));
  TRAIN_RETURN_IF_ERROR(CheckIndex(t.local_rank, t.local_world_size));
  TRAIN_ASSIGN_OR_RETURN(t.node_rank, r.Optional(n.node_rank, t.rank.value / lws));
  TRAIN_RETURN_IF_ERROR(CheckIndex(t.node_rank, t.num_nodes));

  // Both launchers assign ranks in node order; a mismatch means a mixed-up environment.
  const int64_t expected = int64_t{t.node_rank.value} * lws + t.local_rank.value;
  if (uniform && t.rank.value != expected) {
    return InvalidArgumentError(t.rank.Shown() + " does not match " + t.node_rank.Shown() + " * " +
                                t.local_world_size.Shown() + " + " + t.local_rank.Shown() + " = " +
                                std::to_string(expected) + ": ranks are assigned in node order");
  }
  return t;
}

void ApplyTopology(const Topology& t, WorkerEnv& env) {
  env.rank = t.rank.value;
  env.world_size = t.world_size.value;
  env.local_rank = t.local_rank.value;
  env.local_world_size = t.local_world_size.value;
  env.node_rank = t.node_rank.value;
  env.num_nodes = t.num_nodes.value;
}

// A torch name present beside TRAIN_* must agree with the trainctl value.
Status Disagree(const std::string& torch_name, const std::string& torch_value,
                const std::string& train_shown) {
  return InvalidArgumentError(Shown(torch_name, torch_value) + " disagrees with " + train_shown +
                              ": when both are set they must match; unset " + torch_name +
                              " or give it the same value");
}

Status CheckTorchInt(const Reader& r, const std::string& torch_name, const Field& train) {
  const std::string* text = r.Get(torch_name);
  if (text == nullptr) return Status::Ok();
  TRAIN_ASSIGN_OR_RETURN(int value, ParseInt(torch_name, *text));
  if (value != train.value) return Disagree(torch_name, *text, train.Shown());
  return Status::Ok();
}

std::string StripBrackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::string(host);
}

std::vector<std::string> SplitCommas(std::string_view text) {
  std::vector<std::string> out;
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    out.emplace_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace train::internal::env
