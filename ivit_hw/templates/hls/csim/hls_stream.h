// hls_stream.h -- a minimal hls::stream for g++ C-simulation (ivit_hw's own shim).
// Vitis HLS supplies the real header; this one is only on the include path of
// `ivit-hw verify` builds. A FIFO of unbounded depth; reading an empty stream
// is a testbench bug and aborts with a message.
#ifndef IVIT_CSIM_HLS_STREAM_H
#define IVIT_CSIM_HLS_STREAM_H

#include <cstdio>
#include <cstdlib>
#include <deque>

namespace hls {

template <class T>
class stream {
  public:
    stream() {}
    explicit stream(const char *) {}
    bool empty() const { return q_.empty(); }
    bool full() const { return false; }
    std::size_t size() const { return q_.size(); }
    void write(const T &v) { q_.push_back(v); }
    T read() {
        if (q_.empty()) {
            std::fprintf(stderr, "hls::stream: read from an empty stream\n");
            std::abort();
        }
        T v = q_.front();
        q_.pop_front();
        return v;
    }
    void read(T &v) { v = read(); }
    stream &operator<<(const T &v) { write(v); return *this; }
    stream &operator>>(T &v) { v = read(); return *this; }

  private:
    stream(const stream &);
    stream &operator=(const stream &);
    std::deque<T> q_;
};

}  // namespace hls

#endif  // IVIT_CSIM_HLS_STREAM_H
