#include "store/token.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "train/store.h"

namespace train {
namespace internal {

bool ConstantTimeEquals(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const char byte = i < given.size() ? given[i] : '\0';
    diff |= static_cast<unsigned char>(byte ^ expected[i]);
  }
  return diff == 0;
}

Status ValidateToken(std::string_view token, std::string_view what) {
  if (token.empty()) {
    return InvalidArgumentError(std::string(what) +
                                " is empty: the store needs the job's token (trainctl writes it "
                                "to the file named by TRAIN_TOKEN_FILE)");
  }
  for (std::size_t i = 0; i < token.size(); ++i) {
    const auto c = static_cast<unsigned char>(token[i]);
    if (c <= 0x20 || c >= 0x7f) {
      return InvalidArgumentError(
          std::string(what) + " has a space or unprintable byte at offset " + std::to_string(i) +
          ": tokens are printable ASCII (NewToken makes one)");
    }
  }
  return Status::Ok();
}

}  // namespace internal

Result<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    const int error = errno;
    return (error == ENOENT ? NotFoundError : PermissionDeniedError)(
        "cannot read the token file \"" + path + "\": " + std::strerror(error) +
        "; check TRAIN_TOKEN_FILE and that this process may read the file");
  }
  std::ostringstream content;
  content << file.rdbuf();
  std::string token = content.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ' ||
                            token.back() == '\t')) {
    token.pop_back();
  }
  if (token.empty()) {
    return InvalidArgumentError("the token file \"" + path +
                                "\" is empty: it must hold the job's token (trainctl writes it)");
  }
  TRAIN_RETURN_IF_ERROR(internal::ValidateToken(token, "the token in \"" + path + "\""));
  return token;
}

Result<std::string> NewToken() {
  unsigned char bytes[32];
  std::size_t filled = 0;
  while (filled < sizeof(bytes)) {
    const ssize_t got = getrandom(bytes + filled, sizeof(bytes) - filled, 0);
    if (got > 0) {
      filled += static_cast<std::size_t>(got);
    } else if (got == 0 || errno != EINTR) {
      break;  // old kernels: fall back to /dev/urandom below
    }
  }
  if (filled < sizeof(bytes)) {
    const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return UnavailableError(std::string("cannot make a token: getrandom failed and "
                                          "/dev/urandom cannot be opened: ") +
                              std::strerror(errno));
    }
    while (filled < sizeof(bytes)) {
      const ssize_t got = ::read(fd, bytes + filled, sizeof(bytes) - filled);
      if (got > 0) {
        filled += static_cast<std::size_t>(got);
      } else if (got == 0 || errno != EINTR) {
        break;
      }
    }
    ::close(fd);
    if (filled < sizeof(bytes)) {
      return UnavailableError("cannot make a token: /dev/urandom gave too few bytes");
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  token.reserve(2 * sizeof(bytes));
  for (unsigned char byte : bytes) {
    token += kHex[byte >> 4];
    token += kHex[byte & 0xf];
  }
  return token;
}

}  // namespace train
