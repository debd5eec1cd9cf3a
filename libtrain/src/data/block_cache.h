// Decompressed, converted blocks of rows that a Dataset keeps between reads, least recently
// used first out. Header-only: it is plain memory and a lock, no HDF5.
#ifndef TRAIN_DATA_BLOCK_CACHE_H_
#define TRAIN_DATA_BLOCK_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace train::internal {

class BlockCache {
 public:
  // Shared so that a reader keeps using a block that another read evicts meanwhile.
  using Block = std::shared_ptr<const std::vector<std::byte>>;

  explicit BlockCache(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // The block, now the most recently used; null when it is not kept.
  Block Find(std::size_t field, std::uint64_t block) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = index_.find({field, block});
    if (it == index_.end()) return nullptr;
    entries_.splice(entries_.begin(), entries_, it->second);
    return it->second->data;
  }

  // Keeps `data` as the most recently used block, evicting the least recently used ones beyond
  // the capacity. A block larger than the capacity is not kept.
  void Insert(std::size_t field, std::uint64_t block, Block data) {
    const std::size_t size = data->size();
    if (size > capacity_) return;
    std::lock_guard<std::mutex> lock(mu_);
    const Key key{field, block};
    if (const auto it = index_.find(key); it != index_.end()) Erase(it->second);
    while (!entries_.empty() && bytes_ + size > capacity_) Erase(std::prev(entries_.end()));
    entries_.push_front({key, std::move(data)});
    index_.emplace(key, entries_.begin());
    bytes_ += size;
  }

  std::size_t bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return bytes_;
  }
  std::size_t blocks() const {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.size();
  }

 private:
  using Key = std::pair<std::size_t, std::uint64_t>;  // field, block
  struct Entry {
    Key key;
    Block data;
  };

  void Erase(std::list<Entry>::iterator it) {
    bytes_ -= it->data->size();
    index_.erase(it->key);
    entries_.erase(it);
  }

  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> entries_;  // most recently used first
  std::map<Key, std::list<Entry>::iterator> index_;
  std::size_t bytes_ = 0;
};

}  // namespace train::internal

#endif  // TRAIN_DATA_BLOCK_CACHE_H_
