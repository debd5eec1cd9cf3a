// Holds the legacy default stream, and with it the communicator's stream (which orders itself
// after it), until Release(): ops enqueued meanwhile stay in flight for as long as a test
// needs, with no sleep and no guess about timing.
#ifndef TRAIN_TESTS_UNIT_COLLECTIVES_NCCL_STREAM_BLOCKER_H_
#define TRAIN_TESTS_UNIT_COLLECTIVES_NCCL_STREAM_BLOCKER_H_

namespace train::testing {

class StreamBlocker {
 public:
  // Launches the holding kernel on the current device. It lets go by itself after a minute,
  // so that a test that fails before Release() does not hang the process.
  StreamBlocker();
  ~StreamBlocker();  // releases and waits for the device
  StreamBlocker(const StreamBlocker&) = delete;
  StreamBlocker& operator=(const StreamBlocker&) = delete;

  void Release();

 private:
  volatile int* flag_ = nullptr;  // host memory mapped into the device
};

}  // namespace train::testing

#endif  // TRAIN_TESTS_UNIT_COLLECTIVES_NCCL_STREAM_BLOCKER_H_
