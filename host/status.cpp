// SPDX-License-Identifier: Apache-2.0
#include <cstdarg>
#include <cstdio>

#include "host/internal.hpp"

namespace cuact {
namespace {
// Fixed-size and thread-local: recording an error never allocates.
thread_local char g_detail[512] = "";
}  // namespace

const char* status_string(Status status) noexcept {
  switch (status) {
    case Status::kSuccess: return "success";
    case Status::kErrorNullPointer: return "a tensor pointer is null while n > 0";
    case Status::kErrorNegativeSize: return "the element count is negative";
    case Status::kErrorUnknownOp: return "unknown activation op";
    case Status::kErrorUnknownDType: return "unknown dtype";
    case Status::kErrorInvalidParameter: return "invalid activation parameter";
    case Status::kErrorGradientNeedsInput:
      return "this op's derivative is not a function of its output: save the input x";
    case Status::kErrorUnknownSaved: return "unknown saved-tensor selector";
    case Status::kErrorPartialOverlap:
      return "an output partially overlaps an input (only identical or disjoint is allowed)";
    case Status::kErrorMisalignedPointer: return "a pointer is not aligned to its element size";
    case Status::kErrorCudaLaunch: return "the CUDA runtime reported an error at launch";
    case Status::kErrorNoDevice: return "no usable CUDA device";
    case Status::kErrorInvalidShape: return "invalid tensor shape";
    case Status::kErrorInvalidAxis: return "axis out of range";
  }
  return "unknown status";
}

const char* last_error_detail() noexcept {
  return g_detail;
}

namespace detail {

Status fail(Status status, const char* format, ...) noexcept {
  va_list args;
  va_start(args, format);
  std::vsnprintf(g_detail, sizeof(g_detail), format, args);
  va_end(args);
  return status;
}

void clear_error_detail() noexcept {
  g_detail[0] = '\0';
}

}  // namespace detail
}  // namespace cuact
