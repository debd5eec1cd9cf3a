#include "store_fanout.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "train/store.h"

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

// Until the server holds `count` parked requests: each waiter sets its own key just before it
// parks, so the count of those keys tells how many are (nearly) parked.
train::Status WaitParked(train::Store* store, int count) {
  std::vector<std::string> keys;
  for (int i = 0; i < count; ++i) keys.push_back("parked/" + std::to_string(i));
  return store->Wait(keys, std::chrono::minutes(1));
}

}  // namespace

train::Result<FanoutResult> MeasureFanout(int waiters, std::size_t bytes) {
  TRAIN_ASSIGN_OR_RETURN(std::string token, train::NewToken());
  train::StoreServerOptions options;
  options.token = token;
  TRAIN_ASSIGN_OR_RETURN(auto server, train::StoreServer::Start(options));
  const train::StoreAddress address = server->address();
  TRAIN_ASSIGN_OR_RETURN(auto setter, train::ConnectStore(address, token));

  std::vector<Clock::time_point> got(static_cast<std::size_t>(waiters));
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < waiters; ++i) {
    threads.emplace_back([&, i] {
      auto client = train::ConnectStore(address, token);
      if (!client.ok() || !(*client)->Set("parked/" + std::to_string(i), "1").ok() ||
          !(*client)->Get("value", std::chrono::minutes(1)).ok()) {
        ++failed;
      }
      got[static_cast<std::size_t>(i)] = Clock::now();
    });
  }
  train::Status parked = WaitParked(setter.get(), waiters);
  // The last Set lands a moment before its Get parks: give the stragglers time to park.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto start = Clock::now();
  train::Status set = setter->Set("value", std::string(bytes, 'x'));
  const auto set_done = Clock::now();
  for (std::thread& t : threads) t.join();
  server->Stop();
  TRAIN_RETURN_IF_ERROR(parked);
  TRAIN_RETURN_IF_ERROR(set);
  if (failed > 0) {
    return train::UnavailableError(std::to_string(failed.load()) + " of " +
                                   std::to_string(waiters) + " waiters failed");
  }
  FanoutResult result;
  result.set_s = std::chrono::duration<double>(set_done - start).count();
  result.all_s =
      std::chrono::duration<double>(*std::max_element(got.begin(), got.end()) - start).count();
  return result;
}

train::Result<double> MeasureRoundTrip(int calls) {
  TRAIN_ASSIGN_OR_RETURN(std::string token, train::NewToken());
  train::StoreServerOptions options;
  options.token = token;
  TRAIN_ASSIGN_OR_RETURN(auto server, train::StoreServer::Start(options));
  TRAIN_ASSIGN_OR_RETURN(auto client, train::ConnectStore(server->address(), token));
  TRAIN_RETURN_IF_ERROR(client->Set("key", "value"));  // connects
  const auto start = Clock::now();
  for (int i = 0; i < calls; ++i) TRAIN_RETURN_IF_ERROR(client->TryGet("key").status());
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  server->Stop();
  return s / calls;
}

}  // namespace bench
