// Bridges std::string_view and absl::string_view. bookworm's Abseil is built
// with its own string_view type (ABSL_OPTION_USE_STD_STRING_VIEW 0), so the
// two do not convert implicitly; and it teaches fmt to print absl's.
// Header-only; thread-compatible.
#ifndef FJORD_LOG_STRINGS_H_
#define FJORD_LOG_STRINGS_H_

#include <string_view>

#include "absl/strings/string_view.h"
#include "fmt/format.h"

namespace fjord {

inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline std::string_view ToStd(absl::string_view s) {
  return std::string_view(s.data(), s.size());
}

}  // namespace fjord

template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  auto format(absl::string_view s, format_context& ctx) const {
    return fmt::formatter<fmt::string_view>::format(
        fmt::string_view(s.data(), s.size()), ctx);
  }
};

#endif  // FJORD_LOG_STRINGS_H_
