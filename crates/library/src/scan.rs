//! [`scan`]: every audio file under a folder into the library, analysed on
//! all cores.
//!
//! Per file, in order of cost: a file whose size, modification time and
//! analyzer version match its row is unchanged (no read at all); otherwise
//! its bytes are hashed (BLAKE3) and a file whose content is already
//! analysed (same path, or moved / copied from another path) takes that
//! analysis; only new or changed content is analysed. Each outcome,
//! including a failure (damaged, truncated, not audio, unreadable), is
//! committed in its own transaction as it arrives, so a scan stopped in any
//! way (`stop`, Ctrl-C, `kill -9`) keeps everything finished before it and
//! the next scan carries on where it ended, without duplicate rows (one row
//! per path).

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use resonode_analysis::{analyze_file, AnalyzeOptions, ANALYZER_VERSION};
use resonode_core::{Error, Result};

use crate::store::{FileMeta, FileState, Store, TrackId, TrackRecord, TrackRef, TrackWrite};

/// File extensions a scan analyses (case-insensitive); other files are
/// left alone and counted as ignored.
pub const AUDIO_EXTENSIONS: &[&str] =
    &["wav", "wave", "rf64", "bw64", "flac", "mp3", "ogg", "oga", "opus", "m4a", "mp4", "aif", "aiff", "aifc", "caf"];

/// Options of [`scan`].
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Files analysed at once; 0 = one per core.
    pub concurrency: usize,
    /// Remove the tracks under the folder whose files are gone (default:
    /// keep them and count them as missing).
    pub prune: bool,
    pub analysis: AnalyzeOptions,
}

/// Progress after each file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanProgress {
    /// Audio files found, and how many are done.
    pub total: usize,
    pub done: usize,
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// The file just done.
    pub path: String,
}

/// A file that could not be analysed in this scan (it is also recorded in
/// the library with this error), or a folder that could not be listed.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanFailure {
    pub path: String,
    /// The error's code (`ERR_DECODE`, `ERR_UNSUPPORTED_FORMAT`, `ERR_IO`, ...).
    pub code: String,
    pub message: String,
}

/// What a scan did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanSummary {
    /// Audio files found.
    pub files: usize,
    /// New paths analysed, paths re-analysed (content or analyzer changed),
    /// unchanged, and failed.
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// Other files left alone.
    pub ignored: usize,
    /// Tracks under the folder whose files are gone (removed with `prune`).
    pub missing: Vec<String>,
    /// Whether `missing` tracks were removed.
    pub pruned: bool,
    /// True when `stop` ended the scan early; run it again to finish.
    pub aborted: bool,
    pub duration_s: f64,
    pub failures: Vec<ScanFailure>,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn file_meta(path: &Path) -> Result<FileMeta> {
    let m = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
    let mtime_ms = m.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_millis() as i64);
    Ok(FileMeta { size_bytes: m.len(), mtime_ms })
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::NotFound { path: path.display().to_string() }
    } else {
        Error::Io { path: path.display().to_string(), reason: e.to_string() }
    }
}

/// BLAKE3 of a file's bytes, hex.
pub fn content_hash(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| io_error(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().to_hex().to_string())
}

fn is_audio(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}

/// A path as the library stores it: absolute, `.` and `..` resolved.
pub fn library_path(path: &Path) -> Result<String> {
    let abs = std::fs::canonicalize(path).map_err(|e| io_error(path, e))?;
    abs.to_str().map(str::to_string).ok_or_else(|| Error::param("path", format!("{} is not valid UTF-8", abs.display())))
}

/// What became of one file.
enum Outcome {
    /// Same content: only the file facts were refreshed.
    Unchanged { id: TrackId, path: String, file: FileMeta },
    /// Same content as an analysed track elsewhere.
    Copy { from: TrackId, path: String, hash: String, file: FileMeta, existed: bool },
    /// Analysed, or failed (`outcome` holds the error's code and message, `error` the error).
    Written { write: Box<TrackWrite>, existed: bool, error: Option<Error> },
    /// Stopped before it finished: nothing to write.
    Stopped,
}

struct Job {
    path: PathBuf,
    key: String,
    file: FileMeta,
    prior: Option<FileState>,
    /// The content hash, when the caller already read it.
    hash: Option<String>,
}

/// Hashes and (when needed) analyses one file. Never fails: failures
/// become a [`TrackWrite`] with the error.
fn process(job: &Job, known: &HashMap<String, TrackId>, opts: &AnalyzeOptions, stop: &AtomicBool) -> Outcome {
    let existed = job.prior.is_some();
    let failed = |e: Error, hash: Option<String>| Outcome::Written {
        write: Box::new(TrackWrite {
            path: job.key.clone(),
            content_hash: hash,
            file: job.file,
            outcome: Err((e.code().to_string(), e.to_string())),
            analyzer_version: ANALYZER_VERSION.to_string(),
            analyzed_at_ms: now_ms(),
        }),
        existed,
        error: Some(e),
    };
    let hash = match job.hash.clone().map_or_else(|| content_hash(&job.path), Ok) {
        Ok(h) => h,
        Err(e) => return failed(e, None),
    };
    if let Some(p) = job.prior.as_ref().filter(|p| holds(p, &hash)) {
        return Outcome::Unchanged { id: p.id, path: job.key.clone(), file: job.file };
    }
    if let Some(&from) = known.get(&hash) {
        return Outcome::Copy { from, path: job.key.clone(), hash, file: job.file, existed };
    }
    match analyze_file(&job.path, opts, stop, |_| {}, |_| Ok(())) {
        Ok(d) => Outcome::Written {
            write: Box::new(TrackWrite {
                path: job.key.clone(),
                content_hash: Some(hash),
                file: job.file,
                outcome: Ok(d),
                analyzer_version: ANALYZER_VERSION.to_string(),
                analyzed_at_ms: now_ms(),
            }),
            existed,
            error: None,
        },
        Err(_) if stop.load(Ordering::Relaxed) => Outcome::Stopped,
        Err(e) => failed(e, Some(hash)),
    }
}

/// Runs [`process`], turning a panic into a recorded `ERR_INTERNAL` failure
/// so that one bad file never ends a scan.
fn catch(job: &Job, f: impl FnOnce() -> Outcome) -> Outcome {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        let e = Error::Internal { message: format!("{}: the analysis panicked", job.key) };
        Outcome::Written {
            write: Box::new(TrackWrite {
                path: job.key.clone(),
                content_hash: None,
                file: job.file,
                outcome: Err((e.code().to_string(), e.to_string())),
                analyzer_version: ANALYZER_VERSION.to_string(),
                analyzed_at_ms: now_ms(),
            }),
            existed: job.prior.is_some(),
            error: Some(e),
        }
    })
}

/// The audio files under a folder, as [`scan`] finds them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AudioFiles {
    /// Audio files (by [`AUDIO_EXTENSIONS`]), symlinks followed, sorted by
    /// file name within each folder.
    pub files: Vec<PathBuf>,
    /// Other files left alone.
    pub ignored: usize,
    /// Entries that could not be listed (`ERR_IO`).
    pub failures: Vec<ScanFailure>,
}

/// Lists the audio files under `dir`, recursively, as [`scan`] does (the
/// job queue enqueues exactly what a local scan would analyse).
///
/// # Errors
/// `Error::NotFound` when `dir` does not exist, `Error::InvalidParameter`
/// when it is not a folder. Unreadable entries are not errors: they are in
/// [`AudioFiles::failures`].
pub fn list_audio_files(dir: &Path) -> Result<AudioFiles> {
    if !dir.exists() {
        return Err(Error::NotFound { path: dir.display().to_string() });
    }
    if !dir.is_dir() {
        return Err(Error::param("dir", format!("{} is not a folder", dir.display())));
    }
    let mut out = AudioFiles::default();
    for entry in walkdir::WalkDir::new(dir).follow_links(true).sort_by_file_name() {
        match entry {
            Ok(e) if e.file_type().is_file() => {
                if is_audio(e.path()) {
                    out.files.push(e.into_path());
                } else {
                    out.ignored += 1;
                }
            }
            Ok(_) => {}
            Err(e) => {
                let path = e.path().map_or_else(|| dir.display().to_string(), |p| p.display().to_string());
                out.failures.push(ScanFailure { path, code: "ERR_IO".into(), message: e.to_string() });
            }
        }
    }
    Ok(out)
}

/// Whether a row holds this content as the current analyzer left it
/// (analysed, or failed): the file needs no new analysis.
fn holds(row: &FileState, hash: &str) -> bool {
    row.content_hash.as_deref() == Some(hash) && row.analyzer_version == ANALYZER_VERSION
}

/// Whether the library holds the file at `library_path` with content
/// `hash` (BLAKE3, hex) as the current analyzer left it, analysed or
/// failed: the rule by which [`scan`] leaves a hashed file alone, in one
/// indexed look-up (the job queue's producer skips such files).
///
/// # Errors
/// The store's errors (`Error::Database`, `Error::DatabaseUnavailable`, ...).
pub fn is_current(store: &mut dyn Store, library_path: &str, hash: &str) -> Result<bool> {
    Ok(store.file_state(library_path)?.is_some_and(|row| holds(&row, hash)))
}

/// Scans `dir` (recursively) into `store`. See the module docs.
/// `on_progress` is called on the calling thread after each file;
/// `stop` ends the scan after the files in flight (their analysis is
/// abandoned; everything already done is kept).
///
/// # Errors
/// `Error::NotFound` when `dir` does not exist, `Error::InvalidParameter`
/// when it is not a folder, and the store's errors (`Error::Database`,
/// `Error::DatabaseLocked`), which end the scan (what was committed stays).
/// Files that fail are not errors: they are recorded and listed in
/// [`ScanSummary::failures`].
pub fn scan(store: &mut dyn Store, dir: &Path, opts: &ScanOptions, stop: &AtomicBool, mut on_progress: impl FnMut(&ScanProgress)) -> Result<ScanSummary> {
    let started = Instant::now();
    let mut summary = ScanSummary::default();
    let mut jobs = VecDeque::new();
    let mut p = ScanProgress::default();
    let AudioFiles { files: found, ignored, failures } = list_audio_files(dir)?;
    summary.ignored = ignored;
    summary.failures = failures;
    summary.files = found.len();
    p.total = found.len();
    // Log target `resonode::library` (see `resonode_core::log_filter`).
    log::debug!(target: "resonode::library", "scan start: {}: {} audio file(s), {} other(s) ignored", dir.display(), found.len(), summary.ignored);
    // Tracks the library holds under this folder whose files are gone;
    // after a listing error nothing is pruned (a folder may be unreadable
    // for a moment, e.g. an unmounted drive).
    let mut prefix = library_path(dir)?;
    if !prefix.ends_with(std::path::MAIN_SEPARATOR) {
        prefix.push(std::path::MAIN_SEPARATOR);
    }
    let gone: Vec<(TrackId, String)> = store.paths_under(&prefix)?.into_iter().filter(|(_, p)| !Path::new(p).exists()).collect();
    if opts.prune && summary.failures.is_empty() {
        for (id, _) in &gone {
            store.remove_track(&TrackRef::Id(*id))?;
        }
        summary.pruned = !gone.is_empty();
    }
    summary.missing = gone.into_iter().map(|(_, p)| p).collect();
    for path in found {
        let (key, file) = match library_path(&path).and_then(|k| Ok((k, file_meta(&path)?))) {
            Ok(v) => v,
            Err(e) => {
                summary.failed += 1;
                summary.failures.push(ScanFailure { path: path.display().to_string(), code: e.code().into(), message: e.to_string() });
                p.done += 1;
                p.failed += 1;
                continue;
            }
        };
        let prior = store.file_state(&key)?;
        if let Some(s) = &prior {
            if s.file == file && s.analyzer_version == ANALYZER_VERSION {
                // Also a file that failed before and did not change: it is
                // not tried again (its row keeps the error).
                summary.unchanged += 1;
                p.done += 1;
                p.unchanged += 1;
                p.path = key;
                on_progress(&p);
                continue;
            }
        }
        jobs.push_back(Job { path, key, file, prior, hash: None });
    }

    let known: Arc<HashMap<String, TrackId>> = Arc::new(store.analysed_hashes(ANALYZER_VERSION)?.into_iter().collect());
    let workers = if opts.concurrency == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { opts.concurrency };
    let workers = workers.min(jobs.len()).max(1);
    log::debug!(target: "resonode::library", "scan: {} file(s) to analyse on {workers} thread(s), {} unchanged", jobs.len(), summary.unchanged);
    let queue = Arc::new(Mutex::new(jobs));
    let (tx, rx) = mpsc::channel::<Outcome>();
    let halt = AtomicBool::new(false);
    let result = std::thread::scope(|s| -> Result<()> {
        for i in 0..workers {
            let (queue, tx, known, analysis) = (queue.clone(), tx.clone(), known.clone(), &opts.analysis);
            let (halt, stop) = (&halt, stop);
            std::thread::Builder::new()
                .name(format!("resonode-scan-{i}"))
                .spawn_scoped(s, move || loop {
                    if stop.load(Ordering::Relaxed) || halt.load(Ordering::Relaxed) {
                        return;
                    }
                    let Some(job) = queue.lock().ok().and_then(|mut q| q.pop_front()) else { return };
                    let out = catch(&job, || process(&job, &known, analysis, stop));
                    if tx.send(out).is_err() {
                        return;
                    }
                })
                .map_err(|e| Error::Internal { message: format!("cannot start a scan thread: {e}") })?;
        }
        drop(tx);
        for out in rx.iter() {
            let written = match out {
                Outcome::Stopped => continue,
                Outcome::Unchanged { id, path, file } => {
                    p.path = path;
                    store.touch_track(id, file).map(|()| {
                        p.unchanged += 1;
                        summary.unchanged += 1;
                    })
                }
                Outcome::Copy { from, path, hash, file, existed } => {
                    p.path = path.clone();
                    store.copy_analysis(from, &path, &hash, file).map(|_| count_written(&mut p, &mut summary, existed))
                }
                Outcome::Written { write, existed, .. } => {
                    p.path = write.path.clone();
                    if let Err((code, message)) = &write.outcome {
                        summary.failures.push(ScanFailure { path: write.path.clone(), code: code.clone(), message: message.clone() });
                        p.failed += 1;
                        summary.failed += 1;
                    }
                    let ok = write.outcome.is_ok();
                    store.put_track(&write).map(|_| {
                        if ok {
                            count_written(&mut p, &mut summary, existed)
                        }
                    })
                }
            };
            if let Err(e) = written {
                halt.store(true, Ordering::Relaxed);
                return Err(e);
            }
            p.done += 1;
            log::trace!(target: "resonode::library", "scan: {}/{} {}", p.done, p.total, p.path);
            on_progress(&p);
        }
        Ok(())
    });
    result?;
    summary.aborted = stop.load(Ordering::Relaxed) && p.done < p.total;
    summary.duration_s = started.elapsed().as_secs_f64();
    log::debug!(
        target: "resonode::library",
        "scan end: {}: {} added, {} updated, {} unchanged, {} failed, {} missing in {:.3} s{}",
        dir.display(),
        summary.added,
        summary.updated,
        summary.unchanged,
        summary.failed,
        summary.missing.len(),
        summary.duration_s,
        if summary.aborted { ", aborted" } else { "" }
    );
    Ok(summary)
}

fn count_written(p: &mut ScanProgress, s: &mut ScanSummary, existed: bool) {
    if existed {
        p.updated += 1;
        s.updated += 1;
    } else {
        p.added += 1;
        s.added += 1;
    }
}

/// Adds (or re-analyses) one file, outside a scan. A failed analysis is
/// recorded in the library and returned as the error.
///
/// # Errors
/// `Error::NotFound` (nothing recorded), the analysis's error
/// (`Error::Decode`, `Error::UnsupportedFormat`, ...), store errors.
pub fn add_file(store: &mut dyn Store, path: &Path, opts: &AnalyzeOptions, stop: &AtomicBool) -> Result<TrackRecord> {
    if !path.exists() {
        return Err(Error::NotFound { path: path.display().to_string() });
    }
    if path.is_dir() {
        return Err(Error::param("path", format!("{} is a folder: use scan", path.display())));
    }
    let key = library_path(path)?;
    let file = file_meta(path)?;
    // A file that failed before is tried again (a scan would skip it).
    let prior = store.file_state(&key)?.filter(|p| !p.failed);
    // One indexed look-up of this content, not the whole library's hashes
    // (queue workers add files one by one to libraries of any size). A file
    // that cannot be read is hashed again, and recorded as failed, below.
    let hash = content_hash(path).ok();
    let mut known = HashMap::new();
    if let Some(h) = &hash {
        if let Some(id) = store.analysed_track_with_hash(h, ANALYZER_VERSION)? {
            known.insert(h.clone(), id);
        }
    }
    let job = Job { path: path.to_path_buf(), key: key.clone(), file, prior, hash };
    match catch(&job, || process(&job, &known, opts, stop)) {
        Outcome::Stopped => return Err(Error::InvalidState { reason: "adding the track was stopped".into() }),
        Outcome::Unchanged { id, file, .. } => store.touch_track(id, file)?,
        Outcome::Copy { from, path, hash, file, .. } => {
            store.copy_analysis(from, &path, &hash, file)?;
        }
        Outcome::Written { write, error, .. } => {
            store.put_track(&write)?;
            if let Some(e) = error {
                return Err(e);
            }
        }
    }
    store.track(&TrackRef::Path(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_audio_files_finds_what_a_scan_analyses() {
        let dir = std::env::temp_dir().join(format!("resonode-list-audio-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for f in ["b.wav", "a.MP3", "notes.txt", "sub/c.flac", "sub/cover.jpg"] {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        let found = list_audio_files(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let names: Vec<_> = found.files.iter().map(|p| p.strip_prefix(&dir).unwrap().display().to_string()).collect();
        assert_eq!(names, ["a.MP3", "b.wav", "sub/c.flac"]);
        assert_eq!(found.ignored, 2);
        assert!(found.failures.is_empty());
        assert!(matches!(list_audio_files(&dir), Err(Error::NotFound { .. })));
    }

    #[test]
    fn is_current_is_the_rule_a_scan_skips_by() {
        let dir = std::env::temp_dir().join(format!("resonode-is-current-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let speech = dir.join("speech.wav");
        std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/speech.wav"), &speech).unwrap();
        let mut store = crate::SqliteStore::open(&dir.join("lib.db"), std::time::Duration::from_secs(5)).unwrap();
        let key = library_path(&speech).unwrap();
        let hash = content_hash(&speech).unwrap();
        assert!(!is_current(&mut store, &key, &hash).unwrap(), "not in the library yet");
        add_file(&mut store, &speech, &AnalyzeOptions::default(), &AtomicBool::new(false)).unwrap();
        assert!(is_current(&mut store, &key, &hash).unwrap());
        assert!(!is_current(&mut store, &key, &"0".repeat(64)).unwrap(), "other content");
        assert!(!is_current(&mut store, &format!("{key}.other"), &hash).unwrap(), "other path");
        // A scan of the file touched (same bytes, new mtime) hashes it and,
        // by the same rule, only refreshes its facts.
        let f = std::fs::OpenOptions::new().write(true).open(&speech).unwrap();
        f.set_modified(SystemTime::now() + std::time::Duration::from_secs(60)).unwrap();
        drop(f);
        let summary = scan(&mut store, &dir, &ScanOptions::default(), &AtomicBool::new(false), |_| {}).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((summary.unchanged, summary.added, summary.updated), (1, 0, 0));
    }
}
