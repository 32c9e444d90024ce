// SPDX-License-Identifier: Apache-2.0
//! The fiber scheduler behind tests/emulation/gpu_emulator.hpp. Each block runs on an OS thread
//! of its own (so its thread_local "shared memory" is its own); inside it every CUDA thread is a
//! fiber that runs until it waits at a barrier or returns. When every fiber waits, the
//! barriers that are complete are released: a warp's (all 32 lanes there), the block's (every
//! fiber there), the group's (every fiber there, then an OS-level barrier with the other blocks
//! running together). Anything else is a deadlock on a GPU too, and is reported.
#include "tests/emulation/gpu_emulator.hpp"

#include <sys/mman.h>
#include <ucontext.h>

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
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
//! while the others wait.
struct Group {
  explicit Group(unsigned n) : size(n), anchors(n, nullptr) {}
  unsigned size;
  std::vector<unsigned char*> anchors;
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
};

struct BlockRun {
  const Launch* launch = nullptr;
  Group* group = nullptr;
  unsigned rank = 0;
  std::vector<Fiber> fibers;
  unsigned current = 0;
  Context scheduler;
  unsigned char slots[32][32][16];  // [warp][lane]: the gather slots
  std::string error;
};

thread_local BlockRun* tl_run = nullptr;

void park(Wait w) {
  BlockRun& r = *tl_run;
  Fiber& f = r.fibers[r.current];
  f.wait = w;
  switch_context(f.context, r.scheduler);
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

//! Runs block `index` of the launch (rank `rank` of its group) to the end on this OS thread.
std::string run_block(const Launch& launch, unsigned index, Group* group, unsigned rank) {
  auto run = std::make_unique<BlockRun>();
  BlockRun& r = *run;
  r.launch = &launch;
  r.group = group;
  r.rank = rank;
  tl_run = &r;
  blockIdx = uint3{index, 0, 0};
  blockDim = dim3(launch.block);
  gridDim = dim3(launch.grid);
  std::memset(dynamic_smem(), kSmemPoison, launch.dynamic_smem);
  const unsigned n = launch.block;
  const BlockStacks stacks(n);
  if (stacks.stacks.size() < n) return "out of memory for fiber stacks";
  r.fibers.resize(n);
  for (unsigned t = 0; t < n; ++t) {
    Fiber& f = r.fibers[t];
    f.stack = stacks.stacks[t];
    make_context(f.context, f.stack + kGuardBytes, kStackBytes - kGuardBytes, fiber_entry);
  }
  unsigned sweep = 0;
  for (;;) {
    // Every running fiber runs to its next wait; the order alternates so that code relying on
    // which thread reaches a barrier first does not pass by luck.
    for (unsigned k = 0; k < n; ++k) {
      const unsigned t = sweep % 2 == 0 ? k : n - 1 - k;
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
    if (at_group == n && (group == nullptr || !group->arrive_and_wait())) {
      return describe(r, group ? "another block of the group failed or returned before this "
                                 "grid/cluster sync"
                               : "a grid/cluster sync in a launch without a cooperative grid or "
                                 "cluster");
    }
    for (Fiber& f : r.fibers)
      f.wait = Wait::kRunning;
  }
  return {};
}

}  // namespace

void sync_block() {
  park(Wait::kBlock);
}
void sync_warp() {
  park(Wait::kWarp);
}
void sync_group() {
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
  Group* g = tl_run->group;
  if (g == nullptr || rank >= g->size) __builtin_trap();
  return g->anchors[rank] + (static_cast<unsigned char*>(p) - &tls_anchor);
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
      });
    }
    for (std::thread& t : blocks)
      t.join();
  }
  return error;
}

}  // namespace cuact_emu
