// A dataset's or tensor's shape as the commands print it: [60000, 28, 28].
#ifndef TRAINCTL_DATA_SHAPE_TEXT_H_
#define TRAINCTL_DATA_SHAPE_TEXT_H_

#include <cstddef>
#include <string>
#include <vector>

namespace trainctl::data {

// Any unsigned extent type: HDF5's hsize_t and std::uint64_t are different types.
template <typename Extent>
std::string ShapeText(const std::vector<Extent>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return out + "]";
}

}  // namespace trainctl::data

#endif  // TRAINCTL_DATA_SHAPE_TEXT_H_
