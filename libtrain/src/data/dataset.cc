#include "train/dataset.h"

#include <unistd.h>

#include <string>
#include <utility>

#include "data/block_cache.h"
#include "data/hdf5_reader.h"
#include "data/prefetcher.h"

namespace train {

struct Dataset::Impl {
  std::string path;
  DatasetOptions options;
  internal::FileLayout layout;
  pid_t owner = 0;  // the process that opened it
  std::unique_ptr<internal::BlockCache> cache;
  std::unique_ptr<internal::Prefetcher> prefetcher;

  ~Impl() {
    // In a forked child the prefetch thread does not exist and its mutex and condition
    // variable may be frozen mid-use: joining or destroying them could hang, so leave them.
    // The cache too: the parent's thread may have been changing it at the fork.
    if (getpid() != owner) {
      static_cast<void>(prefetcher.release());
      static_cast<void>(cache.release());
    }
  }

  Status CheckProcess() const {
    if (getpid() == owner) return Status::Ok();
    return FailedPreconditionError("the Dataset for " + path + " was opened in process " +
                                   std::to_string(owner) + " and is used in process " +
                                   std::to_string(getpid()) +
                                   " after fork(); open a new Dataset in the child");
  }

  Status CheckIndices(const std::vector<std::uint64_t>& indices) const {
    for (std::size_t i = 0; i < indices.size(); ++i) {
      if (indices[i] >= layout.rows) {
        return OutOfRangeError("index " + std::to_string(indices[i]) + " (position " +
                               std::to_string(i) + " of the batch) is out of range for " + path +
                               ", which has N = " + std::to_string(layout.rows) +
                               " rows; indices must be below N");
      }
    }
    return Status::Ok();
  }

  // Checked indices only; runs on the caller's thread or the prefetch thread.
  Result<Batch> ReadChecked(const std::vector<std::uint64_t>& indices) const {
    return internal::ReadRows(path, layout, indices, *cache);
  }
};

void HostTensor::CheckElementType(bool matches, std::size_t element_size) const {
  if (matches) return;
  internal::DieOnCheckFailure(__FILE__, __LINE__,
                              "HostTensor::data<T>() with a T of " + std::to_string(element_size) +
                                  " bytes that does not match the tensor's dtype " +
                                  std::string(DTypeName(dtype)));
}

Dataset::Dataset(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Dataset::~Dataset() = default;

Result<std::unique_ptr<Dataset>> Dataset::Open(const std::string& path,
                                               const DatasetOptions& options) {
  if (options.prefetch_depth == 0) {
    return InvalidArgumentError("DatasetOptions::prefetch_depth is 0 for " + path +
                                "; it must be at least 1 (the default is 2)");
  }
  TRAIN_ASSIGN_OR_RETURN(internal::FileLayout layout, internal::InspectFile(path, options));
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  impl->layout = std::move(layout);
  impl->owner = getpid();
  impl->cache = std::make_unique<internal::BlockCache>(options.chunk_cache_bytes);
  const Impl* reader = impl.get();
  impl->prefetcher = std::make_unique<internal::Prefetcher>(
      [reader](const std::vector<std::uint64_t>& indices) { return reader->ReadChecked(indices); },
      options.prefetch_depth);
  return std::unique_ptr<Dataset>(new Dataset(std::move(impl)));
}

const std::string& Dataset::path() const { return impl_->path; }
std::uint64_t Dataset::size() const { return impl_->layout.rows; }
const std::vector<FieldInfo>& Dataset::fields() const { return impl_->layout.fields; }

Result<Batch> Dataset::Read(const std::vector<std::uint64_t>& indices) {
  TRAIN_RETURN_IF_ERROR(impl_->CheckProcess());
  TRAIN_RETURN_IF_ERROR(impl_->CheckIndices(indices));
  return impl_->ReadChecked(indices);
}

Status Dataset::Prefetch(std::vector<std::uint64_t> indices, std::chrono::milliseconds timeout) {
  TRAIN_RETURN_IF_ERROR(impl_->CheckProcess());
  TRAIN_RETURN_IF_ERROR(impl_->CheckIndices(indices));
  return impl_->prefetcher->Push(std::move(indices), timeout);
}

Result<Batch> Dataset::Next() {
  TRAIN_RETURN_IF_ERROR(impl_->CheckProcess());
  return impl_->prefetcher->Pop();
}

std::size_t Dataset::queued() const {
  return getpid() == impl_->owner ? impl_->prefetcher->outstanding() : 0;
}

}  // namespace train
