// Test helpers for fs unit tests.
#pragma once

#include <gtest/gtest.h>

#include "sentry/abi/result.h"

namespace sbx::fs::testing {

// The value of `r`; records a failure (and throws, ending the test) if it is an error.
template <typename T>
T V(Result<T> r) {
  if (!r.ok()) {
    ADD_FAILURE() << "unexpected error " << ErrnoName(r.error());
    throw std::runtime_error("unexpected error");
  }
  return std::move(r).value();
}

// The error of `r`, or a failure if it succeeded.
template <typename T>
Errno E(const Result<T>& r) {
  if (r.ok()) {
    ADD_FAILURE() << "expected an error, got success";
    return Errno::kEPERM;
  }
  return r.error();
}

}  // namespace sbx::fs::testing
