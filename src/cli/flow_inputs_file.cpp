#include "cli/flow_inputs_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>
#include <vector>

namespace errand::cli {
namespace {

std::string temp_dir() {
  const char* dir = std::getenv("TMPDIR");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

}  // namespace

FlowInputsFile::FlowInputsFile(std::string_view inputs) {
  constexpr std::string_view kSuffix = ".json";
  std::string name = temp_dir() + "/errand-flow-inputs-XXXXXX" + std::string(kSuffix);
  std::vector<char> buf(name.begin(), name.end());
  buf.push_back('\0');
  // mkstemps: O_EXCL and mode 0600, so no other user reads the results.
  const int fd = ::mkstemps(buf.data(), static_cast<int>(kSuffix.size()));
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot create " + name);
  path_ = buf.data();
  int error = 0;
  while (!inputs.empty()) {
    const ssize_t n = ::write(fd, inputs.data(), inputs.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : EIO;
      break;
    }
    inputs.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::close(fd) != 0 && error == 0 && errno != EINTR) error = errno;
  if (error != 0) {
    ::unlink(path_.c_str());
    throw std::system_error(error, std::generic_category(), "cannot write " + path_);
  }
}

FlowInputsFile::~FlowInputsFile() { ::unlink(path_.c_str()); }

}  // namespace errand::cli
