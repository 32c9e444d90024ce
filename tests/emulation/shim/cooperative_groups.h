// SPDX-License-Identifier: Apache-2.0
//! The cooperative groups the softmax kernels use, for the CPU emulation
//! (tests/emulation/gpu_emulator.hpp): a cooperative grid and a thread-block cluster, whose
//! blocks the emulator runs together on OS threads of their own.
#pragma once

#include "tests/emulation/gpu_emulator.hpp"

namespace cooperative_groups {

struct grid_group {
  void sync() const { cuact_emu::sync_group(false); }
};
inline grid_group this_grid() {
  return {};
}

struct cluster_group {
  void sync() const { cuact_emu::sync_group(true); }
  unsigned num_blocks() const { return cuact_emu::group_size(); }
  unsigned block_rank() const { return cuact_emu::group_rank(); }
  template <class T>
  T* map_shared_rank(T* p, unsigned rank) const {
    return static_cast<T*>(
        cuact_emu::map_to_rank(const_cast<void*>(static_cast<const void*>(p)), rank));
  }
};
inline cluster_group this_cluster() {
  return {};
}

}  // namespace cooperative_groups
