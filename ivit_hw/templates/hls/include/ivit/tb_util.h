// ivit/tb_util.h -- testbench helpers (C-simulation only): read golden-vector
// files, compare bit for bit, print one PASS/FAIL line per tensor.
//
// A vector file is "IVTB" (4 bytes), int64 count, int64 size, then
// count * size little-endian int64 values: `count` samples of one tensor.
#ifndef IVIT_TB_UTIL_H
#define IVIT_TB_UTIL_H

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace ivit_tb {

struct Vectors {
    long long count = 0, size = 0;
    std::vector<long long> values;
    bool ok = false;
};

inline Vectors load(const std::string &dir, const std::string &cid, long long size) {
    Vectors v;
    std::string path = dir + "/" + cid + ".bin";
    std::ifstream f(path.c_str(), std::ios::binary);
    char magic[4] = {0, 0, 0, 0};
    long long head[2] = {0, 0};
    f.read(magic, 4);
    f.read(reinterpret_cast<char *>(head), sizeof(head));
    if (!f || std::memcmp(magic, "IVTB", 4) != 0 || head[1] != size || head[0] < 0) {
        std::printf("ERROR %s: missing or malformed vector file (want %lld values per sample)\n", path.c_str(), size);
        return v;
    }
    v.count = head[0];
    v.size = head[1];
    v.values.resize(static_cast<std::size_t>(v.count * v.size));
    f.read(reinterpret_cast<char *>(v.values.data()), static_cast<std::streamsize>(v.values.size() * 8));
    v.ok = static_cast<bool>(f);
    if (!v.ok) std::printf("ERROR %s: truncated vector file\n", path.c_str());
    return v;
}

inline std::map<std::string, std::string> load_names(const std::string &dir) {
    std::map<std::string, std::string> names;
    std::ifstream f((dir + "/names.txt").c_str());
    std::string line;
    while (std::getline(f, line)) {
        std::size_t tab = line.find('\t');
        if (tab != std::string::npos) names[line.substr(0, tab)] = line.substr(tab + 1);
    }
    return names;
}

// Mismatch bookkeeping of one tensor.
struct Check {
    std::string cid;
    long long size = 0, compared = 0, bad = 0, samples = 0;
    long long first_sample = -1, first_index = -1, got = 0, want = 0;

    void compare(long long sample, const long long *got_v, const long long *want_v) {
        samples++;
        for (long long i = 0; i < size; i++) {
            compared++;
            if (got_v[i] != want_v[i]) {
                if (bad == 0) {
                    first_sample = sample;
                    first_index = i;
                    got = got_v[i];
                    want = want_v[i];
                }
                bad++;
            }
        }
    }

    bool report(const std::map<std::string, std::string> &names) const {
        std::map<std::string, std::string>::const_iterator it = names.find(cid);
        const char *name = it == names.end() ? cid.c_str() : it->second.c_str();
        if (samples == 0) {
            std::printf("FAIL %s: not compared (no samples)\n", name);
            return false;
        }
        if (bad == 0) {
            std::printf("PASS %s: %lld samples x %lld values bit-exact\n", name, samples, size);
            return true;
        }
        std::printf("FAIL %s: %lld of %lld values differ (first: sample %lld, index %lld: got %lld, expected %lld)\n",
                    name, bad, compared, first_sample, first_index, got, want);
        return false;
    }
};

}  // namespace ivit_tb

#endif  // IVIT_TB_UTIL_H
