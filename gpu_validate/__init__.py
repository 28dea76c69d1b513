"""GPU (and CPU) validation of the integer path: bit-exactness against the golden model and
latency against float baselines of the same random-weight model. Run ``python -m gpu_validate``."""
