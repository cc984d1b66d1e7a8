// Result<T>: a value or an Errno. The one result type of sentry-internal functions.
//
// Use TRY(expr) inside a function returning Result<U> (or Errno-compatible) to propagate the
// error: `auto fd = TRY(OpenSomething());`. Only the syscall dispatcher turns an Errno into the
// guest's -errno.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "sentry/abi/errno.h"

namespace sbx {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(Errno e) : v_(std::in_place_index<1>, e) {}  // NOLINT: implicit by design
  template <typename U = T,
            typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                        !std::is_same_v<std::decay_t<U>, Errno> &&
                                        !std::is_same_v<std::decay_t<U>, Result>>>
  Result(U&& value) : v_(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  Errno error() const { assert(!ok()); return std::get<1>(v_); }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T value_or(T other) const { return ok() ? std::get<0>(v_) : other; }

 private:
  std::variant<T, Errno> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Errno e) : err_(e), has_err_(true) {}  // NOLINT
  bool ok() const { return !has_err_; }
  Errno error() const { assert(!ok()); return err_; }
  void value() const { assert(ok()); }

 private:
  Errno err_ = Errno::kEPERM;
  bool has_err_ = false;
};

inline Result<void> Ok() { return Result<void>(); }

namespace internal {
template <typename T>
auto TryValue(Result<T>&& r) {
  if constexpr (std::is_void_v<T>) {
    return 0;
  } else {
    return std::move(r).value();
  }
}
}  // namespace internal

}  // namespace sbx

// Evaluates `expr` (a Result<T>); on error returns the Errno from the enclosing function,
// otherwise yields the value (GCC statement expression).
#define TRY(expr)                                          \
  ({                                                       \
    auto _sbx_try_r = (expr);                              \
    if (!_sbx_try_r.ok()) return _sbx_try_r.error();       \
    ::sbx::internal::TryValue(std::move(_sbx_try_r));      \
  })
