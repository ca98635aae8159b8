//! A synthetic music library for benchmarks: writes N tracks with
//! realistic descriptors through the public store API, then times
//! `Library::recommend` on it.
//!
//! ```sh
//! cargo run --release -p resonode-library --example synth_library -- \
//!     --tracks 100000 --db /tmp/synth-100k.db [--calls 300] [--seed 1] [--force]
//! ```
//!
//! Tracks are written with `SqliteStore::put_track`, one transaction per
//! track as a scan commits them (the `Store` trait has no batch write).
//! An existing database with the requested number of tracks is reused
//! (`--force` rewrites it). Descriptors, per track:
//! tempo uniform 70-180 BPM; key and mode uniform; integrated loudness
//! N(-11, 3) LUFS; RMS energy 3 dB below it +- N(0, 1.5) dB; 400 beats at
//! the tempo (100 downbeats), so 133-343 s long; the 44-value summary
//! drawn from the ranges real tracks show (MFCC 0 mean -230..-100, MFCC 1
//! 50..200, MFCC 2-12 +-50, MFCC standard deviations 5..40 (MFCC 0
//! 30..110), chroma 0.05..0.65, centroid 1-4 kHz, bandwidth 1.2-3 kHz,
//! roll-off 2-6 kHz, flatness, ZCR, onset strength).
//!
//! Prints one JSON line: write time, file size after closing (the WAL is
//! checkpointed into the file when the last connection closes), the first
//! `recommend` (index load) and median / p95 / max of the warm calls
//! (`RecommendFrom::Track` of a random track, limit 10).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use resonode_analysis::loudness::LoudnessSummary;
use resonode_analysis::{KeyEstimate, Mode, TempoEstimate, TrackDescriptors};
use resonode_library::store::{FileMeta, TrackWrite};
use resonode_library::{Library, RecommendFrom, RecommendOptions, SqliteStore, Store, TrackRef};

/// splitmix64: small, seeded, no dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn f(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u = self.f().max(1e-300);
        let v = self.f();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

const BEATS: usize = 400;

fn synth_track(rng: &mut Rng, i: usize) -> TrackWrite {
    let tempo = rng.uniform(70.0, 180.0);
    let period = 60.0 / tempo;
    let offset = rng.uniform(0.0, period);
    let beats: Vec<f64> = (0..BEATS).map(|k| offset + k as f64 * period).collect();
    let downbeats: Vec<f64> = beats.iter().step_by(4).copied().collect();
    let duration = beats[BEATS - 1] + rng.uniform(0.5, 8.0);
    let lufs = -11.0 + 3.0 * rng.normal();
    let energy = 10f64.powf((lufs - 3.0 + 1.5 * rng.normal()) / 20.0).min(0.9);
    let mut summary = Vec::with_capacity(44);
    summary.push(rng.uniform(-230.0, -100.0)); // MFCC 0 mean
    summary.push(rng.uniform(50.0, 200.0)); // MFCC 1 mean
    for _ in 2..13 {
        summary.push(rng.uniform(-50.0, 50.0));
    }
    summary.push(rng.uniform(30.0, 110.0)); // MFCC 0 std
    for _ in 1..13 {
        summary.push(rng.uniform(5.0, 40.0));
    }
    for _ in 0..12 {
        summary.push(rng.uniform(0.05, 0.65)); // chroma
    }
    summary.push(rng.uniform(1.0, 4.0)); // centroid kHz
    summary.push(rng.uniform(1.2, 3.0)); // bandwidth kHz
    summary.push(rng.uniform(2.0, 6.0)); // roll-off kHz
    summary.push(rng.uniform(0.002, 0.05)); // flatness
    summary.push(rng.uniform(0.03, 0.12)); // ZCR
    summary.push(rng.uniform(0.8, 2.0)); // onset strength
    let hash: String = (0..4).map(|_| format!("{:016x}", rng.next_u64())).collect();
    let d = TrackDescriptors {
        duration_s: duration,
        sample_rate: 44100,
        channels: 2,
        frames: (duration * 22050.0 / 512.0) as u64,
        tempo: Some(TempoEstimate { bpm: tempo, confidence: rng.uniform(0.2, 0.9) }),
        tempo_reason: None,
        beats_s: beats,
        downbeats_s: downbeats,
        key: Some(KeyEstimate {
            tonic: rng.below(12) as u8,
            mode: if rng.below(2) == 0 { Mode::Major } else { Mode::Minor },
            confidence: rng.uniform(0.3, 0.9),
        }),
        key_reason: None,
        loudness: LoudnessSummary {
            integrated_lufs: Some(lufs),
            range_lu: Some(rng.uniform(2.0, 12.0)),
            true_peak_dbtp: Some(rng.uniform(-3.0, 0.0)),
        },
        energy,
        summary,
    };
    TrackWrite {
        path: format!("/home/dj/Music/Artist {:04}/Album {:03}/{:02} - Track {:06}.flac", i / 100, i / 10 % 1000, i % 10 + 1, i),
        content_hash: Some(hash),
        // ~1 MB per minute of FLAC.
        file: FileMeta { size_bytes: (duration * 16_000.0) as u64 + rng.below(1 << 20), mtime_ms: 1_700_000_000_000 + i as i64 * 1000 },
        outcome: Ok(d),
        analyzer_version: resonode_analysis::ANALYZER_VERSION.to_string(),
        analyzed_at_ms: 1_760_000_000_000 + i as i64,
    }
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

fn file_len(path: &Path, suffix: &str) -> u64 {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    std::fs::metadata(PathBuf::from(p)).map_or(0, |m| m.len())
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    // Nearest rank.
    let k = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[k - 1]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut tracks = 1000usize;
    let mut db: Option<PathBuf> = None;
    let mut calls = 300usize;
    let mut seed = 1u64;
    let mut force = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--tracks" => tracks = val()?.parse()?,
            "--db" => db = Some(PathBuf::from(val()?)),
            "--calls" => calls = val()?.parse()?,
            "--seed" => seed = val()?.parse()?,
            "--force" => force = true,
            "-h" | "--help" => {
                eprintln!("synth_library --tracks N --db PATH [--calls 300] [--seed 1] [--force]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let db = db.unwrap_or_else(|| std::env::temp_dir().join(format!("resonode-synth-{tracks}.db")));
    let timeout = Duration::from_secs(5);

    // Reuse a finished database of the right size (the same seed gives the same tracks).
    let existing = if !force && db.exists() {
        let mut s = SqliteStore::open(&db, timeout)?;
        let mut n = 0usize;
        s.index_rows(&mut |_| n += 1)?;
        n
    } else {
        0
    };
    let mut write = None;
    if existing != tracks {
        remove_db(&db);
        drop(SqliteStore::open(&db, timeout)?);
        let empty_bytes = file_len(&db, ""); // schema only
        let mut store = SqliteStore::open(&db, timeout)?;
        let mut rng = Rng(seed);
        let t0 = Instant::now();
        for i in 0..tracks {
            store.put_track(&synth_track(&mut rng, i))?;
        }
        let s = t0.elapsed().as_secs_f64();
        drop(store); // the last connection: checkpoints the WAL into the file and removes it
        write = Some((s, empty_bytes));
    }
    let db_bytes = file_len(&db, "");
    let wal_bytes = file_len(&db, "-wal");

    // Recommendations on a fresh handle: the first call loads the index.
    let t_open = Instant::now();
    let mut lib = Library::open(&db, Some(timeout))?;
    let open_ms = t_open.elapsed().as_secs_f64() * 1e3;
    let opts = RecommendOptions::default();
    let mut rng = Rng(seed ^ 0x5EED);
    let pick = |rng: &mut Rng| RecommendFrom::Track(TrackRef::Id(1 + rng.below(tracks as u64) as i64));
    let from = pick(&mut rng);
    let t = Instant::now();
    let first = lib.recommend(&from, &opts)?;
    let first_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(first.len(), opts.limit.min(tracks - 1));
    let mut warm = Vec::with_capacity(calls);
    for _ in 0..calls {
        let from = pick(&mut rng);
        let t = Instant::now();
        let r = lib.recommend(&from, &opts)?;
        warm.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(r);
    }
    let mut sorted = warm.clone();
    sorted.sort_by(f64::total_cmp);
    let median = if sorted.len() % 2 == 1 { sorted[sorted.len() / 2] } else { (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0 };
    let json = format!(
        "{{\"tracks\":{tracks},\"db\":{:?},\"written\":{},\"writeS\":{},\"emptyDbBytes\":{},\"dbBytes\":{db_bytes},\"walBytes\":{wal_bytes},\
         \"openMs\":{open_ms},\"firstMs\":{first_ms},\"calls\":{calls},\"medianMs\":{median},\"p95Ms\":{},\"maxMs\":{},\"minMs\":{}}}",
        db.display().to_string(),
        write.is_some(),
        write.map_or("null".to_string(), |w| w.0.to_string()),
        write.map_or("null".to_string(), |w| w.1.to_string()),
        pct(&sorted, 0.95),
        sorted[sorted.len() - 1],
        sorted[0],
    );
    println!("{json}");
    Ok(())
}
