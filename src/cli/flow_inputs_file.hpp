// A flow step's inputs in a temporary file, for `errand work` to name in
// ERRAND_FLOW_INPUTS_FILE when they are too long for the environment
// (job_environment.hpp).
#pragma once

#include <string>
#include <string_view>

namespace errand::cli {

class FlowInputsFile {
 public:
  // Writes `inputs` to a new file, readable by this user only, in $TMPDIR
  // (else /tmp). Throws std::system_error naming the file when that fails.
  explicit FlowInputsFile(std::string_view inputs);
  ~FlowInputsFile();  // removes the file
  FlowInputsFile(const FlowInputsFile&) = delete;
  FlowInputsFile& operator=(const FlowInputsFile&) = delete;

  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace errand::cli
