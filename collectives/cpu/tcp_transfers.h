// The shapes of data movement the TCP algorithms are built from.
#ifndef TRAIN_COLLECTIVES_CPU_TCP_TRANSFERS_H_
#define TRAIN_COLLECTIVES_CPU_TCP_TRANSFERS_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "cpu/tcp_engine.h"
#include "train/communicator.h"

namespace train::internal {

// Whole buffers to and from several members at once, each independent of the others: at most
// one send and one receive per member.
class ExchangeTransfer final : public TcpTransfer {
 public:
  void AddSend(int member, const void* data, std::size_t bytes);
  void AddRecv(int member, void* data, std::size_t bytes);

  const std::vector<int>& peers() const override { return peers_; }
  std::span<const std::byte> SendWindow(int member) override;
  void Sent(int member, std::size_t bytes) override;
  std::span<std::byte> RecvWindow(int member) override;
  void Received(int member, std::size_t bytes) override;
  bool Done() const override { return pending_ == 0; }

 private:
  struct Item {
    int member;
    std::byte* data;
    std::size_t bytes;
    std::size_t done = 0;
  };
  void AddPeer(int member);
  Item* Find(std::vector<Item>& items, int member);

  std::vector<int> peers_;
  std::vector<Item> sends_;
  std::vector<Item> recvs_;
  std::size_t pending_ = 0;  // bytes still to send or receive
};

// One stream to the right and one from the left, as a ring step or a chain link makes them.
// Segments go in order; send segment k >= 1 is receive segment k - 1 (the block just received
// is forwarded), so a byte is sent as soon as it was received and, for a reducing segment,
// reduced. Reducing segments land in a chunk of scratch and are reduced chunk by chunk, so
// the reduction of one chunk overlaps the arrival of the next.
struct RingSendSegment {
  const std::byte* data = nullptr;
  std::size_t bytes = 0;
};
struct RingRecvSegment {
  std::byte* dst = nullptr;  // where the block ends up
  std::size_t bytes = 0;
  // Reducing segments: this member's contribution (may be dst). Null: land in dst as is.
  const std::byte* local = nullptr;
  // Reducing segments whose dst an earlier send segment reads from: dst[p] is written only
  // once the send stream passed send_position + p (so a buffer can serve every other step).
  bool reuses_sent_bytes = false;
  std::size_t send_position = 0;
};
struct RingPlan {
  int send_to = -1;    // -1: sends nothing (a chain's last link)
  int recv_from = -1;  // -1: receives nothing (a chain's head)
  std::vector<RingSendSegment> sends;
  std::vector<RingRecvSegment> recvs;
  // sends[0] is this member's own data, ready at once; otherwise it is recvs[0] too.
  bool first_send_ready = true;
  DType dtype = DType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
};

class RingTransfer final : public TcpTransfer {
 public:
  // `scratch` holds at least one chunk (a whole number of elements).
  RingTransfer(RingPlan plan, std::span<std::byte> scratch);

  const std::vector<int>& peers() const override { return peers_; }
  std::span<const std::byte> SendWindow(int member) override;
  void Sent(int member, std::size_t bytes) override;
  std::span<std::byte> RecvWindow(int member) override;
  void Received(int member, std::size_t bytes) override;
  bool Done() const override;

 private:
  void SkipEmptyRecvSegments();
  // Reduces the chunk in scratch into its segment once it is complete and may be written.
  void ReduceFullChunk();

  RingPlan plan_;
  std::span<std::byte> scratch_;
  std::vector<int> peers_;
  std::size_t send_total_ = 0;
  std::size_t recv_total_ = 0;
  std::size_t sent_ = 0;      // bytes sent so far
  std::size_t send_seg_ = 0;  // segment and offset of the next byte to send
  std::size_t send_off_ = 0;
  std::size_t processed_ = 0;  // bytes received and, where reducing, reduced
  std::size_t recv_seg_ = 0;   // segment and offset of the next byte to process
  std::size_t recv_off_ = 0;
  std::size_t filled_ = 0;  // bytes of the current chunk in scratch
};

// Every member owns one block and reduces it from all members' contributions in member order
// (ReduceMany), so each element's result depends on nothing but the values and the group
// size. With gather blocks, owners then send their result to every member (all-reduce);
// without, each keeps its own (reduce-scatter).
struct OwnerReducePlan {
  int member = 0;
  int size = 1;
  DType dtype = DType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
  std::vector<const std::byte*> contributions;  // this member's part of each block
  std::vector<std::size_t> block_bytes;         // size of each block
  std::byte* own_result = nullptr;              // where this member's block is reduced to
  std::vector<std::byte*> gather;               // empty, or where each block's result lands
};

class OwnerReduceTransfer final : public TcpTransfer {
 public:
  // Chunks arrive in `slots` buffers per peer; `scratch` holds (size - 1) * slots chunks.
  OwnerReduceTransfer(OwnerReducePlan plan, std::size_t chunk_bytes, int slots,
                      std::span<std::byte> scratch);

  const std::vector<int>& peers() const override { return peers_; }
  std::span<const std::byte> SendWindow(int member) override;
  void Sent(int member, std::size_t bytes) override;
  std::span<std::byte> RecvWindow(int member) override;
  void Received(int member, std::size_t bytes) override;
  bool Done() const override;

 private:
  struct Peer {
    std::size_t sent = 0;      // of its block, then of this member's result
    std::size_t received = 0;  // of this member's block, then of its result
    std::byte* scratch = nullptr;
  };
  std::size_t OwnBytes() const;
  std::size_t ChunkLength(std::size_t chunk) const;
  void ReduceReadyChunks();

  OwnerReducePlan plan_;
  std::size_t chunk_bytes_;
  int slots_;
  std::vector<int> peers_;
  std::vector<Peer> state_;
  std::size_t chunks_ = 0;  // chunks of this member's block
  std::size_t reduced_chunks_ = 0;
  std::size_t reduced_bytes_ = 0;
  std::vector<const void*> sources_;
};

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_TCP_TRANSFERS_H_
