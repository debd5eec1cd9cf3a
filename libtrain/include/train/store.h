// The rendezvous store: a small key-value service that agents and workers meet through.
//
// Implementations of one interface: an in-memory store (ranks as threads in tests), an HTTP
// client of a StoreServer (the built-in engine), a client of an etcd cluster (the engine that
// survives losing a machine), and a prefix decorator that scopes keys to a job or a round. Every
// blocking call takes a timeout; its default is the store's. Every store may be used from several
// threads at once.
//
// Values are bytes (std::string holds any byte). Keys are printable ASCII without spaces;
// another key is refused with INVALID_ARGUMENT.
#ifndef TRAIN_STORE_H_
#define TRAIN_STORE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "train/defaults.h"
#include "train/status.h"
#include "train/store_location.h"

namespace train {

using Milliseconds = std::chrono::milliseconds;

// No expiry: a key that lives until deleted.
inline constexpr Milliseconds kNoTtl{0};

class Store {
 public:
  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Sets `key` to `value`. With a ttl, the key disappears `ttl` after this call unless set
  // again (heartbeats); without one it stays until deleted. (Add and CompareSet keep a key's
  // expiry.)
  virtual Status Set(std::string_view key, std::string_view value, Milliseconds ttl = kNoTtl) = 0;

  // The value of `key`, waiting for it to be set; DEADLINE_EXCEEDED naming the key after
  // `timeout`.
  virtual Result<std::string> Get(std::string_view key, Milliseconds timeout) = 0;
  Result<std::string> Get(std::string_view key) { return Get(key, default_timeout()); }

  // The value of `key` now, or nullopt when it is not set. Never waits.
  virtual Result<std::optional<std::string>> TryGet(std::string_view key) = 0;

  // The values of `keys` now, in order (nullopt for a key that is not set), in one request.
  // Never waits.
  virtual Result<std::vector<std::optional<std::string>>> MultiGet(
      const std::vector<std::string>& keys) = 0;

  // Sets each of `keys` to the value at the same index of `values`, without expiry, in one
  // request: what a coordinator uses to hand each of thousands of peers a value of its own.
  // INVALID_ARGUMENT when the lists differ in length or a key is invalid (then nothing is
  // set). Readers may see some keys set before others.
  virtual Status MultiSet(const std::vector<std::string>& keys,
                          const std::vector<std::string>& values) = 0;

  // Atomically adds `delta` to the integer at `key` (absent counts as 0); returns the new value.
  // INVALID_ARGUMENT when the key holds something that is not an integer; OUT_OF_RANGE when
  // the sum overflows.
  virtual Result<std::int64_t> Add(std::string_view key, std::int64_t delta) = 0;

  // A number in line: 1 for the first caller at `key`, 2 for the next, and so on, however many
  // race; TicketsTaken is how many were handed out (0 for an absent key). What thousands of
  // agents joining one round use: on etcd, Add reads and then swaps, so N callers racing retry
  // O(N^2) times, while a ticket is one write that never retries. Use a key either for tickets
  // or for Add, not both. The defaults are Add(key, 1) and Add(key, 0): right for a store whose
  // Add is one atomic step; a decorator forwards both.
  virtual Result<std::int64_t> TakeTicket(std::string_view key) { return Add(key, 1); }
  virtual Result<std::int64_t> TicketsTaken(std::string_view key) { return Add(key, 0); }

  // Sets `key` to `desired` if its value is `expected` (nullopt: if the key is absent).
  // Returns the value after the call: `desired` when it was swapped, else the current value
  // (nullopt when absent).
  virtual Result<std::optional<std::string>> CompareSet(std::string_view key,
                                                        std::optional<std::string_view> expected,
                                                        std::string_view desired) = 0;

  // Waits until every key in `keys` is set; DEADLINE_EXCEEDED naming the missing keys.
  virtual Status Wait(const std::vector<std::string>& keys, Milliseconds timeout) = 0;
  Status Wait(const std::vector<std::string>& keys) { return Wait(keys, default_timeout()); }

  // Deletes `key`; returns whether it existed.
  virtual Result<bool> Delete(std::string_view key) = 0;

  // The keys that start with `prefix`, sorted (for scanning heartbeats and members).
  virtual Result<std::vector<std::string>> Keys(std::string_view prefix) = 0;

  // The timeout of Get and Wait when none is given.
  Milliseconds default_timeout() const { return default_timeout_; }
  void set_default_timeout(Milliseconds timeout) { default_timeout_ = timeout; }

 protected:
  Store() = default;

 private:
  Milliseconds default_timeout_ = defaults::kStoreWaitTimeout;
};

// A store held in this process: for tests whose ranks are threads, and what a StoreServer
// serves.
std::unique_ptr<Store> NewInMemoryStore();

// `base` seen through a key prefix: Set("x") on NewPrefixStore("job/round-3/", base) sets
// "job/round-3/x". Keys() returns keys without the prefix. `base` must outlive the result.
std::unique_ptr<Store> NewPrefixStore(std::string prefix, Store* base);

// Limits a server enforces; a request over them is refused with a message naming the limit.
// The last five bound what any client, with the token or without, can make the server hold
// before it is trusted: see docs/store.md, "Security and limits".
struct StoreLimits {
  std::size_t max_value_bytes = 1 << 20;  // one value (INVALID_ARGUMENT over it)
  std::size_t max_key_bytes = 512;        // one key (INVALID_ARGUMENT over it)
  std::size_t max_keys = 1 << 20;         // keys held at once (RESOURCE_EXHAUSTED)
  std::size_t max_waiters = 1 << 16;      // parked Get/Wait requests (RESOURCE_EXHAUSTED)
  std::size_t max_head_bytes = 16 << 10;  // one request's line and headers (HTTP 431)
  std::size_t max_connections = 8192;     // open at once (HTTP 503 to the next, then closed)
  // Request bytes held across all connections while they arrive (HTTP 503 over it).
  std::size_t max_buffered_bytes = 256 << 20;
  // A request's head, then its body, must each arrive within this (HTTP 408, then closed).
  Milliseconds read_timeout = defaults::kStoreReadTimeout;
  // A kept-alive connection with no request for this long is closed.
  Milliseconds idle_timeout{std::chrono::minutes(2)};
};

struct StoreServerOptions {
  // The address to listen on, and only there: "127.0.0.1" (this machine), an address of one
  // interface, or "0.0.0.0" / "::" for every interface.
  std::string host = "127.0.0.1";
  int port = 0;       // 0: pick a free port (read it back from port())
  std::string token;  // every request must carry it; empty refuses to start
  StoreLimits limits;
};

// Serves a store over HTTP. Requests without the token, or with another, are refused
// (UNAUTHENTICATED on the client). State is soft: it lives only as long as the server.
class StoreServer {
 public:
  virtual ~StoreServer() = default;
  StoreServer(const StoreServer&) = delete;
  StoreServer& operator=(const StoreServer&) = delete;

  // Starts listening; errors name the address and why (port in use, bad host, empty token).
  static Result<std::unique_ptr<StoreServer>> Start(const StoreServerOptions& options);

  // The port it listens on (the one picked when asked for 0), and host:port with the host
  // as given (a client on another machine needs this machine's name instead of 0.0.0.0).
  virtual int port() const = 0;
  virtual StoreAddress address() const = 0;

  // Stops listening; parked requests are answered UNAVAILABLE. Idempotent.
  virtual void Stop() = 0;

 protected:
  StoreServer() = default;
};

struct StoreClientOptions {
  // Timeout of Get/Wait when the caller gives none.
  Milliseconds default_timeout = defaults::kStoreWaitTimeout;
  // How long one request may take to get any answer from the server (connect included).
  Milliseconds request_timeout = defaults::kStoreRequestTimeout;
};

// A client of the StoreServer at `address`, authenticating with `token`. Connecting does not
// contact the server; the first request does (UNAVAILABLE while it cannot be reached, and
// UNAUTHENTICATED when it refuses the token). Get and Wait may outlast request_timeout: each
// request's limit is request_timeout plus its own wait.
Result<std::unique_ptr<Store>> ConnectStore(const StoreAddress& address, std::string token,
                                            const StoreClientOptions& options = {});

// An etcd cluster (v3 API, through its JSON gateway) as the store: docs/store.md, "Choosing a
// backend". TTLs are leases, Add and CompareSet are transactions, blocking Get and Wait are
// watches.
struct EtcdOptions {
  // Client URLs of the cluster's members: "host:port" (http), "http://host:port" or
  // "https://host:port". A request goes to one member; when it cannot be reached or fails
  // (no leader, shutting down), the request moves to the next one.
  std::vector<std::string> endpoints;
  // Every key lives under this prefix, so that jobs share a cluster without seeing each
  // other's keys (a job's: JobEtcdPrefix). Keys() returns keys without it.
  std::string key_prefix;
  // etcd's authentication (user and password); an empty username: none.
  std::string username;
  std::string password;
  // https endpoints: the CA bundle that signed the members' certificates (empty: the system's),
  // and this client's certificate and private key (PEM files) for clusters that ask for one.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Timeout of Get/Wait when the caller gives none.
  Milliseconds default_timeout = defaults::kStoreWaitTimeout;
  // How long one operation may keep trying members (an election takes a second or two) before
  // it fails UNAVAILABLE.
  Milliseconds request_timeout = defaults::kStoreRequestTimeout;
};

// A store in the etcd cluster of `options`. Checks the options (endpoints, readable TLS files)
// without contacting the cluster; the first request does (UNAVAILABLE while no member answers,
// UNAUTHENTICATED naming the user when the cluster refuses the password).
Result<std::unique_ptr<Store>> ConnectEtcdStore(const EtcdOptions& options);

// Deletes every key under options.key_prefix at once (a job's keys when it ends, or before a
// new launch of it); returns how many there were. Refuses an empty prefix (the whole cluster).
Result<std::int64_t> DeleteEtcdPrefix(const EtcdOptions& options);

// "/trainctl/<job>/": the prefix of one job's keys in a shared etcd cluster.
std::string JobEtcdPrefix(std::string_view job_id);

// The options for the store of job `job_id` in the cluster `config` names (a worker's
// environment, an agent's spec): the password read from its file, keys under
// JobEtcdPrefix(job_id). Errors name the file.
Result<EtcdOptions> JobEtcdOptions(const EtcdConfig& config, std::string_view job_id);

// Reads a token file: its whole content less trailing whitespace. Errors name the path; an
// empty file is refused. (trainctl writes token files with mode 0600.)
Result<std::string> ReadTokenFile(const std::string& path);

// A fresh random token (32 bytes from the OS, hex-encoded).
Result<std::string> NewToken();

}  // namespace train

#endif  // TRAIN_STORE_H_
