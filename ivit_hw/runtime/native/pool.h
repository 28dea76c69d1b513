// A persistent thread pool for the row kernels (included by kernels.cpp).
//
// Starting threads per kernel call cost tens of microseconds per call, which batch 1 (a few hundred
// small calls per image) paid many times over. The workers here live for the process: a job is
// published by bumping a generation counter; workers spin briefly on it (the next kernel usually
// follows within microseconds) and then sleep on it (C++20 atomic wait, a futex on Linux), so an
// idle pool costs nothing and a loaded machine is not spun on for long. Work is handed out
// dynamically in items (an atomic counter), so a thread slowed by other processes takes fewer items.
// One job at a time: a second caller that finds the pool busy (another Python thread) runs its items
// itself. After fork() the child, which has no workers, makes a fresh pool.
#pragma once
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define IVIT_PAUSE() _mm_pause()
#else
#define IVIT_PAUSE() std::this_thread::yield()
#endif

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ivit {

class Pool {
   public:
    // Run f(item) for every item in [0, items) on up to nthreads threads (the caller among them).
    void run(int64_t items, int nthreads, const std::function<void(int64_t)>& f) {
        if (nthreads <= 1 || items <= 1) {
            for (int64_t i = 0; i < items; ++i) f(i);
            return;
        }
        std::unique_lock<std::mutex> lock(busy_, std::try_to_lock);
        if (!lock.owns_lock()) {  // another caller holds the pool: do the work here
            for (int64_t i = 0; i < items; ++i) f(i);
            return;
        }
        const int helpers = static_cast<int>(std::min<int64_t>(std::min(nthreads, 256), items)) - 1;
        grow(helpers);
        job_ = &f;
        items_ = items;
        next_.store(0, std::memory_order_relaxed);
        pending_.store(helpers, std::memory_order_relaxed);
        // one word holds the job's number and how many helpers it wants: a worker reads both at once
        ticket_ = ((ticket_ >> 8) + 1) << 8 | static_cast<uint64_t>(helpers);
        gen_.store(ticket_, std::memory_order_release);
        gen_.notify_all();
        work();
        for (int s = 0; pending_.load(std::memory_order_acquire) != 0; ++s) {
            if (s < SPIN) IVIT_PAUSE();
            else std::this_thread::yield();  // a helper was descheduled: give its core back
        }
        job_ = nullptr;
    }

    // The process's pool (a new one in a forked child).
    static Pool& get() {
        static std::atomic<Pool*> pool{nullptr};
        static std::atomic<pid_t> owner{0};
        static std::mutex make;
        const pid_t pid = getpid();
        if (owner.load(std::memory_order_acquire) != pid) {
            std::lock_guard<std::mutex> g(make);
            if (owner.load() != pid) {
                pool.store(new Pool());  // a forked child's old pool has no threads: leave it
                owner.store(pid, std::memory_order_release);
            }
        }
        return *pool.load();
    }

   private:
    static constexpr int SPIN = 2000;  // pause iterations (about 100 us on Ice Lake) before sleeping

    void work() {
        const std::function<void(int64_t)>& f = *job_;
        for (int64_t i = next_.fetch_add(1); i < items_; i = next_.fetch_add(1)) f(i);
    }

    void grow(int helpers) {
        while (static_cast<int>(threads_.size()) < helpers) {
            const int id = static_cast<int>(threads_.size());
            const uint64_t before = ticket_;  // the job about to be published is newer than this
            threads_.emplace_back([this, id, before] { loop(id, before); });
            threads_.back().detach();
        }
    }

    void loop(int id, uint64_t seen) {
        for (;;) {
            uint64_t g = gen_.load(std::memory_order_acquire);
            for (int s = 0; g == seen && s < SPIN; ++s) {
                IVIT_PAUSE();
                g = gen_.load(std::memory_order_acquire);
            }
            if (g == seen) {
                gen_.wait(seen, std::memory_order_acquire);
                continue;
            }
            seen = g;
            if (id >= static_cast<int>(g & 0xff)) continue;  // not needed for this job
            work();
            pending_.fetch_sub(1, std::memory_order_acq_rel);
        }
    }

    std::mutex busy_;
    std::vector<std::thread> threads_;
    const std::function<void(int64_t)>* job_ = nullptr;
    int64_t items_ = 0;
    std::atomic<int64_t> next_{0};
    std::atomic<int> pending_{0};
    uint64_t ticket_ = 0;  // the last job's gen_ value (written by the caller holding busy_)
    std::atomic<uint64_t> gen_{0};
};

}  // namespace ivit

// f(r0, r1) over [0, rows) in blocks of about rows / (4 nthreads) rows (at least min_block), on the
// persistent pool.
template <class F>
static void parallel_rows(int64_t rows, int nthreads, F f, int64_t min_block = 1) {
    if (nthreads <= 1 || rows < 2 * min_block) {
        f(0, rows);
        return;
    }
    const int64_t block = std::max<int64_t>(min_block, (rows + 4 * nthreads - 1) / (4 * nthreads));
    const int64_t items = (rows + block - 1) / block;
    ivit::Pool::get().run(items, nthreads, [&](int64_t i) { f(i * block, std::min(rows, (i + 1) * block)); });
}
