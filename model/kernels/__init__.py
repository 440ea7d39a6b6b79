"""Native kernels of the runtime, each built on first use and loaded with ctypes (attend_kernel)."""
