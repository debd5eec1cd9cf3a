// EtcdClient over cpprestsdk's http_client. Every cpprest and Boost exception stops here and
// becomes a Status.
#define _TURN_OFF_PLATFORM_STRING  // cpprest's U() macro breaks fmt (see TOOLCHAIN.md)
#include "store/etcd_client.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ssl.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "store/etcd_stream.h"

namespace train::internal {
namespace {

namespace http = web::http;
using Clock = std::chrono::steady_clock;

// cpprest's own timeout only backs ours up: it must outlast the longest budget we give.
constexpr auto kTransportSlack = std::chrono::minutes(1);
// Each member gets at least this long before the request moves on (when the budget allows).
constexpr Milliseconds kMinAttempt{1000};
// After every member failed once in a row, wait this long (doubling) before the next round.
constexpr Milliseconds kFirstBackoff{25};
constexpr Milliseconds kMaxBackoff{500};
constexpr char kAuthenticatePath[] = "/v3/auth/authenticate";

Milliseconds Until(SteadyTime deadline) {
  return std::max(Milliseconds(0), std::chrono::ceil<Milliseconds>(deadline - Clock::now()));
}

std::string Clip(std::string_view text) {
  constexpr std::size_t kShown = 200;
  return std::string(text.substr(0, kShown)) + (text.size() > kShown ? "..." : "");
}

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// Answers that mean "this member cannot serve now; another may": no leader, an election,
// stopping, overloaded.
bool IsTransient(const EtcdError& error) {
  if (error.code == kGrpcUnavailable) return true;
  for (const char* text : {"no leader", "leader changed", "request timed out", "too many requests",
                           "server stopped", "not capable", "proposal dropped"}) {
    if (Contains(error.message, text)) return true;
  }
  return false;
}

// An answer that says the request carried no valid token (expired, or never given).
bool IsAuthRefusal(const EtcdError& error) {
  return error.code == kGrpcUnauthenticated || Contains(error.message, "user name is empty") ||
         Contains(error.message, "invalid auth token");
}

struct Member {
  std::string url;  // scheme://host:port, for messages
  std::unique_ptr<http::client::http_client> client;
};

// Loads the TLS files into `context`: what every https connection does, and what Create does
// once up front so that a bad file is named at once.
void LoadTls(const EtcdOptions& options, boost::asio::ssl::context& context) {
  if (!options.ca_file.empty()) context.load_verify_file(options.ca_file);
  if (!options.cert_file.empty()) {
    context.use_certificate_chain_file(options.cert_file);
    context.use_private_key_file(options.key_file, boost::asio::ssl::context::pem);
  }
}

Status CheckTls(const EtcdOptions& options) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    return InvalidArgumentError(
        "EtcdOptions: a client certificate and its key go together, and only " +
        std::string(options.cert_file.empty() ? "key_file (\"" + options.key_file + "\")"
                                              : "cert_file (\"" + options.cert_file + "\")") +
        " is given");
  }
  const std::pair<const char*, const std::string*> files[] = {{"ca_file", &options.ca_file},
                                                              {"cert_file", &options.cert_file},
                                                              {"key_file", &options.key_file}};
  for (const auto& [name, path] : files) {
    if (path->empty()) continue;
    boost::asio::ssl::context context(boost::asio::ssl::context::tls_client);
    try {
      if (std::string_view(name) == "ca_file") context.load_verify_file(*path);
      if (std::string_view(name) == "cert_file") context.use_certificate_chain_file(*path);
      if (std::string_view(name) == "key_file") {
        context.use_private_key_file(*path, boost::asio::ssl::context::pem);
      }
    } catch (const std::exception& e) {
      return InvalidArgumentError(std::string("EtcdOptions.") + name + " \"" + *path +
                                  "\" cannot be used: " + e.what() +
                                  " (it must be a readable PEM file)");
    }
  }
  return Status::Ok();
}

class CpprestEtcdClient final : public EtcdClient {
 public:
  CpprestEtcdClient(EtcdOptions options, std::vector<Member> members)
      : options_(std::move(options)), members_(std::move(members)) {}

  Result<Json> Call(std::string_view path, const Json& body, Milliseconds budget) override {
    return Send(path, body.dump(), budget, /*with_token=*/true);
  }

  Result<std::unique_ptr<EtcdWatch>> Watch(const Json& create, Milliseconds budget) override {
    const SteadyTime deadline = Clock::now() + budget;
    const std::string text = create.dump();
    Status last = UnavailableError("no member was tried");
    bool renewed = false;
    for (Rounds rounds(members_.size()); Clock::now() < deadline; rounds.Missed(deadline)) {
      TRAIN_ASSIGN_OR_RETURN(std::string token, TokenFor(deadline, /*with_token=*/true));
      const std::size_t index = current_.load();
      const Member& member = members_[index];
      auto watch = OpenEtcdStream(*member.client, member.url, text, token);
      // With one member there is no other to try: it gets the whole budget.
      const SteadyTime give_up =
          members_.size() == 1 ? deadline : Clock::now() + Attempt(deadline, budget);
      Result<std::optional<Json>> first = watch->Next(give_up);
      if (first.ok() && first->has_value()) return std::unique_ptr<EtcdWatch>(std::move(watch));
      // Not confirmed when the budget ran out: etcd may be busy rather than gone, so the stream
      // is kept, and its confirmation comes as its first message. Dropping it would make each
      // of thousands of waiters open a new watch every wait, which keeps a busy etcd busy.
      if (first.ok() && Clock::now() >= deadline) {
        return std::unique_ptr<EtcdWatch>(std::move(watch));
      }
      if (first.ok()) {
        last = UnavailableError(member.url + " did not open the watch in time");
      } else if (const EtcdError* refusal = watch->refusal()) {
        if (IsAuthRefusal(*refusal) && !options_.username.empty() && !renewed) {
          renewed = true;
          DropToken(token);
          continue;
        }
        if (!IsTransient(*refusal)) return Refused(*refusal, member, "/v3/watch");
        last = first.status();
      } else {
        last = first.status();
      }
      MoveOn(index);
    }
    return Unreachable("/v3/watch", budget, last);
  }

  std::string Where() const override {
    std::string out = "etcd (";
    for (std::size_t i = 0; i < members_.size(); ++i) out += (i ? ", " : "") + members_[i].url;
    return out + ")";
  }

 private:
  // Counts members that failed in a row; after each full round of them, backs off.
  class Rounds {
   public:
    explicit Rounds(std::size_t members) : members_(members) {}
    void Missed(SteadyTime deadline) {
      if (++misses_ % members_ != 0) return;
      std::this_thread::sleep_for(std::min(backoff_, Until(deadline)));
      backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    }

   private:
    std::size_t members_;
    std::size_t misses_ = 0;
    Milliseconds backoff_ = kFirstBackoff;
  };

  // One member's share of a budget: half of it (so that a silent member leaves time for the
  // next), at least kMinAttempt, at most what is left.
  static Milliseconds Attempt(SteadyTime deadline, Milliseconds budget) {
    return std::min(Until(deadline), std::max(kMinAttempt, budget / 2));
  }

  Result<Json> Send(std::string_view path, const std::string& text, Milliseconds budget,
                    bool with_token) {
    const SteadyTime deadline = Clock::now() + budget;
    Status last = UnavailableError("no member was tried");
    bool renewed = false;
    for (Rounds rounds(members_.size()); Clock::now() < deadline; rounds.Missed(deadline)) {
      TRAIN_ASSIGN_OR_RETURN(std::string token, TokenFor(deadline, with_token));
      const std::size_t index = current_.load();
      const Member& member = members_[index];
      Result<EtcdAnswer> answer =
          EtcdExchange(*member.client, member.url, path, text, token, Attempt(deadline, budget));
      if (answer.ok() && answer->http_status == 200) {
        Json parsed = Json::parse(answer->body, nullptr, /*allow_exceptions=*/false);
        if (!parsed.is_object()) {
          return DataLossError(member.url + " answered " + std::string(path) +
                               " with something that is not a JSON object: " + Clip(answer->body));
        }
        return parsed;
      }
      if (!answer.ok()) {
        last = answer.status();
      } else if (std::optional<EtcdError> error = EtcdErrorOf(answer->body)) {
        if (IsAuthRefusal(*error) && with_token && !options_.username.empty() && !renewed) {
          renewed = true;  // the token expired: a new one, and the same member again
          DropToken(token);
          continue;
        }
        if (!IsTransient(*error)) return Refused(*error, member, path);
        last = UnavailableError(member.url + ": " + error->message);
      } else if (answer->http_status >= 500) {
        last = UnavailableError(member.url + " answered HTTP " +
                                std::to_string(answer->http_status) + ": " + Clip(answer->body));
      } else {
        return UnknownError(member.url + " answered " + std::string(path) + " with HTTP " +
                            std::to_string(answer->http_status) + ": " + Clip(answer->body) +
                            "; is it an etcd v3 client URL (port 2379)?");
      }
      MoveOn(index);
    }
    return Unreachable(path, budget, last);
  }

  Status Unreachable(std::string_view path, Milliseconds budget, const Status& last) const {
    return UnavailableError(Where() + " did not serve " + std::string(path) + " within " +
                            std::to_string(budget.count()) + " ms (last: " + last.message() +
                            "); are its members running and reachable from here?");
  }

  // What etcd's refusal means to the caller, with the fix.
  Status Refused(const EtcdError& error, const Member& member, std::string_view path) const {
    const std::string user = "'" + options_.username + "'";
    if (path == kAuthenticatePath) {
      if (Contains(error.message, "authentication is not enabled")) {
        return FailedPreconditionError(
            Where() + " has authentication disabled, yet user " + user +
            " was given: drop the user, or enable authentication in the cluster");
      }
      return UnauthenticatedError(Where() + " refused user " + user + " (" + error.message +
                                  "): check the user name and the password in its file "
                                  "(spec.rendezvous.auth, TRAIN_ETCD_USER, "
                                  "TRAIN_ETCD_PASSWORD_FILE)");
    }
    if (IsAuthRefusal(error)) {
      return UnauthenticatedError(
          Where() + " requires authentication (" + error.message +
          "): give a user and its password file (spec.rendezvous.auth.username and "
          "passwordFile, TRAIN_ETCD_USER and TRAIN_ETCD_PASSWORD_FILE)");
    }
    if (error.code == kGrpcPermissionDenied) {
      return PermissionDeniedError(Where() + " denied " + std::string(path) + " under \"" +
                                   options_.key_prefix + "\" to user " + user + " (" +
                                   error.message +
                                   "): grant the user's role readwrite on that prefix");
    }
    return Status(StatusCodeOfGrpc(error.code),
                  member.url + " refused " + std::string(path) + ": " + error.message);
  }

  // The token to send: "" without authentication; else the current one, authenticating first
  // when there is none.
  Result<std::string> TokenFor(SteadyTime deadline, bool with_token) {
    if (!with_token || options_.username.empty()) return std::string();
    {
      std::lock_guard<std::mutex> lock(token_mu_);
      if (!token_.empty()) return token_;
    }
    const Json request = {{"name", options_.username}, {"password", options_.password}};
    TRAIN_ASSIGN_OR_RETURN(Json answer,
                           Send(kAuthenticatePath, request.dump(), Until(deadline), false));
    const auto token = answer.find("token");
    if (token == answer.end() || !token->is_string() ||
        token->get_ref<const std::string&>().empty()) {
      return DataLossError(Where() + " authenticated user '" + options_.username +
                           "' without a token");
    }
    std::lock_guard<std::mutex> lock(token_mu_);
    token_ = token->get<std::string>();
    return token_;
  }

  void DropToken(const std::string& used) {
    std::lock_guard<std::mutex> lock(token_mu_);
    if (token_ == used) token_.clear();
  }

  // Leaves member `index` for the next one (unless another thread moved on already).
  void MoveOn(std::size_t index) {
    std::size_t expected = index;
    current_.compare_exchange_strong(expected, (index + 1) % members_.size());
  }

  const EtcdOptions options_;
  const std::vector<Member> members_;
  std::atomic<std::size_t> current_{0};
  std::mutex token_mu_;
  std::string token_;
};

}  // namespace

Result<std::unique_ptr<EtcdClient>> EtcdClient::Create(const EtcdOptions& options) {
  if (options.endpoints.empty()) {
    return InvalidArgumentError(
        "EtcdOptions.endpoints is empty: name the cluster's members, like \"etcd-0:2379\"");
  }
  if (options.request_timeout <= Milliseconds(0)) {
    return InvalidArgumentError("EtcdOptions.request_timeout is " +
                                std::to_string(options.request_timeout.count()) +
                                " ms: it must be positive");
  }
  TRAIN_RETURN_IF_ERROR(CheckTls(options));
  const bool tls = !options.ca_file.empty() || !options.cert_file.empty();
  std::vector<Member> members;
  for (const std::string& endpoint : options.endpoints) {
    TRAIN_ASSIGN_OR_RETURN(StoreAddress address,
                           ParseEtcdEndpoint(endpoint, "EtcdOptions.endpoints"));
    const bool https =
        endpoint.rfind("https://", 0) == 0 || (tls && endpoint.find("://") == std::string::npos);
    Member member;
    member.url = (https ? "https://" : "http://") + address.ToString();
    try {
      http::client::http_client_config config;
      config.set_timeout(options.request_timeout + kEtcdWatchSpan + kTransportSlack);
      if (https) {
        config.set_ssl_context_callback(
            [options](boost::asio::ssl::context& context) { LoadTls(options, context); });
      }
      member.client = std::make_unique<http::client::http_client>(member.url, config);
    } catch (const std::exception& e) {
      return InvalidArgumentError("cannot use the etcd endpoint \"" + endpoint + "\": " + e.what());
    }
    members.push_back(std::move(member));
  }
  return std::unique_ptr<EtcdClient>(
      std::make_unique<CpprestEtcdClient>(options, std::move(members)));
}

}  // namespace train::internal
