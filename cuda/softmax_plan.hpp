// SPDX-License-Identifier: Apache-2.0
//! @file cuda/softmax_plan.hpp
//! Which softmax kernel runs for a shape, and with what grid. Plain C++, tested on the CPU.
//!
//! Tiers implemented so far:
//!  - kWarpRow: last axis, dim <= 1024 (fewer for 8-byte types and backward, see
//!    softmax_max_per_lane): `lanes` lanes of a warp per row (32 / lanes rows per warp,
//!    eight warps per 256-thread block), the row held in registers (per_lane values per lane, as
//!    per_lane / vec loads of vec elements): one read, one write. vec is 16 bytes' worth when the
//!    launcher found every row 16-byte aligned, or every tensor alike past a 16-byte boundary
//!    and the rows at least kSoftmaxMisalignedRegisterMinVectors loads long (each row then a
//!    scalar head, aligned loads and a scalar tail: register_row_edge), else 1; short rows share
//!    a warp so that each lane still has a full load in flight.
//!  - kBlockRegs: last axis, rows too long for a warp and at most 512 threads' worth of the
//!    same per-lane budget (16K float32 values forward): a block of 256 or 512 threads per row,
//!    per_lane values per thread in registers, block reductions (cub::BlockReduce); one read;
//!    vec and misaligned rows as kWarpRow.
//!  - kBlockRow: longer rows: one 256-thread block per row (1024 threads from 32768);
//!    reads the row twice (online (max, sum) pass, output pass), 16-byte loads on rows of any
//!    alignment when the tensors sit alike (row_span: scalar head and tail).
//!  - kSmemRow: the same shape when the row (both rows for backward) fits the opt-in shared
//!    memory: a 1024-thread block stages the row on chip in its storage type (16-byte loads when
//!    rows are aligned, four in flight per thread), so it is read once.
//!  - kClusterRow: the same rows split over a thread-block cluster of 2 to 16 blocks (Hopper
//!    on; 16 where the device schedules it), each staging its slice of the row in its shared
//!    memory, the row's max and sum combined through distributed shared memory: rows too long
//!    for one block's shared memory (up to 16 blocks' worth) still read once, and rows fewer than
//!    the multiprocessors spread over several SMs each (up to 8 blocks).
//!  - kGridRow: rows split over `parts` blocks each (any number up to the SMs), every block
//!    resident at once (cooperative launch), the partials exchanged through the output across
//!    grid barriers: rows too long for a cluster (1M float32 columns) still read once, and few
//!    long rows spread over the whole GPU.
//!  - kColumnTile: middle axis (inner > 1) when a tile fits the opt-in shared memory: a
//!    256-thread block per tile of one outer index, every dim index and a few consecutive inner
//!    columns (ColumnTile), staged on chip on its one read (16-byte loads along inner when
//!    aligned); column reductions through shuffles and shared memory. Where clusters launch
//!    (Hopper on), a tile that one block would hold only alone on its SM, or not at all, is staged
//!    over a cluster of 2 to 16 blocks (kColumnTileBlocksPerSm), each holding a slice of its dim
//!    indices (still read once), and few tiles (fewer than the SMs) split their dim indices over a
//!    cluster of up to 8 blocks; the blocks' column values combine through distributed shared
//!    memory.
//!  - kColumnTileReread: the same tiles when they are too tall for shared memory, a cluster's
//!    included (a long dim): each thread folds its dim indices into online (max, sum) pairs on a
//!    first read, the pairs combine per column as the tile's partials do, and a second read
//!    writes the outputs. Few such tiles split their dim indices over a cluster of up to 8
//!    blocks, as staged ones do.
//!  - kColumn: the middle axis otherwise (tiles with too few busy threads, or no shared memory):
//!    one thread per (outer, inner) column, threads along inner so every access of a warp is
//!    contiguous; reads each column twice.
#pragma once

#include <cstdint>

//! The column-tile geometry is also evaluated by the kernels.
#if defined(__CUDACC__)
#define CUACT_PLAN_HD __host__ __device__
#else
#define CUACT_PLAN_HD
#endif

namespace cuact::detail {

enum class SoftmaxTier : int {
  kWarpRow = 0,
  kBlockRow = 1,
  kColumn = 2,
  kSmemRow = 3,
  kBlockRegs = 4,
  kColumnTile = 5,
  kClusterRow = 6,
  kGridRow = 7,
  kColumnTileReread = 8
};

//! The tier's name, as the bench records it.
inline constexpr const char* softmax_tier_name(SoftmaxTier t) {
  switch (t) {
    case SoftmaxTier::kWarpRow: return "warp_row";
    case SoftmaxTier::kBlockRow: return "block_row";
    case SoftmaxTier::kColumn: return "column";
    case SoftmaxTier::kSmemRow: return "smem_row";
    case SoftmaxTier::kBlockRegs: return "block_regs";
    case SoftmaxTier::kColumnTile: return "column_tile";
    case SoftmaxTier::kClusterRow: return "cluster_row";
    case SoftmaxTier::kGridRow: return "grid_row";
    case SoftmaxTier::kColumnTileReread: return "column_tile_reread";
  }
  return "unknown";
}

struct SoftmaxPlan {
  SoftmaxTier tier = SoftmaxTier::kWarpRow;
  int block = 256;
  int per_lane = 0;  //!< kWarpRow, kBlockRegs: row values held per lane (thread), 2^k
  int lanes = 0;     //!< kWarpRow: lanes per row, a power of two in [1, 32] (kBlockRegs: block)
  int vec = 1;       //!< row tiers, column tiles: elements per load (1, or 16 bytes' worth)
  int64_t smem_bytes = 0;  //!< on-chip row tiers, column tiles: dynamic shared memory per block
  int cluster = 1;         //!< kClusterRow: blocks per cluster (one row per cluster); column tiles
  int parts = 1;     //!< kGridRow: blocks per row; column tiles: blocks per tile (its cluster)
  int64_t grid = 1;  //!< blocks (a multiple of cluster)
  //! kWarpRow, kBlockRegs with vec > 1: rows not all 16-byte aligned (the tensors sit alike past
  //! a boundary): each row a scalar head, 16-byte loads and a scalar tail (register_row_edge).
  bool row_edges = false;
};

//! Row bytes a lane may hold in registers in the warp tier: 128 forward, 64 per stream backward
//! (y and dy), at most 32 values. More spilled under the kernels' 128-register cap (ptxas:
//! float32 backward and float64 forward with 32 values per lane).
inline constexpr int softmax_max_per_lane(int elem_size, bool backward) {
  const int held = (backward ? 64 : 128) / elem_size;
  return held < 32 ? held : 32;
}
inline constexpr int64_t kSoftmaxWideBlockDim = 32768;
//! Thread-block clusters of up to this many blocks launch without the non-portable opt-in.
inline constexpr int kPortableClusterBlocks = 8;
//! Few rows split over a cluster only while each block keeps at least this many chunks (half a
//! 1024-thread block's worth): smaller slices leave most of each block idle.
inline constexpr int64_t kSoftmaxMinClusterSliceChunks = 512;
//! Few rows spread over clusters of at most this many blocks (the portable size): 16-block
//! clusters only hold rows that 8 blocks' shared memory cannot.
inline constexpr int kSoftmaxFewRowsMaxCluster = 8;
//! Few rows on chip leave a cluster for the grid tier once that spreads each row over at least
//! this many times the cluster's blocks (at most kSoftmaxFewRowsMaxCluster of them: a 16-block
//! cluster held for its shared memory still gives way to a grid spread over more SMs) (a guess
//! until the bench has tuned it: the grid tier pays two grid barriers against the cluster's
//! hardware barrier).
inline constexpr int kSoftmaxGridOverClusterFactor = 4;
//! The grid tier's 1024-thread blocks combine a row's partials one per thread.
inline constexpr int64_t kSoftmaxMaxGridParts = 1024;
inline constexpr int kSoftmaxBlockRegsMaxThreads = 512;
//! Shared memory kept free for the kernels' static allocations (CUB temp storage, row totals).
inline constexpr int64_t kSoftmaxStaticSmemReserve = 2048;

//! kColumnTile geometry, shared by plan_softmax (shared memory size) and the kernels. A tile is
//! one outer index, every dim index, and groups x vec consecutive inner columns: groups chunk
//! columns of vec elements (16 bytes when vec > 1). The block's kColumnTileThreads threads form
//! rows() thread rows of groups threads; thread t takes chunk column t % groups and the dim
//! indices t / groups + k rows(). For the column reductions, the lanes of a warp that share a
//! column (groups < 32) combine by shuffles first, leaving one partial per column per warp, or
//! per thread row when a row spans whole warps: slots() partials per column in shared memory.
inline constexpr int kColumnTileThreads = 256;
struct ColumnTile {
  int groups = 1;  //!< a power of two in [1, kColumnTileThreads]
  int vec = 1;
  CUACT_PLAN_HD constexpr int rows() const { return kColumnTileThreads / groups; }
  CUACT_PLAN_HD constexpr int cols() const { return groups * vec; }
  CUACT_PLAN_HD constexpr int slot_width() const { return groups < 32 ? 32 : groups; }
  CUACT_PLAN_HD constexpr int slots() const { return kColumnTileThreads / slot_width(); }
  //! The slot of thread t's partials, and whether t writes them: after the shuffles, lanes below
  //! groups hold their warp's combined values (every lane when groups >= 32).
  CUACT_PLAN_HD constexpr int slot_of(int t) const { return t / slot_width(); }
  CUACT_PLAN_HD constexpr bool writes_slot(int t) const { return t % 32 < groups; }
  //! Tiles across the inner extent (in chunks of vec: vec divides inner, see plan_softmax).
  CUACT_PLAN_HD constexpr int64_t tiles_across(int64_t inner) const {
    return (inner / vec + groups - 1) / groups;
  }
  //! Bytes of one staged tensor's tile, rounded up to 16 (the next one starts aligned).
  CUACT_PLAN_HD constexpr int64_t tile_bytes(int64_t dim, int elem_size) const {
    return (dim * cols() * elem_size + 15) / 16 * 16;
  }
};

//! Few column tiles split their dim indices over a cluster only while each block keeps at
//! least this many rounds of the tile's thread rows (fewer: the exchange outweighs the work).
inline constexpr int kSoftmaxMinColumnSliceRounds = 8;

//! Staged column tiles aim at this many resident blocks per SM: one 256-thread block keeps 16 KB
//! of loads in flight (4 chunks of 16 bytes a thread), about half of what an H100/H200 SM needs
//! to stream at full bandwidth (Little's law: ~36 bytes/ns per SM times ~0.8 us), so where a tile
//! would take more than half the shared memory, a cluster of up to 8 blocks shares it instead
//! (a prediction until the bench has measured it: bench middle-axis cases 64 x 4096 x 1024,
//! 256 x 1000 x 1024 backward).
inline constexpr int kColumnTileBlocksPerSm = 2;

//! A column tile is planned only when at least this many of its threads have work.
inline constexpr int64_t kColumnTileMinBusyThreads = 128;

//! Bytes of one column partial: forward, the larger of the max (a float or double) and the
//! (sum below the max, count at it) pair; backward, the accumulated sum.
CUACT_PLAN_HD inline constexpr int softmax_column_partial_bytes(int elem_size, bool backward) {
  if (backward) return elem_size == 2 ? 4 : 8;
  return elem_size == 2 ? 8 : 16;
}

//! The tile for a middle-axis shape: thread rows enough for about eight chunks per thread down a
//! column, but at most as many as leave tiles 64 bytes wide (each dim row of a tile: two 32-byte
//! sectors, whole ones when aligned); no wider than the inner extent.
CUACT_PLAN_HD inline constexpr ColumnTile column_tile_for(int64_t dim, int64_t inner, int vec,
                                                          int elem_size) {
  const int min_groups = 64 / (vec * elem_size) > 1 ? 64 / (vec * elem_size) : 1;
  int rows = 1;
  while (rows * int64_t{8} < dim && rows < kColumnTileThreads / min_groups)
    rows *= 2;
  int groups = kColumnTileThreads / rows;
  const int64_t chunks_across = inner / vec;  // vec divides inner (plan_softmax)
  while (groups > 1 && groups / 2 >= chunks_across)
    groups /= 2;
  return ColumnTile{groups, vec};
}

//! Shared memory of a column tile's partials (kColumnTileReread's whole dynamic shared memory):
//! none with a single thread row.
CUACT_PLAN_HD inline constexpr int64_t column_partials_smem(const ColumnTile& t, int elem_size,
                                                            bool backward) {
  return t.slots() > 1
             ? int64_t{t.slots()} * t.cols() * softmax_column_partial_bytes(elem_size, backward)
             : 0;
}

//! Shared memory of the two exchange slots through which the blocks of a cluster that share a
//! tile's dim indices pass their per-column values (one slot: tile.cols() partials).
CUACT_PLAN_HD inline constexpr int64_t column_exchange_smem(const ColumnTile& t, int elem_size,
                                                            bool backward) {
  return 2 * int64_t{t.cols()} * softmax_column_partial_bytes(elem_size, backward);
}

//! The most dim indices one of `parts` blocks sharing a tile takes (row_slice of dim).
CUACT_PLAN_HD inline constexpr int64_t column_slice_rows(int64_t dim, int parts) {
  return (dim + parts - 1) / parts;
}

//! Dynamic shared memory of a column tile whose dim indices `parts` blocks (a cluster) share: each
//! block's staged slice of the tile (two tensors for backward), then the column partials, then
//! (parts > 1) the exchange slots.
CUACT_PLAN_HD inline constexpr int64_t column_tile_smem(const ColumnTile& t, int64_t dim,
                                                        int elem_size, bool backward,
                                                        int parts = 1) {
  return t.tile_bytes(column_slice_rows(dim, parts), elem_size) * (backward ? 2 : 1) +
         column_partials_smem(t, elem_size, backward) +
         (parts > 1 ? column_exchange_smem(t, elem_size, backward) : 0);
}

//! The split-row tiers: the chunks [first, first + count) of part `part` of a row of `chunks`
//! split `parts` ways, balanced (every part floor or ceil of chunks / parts: none empty while
//! chunks >= parts).
struct RowSlice {
  int first = 0;
  int count = 0;
};
CUACT_PLAN_HD inline constexpr RowSlice row_slice(int64_t chunks, int parts, int part) {
  const int64_t first = part * chunks / parts;
  const int64_t end = (part + int64_t{1}) * chunks / parts;
  return RowSlice{static_cast<int>(first), static_cast<int>(end - first)};
}

//! The on-chip rows split for 16-byte loads whatever their alignment: row elements g0 .. g0 + dim
//! of tensors whose bases all sit `base` elements past a 16-byte boundary (the row's first
//! element `shift` elements past one) are `head` scalars up to the first boundary, `body` aligned
//! vectors of vec, and `tail` scalars. The body is staged; the edges stay in registers (row_part).
struct RowSegment {
  int shift = 0;
  int head = 0;
  int64_t body = 0;
  int tail = 0;
};
CUACT_PLAN_HD inline constexpr RowSegment row_segment(int64_t g0, int64_t dim, int base, int vec) {
  const int shift = static_cast<int>((base + g0) % vec);
  const int64_t to_boundary = (vec - shift) % vec;
  const int head = static_cast<int>(to_boundary < dim ? to_boundary : dim);
  const int64_t body = (dim - head) / vec;
  return RowSegment{shift, head, body, static_cast<int>(dim - head - body * vec)};
}

//! Where block `part` of the `parts` sharing a row works in the split tiers (kClusterRow,
//! kGridRow): its slice of the row's aligned body (row_segment, row_slice) from element `offset`
//! of the tensor, `count` chunks of vec, and the head element thread t of part 0 takes (threads
//! 0..) or the tail element thread t of the last part takes (threads 32..), as an index into the
//! row; edge = -1 for none. Every block of the row computes the same split.
struct RowPart {
  int64_t offset = 0;
  int count = 0;
  int64_t edge = -1;
};
//! The edge element thread t takes, as an index into the row (-1: none): head element t of the
//! first part (threads 0..), tail element t - 32 of the last part (threads 32..).
CUACT_PLAN_HD inline constexpr int64_t row_edge(const RowSegment& rs, int vec, bool first_part,
                                                bool last_part, int t) {
  if (first_part && t < rs.head) return t;
  if (last_part && t >= 32 && t < 32 + rs.tail) return rs.head + rs.body * vec + t - 32;
  return -1;
}
CUACT_PLAN_HD inline constexpr RowPart row_part(int64_t row, int64_t dim, int base, int vec,
                                                int parts, int part, int t) {
  const RowSegment rs = row_segment(row * dim, dim, base, vec);
  const RowSlice slice = row_slice(rs.body, parts, part);
  return RowPart{row * dim + rs.head + int64_t{slice.first} * vec, slice.count,
                 row_edge(rs, vec, part == 0, part == parts - 1, t)};
}

//! kBlockRow's rows, which have no length limit: row_part of one part with a 64-bit chunk count
//! (a scalar row of 2^31 elements fits an H200).
struct RowSpan {
  int64_t offset = 0;
  int64_t count = 0;
  int64_t edge = -1;
};
CUACT_PLAN_HD inline constexpr RowSpan row_span(int64_t row, int64_t dim, int base, int vec,
                                                int t) {
  const RowSegment rs = row_segment(row * dim, dim, base, vec);
  return RowSpan{row * dim + rs.head, rs.body, row_edge(rs, vec, true, true, t)};
}

//! The register tiers (kWarpRow, kBlockRegs) split rows by row_segment too, so that 16-byte loads
//! work on rows of any alignment: lane l of a row's `lanes` holds body chunks c lanes + l, and in
//! edge slot k the head element l + k lanes (k < per side) or the tail element
//! l + (k - per side) lanes, as an index into the row (-1: none). Rows there are short (at most
//! 16K elements), so an int holds the index.
CUACT_PLAN_HD inline constexpr int register_row_edges_per_side(int lanes, int vec) {
  return vec > 1 ? (vec - 1 + lanes - 1) / lanes : 0;
}
CUACT_PLAN_HD inline constexpr int register_row_edge(const RowSegment& rs, int lanes, int vec,
                                                     int lane, int slot) {
  const int per_side = register_row_edges_per_side(lanes, vec);
  const bool head = slot < per_side;
  const int e = lane + (head ? slot : slot - per_side) * lanes;
  if (head) return e < rs.head ? e : -1;
  return e < rs.tail ? static_cast<int>(rs.head + rs.body * vec) + e : -1;
}

//! The register tiers take misaligned rows with 16-byte loads (SoftmaxPlan::row_edges) from this
//! many vectors' worth of columns: shorter rows would be mostly head and tail. Such rows get at
//! least this many lanes, so the launchers have edge kernels for those splits only.
inline constexpr int kSoftmaxMisalignedRegisterMinVectors = 4;

//! Where lane `lane` of a register-tier row of `lanes` lanes finds its values (the kernels build
//! it from compile-time lanes and vec): body chunk c at row element at(c) for each c that has(c),
//! and edge slot s at element edge(s) when that is >= 0. has(c) and at(c) are compile-time
//! multiples of lanes away from two per-row 32-bit values: per-chunk 64-bit bounds, hoisted out
//! of the row loop, cost a probe kernel 12 registers.
struct RegisterRowMap {
  RowSegment rs;
  int lanes = 1;
  int vec = 1;
  int lane = 0;
  int left = 0;   //!< body chunks from this lane's first on (<= 0: none)
  int first = 0;  //!< this lane's first body element in the row
  CUACT_PLAN_HD constexpr RegisterRowMap(const RowSegment& seg, int lanes_, int vec_, int lane_)
      : rs(seg),
        lanes(lanes_),
        vec(vec_),
        lane(lane_),
        left(static_cast<int>(seg.body) - lane_),
        first(seg.head + lane_ * vec_) {}
  CUACT_PLAN_HD constexpr bool has(int c) const { return c * lanes < left; }
  CUACT_PLAN_HD constexpr int at(int c) const { return first + c * lanes * vec; }
  CUACT_PLAN_HD constexpr int edge(int s) const {
    return register_row_edge(rs, lanes, vec, lane, s);
  }
};

//! kSmemRow backward: where dy's staged body starts, in bytes: 16-byte aligned, past y's (at most
//! dim elements), within what plan_softmax gives either kind of row.
CUACT_PLAN_HD inline constexpr int64_t smem_row_second_offset(int64_t dim, int vec, int elem_size) {
  return ((dim + vec - 1) * elem_size + 15) / 16 * 16;
}

//! The planner's thresholds that only measurement can set, as one value: the library plans with
//! softmax_default_tuning for the element size; cuact-bench --softmax-tuning plans with others to
//! measure what they would give. Any values within the ranges below plan valid (perhaps slower)
//! launches: the plan tests sweep them. Default-constructed: the constants above.
struct SoftmaxTuning {
  int column_tile_blocks_per_sm = kColumnTileBlocksPerSm;            //!< >= 1
  int min_column_slice_rounds = kSoftmaxMinColumnSliceRounds;        //!< >= 1
  int few_rows_max_cluster = kSoftmaxFewRowsMaxCluster;              //!< 1, 2, 4, 8 or 16
  int64_t min_cluster_slice_chunks = kSoftmaxMinClusterSliceChunks;  //!< >= 16
  int grid_over_cluster_factor = kSoftmaxGridOverClusterFactor;      //!< >= 1
};

//! The thresholds the library plans with for elements of elem_size bytes: the thresholds are
//! tuned per dtype (where float32 and bfloat16 runs of cuact-bench --softmax-tuning disagree,
//! this is where they differ). Until a GPU has measured them, every element size has the
//! predictions above.
inline constexpr SoftmaxTuning softmax_default_tuning(int elem_size) {
  (void)elem_size;
  return SoftmaxTuning{};
}

//! outer, dim, inner >= 1 (the caller handles empty tensors). smem_optin: the device's opt-in
//! shared memory per block (0: no shared-memory tier); elem_size: bytes per element; backward
//! stages two rows (y and dy). vec: elements per 16-byte load when every row of every tensor
//! starts 16-byte aligned (so dim is a multiple of it), else 1; for a middle axis, when every
//! tensor is 16-byte aligned and inner is a multiple of it. max_cluster: the largest thread-block
//! cluster the device launches (0 or 1: none); cooperative: whether it launches cooperative
//! (grid-synchronising) kernels. congruent_vec: elements per 16 bytes when every tensor starts
//! the same distance past a 16-byte boundary (rows then misaligned alike, RowSegment: kSmemRow,
//! kBlockRow, kGridRow, kClusterRow where the slices fit, and the register tiers for rows of at
//! least kSoftmaxMisalignedRegisterMinVectors loads still load 16 bytes at a time), else 1.
//! tuned: the thresholds, when measuring others than the library's (null:
//! softmax_default_tuning(elem_size)).
inline SoftmaxPlan plan_softmax(int64_t outer, int64_t dim, int64_t inner, int multiprocessors,
                                int64_t smem_optin = 0, int elem_size = 4, bool backward = false,
                                int vec = 1, int max_cluster = 0, bool cooperative = false,
                                int congruent_vec = 1, const SoftmaxTuning* tuned = nullptr) {
  const SoftmaxTuning tuning = tuned ? *tuned : softmax_default_tuning(elem_size);
  const int64_t sms = multiprocessors > 0 ? multiprocessors : 1;
  const int64_t max_blocks = sms * 8 * 64;  // generous cap; every kernel loops (grid-stride)
  auto capped = [&](int64_t blocks) { return blocks < max_blocks ? blocks : max_blocks; };
  SoftmaxPlan p;
  // The register tiers: 16-byte loads on aligned rows, and on misaligned rows of congruent
  // tensors long enough to be mostly body (register_row_edge).
  const bool long_misaligned_rows =
      congruent_vec > 1 && dim >= int64_t{kSoftmaxMisalignedRegisterMinVectors} * congruent_vec;
  const bool register_edges = !(vec > 1 && dim % vec == 0) && long_misaligned_rows;
  const int register_vec = vec > 1 && dim % vec == 0 ? vec : register_edges ? congruent_vec : 1;
  if (inner > 1) {
    p.vec = vec > 1 && inner % vec == 0 ? vec : 1;
    const ColumnTile t = column_tile_for(dim, inner, p.vec, elem_size);
    // Threads of a tile with work: tiny tiles ((65536, 4, 4): 4 of 256) go a thread per column.
    const int64_t chunks_across = inner / p.vec;
    const int64_t busy =
        (dim < t.rows() ? dim : t.rows()) * (chunks_across < t.groups ? chunks_across : t.groups);
    auto fits = [&](int64_t bytes) { return bytes + kSoftmaxStaticSmemReserve <= smem_optin; };
    // Clusters split a tile's dim indices (row_slice: 32-bit).
    const int most_parts = max_cluster > 1 && dim <= INT32_MAX ? max_cluster : 1;
    // Staged, read once: in one block, or over a cluster whose blocks each stage a slice of the
    // dim indices (as kClusterRow holds long rows): the smallest of up to kPortableClusterBlocks
    // blocks that leaves room for kColumnTileBlocksPerSm blocks per SM (tuning), else the smallest
    // of up to max_cluster that holds the tile at all; and only while each block's slice still
    // fills its thread rows (a short axis of wide chunks on a device with little shared memory
    // would leave blocks without dim indices: one block reading twice does better).
    auto tile_smem = [&](int parts) {
      return column_tile_smem(t, dim, elem_size, backward, parts);
    };
    auto resident = [&](int parts) {
      return (tile_smem(parts) + kSoftmaxStaticSmemReserve) * tuning.column_tile_blocks_per_sm <=
             smem_optin;
    };
    auto slices_fill = [&](int parts) { return parts == 1 || dim / parts >= t.rows(); };
    const int portable = most_parts < kPortableClusterBlocks ? most_parts : kPortableClusterBlocks;
    int staged_parts = 1;
    while (staged_parts < portable && !resident(staged_parts) && slices_fill(2 * staged_parts))
      staged_parts *= 2;
    if (!resident(staged_parts)) {
      staged_parts = 1;
      while (staged_parts < most_parts && !fits(tile_smem(staged_parts)))
        staged_parts *= 2;
    }
    const bool staged = fits(tile_smem(staged_parts)) && slices_fill(staged_parts);
    // Else too tall for any cluster's shared memory: the same tile, read twice.
    const int64_t partials = column_partials_smem(t, elem_size, backward);
    const int64_t exchange = column_exchange_smem(t, elem_size, backward);
    if (busy >= kColumnTileMinBusyThreads && smem_optin > 0 && (staged || fits(partials))) {
      p.tier = staged ? SoftmaxTier::kColumnTile : SoftmaxTier::kColumnTileReread;
      p.block = kColumnTileThreads;
      const int64_t tiles = outer * t.tiles_across(inner);
      // Few tiles ((1, 3000, 8), (2, 20000, 3)): each tile's dim indices split over a cluster (a
      // larger one) while SMs stay idle and every block keeps kSoftmaxMinColumnSliceRounds rounds
      // of its thread rows, at most kSoftmaxFewRowsMaxCluster blocks as for few rows.
      int cluster = staged ? staged_parts : 1;
      auto smem_of = [&](int parts) {
        return staged ? tile_smem(parts) : parts > 1 ? partials + exchange : partials;
      };
      while (cluster < most_parts && cluster < tuning.few_rows_max_cluster &&
             tiles * cluster < sms &&
             dim / (2 * cluster) >= int64_t{tuning.min_column_slice_rounds} * t.rows() &&
             fits(smem_of(2 * cluster)))
        cluster *= 2;
      p.cluster = cluster;
      p.parts = cluster;
      p.smem_bytes = smem_of(cluster);
      p.grid = capped(tiles * cluster) / cluster * cluster;
    } else {
      p.tier = SoftmaxTier::kColumn;
      p.vec = 1;
      p.block = 256;
      p.grid = capped((outer * inner + p.block - 1) / p.block);
    }
  } else if (dim <= 32 * softmax_max_per_lane(elem_size, backward)) {
    p.tier = SoftmaxTier::kWarpRow;
    p.block = 256;
    p.vec = register_vec;
    p.row_edges = register_edges;
    int64_t capacity = 1;  // a power of two >= dim
    while (capacity < dim)
      capacity *= 2;
    p.per_lane = static_cast<int>(capacity / 32 > p.vec ? capacity / 32 : p.vec);
    p.lanes = static_cast<int>(capacity > p.per_lane ? capacity / p.per_lane : 1);
    const int64_t rows_per_block = 8 * (32 / p.lanes);
    p.grid = capped((outer + rows_per_block - 1) / rows_per_block);
  } else if (dim <= kSoftmaxBlockRegsMaxThreads * softmax_max_per_lane(elem_size, backward)) {
    // As many values per thread as a 16-byte load (more in flight per thread), 256 threads while
    // that reaches, then up to the per-lane budget, then 512 threads.
    p.tier = SoftmaxTier::kBlockRegs;
    p.vec = register_vec;
    p.row_edges = register_edges;
    const int max_per_lane = softmax_max_per_lane(elem_size, backward);
    int64_t capacity = 1;
    while (capacity < dim)
      capacity *= 2;
    int64_t per_lane = capacity / 256 > p.vec ? capacity / 256 : p.vec;
    if (per_lane > max_per_lane) per_lane = max_per_lane;
    p.per_lane = static_cast<int>(per_lane);
    p.block = capacity / per_lane > 256 ? 512 : 256;
    p.grid = capped(outer);
  } else {
    p.vec = vec > 1 && dim % vec == 0 ? vec : 1;
    const int64_t chunks = dim / p.vec;
    // Shared memory of a block staging `per` chunks of each staged row (+ 16: the second row
    // starts 16-byte aligned).
    auto staged_bytes = [&](int64_t per) {
      return per * p.vec * elem_size * (backward ? 2 : 1) + 16;
    };
    auto fits = [&](int64_t bytes) { return bytes + kSoftmaxStaticSmemReserve <= smem_optin; };
    int cluster = 1;
    while (cluster < max_cluster && !fits(staged_bytes((chunks + cluster - 1) / cluster)))
      cluster *= 2;
    const bool on_chip = fits(staged_bytes((chunks + cluster - 1) / cluster));
    // Few rows: more blocks per row while that still leaves SMs idle and whole slices per block.
    while (on_chip && cluster < max_cluster && cluster < tuning.few_rows_max_cluster &&
           outer * cluster < sms && chunks / (2 * cluster) >= tuning.min_cluster_slice_chunks)
      cluster *= 2;
    const int64_t per = (chunks + cluster - 1) / cluster;
    // The grid tier: at least enough parts for each slice to fit a block, and for few rows as
    // many as the SMs allow while each keeps kSoftmaxMinClusterSliceChunks (so every part, the
    // last included, holds a partial); one block per SM, all resident. Misaligned rows of
    // congruent tensors load 16 bytes at a time too (RowSegment: the body sliced, at most
    // dim / vec chunks).
    const int grid_vec = p.vec > 1 ? p.vec : congruent_vec;
    const int64_t grid_chunks = dim / grid_vec;
    const int64_t per_block = smem_optin > 0
                                  ? (smem_optin - kSoftmaxStaticSmemReserve - 16) /
                                        (int64_t{grid_vec} * elem_size * (backward ? 2 : 1))
                                  : 0;
    const int64_t min_parts = per_block > 0 ? (grid_chunks + per_block - 1) / per_block : sms + 1;
    const int64_t spread = outer < sms ? sms / outer : 1;
    // At most one part per SM, and per thread of the block that combines a row's partials.
    const int64_t most_blocks = sms < kSoftmaxMaxGridParts ? sms : kSoftmaxMaxGridParts;
    const int64_t most_parts = grid_chunks / tuning.min_cluster_slice_chunks < most_blocks
                                   ? grid_chunks / tuning.min_cluster_slice_chunks
                                   : most_blocks;
    const int64_t wanted = spread < most_parts ? spread : most_parts;
    const int64_t parts = min_parts > wanted ? min_parts : wanted;
    const int counted_cluster =
        cluster < tuning.few_rows_max_cluster ? cluster : tuning.few_rows_max_cluster;
    if (cooperative && min_parts <= most_parts && parts > 1 &&
        (!on_chip || parts >= tuning.grid_over_cluster_factor * counted_cluster)) {
      p.tier = SoftmaxTier::kGridRow;
      p.vec = grid_vec;
      p.parts = static_cast<int>(parts);
      p.smem_bytes =
          ((grid_chunks + parts - 1) / parts) * grid_vec * elem_size * (backward ? 2 : 1) + 16;
      p.block = 1024;
      p.grid = (outer < sms / parts ? outer : sms / parts) * parts;  // rows per wave x parts
      return p;
    }
    p.tier = !on_chip      ? SoftmaxTier::kBlockRow
             : cluster > 1 ? SoftmaxTier::kClusterRow
                           : SoftmaxTier::kSmemRow;
    p.smem_bytes = on_chip ? staged_bytes(per) : 0;
    p.cluster = on_chip ? cluster : 1;
    // On chip: 1024 threads, as many loads in flight as a block can have (one block per SM once
    // a row takes more than half the shared memory).
    p.block = on_chip || dim >= kSoftmaxWideBlockDim ? 1024 : 256;
    p.grid = capped(outer * p.cluster) / p.cluster * p.cluster;
    if (p.tier == SoftmaxTier::kClusterRow && p.vec == 1 && congruent_vec > 1) {
      // Misaligned rows: each block's slice of the aligned body (at most dim / vec chunks split
      // cluster ways) in 16-byte loads, the head and tail elements one per thread (RowSegment).
      const int64_t slice = (dim / congruent_vec + cluster - 1) / cluster;
      const int64_t bytes = slice * congruent_vec * elem_size * (backward ? 2 : 1) + 16;
      if (fits(bytes)) {
        p.vec = congruent_vec;
        p.smem_bytes = bytes;
      }
    }
    // Misaligned rows read twice: 16-byte loads on each row's aligned body (row_span).
    if (p.tier == SoftmaxTier::kBlockRow && p.vec == 1) p.vec = congruent_vec;
    if (p.tier == SoftmaxTier::kSmemRow && p.vec == 1 && congruent_vec > 1) {
      // Misaligned rows: 16-byte loads on each row's aligned body, staged shifted (RowSegment).
      const int64_t row_bytes = (dim + congruent_vec) * elem_size;
      const int64_t bytes = (row_bytes + 15) / 16 * 16 * (backward ? 2 : 1);
      if (fits(bytes)) {
        p.vec = congruent_vec;
        p.smem_bytes = bytes;
      }
    }
  }
  return p;
}

}  // namespace cuact::detail
