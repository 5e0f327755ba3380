// Status propagation macros. bookworm's Abseil (20220623) predates
// RETURN_IF_ERROR / ASSIGN_OR_RETURN, so fjord defines them once, here.
// Thread-compatible (macros only).
#ifndef FJORD_LOG_STATUS_MACROS_H_
#define FJORD_LOG_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define FJORD_STATUS_CONCAT_INNER_(a, b) a##b
#define FJORD_STATUS_CONCAT_(a, b) FJORD_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function
// if it is not OK.
#define RETURN_IF_ERROR(expr)                                   \
  do {                                                          \
    ::absl::Status fjord_status_ = (expr);                      \
    if (!fjord_status_.ok()) return fjord_status_;              \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, StatusOrExpr())`: declares/assigns `x` from the
// value of an absl::StatusOr, or returns its status from the enclosing
// function.
#define ASSIGN_OR_RETURN(lhs, rexpr)                                      \
  ASSIGN_OR_RETURN_IMPL_(FJORD_STATUS_CONCAT_(fjord_statusor_, __LINE__), \
                         lhs, rexpr)
#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                           \
  if (!statusor.ok()) return statusor.status();      \
  lhs = std::move(statusor).value()

#endif  // FJORD_LOG_STATUS_MACROS_H_
