//! The process's peak resident memory, reported with SAM-Audio results.

/// Peak resident set size of this process in bytes: `VmHWM` of
/// `/proc/self/status` on Linux, `getrusage(RUSAGE_SELF).ru_maxrss` on other
/// Unix systems (bytes on macOS, KiB elsewhere), 0 where neither exists
/// (Windows) or on failure.
pub fn peak_memory_bytes() -> u64 {
    #[cfg(target_os = "linux")]
    {
        if let Ok(s) = std::fs::read_to_string("/proc/self/status") {
            for line in s.lines() {
                if let Some(rest) = line.strip_prefix("VmHWM:") {
                    let kb: u64 = rest
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse()
                        .unwrap_or(0);
                    return kb * 1024;
                }
            }
        }
        0
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        // SAFETY: getrusage writes one `rusage` into the zeroed struct we own.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer to a live `rusage`; RUSAGE_SELF is always valid.
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
            return 0;
        }
        let v = ru.ru_maxrss.max(0) as u64;
        if cfg!(target_os = "macos") {
            v
        } else {
            v * 1024
        }
    }
    #[cfg(not(unix))]
    {
        0
    }
}
