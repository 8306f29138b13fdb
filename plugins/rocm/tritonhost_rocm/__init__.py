"""tritonhost's ROCm backend: kernels on AMD GPUs through Triton's HIP driver."""
