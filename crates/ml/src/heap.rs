//! Giving freed heap memory back to the system.
//!
//! glibc's `malloc` serves blocks below its mmap threshold from heaps it
//! keeps, and raises that threshold (up to 32 MB) each time a larger mapped
//! block is freed. After one HTDemucs run hundreds of MB of the run's
//! tensors sit free inside those heaps, still resident, until the next run
//! happens to reuse them. `malloc_trim(0)` returns the free pages
//! (`madvise(MADV_DONTNEED)` on whole free pages in every arena), which
//! bounds the resident size between runs by what is actually live.
//!
//! # Real-time safety
//! None: it takes every malloc arena's lock and makes system calls.

/// Returns free heap pages to the system (glibc's `malloc_trim(0)`); does
/// nothing on other C libraries.
pub(crate) fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim takes no pointers and is thread-safe (it
        // locks each arena); 0 keeps no padding at the heap top.
        unsafe {
            malloc_trim(0);
        }
    }
}
