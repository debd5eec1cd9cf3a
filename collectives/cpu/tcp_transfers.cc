#include "cpu/tcp_transfers.h"

#include <algorithm>
#include <utility>

#include "cpu/reduce_kernels.h"

namespace train::internal {

void ExchangeTransfer::AddPeer(int member) {
  if (std::find(peers_.begin(), peers_.end(), member) == peers_.end()) peers_.push_back(member);
}

ExchangeTransfer::Item* ExchangeTransfer::Find(std::vector<Item>& items, int member) {
  for (Item& item : items) {
    if (item.member == member) return &item;
  }
  return nullptr;
}

void ExchangeTransfer::AddSend(int member, const void* data, std::size_t bytes) {
  TRAIN_CHECK(Find(sends_, member) == nullptr);
  // The engine only reads through send windows.
  sends_.push_back({member, static_cast<std::byte*>(const_cast<void*>(data)), bytes});
  pending_ += bytes;
  AddPeer(member);
}

void ExchangeTransfer::AddRecv(int member, void* data, std::size_t bytes) {
  TRAIN_CHECK(Find(recvs_, member) == nullptr);
  recvs_.push_back({member, static_cast<std::byte*>(data), bytes});
  pending_ += bytes;
  AddPeer(member);
}

std::span<const std::byte> ExchangeTransfer::SendWindow(int member) {
  const Item* item = Find(sends_, member);
  if (item == nullptr) return {};
  return {item->data + item->done, item->bytes - item->done};
}

void ExchangeTransfer::Sent(int member, std::size_t bytes) {
  Find(sends_, member)->done += bytes;
  pending_ -= bytes;
}

std::span<std::byte> ExchangeTransfer::RecvWindow(int member) {
  Item* item = Find(recvs_, member);
  if (item == nullptr) return {};
  return {item->data + item->done, item->bytes - item->done};
}

void ExchangeTransfer::Received(int member, std::size_t bytes) {
  Find(recvs_, member)->done += bytes;
  pending_ -= bytes;
}

RingTransfer::RingTransfer(RingPlan plan, std::span<std::byte> scratch)
    : plan_(std::move(plan)), scratch_(scratch) {
  if (plan_.send_to >= 0) peers_.push_back(plan_.send_to);
  if (plan_.recv_from >= 0 && plan_.recv_from != plan_.send_to) {
    peers_.push_back(plan_.recv_from);
  }
  for (const RingSendSegment& segment : plan_.sends) send_total_ += segment.bytes;
  for (const RingRecvSegment& segment : plan_.recvs) recv_total_ += segment.bytes;
  TRAIN_CHECK(!scratch_.empty() && scratch_.size() % DTypeSize(plan_.dtype) == 0);
  SkipEmptyRecvSegments();
}

std::span<const std::byte> RingTransfer::SendWindow(int member) {
  if (member != plan_.send_to) return {};
  const std::size_t own = plan_.first_send_ready && !plan_.sends.empty() ? plan_.sends[0].bytes : 0;
  const std::size_t ready = std::min(own + processed_, send_total_);
  if (sent_ >= ready) return {};
  while (send_off_ == plan_.sends[send_seg_].bytes) {
    ++send_seg_;
    send_off_ = 0;
  }
  const RingSendSegment& segment = plan_.sends[send_seg_];
  return {segment.data + send_off_, std::min(segment.bytes - send_off_, ready - sent_)};
}

void RingTransfer::Sent(int /*member*/, std::size_t bytes) {
  sent_ += bytes;
  send_off_ += bytes;
  // A full chunk may have waited for these bytes to leave the buffer it is reduced into.
  ReduceFullChunk();
}

void RingTransfer::SkipEmptyRecvSegments() {
  while (recv_seg_ < plan_.recvs.size() && recv_off_ == plan_.recvs[recv_seg_].bytes) {
    ++recv_seg_;
    recv_off_ = 0;
  }
}

std::span<std::byte> RingTransfer::RecvWindow(int member) {
  if (member != plan_.recv_from || recv_seg_ == plan_.recvs.size()) return {};
  const RingRecvSegment& segment = plan_.recvs[recv_seg_];
  if (segment.local == nullptr) return {segment.dst + recv_off_, segment.bytes - recv_off_};
  const std::size_t chunk = std::min(scratch_.size(), segment.bytes - recv_off_);
  return scratch_.subspan(filled_, chunk - filled_);
}

void RingTransfer::Received(int /*member*/, std::size_t bytes) {
  const RingRecvSegment& segment = plan_.recvs[recv_seg_];
  if (segment.local == nullptr) {
    recv_off_ += bytes;
    processed_ += bytes;
    SkipEmptyRecvSegments();
  } else {
    filled_ += bytes;
    ReduceFullChunk();
  }
}

void RingTransfer::ReduceFullChunk() {
  if (recv_seg_ == plan_.recvs.size()) return;
  const RingRecvSegment& segment = plan_.recvs[recv_seg_];
  if (segment.local == nullptr) return;
  const std::size_t chunk = std::min(scratch_.size(), segment.bytes - recv_off_);
  if (filled_ < chunk) return;
  if (segment.reuses_sent_bytes && sent_ < segment.send_position + recv_off_ + chunk) return;
  const void* sources[2] = {segment.local + recv_off_, scratch_.data()};
  ReduceMany(plan_.dtype, plan_.op, segment.dst + recv_off_, sources, 2,
             chunk / DTypeSize(plan_.dtype));
  recv_off_ += chunk;
  processed_ += chunk;
  filled_ = 0;
  SkipEmptyRecvSegments();
}

bool RingTransfer::Done() const { return sent_ == send_total_ && processed_ == recv_total_; }

}  // namespace train::internal
