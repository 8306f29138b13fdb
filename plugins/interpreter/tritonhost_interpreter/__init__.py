"""tritonhost's interpreter backend: any Triton kernel on CPU tensors, through Triton's interpreter."""
