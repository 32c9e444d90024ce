// SPDX-License-Identifier: Apache-2.0
//! The fiber scheduler behind tests/emulation/gpu_emulator.hpp. Each block runs on an OS thread
//! of its own (so its thread_local "shared memory" is its own); inside it every CUDA thread is a
//! fiber that runs until it waits at a barrier or returns. When every fiber waits, the
//! barriers that are complete are released: a warp's (all 32 lanes there), the block's (every
//! fiber there), the group's (every fiber there, then an OS-level barrier with the other blocks
//! running together). Anything else is a deadlock on a GPU too, and is reported.
#include "tests/emulation/gpu_emulator.hpp"

#include <link.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local dim3 blockDim;
thread_local dim3 gridDim;

namespace cuact_emu {
namespace {

constexpr size_t kStackBytes = size_t{128} << 10;
constexpr size_t kGuardBytes = size_t{4} << 10;
constexpr unsigned char kSmemPoison = 0xFF;  // NaN in every dtype: a read of unstaged data shows

// Any thread_local of this executable: the same object in another OS thread sits at the same
// distance from that thread's anchor (one static TLS block per thread, one layout).
thread_local unsigned char tls_anchor;

//! This executable's zero-initialised thread-local storage (its PT_TLS segment past the
//! initialised part), as offsets from tls_anchor: every emulated static __shared__ variable (CUDA
//! gives them no initialiser, so they all sit there), the dynamic shared memory array, and the
//! emulator's own built-ins and tl_run, which run_block sets after poisoning.
struct ZeroTls {
  ptrdiff_t begin = 0;
  ptrdiff_t end = 0;
};

int find_zero_tls(dl_phdr_info* info, size_t, void* out) {
  // The first object listed is the executable; its TLS block is allocated in every thread.
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_TLS || info->dlpi_tls_data == nullptr) continue;
    auto* const block = static_cast<unsigned char*>(info->dlpi_tls_data);
    auto& z = *static_cast<ZeroTls*>(out);
    z.begin = block + ph.p_filesz - &tls_anchor;
    z.end = block + ph.p_memsz - &tls_anchor;
  }
  return 1;  // the executable only
}

//! Fills this OS thread's copy of every emulated __shared__ variable, static and dynamic, with
//! kSmemPoison: a block sees none of the values a previous block on this thread left there (on
//! a GPU, whatever the SM held), and after a block has ended, a cluster member still reading its
//! shared memory reads poison.
void poison_shared_memory() {
  static const ZeroTls zero = [] {
    ZeroTls z;
    dl_iterate_phdr(find_zero_tls, &z);
    if (!(z.begin <= 0 && 0 < z.end)) {
      std::fprintf(stderr, "gpu_emulator: the executable's zero-initialised TLS was not found\n");
      std::abort();
    }
    return z;
  }();
  std::memset(&tls_anchor + zero.begin, kSmemPoison, static_cast<size_t>(zero.end - zero.begin));
}

// A fiber's saved execution context. x86-64: a stack pointer, the callee-saved registers pushed
// below it (a switch is a function call, so the caller-saved ones need no saving); about 20 times
// cheaper than swapcontext, which also saves the signal mask with a system call per switch.
// Elsewhere: ucontext.
#if defined(__x86_64__)
extern "C" void cuact_emu_switch(void** save_sp, void* load_sp);
asm(R"(
  .text
  .globl cuact_emu_switch
  .type cuact_emu_switch, @function
cuact_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size cuact_emu_switch, .-cuact_emu_switch
)");

struct Context {
  void* sp = nullptr;
};
//! A context that starts `entry` (which must never return) on the stack [lo, lo + bytes).
void make_context(Context& c, unsigned char* lo, size_t bytes, void (*entry)()) {
  const auto top = reinterpret_cast<uintptr_t>(lo + bytes) & ~uintptr_t{15};
  auto* frame = reinterpret_cast<void**>(top - 64);
  for (int i = 0; i < 6; ++i)
    frame[i] = nullptr;                       // r15, r14, r13, r12, rbx, rbp
  frame[6] = reinterpret_cast<void*>(entry);  // returned to: entered with rsp = top - 8, as a call
  frame[7] = nullptr;
  c.sp = frame;
}
void switch_context(Context& from, Context& to) {
  cuact_emu_switch(&from.sp, to.sp);
}
#else
struct Context {
  ucontext_t uc;
};
void make_context(Context& c, unsigned char* lo, size_t bytes, void (*entry)()) {
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = lo;
  c.uc.uc_stack.ss_size = bytes;
  c.uc.uc_link = nullptr;
  makecontext(&c.uc, entry, 0);
}
void switch_context(Context& from, Context& to) {
  swapcontext(&from.uc, &to.uc);
}
#endif

enum class Wait { kRunning, kBlock, kWarp, kGroup, kDone };

struct Fiber {
  Context context;
  unsigned char* stack = nullptr;
  Wait wait = Wait::kRunning;
};

//! Blocks running together: an OS-level barrier with a generation count, and each member's TLS
//! anchor for map_to_rank. `broken` ends every member's wait when one member fails or returns
//! while the others wait. Each member's count of group barriers passed when it ended, and the
//! last count at which it read each other member's shared memory (-1: never; each member writes
//! only its own row), tell after the run whether a block read a member that may have exited.
struct Group {
  explicit Group(unsigned n)
      : size(n), anchors(n, nullptr), final_epoch(n, 0), last_read(n, std::vector<long>(n, -1)) {}
  unsigned size;
  std::vector<unsigned char*> anchors;
  std::vector<long> final_epoch;
  std::vector<std::vector<long>> last_read;
  std::mutex mutex;
  std::condition_variable cv;
  unsigned arrived = 0;
  unsigned finished = 0;
  unsigned long generation = 0;
  bool broken = false;

  //! false: the group broke (another block failed, or returned while this one waits).
  bool arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mutex);
    if (broken) return false;
    const unsigned long gen = generation;
    if (++arrived + finished == size) {
      if (finished > 0) {
        broken = true;
        cv.notify_all();
        return false;
      }
      arrived = 0;
      ++generation;
      cv.notify_all();
      return true;
    }
    cv.wait(lock, [&] { return broken || generation != gen; });
    return !broken || generation != gen;
  }
  void finish(bool failed) {
    std::lock_guard<std::mutex> lock(mutex);
    ++finished;
    if (failed || arrived > 0) broken = true;
    cv.notify_all();
  }
  void wait_until_all_finished() {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return finished == size; });
  }
};

struct BlockRun {
  const Launch* launch = nullptr;
  Group* group = nullptr;
  unsigned rank = 0;
  std::vector<Fiber> fibers;
  unsigned current = 0;
  Context scheduler;
  unsigned char slots[32][32][16];  // [warp][lane]: the gather slots
  long epoch = 0;                   // group barriers passed
  std::string fault;                // the first fault() of the block's threads
};

thread_local BlockRun* tl_run = nullptr;

void park(Wait w) {
  BlockRun& r = *tl_run;
  Fiber& f = r.fibers[r.current];
  f.wait = w;
  switch_context(f.context, r.scheduler);
}

//! A small reproducible generator for the fibers' order (splitmix64).
uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void fiber_entry() {
  BlockRun& r = *tl_run;
  r.launch->kernel();
  park(Wait::kDone);  // never resumed
}

//! Fiber stacks, kept for later blocks by every OS thread (mapping and faulting in fresh stacks
//! for every block of a cluster or grid cost more than the emulation itself). Never unmapped.
class StackPool {
 public:
  //! n stacks, or fewer when memory runs out.
  std::vector<unsigned char*> take(size_t n) {
    std::vector<unsigned char*> got;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (got.size() < n && !free_.empty()) {
        got.push_back(free_.back());
        free_.pop_back();
      }
    }
    while (got.size() < n) {
      void* p = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED) break;
      mprotect(p, kGuardBytes, PROT_NONE);  // an overflow faults instead of corrupting
      got.push_back(static_cast<unsigned char*>(p));
    }
    return got;
  }
  void give(const std::vector<unsigned char*>& stacks) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.insert(free_.end(), stacks.begin(), stacks.end());
  }

 private:
  std::mutex mutex_;
  std::vector<unsigned char*> free_;
};

StackPool& stack_pool() {
  static StackPool pool;
  return pool;
}

//! A block's stacks, returned to the pool when it ends.
struct BlockStacks {
  std::vector<unsigned char*> stacks;
  explicit BlockStacks(size_t n) : stacks(stack_pool().take(n)) {}
  ~BlockStacks() { stack_pool().give(stacks); }
};

std::string describe(const BlockRun& r, const std::string& what) {
  char head[96];
  std::snprintf(head, sizeof head, "block %u (thread %u of %zu fibers): ", blockIdx.x, r.current,
                r.fibers.size());
  return head + what;
}

//! Whether bytes [from, kMaxDynamicSmem) of the dynamic shared memory still hold the poison.
bool smem_past_launch_intact(size_t from) {
  const unsigned char* smem = dynamic_smem();
  for (size_t i = from; i < kMaxDynamicSmem; ++i) {
    if (smem[i] != kSmemPoison) return false;
  }
  return true;
}

//! Runs the block's fibers until every one has returned (an empty string) or a barrier cannot
//! complete (what went wrong).
std::string schedule(BlockRun& r) {
  const unsigned n = static_cast<unsigned>(r.fibers.size());
  std::vector<unsigned> order(n);
  uint64_t random_state = blockIdx.x * 0x2545F4914F6CDD1Dull + 1;
  unsigned sweep = 0;
  for (;;) {
    // Every running fiber runs to its next wait, in an order that changes every sweep (forward,
    // reverse, then shuffled), so that code relying on which thread reaches a barrier first, or
    // on a write before a barrier being seen without it, does not pass by luck.
    for (unsigned k = 0; k < n; ++k)
      order[k] = sweep == 1 ? n - 1 - k : k;
    if (sweep >= 2) {
      for (unsigned k = n - 1; k > 0; --k)
        std::swap(order[k], order[next_random(random_state) % (k + 1)]);
    }
    for (unsigned k = 0; k < n; ++k) {
      const unsigned t = order[k];
      if (r.fibers[t].wait != Wait::kRunning) continue;
      r.current = t;
      threadIdx = uint3{t, 0, 0};
      switch_context(r.scheduler, r.fibers[t].context);
    }
    ++sweep;
    unsigned done = 0, at_block = 0, at_group = 0;
    bool released = false;
    for (unsigned w = 0; w * 32 < n; ++w) {
      unsigned at_warp = 0;
      for (unsigned t = w * 32; t < w * 32 + 32 && t < n; ++t)
        at_warp += r.fibers[t].wait == Wait::kWarp;
      if (at_warp == 0) continue;
      if (at_warp == 32) {
        for (unsigned t = w * 32; t < w * 32 + 32; ++t)
          r.fibers[t].wait = Wait::kRunning;
        released = true;
      } else {
        r.current = w * 32;
        return describe(r, "a warp-synchronous operation (shuffle, warp reduction) that only " +
                               std::to_string(at_warp) + " of warp " + std::to_string(w) +
                               "'s 32 lanes reached");
      }
    }
    if (released) continue;
    for (const Fiber& f : r.fibers) {
      done += f.wait == Wait::kDone;
      at_block += f.wait == Wait::kBlock;
      at_group += f.wait == Wait::kGroup;
    }
    if (done == n) break;
    if (at_block > 0 && (at_block < n || at_group > 0)) {
      return describe(r, "__syncthreads reached by " + std::to_string(at_block) + " of " +
                             std::to_string(n) + " threads (" + std::to_string(done) +
                             " returned, " + std::to_string(at_group) + " at a grid/cluster sync)");
    }
    if (at_group > 0 && at_group < n) {
      return describe(r, "a grid/cluster sync reached by " + std::to_string(at_group) + " of " +
                             std::to_string(n) + " threads");
    }
    if (at_group == n && (r.group == nullptr || !r.group->arrive_and_wait())) {
      return describe(
          r, r.group ? "another block of the group failed or returned before this grid/cluster sync"
                     : "a grid/cluster sync in a launch without a cooperative grid or cluster");
    }
    if (at_group == n) ++r.epoch;
    for (Fiber& f : r.fibers)
      f.wait = Wait::kRunning;
  }
  return {};
}

//! Runs block `index` of the launch (rank `rank` of its group) to the end on this OS thread.
std::string run_block(const Launch& launch, unsigned index, Group* group, unsigned rank) {
  // All of it, the dynamic shared memory included: a write past the launch's share shows in the
  // check at the end. Before anything below sets the built-ins and tl_run, which sit there too.
  poison_shared_memory();
  auto run = std::make_unique<BlockRun>();
  BlockRun& r = *run;
  r.launch = &launch;
  r.group = group;
  r.rank = rank;
  tl_run = &r;
  blockIdx = uint3{index, 0, 0};
  blockDim = dim3(launch.block);
  gridDim = dim3(launch.grid);
  const unsigned n = launch.block;
  const BlockStacks stacks(n);
  if (stacks.stacks.size() < n) return "out of memory for fiber stacks";
  r.fibers.resize(n);
  for (unsigned t = 0; t < n; ++t) {
    Fiber& f = r.fibers[t];
    f.stack = stacks.stacks[t];
    make_context(f.context, f.stack + kGuardBytes, kStackBytes - kGuardBytes, fiber_entry);
  }
  // A fault a thread reported comes before what it made the others fail at.
  const std::string error = schedule(r);
  if (!r.fault.empty()) return r.fault;
  if (!error.empty()) return error;
  if (group) group->final_epoch[rank] = r.epoch;
  if (!smem_past_launch_intact(launch.dynamic_smem)) {
    return describe(r, "shared memory written past the launch's " +
                           std::to_string(launch.dynamic_smem) + " dynamic bytes");
  }
  // A cluster member that mapped this block's shared memory before a barrier and reads it after
  // this block's last one (which the epoch check cannot see) now reads poison: usually, as on a
  // GPU, a wrong result rather than a report.
  if (group) poison_shared_memory();
  return {};
}

}  // namespace

void sync_block() {
  park(Wait::kBlock);
}
void sync_warp() {
  park(Wait::kWarp);
}
void sync_group(bool cluster) {
  const Launch& launch = *tl_run->launch;
  if (launch.together > 1 && launch.cluster != cluster) {
    fault(cluster ? "cluster.sync() in a cooperative launch without clusters"
                  : "grid.sync() in a cluster launch, not a cooperative one");
  }
  park(Wait::kGroup);
}
unsigned group_rank() {
  return tl_run->rank;
}
unsigned group_size() {
  return tl_run->group ? tl_run->group->size : 1;
}
unsigned char* warp_slot(unsigned lane) {
  return tl_run->slots[threadIdx.x / 32][lane % 32];
}
void* map_to_rank(void* p, unsigned rank) {
  BlockRun& r = *tl_run;
  Group* g = r.group;
  if (g == nullptr || !r.launch->cluster) fault("map_shared_rank in a launch without clusters");
  if (rank >= g->size)
    fault("map_shared_rank to rank " + std::to_string(rank) + " of a cluster of " +
          std::to_string(g->size));
  if (rank != r.rank) {
    if (r.epoch == 0) {
      fault("map_shared_rank to rank " + std::to_string(rank) +
            " before the first cluster barrier (that block may not have started)");
    }
    g->last_read[r.rank][rank] = r.epoch;
  }
  return g->anchors[rank] + (static_cast<unsigned char*>(p) - &tls_anchor);
}
void fault(const std::string& what) {
  BlockRun& r = *tl_run;
  if (r.fault.empty()) r.fault = describe(r, what);
  park(Wait::kDone);  // never resumed: this thread has ended
  __builtin_unreachable();
}

std::string run(const Launch& launch) {
  if (launch.dynamic_smem > kMaxDynamicSmem) return "dynamic shared memory past the emulator's";
  if (launch.block == 0 || launch.block > 1024 || launch.block % 32 != 0) {
    return "block of " + std::to_string(launch.block) + " threads";
  }
  if (launch.together == 0 || launch.grid % launch.together != 0) {
    return "grid not a whole number of clusters";
  }
  std::string error;
  if (launch.together == 1) {
    std::thread worker([&] {
      for (unsigned b = 0; b < launch.grid && error.empty(); ++b)
        error = run_block(launch, b, nullptr, 0);
    });
    worker.join();
    return error;
  }
  std::mutex error_mutex;
  for (unsigned first = 0; first < launch.grid && error.empty(); first += launch.together) {
    Group group(launch.together);
    std::vector<std::thread> blocks;
    std::mutex ready_mutex;
    std::condition_variable ready_cv;
    unsigned ready = 0;
    for (unsigned rank = 0; rank < launch.together; ++rank) {
      blocks.emplace_back([&, rank] {
        {  // every member's anchor is known before any block starts
          std::unique_lock<std::mutex> lock(ready_mutex);
          group.anchors[rank] = &tls_anchor;
          ++ready;
          ready_cv.notify_all();
          ready_cv.wait(lock, [&] { return ready == launch.together; });
        }
        const std::string e = run_block(launch, first + rank, &group, rank);
        if (!e.empty()) {  // the cause first, before the group's other blocks report the break
          std::lock_guard<std::mutex> lock(error_mutex);
          if (error.empty()) error = e;
        }
        group.finish(!e.empty());
        // This OS thread holds the block's shared memory (its TLS): it stays until every block
        // of the group has ended, so that a late read of it is reported, not a crash.
        group.wait_until_all_finished();
      });
    }
    for (std::thread& t : blocks)
      t.join();
    // A block that read another's shared memory at or after that one's last cluster barrier read
    // a block that may have exited (on a GPU, an error or stale data).
    for (unsigned reader = 0; reader < launch.together && error.empty(); ++reader) {
      for (unsigned owner = 0; owner < launch.together; ++owner) {
        const long read = group.last_read[reader][owner];
        if (read >= 0 && read >= group.final_epoch[owner]) {
          error = "block " + std::to_string(first + reader) +
                  " read the shared memory of cluster rank " + std::to_string(owner) +
                  " after that block's last cluster barrier (" +
                  std::to_string(group.final_epoch[owner]) +
                  "): it may have exited (a missing final cluster.sync())";
          break;
        }
      }
    }
  }
  return error;
}

}  // namespace cuact_emu
