"""``python -m ivit_hw.codegen.hls.extract_headers WHEEL DEST``: the set-up step of ``make hls-headers``."""

import sys

from .headers import extract_ap_types

if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m ivit_hw.codegen.hls.extract_headers HLS4ML_WHEEL DEST")
    print(extract_ap_types(sys.argv[1], sys.argv[2]))
