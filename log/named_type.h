// NamedType<T, Tag>: a strong typedef so values that must not mix (an offset
// and a byte position, a producer id and an epoch) cannot be swapped silently.
// A value type; thread-compatible.
#ifndef FJORD_LOG_NAMED_TYPE_H_
#define FJORD_LOG_NAMED_TYPE_H_

#include <compare>
#include <cstddef>
#include <functional>
#include <ostream>

namespace fjord {

template <typename T, typename Tag>
class NamedType {
 public:
  using value_type = T;
  constexpr NamedType() = default;
  constexpr explicit NamedType(T v) : value_(v) {}

  constexpr T value() const { return value_; }
  constexpr T operator()() const { return value_; }

  constexpr auto operator<=>(const NamedType&) const = default;

  // Arithmetic with the underlying type: offset + 1, offset - base.
  constexpr NamedType operator+(T d) const { return NamedType(value_ + d); }
  constexpr NamedType operator-(T d) const { return NamedType(value_ - d); }
  constexpr T operator-(NamedType o) const { return value_ - o.value_; }
  constexpr NamedType& operator+=(T d) {
    value_ += d;
    return *this;
  }
  constexpr NamedType& operator++() {
    ++value_;
    return *this;
  }

  template <typename H>
  friend H AbslHashValue(H h, const NamedType& v) {
    return H::combine(std::move(h), v.value_);
  }
  friend std::ostream& operator<<(std::ostream& os, const NamedType& v) {
    return os << v.value_;
  }

 private:
  T value_{};
};

}  // namespace fjord

template <typename T, typename Tag>
struct std::hash<fjord::NamedType<T, Tag>> {
  size_t operator()(const fjord::NamedType<T, Tag>& v) const noexcept {
    return std::hash<T>{}(v.value());
  }
};

#endif  // FJORD_LOG_NAMED_TYPE_H_
