"""Private numba kernels. They trust their input: call them only through the
validating public wrappers elsewhere in qdcat."""
