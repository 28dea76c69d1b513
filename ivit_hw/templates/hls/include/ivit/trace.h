// ivit/trace.h -- C-simulation hook through which the testbench sees every
// intermediate tensor of the top function. Compiles to nothing in synthesis.
#ifndef IVIT_TRACE_H
#define IVIT_TRACE_H

#ifndef __SYNTHESIS__
#include <vector>

namespace ivit {

typedef void (*trace_fn)(int tensor, const long long *values, int n);

// Set by the testbench; null means "not tracing this call".
inline trace_fn &trace_hook() {
    static trace_fn hook = 0;
    return hook;
}

template <class T>
void trace(int tensor, const T *buf, int n) {
    if (!trace_hook()) return;
    std::vector<long long> v(n);
    for (int i = 0; i < n; i++) v[i] = buf[i].to_int64();
    trace_hook()(tensor, v.data(), n);
}

// A stream's values (C-sim runs the dataflow processes in order, so after its producer the
// stream holds the whole tensor): read them out, write them back, trace them in the row-major
// order of the tensor; W (D0..D5, NS0..NS5, len) walks the stream's own order.
template <class W, class S>
void trace_stream(int tensor, S &s) {
    if (!trace_hook()) return;
    std::vector<long long> v(W::len);
    for (int i0 = 0; i0 < W::D0; i0++)
        for (int i1 = 0; i1 < W::D1; i1++)
            for (int i2 = 0; i2 < W::D2; i2++)
                for (int i3 = 0; i3 < W::D3; i3++)
                    for (int i4 = 0; i4 < W::D4; i4++)
                        for (int i5 = 0; i5 < W::D5; i5++) {
                            const auto x = s.read();
                            s.write(x);
                            v[i0 * W::NS0 + i1 * W::NS1 + i2 * W::NS2 + i3 * W::NS3 + i4 * W::NS4 + i5 * W::NS5] =
                                x.to_int64();
                        }
    trace_hook()(tensor, v.data(), W::len);
}

}  // namespace ivit

#define IVIT_TRACE(tensor, buf, n) ivit::trace(tensor, buf, n)
#define IVIT_TRACE_S(tensor, s, W) ivit::trace_stream<W>(tensor, s)
#define IVIT_BUF static
#else
#define IVIT_TRACE(tensor, buf, n)
#define IVIT_TRACE_S(tensor, s, W)
#define IVIT_BUF
#endif

#endif  // IVIT_TRACE_H
