"""tritonhost's CUDA backend: kernels on NVIDIA GPUs through Triton's driver."""
