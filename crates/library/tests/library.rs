//! The library against a real SQLite file: the behaviours every backend
//! shares (`common`: ranking, learning, sessions, scans, round trips,
//! generation counters), then the database failures a user of a file can
//! meet (locked, not a database, too new).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use resonode_library::{Library, SqliteStore};

/// This test binary's folder for its libraries.
fn test_dir() -> PathBuf {
    std::env::temp_dir().join(format!("resonode-library-tests-{}", std::process::id()))
}

fn temp_db(name: &str) -> PathBuf {
    let dir = test_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", p.display()));
    }
    p
}

/// Libraries in SQLite files named after the test.
struct Sqlite;

impl common::Backend for Sqlite {
    fn fresh(&self, name: &str) -> Library {
        Library::open(&temp_db(&format!("{name}.db")), None).unwrap()
    }
    fn reopen(&self, name: &str) -> Library {
        Library::open(&test_dir().join(format!("{name}.db")), None).unwrap()
    }
    fn folder(&self, name: &str) -> PathBuf {
        let dir = temp_db(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

behaviour_tests!(Sqlite);

/// The reference library of `common`, in the file `name`.
fn library(name: &str) -> (Library, PathBuf) {
    let path = temp_db(name);
    let mut lib = Library::open(&path, None).unwrap();
    common::fill(lib.store());
    (lib, path)
}

#[test]
fn a_locked_database_fails_with_database_locked_and_keeps_its_data() {
    let (lib, path) = library("locked.db");
    drop(lib);
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE; UPDATE tracks SET energy = energy;").unwrap();
    let mut lib = Library::open(&path, Some(Duration::from_millis(100))).unwrap();
    // Readers still read (WAL)...
    assert_eq!(lib.tracks().unwrap().len(), 9);
    // ...a writer times out with a typed error.
    let e = lib.begin_session(None).unwrap_err();
    assert_eq!(e.code(), "ERR_DATABASE_LOCKED", "{e}");
    holder.execute_batch("ROLLBACK").unwrap();
    lib.begin_session(None).unwrap();
    assert_eq!(lib.tracks().unwrap().len(), 9);
}

#[test]
fn files_that_are_not_libraries_are_refused_untouched() {
    let junk = temp_db("junk.db");
    std::fs::write(&junk, b"not a database at all, just some words\n".repeat(200)).unwrap();
    let e = SqliteStore::open(&junk, Duration::from_millis(100)).unwrap_err();
    assert_eq!(e.code(), "ERR_DATABASE", "{e}");
    assert_eq!(std::fs::read(&junk).unwrap(), b"not a database at all, just some words\n".repeat(200));

    let newer = temp_db("newer.db");
    drop(Library::open(&newer, None).unwrap());
    rusqlite::Connection::open(&newer).unwrap().execute_batch("PRAGMA user_version = 99").unwrap();
    let e = Library::open(&newer, None).unwrap_err();
    assert_eq!(e.code(), "ERR_DATABASE");
    assert!(e.to_string().contains("newer resonode"), "{e}");

    let e = Library::open(&temp_db("x").join("missing-dir").join("lib.db"), None).unwrap_err();
    assert_eq!(e.code(), "ERR_NOT_FOUND");
}

#[test]
fn processes_opening_a_new_library_at_once_all_get_one_schema() {
    // Worker processes started together on a fresh file race on the first
    // migration; each must end up with the migrated library, none with an error.
    for round in 0..5 {
        let path = temp_db(&format!("race-{round}"));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let opened: Vec<_> = (0..6)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    SqliteStore::open(&path, Duration::from_secs(5)).map(|_| ())
                })
            })
            .collect();
        for t in opened {
            t.join().expect("opening thread panicked").expect("open");
        }
        let mut lib = Library::open(&path, None).expect("reopen");
        assert!(lib.tracks().expect("tracks").is_empty());
    }
}

#[test]
fn read_only_and_damaged_files_fail_at_once_not_after_the_busy_timeout() {
    // Only another connection's set-up in progress is worth waiting for;
    // a file that cannot be migrated fails with the first attempt.
    let busy_timeout = Duration::from_secs(30);
    let open_alone = |path: &PathBuf| {
        let started = std::time::Instant::now();
        let e = SqliteStore::open(path, busy_timeout).unwrap_err();
        (e, started.elapsed())
    };

    // A SQLite file (WAL) whose header's write version says "read only"
    // (file format, offset 18 > 2): it opens and reads, and the migration's
    // first write fails with SQLITE_READONLY.
    let read_only = temp_db("read-only.db");
    rusqlite::Connection::open(&read_only).unwrap().execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE other (a);").unwrap();
    let mut bytes = std::fs::read(&read_only).unwrap();
    assert_eq!(&bytes[18..20], &[2, 2], "a WAL database");
    bytes[18] = 3;
    std::fs::write(&read_only, &bytes).unwrap();
    let (e, took) = open_alone(&read_only);
    assert_eq!(e.code(), "ERR_DATABASE", "{e}");
    assert!(e.to_string().contains("read-only"), "{e}");
    assert!(took < busy_timeout / 2, "failed after {took:?}, as if waiting for a lock: {e}");

    // A damaged schema page: refused as damaged, at once.
    let damaged = temp_db("damaged.db");
    rusqlite::Connection::open(&damaged).unwrap().execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE other (a);").unwrap();
    let mut bytes = std::fs::read(&damaged).unwrap();
    bytes[100] = 0x07; // page 1's b-tree page type: not one of 2, 5, 10, 13
    std::fs::write(&damaged, &bytes).unwrap();
    let (e, took) = open_alone(&damaged);
    assert_eq!(e.code(), "ERR_DATABASE", "{e}");
    assert!(e.to_string().contains("damaged"), "{e}");
    assert!(took < busy_timeout / 2, "failed after {took:?}: {e}");
}
