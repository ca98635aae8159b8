//! What the job queue (`src-ts/queue.ts`) needs from the library crate:
//! the audio files of a folder as a scan lists them, each file's keys
//! (library path, BLAKE3 content hash), and whether a library already
//! holds a file as a scan would leave it, all on libuv's worker pool so
//! that hashing a large library never blocks the JS thread.

use std::path::{Path, PathBuf};

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;
use resonode_library::scan::{content_hash, is_current, library_path, list_audio_files as list_files};
use resonode_library::{Library, OpenOptions};

use crate::error::guard_core;
use crate::library::ScanFailureJs;

/// The audio files of a folder, as `Library.scan` finds them.
#[napi(object)]
pub struct AudioFilesJs {
    /// Symlinks followed, sorted by file name within each folder.
    pub files: Vec<String>,
    /// Other files left alone.
    pub ignored: u32,
    /// Entries that could not be listed (`ERR_IO`).
    pub failures: Vec<ScanFailureJs>,
}

pub struct ListAudioFilesTask(PathBuf);

impl Task for ListAudioFilesTask {
    type Output = AudioFilesJs;
    type JsValue = AudioFilesJs;
    fn compute(&mut self) -> napi::Result<AudioFilesJs> {
        guard_core(|| {
            list_files(&self.0).map(|a| AudioFilesJs {
                files: a.files.into_iter().map(|p| p.display().to_string()).collect(),
                ignored: a.ignored as u32,
                failures: a.failures.into_iter().map(|f| ScanFailureJs { path: f.path, code: f.code, message: f.message }).collect(),
            })
        })
    }
    fn resolve(&mut self, _: Env, out: AudioFilesJs) -> napi::Result<AudioFilesJs> {
        Ok(out)
    }
}

/// Lists the audio files under `dir` (recursively) on a worker thread.
///
/// @throws ERR_NOT_FOUND (no such folder), ERR_INVALID_PARAMETER (not a folder)
#[napi(catch_unwind, ts_return_type = "Promise<AudioFilesJs>")]
pub fn list_audio_files(dir: String) -> AsyncTask<ListAudioFilesTask> {
    AsyncTask::new(ListAudioFilesTask(PathBuf::from(dir)))
}

/// The keys of one file for the job queue.
#[napi(object)]
pub struct QueueFileKey {
    /// The path as the library stores it (absolute, symlinks resolved).
    pub path: String,
    /// BLAKE3 of the file's bytes, hex (as the library's `contentHash`).
    pub content_hash: String,
}

pub struct QueueFileKeyTask(PathBuf);

impl Task for QueueFileKeyTask {
    type Output = QueueFileKey;
    type JsValue = QueueFileKey;
    fn compute(&mut self) -> napi::Result<QueueFileKey> {
        guard_core(|| {
            let path = library_path(&self.0)?;
            let content_hash = content_hash(Path::new(&path))?;
            Ok(QueueFileKey { path, content_hash })
        })
    }
    fn resolve(&mut self, _: Env, out: QueueFileKey) -> napi::Result<QueueFileKey> {
        Ok(out)
    }
}

/// Library path and content hash of `path`, on a worker thread
/// (reads the whole file).
///
/// @throws ERR_NOT_FOUND, ERR_IO
#[napi(catch_unwind, ts_return_type = "Promise<QueueFileKey>")]
pub fn queue_file_key(path: String) -> AsyncTask<QueueFileKeyTask> {
    AsyncTask::new(QueueFileKeyTask(PathBuf::from(path)))
}

pub struct QueueFilesCurrentTask {
    db: String,
    files: Vec<QueueFileKey>,
}

impl Task for QueueFilesCurrentTask {
    type Output = Vec<bool>;
    type JsValue = Vec<bool>;
    fn compute(&mut self) -> napi::Result<Vec<bool>> {
        guard_core(|| {
            // One connection for the whole batch.
            let mut library = Library::open_url(&self.db, &OpenOptions::default())?;
            self.files.iter().map(|f| is_current(library.store(), &f.path, &f.content_hash)).collect()
        })
    }
    fn resolve(&mut self, _: Env, out: Vec<bool>) -> napi::Result<Vec<bool>> {
        Ok(out)
    }
}

/// For each of `files` (keys from `queueFileKey`), whether the library
/// `db` (a `postgres://` URL or a SQLite file) holds it as a scan leaves
/// it: the same content by the current analyzer, analysed or failed
/// (`resonode_library::scan::is_current`). Opens the library once per
/// call, on a worker thread, and reads one row per file.
///
/// @throws ERR_INVALID_PARAMETER (a malformed URL), ERR_DATABASE_UNAVAILABLE,
///   ERR_DATABASE, ERR_NOT_FOUND (the folder of a SQLite file)
#[napi(catch_unwind, ts_return_type = "Promise<boolean[]>")]
pub fn queue_files_current(db: String, files: Vec<QueueFileKey>) -> AsyncTask<QueueFilesCurrentTask> {
    AsyncTask::new(QueueFilesCurrentTask { db, files })
}
