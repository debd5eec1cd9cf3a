// Where a job's store is: the built-in server's address, or the etcd cluster that holds it.
// Shared by the worker environment (train/env.h) and the store clients (train/store.h).
#ifndef TRAIN_STORE_LOCATION_H_
#define TRAIN_STORE_LOCATION_H_

#include <string>
#include <string_view>
#include <vector>

#include "train/status.h"

namespace train {

// host:port of the rendezvous store.
struct StoreAddress {
  std::string host;
  int port = 0;

  std::string ToString() const;  // "host:port", "[::1]:port" for IPv6 literals
  // Parses "host:port" or "[v6]:port"; the error names `what` (the variable) and the value.
  static Result<StoreAddress> Parse(std::string_view text, std::string_view what);

  friend bool operator==(const StoreAddress& a, const StoreAddress& b);
};

inline bool operator!=(const StoreAddress& a, const StoreAddress& b) { return !(a == b); }

// An etcd member's client URL: "host:port", "http://host:port" or "https://host:port". Returns
// the address part; the error names `what` (a variable, a flag, a field) and the value.
Result<StoreAddress> ParseEtcdEndpoint(std::string_view text, std::string_view what);

// The etcd cluster that holds a job's store (TRAIN_STORE_BACKEND=etcd; docs/env.md). Secrets
// travel as files, never as values.
struct EtcdConfig {
  std::vector<std::string> endpoints;  // TRAIN_STORE_ENDPOINTS: ParseEtcdEndpoint's forms
  std::string username;                // TRAIN_ETCD_USER; empty: no authentication
  std::string password_file;           // TRAIN_ETCD_PASSWORD_FILE: the user's password
  std::string ca_file;                 // TRAIN_ETCD_CA_FILE: CA of the members' certificates
  std::string cert_file;               // TRAIN_ETCD_CERT_FILE: this client's certificate
  std::string key_file;                // TRAIN_ETCD_KEY_FILE: its private key

  friend bool operator==(const EtcdConfig& a, const EtcdConfig& b);
};

inline bool operator!=(const EtcdConfig& a, const EtcdConfig& b) { return !(a == b); }

}  // namespace train

#endif  // TRAIN_STORE_LOCATION_H_
