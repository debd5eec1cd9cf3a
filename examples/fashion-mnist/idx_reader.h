// Reads IDX files (the MNIST family's format), gzip'd or not.
//
// An IDX file is a 4-byte magic (0, 0, data type, number of dimensions), one big-endian
// uint32 per dimension, then the elements in row-major order. Only unsigned bytes (type 0x08)
// are supported: that is what Fashion-MNIST ships.
#ifndef EXAMPLES_FASHION_MNIST_IDX_READER_H_
#define EXAMPLES_FASHION_MNIST_IDX_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "train/status.h"

namespace fashion_mnist {

struct IdxArray {
  std::vector<uint32_t> dims;  // outermost first: {count, rows, cols} for images
  std::vector<uint8_t> data;   // product(dims) elements
};

// Reads the whole file. A gzip'd file is decompressed on the fly; a plain one is read as is.
// Errors name the file: kNotFound when it is missing, kDataLoss for a bad magic, a truncated
// body or trailing bytes.
train::Result<IdxArray> ReadIdx(const std::string& path);

}  // namespace fashion_mnist

#endif  // EXAMPLES_FASHION_MNIST_IDX_READER_H_
