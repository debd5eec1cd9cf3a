// Where a store is: "host:port" addresses and etcd client URLs, parsed with errors that name
// the variable, flag or field they came from.
#include "train/store_location.h"

#include <string>

#include "env_parse.h"

namespace train {

using internal::env::CheckHost;
using internal::env::ParseInt;
using internal::env::Shown;

bool operator==(const StoreAddress& a, const StoreAddress& b) = default;
bool operator==(const EtcdConfig& a, const EtcdConfig& b) = default;

std::string StoreAddress::ToString() const {
  const std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return shown + ":" + std::to_string(port);
}

Result<StoreAddress> StoreAddress::Parse(std::string_view text, std::string_view what) {
  const std::string expected = ": expected host:port, like \"node0:29400\" or \"[::1]:29400\"";
  StoreAddress out;
  std::string_view host;
  std::string_view port;
  if (text.find("://") != std::string_view::npos) {
    return InvalidArgumentError(Shown(what, text) + " is a URL" + expected);
  }
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgumentError(Shown(what, text) + " has no closing ']'" + expected);
    }
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return InvalidArgumentError(Shown(what, text) + " has no port after ']'" + expected);
    }
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return InvalidArgumentError(Shown(what, text) + " has no port" + expected);
    }
    if (text.find(':') != colon) {
      return InvalidArgumentError(Shown(what, text) +
                                  " looks like an IPv6 address without brackets: write it as "
                                  "\"[address]:port\", like \"[::1]:29400\"");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty()) return InvalidArgumentError(Shown(what, text) + " has no host" + expected);
  TRAIN_RETURN_IF_ERROR(CheckHost(what, text, host));
  auto parsed = ParseInt(what, port);
  if (!parsed.ok() || *parsed < 1 || *parsed > 65535) {
    return InvalidArgumentError(Shown(what, text) + " has an invalid port \"" + std::string(port) +
                                "\": a port must be an integer in [1, 65535]");
  }
  out.host = std::string(host);
  out.port = *parsed;
  return out;
}

Result<StoreAddress> ParseEtcdEndpoint(std::string_view text, std::string_view what) {
  std::string_view address = text;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (address.substr(0, scheme.size()) == scheme) address.remove_prefix(scheme.size());
  }
  if (!address.empty() && address.back() == '/') address.remove_suffix(1);
  if (address.find("://") != std::string_view::npos ||
      address.find('/') != std::string_view::npos) {
    return InvalidArgumentError(Shown(what, text) +
                                " is not an etcd endpoint: expected host:port, http://host:port "
                                "or https://host:port, like \"etcd-0:2379\"");
  }
  return StoreAddress::Parse(address, what);
}

}  // namespace train
