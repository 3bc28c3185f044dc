#pragma once
// What: Status, the project's error value: ok, or a one-line message that a
// user can act on. Used wherever an operation can fail for reasons outside
// the program (configuration, devices, peers), instead of exceptions.

#include <string>
#include <utility>

#include <fmt/format.h>

namespace sluice {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message)); }
  template <typename... Args>
  static Status Errorf(fmt::format_string<Args...> f, Args&&... args) {
    return Status(fmt::format(f, std::forward<Args>(args)...));
  }

  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }
  explicit operator bool() const { return ok(); }

 private:
  explicit Status(std::string message) : message_(std::move(message)), failed_(true) {}
  std::string message_;
  bool failed_ = false;
};

#define SLUICE_RETURN_IF_ERROR(expr)   \
  do {                                 \
    ::sluice::Status _st = (expr);     \
    if (!_st.ok()) return _st;         \
  } while (0)

}  // namespace sluice
