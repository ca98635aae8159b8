//! The library on a real PostgreSQL server (started here by
//! `scripts/postgres-server.sh`, one database per test): the behaviours
//! every backend shares (`common`), then what a server shared by several
//! workers adds: concurrent scans of one folder, concurrent feedback and
//! plays, migrations racing on an empty database, a newer schema refused,
//! the server going away and coming back under the same handle, a write
//! cut off half-way leaving nothing behind, URLs whose password never
//! shows, TLS by `sslmode`, an application role without CREATE on the
//! schema, and a reset racing feedback.
//!
//! Ports 55410-55412 and 55415 on 127.0.0.1 (55418 stays closed); data directories `/tmp/resonode-pg-rust-*-<pid>`,
//! removed when the test binary exits.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

use resonode_analysis::Mode;
use resonode_library::postgres::{schema_version, PgTarget};
use resonode_library::postgres_tls::SslMode;
use resonode_library::store::{FileMeta, TrackWrite};
use resonode_library::{FeedbackInput, Library, OpenOptions, PostgresStore, RecommendFrom, ScanOptions, Store, StoreSpec, TrackRef};

const SHARED_PORT: u16 = 55410;
const RESTART_PORT: u16 = 55411;
const CUT_PORT: u16 = 55412;
const TLS_PORT: u16 = 55415;
/// Nothing listens there (a port of this range no test opens).
const CLOSED_PORT: u16 = 55418;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres-server.sh")
}

/// A throw-away server; removed (stopped, data deleted) on drop.
struct Server {
    dir: String,
    port: u16,
}

impl Server {
    fn start(name: &str, port: u16) -> Server {
        let server = Server { dir: format!("/tmp/resonode-pg-rust-{name}-{}", std::process::id()), port };
        server.run("start");
        server
    }

    fn run(&self, cmd: &str) {
        let out = Command::new("bash").arg(script()).arg(cmd).arg(&self.dir).arg(self.port.to_string()).output().unwrap();
        assert!(out.status.success(), "postgres-server.sh {cmd}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://resonode@127.0.0.1:{}/{db}", self.port)
    }

    fn admin(&self) -> postgres::Client {
        postgres::Client::connect(&self.url("postgres"), postgres::NoTls).unwrap()
    }

    /// A new, empty database `name` (dropped first if a test left it); its URL.
    fn fresh_db(&self, name: &str) -> String {
        // CREATE DATABASE copies template1, which must not be in use by
        // another CREATE DATABASE at that moment: one at a time.
        static CREATING: Mutex<()> = Mutex::new(());
        let _one = CREATING.lock().unwrap_or_else(|p| p.into_inner());
        let mut admin = self.admin();
        // Two statements: together they would form one implicit transaction, which DROP DATABASE refuses.
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).unwrap();
        self.url(name)
    }

    fn client(&self, db: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(db), postgres::NoTls).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(script()).arg("remove").arg(&self.dir).output();
    }
}

static SHARED: OnceLock<Server> = OnceLock::new();

fn folders() -> PathBuf {
    std::env::temp_dir().join(format!("resonode-library-pgtests-{}", std::process::id()))
}

extern "C" fn remove_shared() {
    if let Some(s) = SHARED.get() {
        let _ = Command::new("bash").arg(script()).arg("remove").arg(&s.dir).output();
    }
    let _ = std::fs::remove_dir_all(folders());
}

extern "C" {
    fn atexit(f: extern "C" fn()) -> std::os::raw::c_int;
}

/// The server most tests share (each in its own database); removed when
/// the test binary exits (statics are never dropped).
fn shared() -> &'static Server {
    SHARED.get_or_init(|| {
        let s = Server::start("shared", SHARED_PORT);
        // SAFETY: registers a function without arguments that only runs
        // commands and deletes files; libc calls it once at exit.
        unsafe { atexit(remove_shared) };
        s
    })
}

/// Libraries in databases of the shared server named after the test.
struct Pg;

impl common::Backend for Pg {
    fn fresh(&self, name: &str) -> Library {
        Library::open_url(&shared().fresh_db(name), &OpenOptions::default()).unwrap()
    }
    fn reopen(&self, name: &str) -> Library {
        Library::open_url(&shared().url(name), &OpenOptions::default()).unwrap()
    }
    fn folder(&self, name: &str) -> PathBuf {
        let dir = folders().join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

behaviour_tests!(Pg);

fn count(c: &mut postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn two_handles_scanning_one_folder_at_once_store_each_file_once() {
    let url = shared().fresh_db("two_scans");
    let dir = common::Backend::folder(&Pg, "two_scans");
    for (i, bpm) in [96.0, 110.0, 120.0, 128.0].into_iter().enumerate() {
        common::write_song(&dir.join(format!("song-{i}.wav")), bpm);
    }
    std::fs::write(dir.join("broken.wav"), b"RIFF\x10\x00\x00\x00WAVEfmt garbage").unwrap();
    let start = Arc::new(Barrier::new(2));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (url, dir, start) = (url.clone(), dir.clone(), start.clone());
            std::thread::spawn(move || {
                let mut lib = Library::open_url(&url, &OpenOptions::default()).unwrap();
                start.wait();
                lib.scan(&dir, &ScanOptions { concurrency: 1, ..Default::default() }, &AtomicBool::new(false), |_| {}).unwrap()
            })
        })
        .collect();
    for w in workers {
        let s = w.join().unwrap();
        assert_eq!((s.files, s.added + s.updated + s.unchanged + s.failed), (5, 5), "{s:?}");
    }
    let mut lib = Library::open_url(&url, &OpenOptions::default()).unwrap();
    let tracks = lib.tracks().unwrap();
    let mut paths: Vec<&str> = tracks.iter().map(|t| t.path.as_str()).collect();
    paths.dedup();
    assert_eq!(paths.len(), 5, "one row per path: {paths:?}");
    assert_eq!(tracks.iter().filter(|t| t.descriptors.is_some()).count(), 4);
    assert_eq!(tracks.iter().filter(|t| t.error_code.is_some()).count(), 1);
    let mut c = shared().client("two_scans");
    assert_eq!(count(&mut c, "SELECT count(*) FROM tracks"), 5);
    assert_eq!(count(&mut c, "SELECT count(*) FROM track_beats"), 4);
    // A third scan finds everything unchanged.
    let s = lib.scan(&dir, &ScanOptions::default(), &AtomicBool::new(false), |_| {}).unwrap();
    assert_eq!(s.unchanged, 5, "{s:?}");
}

#[test]
fn feedback_from_two_handles_at_once_loses_no_model_update() {
    let url = shared().fresh_db("two_feedbacks");
    let mut lib = Library::open_url(&url, &OpenOptions::default()).unwrap();
    common::fill(lib.store());
    let start = Arc::new(Barrier::new(2));
    let workers: Vec<_> = [("/m/slow-90", true), ("/m/clash-120", false)]
        .into_iter()
        .map(|(to, accepted)| {
            let (url, start) = (url.clone(), start.clone());
            std::thread::spawn(move || {
                let mut lib = Library::open_url(&url, &OpenOptions::default()).unwrap();
                start.wait();
                for _ in 0..15 {
                    let from = RecommendFrom::Track(TrackRef::Path("/m/ref".into()));
                    lib.add_feedback(&FeedbackInput { session: None, from, to: TrackRef::Path(to.into()), accepted, rating: None }).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let rows = count(&mut shared().client("two_feedbacks"), "SELECT count(*) FROM feedback");
    assert_eq!(rows, 30);
    assert_eq!(lib.model().unwrap().updates, 30, "every feedback row trained the stored model");
}

#[test]
fn plays_from_two_handles_at_once_get_distinct_consecutive_seqs() {
    let url = shared().fresh_db("two_players");
    let mut lib = Library::open_url(&url, &OpenOptions::default()).unwrap();
    let session = lib.begin_session(Some("shared deck")).unwrap();
    let start = Arc::new(Barrier::new(2));
    let workers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|who| {
            let (url, start) = (url.clone(), start.clone());
            std::thread::spawn(move || {
                let mut lib = Library::open_url(&url, &OpenOptions::default()).unwrap();
                start.wait();
                for i in 0..15 {
                    lib.add_play(session, None, Some(&format!("{who}{i}"))).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let plays = lib.session(session).unwrap().plays;
    assert_eq!(plays.iter().map(|p| p.seq).collect::<Vec<_>>(), (0..30).collect::<Vec<i64>>());
}

#[test]
fn migrations_racing_on_an_empty_database_make_one_schema() {
    let url = shared().fresh_db("racing_migrations");
    let start = Arc::new(Barrier::new(4));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (url, start) = (url.clone(), start.clone());
            std::thread::spawn(move || {
                let target = PgTarget::parse(&url).unwrap();
                start.wait();
                PostgresStore::connect(&target, None).map(drop)
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap().unwrap();
    }
    let mut c = shared().client("racing_migrations");
    let versions: Vec<i32> = c.query("SELECT version FROM resonode_schema_migrations ORDER BY version", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, (1..=schema_version() as i32).collect::<Vec<_>>());
    assert_eq!(count(&mut c, "SELECT count(*) FROM model"), 1);
    assert_eq!(count(&mut c, "SELECT count(*) FROM generations"), 2);
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_trigger WHERE tgname = 'tracks_inserted'"), 1);
}

#[test]
fn a_database_from_a_newer_resonode_is_refused_untouched() {
    let url = shared().fresh_db("newer");
    let mut lib = Library::open_url(&url, &OpenOptions::default()).unwrap();
    common::put(lib.store(), "/m/kept", Some(120.0), Some((0, Mode::Major)), -10.0, 0.0);
    drop(lib);
    let mut c = shared().client("newer");
    c.execute("INSERT INTO resonode_schema_migrations (version) VALUES (99)", &[]).unwrap();
    let e = Library::open_url(&url, &OpenOptions::default()).unwrap_err();
    assert_eq!(e.code(), "ERR_DATABASE", "{e}");
    let msg = e.to_string();
    assert!(msg.contains("newer resonode") && msg.contains("99") && msg.contains(&format!("up to version {}", schema_version())), "{msg}");
    assert_eq!(count(&mut c, "SELECT count(*) FROM tracks"), 1);
    assert_eq!(count(&mut c, "SELECT max(version)::bigint FROM resonode_schema_migrations"), 99);
}

#[test]
fn urls_are_checked_and_their_password_never_shows() {
    let secret = "s3cr3t-pw";
    let t = PgTarget::parse(&format!("postgresql://dj:{secret}@db.example:6543/music?application_name=x&connect_timeout=3")).unwrap();
    assert_eq!(t.location(), "postgres://dj@db.example:6543/music");
    assert_eq!(t.connect_timeout(), Some(Duration::from_secs(3)));
    // libpq's defaults: TLS if offered for a remote host, none on loopback.
    assert_eq!(t.ssl_mode(), SslMode::Prefer);
    assert_eq!(PgTarget::parse("postgres://u@127.0.0.1/x").unwrap().ssl_mode(), SslMode::Disable);
    assert_eq!(PgTarget::parse("postgres://u@localhost/x?sslmode=verify-full").unwrap().ssl_mode(), SslMode::VerifyFull);
    for bad in [
        format!("postgres://dj:{secret}@db.example:notaport/music"),
        format!("postgres://dj:{secret}@db.example/music?sslmode=sometimes"),
        format!("postgres://dj:{secret}@db.example/music?nonsense=1"),
    ] {
        let e = PgTarget::parse(&bad).unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_PARAMETER", "{bad}: {e}");
        assert!(!e.to_string().contains(secret), "{e}");
    }
    assert!(matches!(StoreSpec::parse("music_library.db").unwrap(), StoreSpec::Sqlite(_)));
    assert!(matches!(StoreSpec::parse("POSTGRES://h/db").unwrap(), StoreSpec::Postgres(_)));

    // A closed port: unavailable, quickly, without the password.
    let closed = format!("postgres://resonode:{secret}@127.0.0.1:{}/x", CLOSED_PORT);
    let e = Library::open_url(&closed, &OpenOptions { connect_timeout: Some(Duration::from_secs(5)), ..Default::default() }).unwrap_err();
    assert_eq!(e.code(), "ERR_DATABASE_UNAVAILABLE", "{e}");
    assert!(e.to_string().contains(&format!("postgres://resonode@127.0.0.1:{}/x", CLOSED_PORT)) && !e.to_string().contains(secret), "{e}");
    // A database that does not exist: the server answers, and refuses.
    let e = Library::open_url(&shared().url("no_such_database"), &OpenOptions::default()).unwrap_err();
    assert_eq!(e.code(), "ERR_DATABASE", "{e}");
    assert!(e.to_string().contains("no_such_database"), "{e}");
}

#[test]
fn a_stopped_server_is_unavailable_and_the_same_handle_works_once_it_is_back() {
    let server = Server::start("restart", RESTART_PORT);
    let url = server.fresh_db("restart");
    let mut lib = Library::open_url(&url, &OpenOptions { connect_timeout: Some(Duration::from_secs(5)), ..Default::default() }).unwrap();
    common::fill(lib.store());
    server.run("stop");
    let e = lib.tracks().unwrap_err();
    assert_eq!(e.code(), "ERR_DATABASE_UNAVAILABLE", "{e}");
    assert_eq!(lib.begin_session(None).unwrap_err().code(), "ERR_DATABASE_UNAVAILABLE");
    server.run("start");
    assert_eq!(lib.tracks().unwrap().len(), 9, "the same handle reconnects");
    // Restarted between two calls: the kept connection is dead, and the
    // next call (a read, then a write that must not run twice) still works.
    server.run("stop");
    server.run("start");
    assert_eq!(lib.tracks().unwrap().len(), 9);
    server.run("stop");
    server.run("start");
    let s = lib.begin_session(Some("after restart")).unwrap();
    lib.add_play(s, None, Some("x")).unwrap();
    let mut c = server.client("restart");
    assert_eq!(count(&mut c, "SELECT count(*) FROM mix_sessions"), 1, "the session was stored once");
    assert_eq!(count(&mut c, "SELECT count(*) FROM plays"), 1);
}

fn write_of(path: &str) -> TrackWrite {
    TrackWrite {
        path: path.into(),
        content_hash: Some("h".into()),
        file: FileMeta { size_bytes: 1, mtime_ms: 1 },
        outcome: Ok(common::descriptors(Some(120.0), Some((0, Mode::Major)), -10.0, 0.0)),
        analyzer_version: resonode_analysis::ANALYZER_VERSION.into(),
        analyzed_at_ms: 1,
    }
}

#[test]
fn a_write_cut_off_half_way_leaves_no_partial_rows() {
    let server = Server::start("cut", CUT_PORT);
    let url = server.fresh_db("cut");
    let mut store = PostgresStore::open(&url, Some(Duration::from_secs(5))).unwrap();
    let mut c = server.client("cut");

    // The beats fail after the track row was written: the track goes too.
    c.batch_execute(
        "CREATE FUNCTION fail_beats() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'beats refused'; END $$;
         CREATE TRIGGER fail_beats BEFORE INSERT ON track_beats FOR EACH ROW EXECUTE FUNCTION fail_beats();",
    )
    .unwrap();
    let e = store.put_track(&write_of("/m/failing")).unwrap_err();
    assert_eq!(e.code(), "ERR_DATABASE", "{e}");
    assert!(e.to_string().contains("beats refused"), "{e}");
    assert_eq!(count(&mut c, "SELECT count(*) FROM tracks"), 0);

    // The server dies (immediate shutdown, as a crash) while the beats are
    // being written: after it restarts, nothing of that write is there.
    c.batch_execute(
        "DROP TRIGGER fail_beats ON track_beats;
         CREATE FUNCTION slow_beats() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(60); RETURN NEW; END $$;
         CREATE TRIGGER slow_beats BEFORE INSERT ON track_beats FOR EACH ROW EXECUTE FUNCTION slow_beats();",
    )
    .unwrap();
    let writer = std::thread::spawn(move || {
        let out = store.put_track(&write_of("/m/cut"));
        (store, out)
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while count(&mut c, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE 'INSERT INTO track_beats%'") == 0 {
        assert!(Instant::now() < deadline, "the write never reached the beats");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(c);
    server.run("kill");
    let (mut store, out) = writer.join().unwrap();
    let e = out.unwrap_err();
    assert_eq!(e.code(), "ERR_DATABASE_UNAVAILABLE", "{e}");
    server.run("start");
    let mut c = server.client("cut");
    assert_eq!(count(&mut c, "SELECT count(*) FROM tracks"), 0);
    assert_eq!(count(&mut c, "SELECT count(*) FROM track_beats"), 0);
    c.batch_execute("DROP TRIGGER slow_beats ON track_beats").unwrap();
    // The same store writes it whole once the server is back.
    let id = store.put_track(&write_of("/m/cut")).unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM tracks"), 1);
    assert_eq!(count(&mut c, "SELECT count(*) FROM track_beats"), 1);
    assert_eq!(store.track(&TrackRef::Id(id)).unwrap().descriptors.unwrap().beats_s.len(), 10);
}

/// A CA and a certificate it signed for `localhost`, and a CA that signed nothing, in `dir`.
fn make_certificates(dir: &str) {
    let script = format!(
        "set -e; cd {dir}
         openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -subj /CN=resonode-test-ca -days 2
         openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj /CN=localhost
         printf 'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext
         openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile ext
         openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other-ca.key -out other-ca.crt -subj /CN=another-ca -days 2"
    );
    let out = Command::new("bash").arg("-c").arg(&script).output().unwrap();
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn tls_follows_libpq_sslmodes() {
    let server = Server::start("tls", TLS_PORT);
    let certs = format!("/tmp/resonode-pg-rust-certs-{}", std::process::id());
    std::fs::create_dir_all(&certs).unwrap();
    make_certificates(&certs);
    // The server's key must belong to the user the server runs as, mode 0600.
    for f in ["server.crt", "server.key"] {
        std::fs::copy(format!("{certs}/{f}"), format!("{}/{f}", server.dir)).unwrap();
        let owned = Command::new("chown").arg("--reference").arg(&server.dir).arg(format!("{}/{f}", server.dir)).status().unwrap();
        assert!(owned.success());
    }
    Command::new("chmod").arg("600").arg(format!("{}/server.key", server.dir)).status().unwrap();
    let mut admin = server.admin();
    // One statement each: ALTER SYSTEM refuses to run in a transaction block.
    for sql in [
        format!("ALTER SYSTEM SET ssl_cert_file = '{}/server.crt'", server.dir),
        format!("ALTER SYSTEM SET ssl_key_file = '{}/server.key'", server.dir),
        "ALTER SYSTEM SET ssl = on".to_string(),
    ] {
        admin.batch_execute(&sql).unwrap();
    }
    admin.batch_execute("SELECT pg_reload_conf()").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.admin().query_one("SHOW ssl", &[]).unwrap().get::<_, String>(0) != "on" {
        assert!(Instant::now() < deadline, "the server did not turn TLS on");
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = server.fresh_db("tls");
    let encrypted = |app: &str| -> (i64, i64) {
        let r = server
            .admin()
            .query_one(
                "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
                 WHERE a.application_name = $1",
                &[&app],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    let open = |query: &str| PostgresStore::open(&format!("{url}?{query}"), Some(Duration::from_secs(10)));
    let on_localhost = |query: &str| PostgresStore::open(&format!("{}?{query}", url.replace("127.0.0.1", "localhost")), Some(Duration::from_secs(10)));

    // Loopback without sslmode: plain; `require`: encrypted, certificate unchecked.
    let plain = open("application_name=tls-default").unwrap();
    assert_eq!(encrypted("tls-default"), (0, 1));
    let mut required = open("sslmode=require&application_name=tls-require").unwrap();
    assert_eq!(encrypted("tls-require"), (1, 0));
    required.begin_session(Some("over TLS"), 1).unwrap();
    // verify-full: the CA given, the host the certificate names.
    let ca = format!("{certs}/ca.crt");
    let mut full = on_localhost(&format!("sslmode=verify-full&sslrootcert={ca}&application_name=tls-full")).unwrap();
    assert_eq!(encrypted("tls-full"), (1, 0));
    assert_eq!(full.session(1).unwrap().source.as_deref(), Some("over TLS"));
    // ...another name for the host is refused; verify-ca does not check names.
    let e = open(&format!("sslmode=verify-full&sslrootcert={ca}")).unwrap_err();
    assert_eq!(e.code(), "ERR_DATABASE", "{e}");
    assert!(e.to_string().contains("TLS") && e.to_string().to_lowercase().contains("certificate"), "{e}");
    let _ca_only = open(&format!("sslmode=verify-ca&sslrootcert={ca}&application_name=tls-ca")).unwrap();
    assert_eq!(encrypted("tls-ca"), (1, 0));
    // `require` with a root certificate checks the chain, as libpq does.
    let e = open(&format!("sslmode=require&sslrootcert={certs}/other-ca.crt")).unwrap_err();
    assert_eq!(e.code(), "ERR_DATABASE", "{e}");
    assert!(e.to_string().contains("TLS"), "{e}");
    let _required_ca = open(&format!("sslmode=require&sslrootcert={ca}")).unwrap();
    // Without the CA (Mozilla's roots do not know it), refused.
    let e = on_localhost("sslmode=verify-full").unwrap_err();
    assert_eq!(e.code(), "ERR_DATABASE", "{e}");
    let e = on_localhost("sslmode=verify-full&sslrootcert=/nonexistent/ca.crt").unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_PARAMETER", "{e}");
    // A server without TLS when TLS is required.
    let e = PostgresStore::open(&format!("{}?sslmode=require", shared().url("postgres")), None).unwrap_err();
    assert_eq!(e.code(), "ERR_DATABASE", "{e}");
    drop((plain, required, full));
    let _ = std::fs::remove_dir_all(&certs);
}

#[test]
fn a_role_without_create_on_the_schema_opens_an_up_to_date_library() {
    let url = shared().fresh_db("no_create");
    let mut lib = Library::open_url(&url, &OpenOptions::default()).unwrap();
    common::fill(lib.store());
    drop(lib);
    // Since PostgreSQL 15 only the database owner may create in `public`:
    // an application role gets rights on the tables, not on the schema.
    let mut admin = shared().client("no_create");
    admin
        .batch_execute(
            "CREATE ROLE resonode_app LOGIN; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO resonode_app; \
             GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO resonode_app;",
        )
        .unwrap();
    let can_create: bool = admin.query_one("SELECT has_schema_privilege('resonode_app', 'public', 'CREATE')", &[]).unwrap().get(0);
    assert!(!can_create);
    let as_app = |db: &str| format!("postgres://resonode_app@127.0.0.1:{SHARED_PORT}/{db}");
    let mut lib = Library::open_url(&as_app("no_create"), &OpenOptions::default()).unwrap();
    assert_eq!(lib.tracks().unwrap().len(), 9);
    let s = lib.begin_session(Some("as an application role")).unwrap();
    lib.add_play(s, None, Some("x")).unwrap();
    // An empty database needs the schema made, which this role may not.
    shared().fresh_db("no_create_empty");
    let e = Library::open_url(&as_app("no_create_empty"), &OpenOptions::default()).unwrap_err();
    assert_eq!(e.code(), "ERR_DATABASE", "{e}");
    assert!(e.to_string().contains("permission denied"), "{e}");
}

#[test]
fn a_reset_waiting_for_feedback_in_flight_also_resets_that_feedback() {
    let url = shared().fresh_db("reset_race");
    let mut lib = Library::open_url(&url, &OpenOptions::default()).unwrap();
    common::fill(lib.store());
    let to = lib.track(&TrackRef::Path("/m/same".into())).unwrap().id;
    // Feedback in flight elsewhere, as `add_feedback` writes it: the row
    // inserted and the model row updated, not committed yet.
    let mut other = shared().client("reset_race");
    let mut tx = other.transaction().unwrap();
    tx.execute(
        "INSERT INTO feedback (to_track, accepted, target, c_tempo, c_harmonic, c_energy, c_timbre, c_learned, created_at_ms) \
         VALUES ($1, true, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 1)",
        &[&to],
    )
    .unwrap();
    tx.execute("UPDATE model SET updates = updates + 1, updated_at_ms = 1 WHERE id = 1", &[]).unwrap();
    let resetting = std::thread::spawn(move || lib.reset_learning().map(|()| lib));
    let mut admin = shared().client("reset_race");
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&mut admin, "SELECT count(*) FROM pg_stat_activity WHERE datname = 'reset_race' AND wait_event_type = 'Lock'") == 0 {
        assert!(Instant::now() < deadline, "the reset never waited for the model row");
        std::thread::sleep(Duration::from_millis(20));
    }
    tx.commit().unwrap();
    let mut lib = resetting.join().unwrap().unwrap();
    // The reset came after that feedback: it no longer counts.
    assert_eq!(count(&mut admin, "SELECT feedback_since FROM model"), count(&mut admin, "SELECT max(id) FROM feedback"));
    assert!(lib.store().feedback_totals().unwrap().is_empty());
    assert_eq!(lib.model().unwrap().updates, 0);
}
