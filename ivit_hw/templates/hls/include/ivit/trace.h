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

}  // namespace ivit

#define IVIT_TRACE(tensor, buf, n) ivit::trace(tensor, buf, n)
#define IVIT_BUF static
#else
#define IVIT_TRACE(tensor, buf, n)
#define IVIT_BUF
#endif

#endif  // IVIT_TRACE_H
