// SPDX-License-Identifier: Apache-2.0
//! @file host/nvtx.hpp
//! The NVTX domain every host call opens its range in ("cuact" in Nsight Systems).
#pragma once

#include <nvtx3/nvtx3.hpp>

namespace cuact::detail {

struct nvtx_domain {
  static constexpr const char* name{"cuact"};
};

using nvtx_range = nvtx3::scoped_range_in<nvtx_domain>;

}  // namespace cuact::detail
