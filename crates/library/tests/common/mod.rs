//! The library's behaviours, written once over a [`Backend`] (SQLite in
//! `tests/library.rs`, PostgreSQL in `tests/postgres.rs`) so that both
//! databases pass the same assertions: ranking rules on tracks of known
//! tempo, key and loudness, learning that persists, sessions, scans
//! (failures, unchanged files, analysis copied by content hash, prune),
//! stored values read back, and the generation counters the recommender's
//! cache depends on.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use resonode_analysis::loudness::LoudnessSummary;
use resonode_analysis::{KeyEstimate, Mode, TempoEstimate, TrackDescriptors};
use resonode_library::learn::DEFAULT_WEIGHTS;
use resonode_library::store::{FeedbackRow, FileMeta, TrackWrite};
use resonode_library::{CurrentFeatures, FeedbackInput, Library, RecommendFrom, RecommendOptions, ScanOptions, Store, TrackRef};

/// A database the behaviours run on.
pub trait Backend {
    /// A new, empty library called `name` (unique per test).
    fn fresh(&self, name: &str) -> Library;
    /// The library `name` again, through a new handle.
    fn reopen(&self, name: &str) -> Library;
    /// A new, empty folder for test songs.
    fn folder(&self, name: &str) -> PathBuf;
}

/// A summary vector: a shared timbre plus a per-track twist.
pub fn summary(twist: f64) -> Vec<f64> {
    (0..44).map(|i| if i == 0 { -150.0 } else { 10.0 * ((i as f64) * 0.7 + twist).sin() }).collect()
}

pub fn descriptors(bpm: Option<f64>, key: Option<(u8, Mode)>, lufs: f64, twist: f64) -> TrackDescriptors {
    TrackDescriptors {
        duration_s: 200.0,
        sample_rate: 44100,
        channels: 2,
        frames: 200 * 43,
        tempo: bpm.map(|bpm| TempoEstimate { bpm, confidence: 0.8 }),
        tempo_reason: None,
        beats_s: (0..10).map(|i| i as f64 * 0.5).collect(),
        downbeats_s: vec![0.0, 2.0, 4.0],
        key: key.map(|(tonic, mode)| KeyEstimate { tonic, mode, confidence: 0.6 }),
        key_reason: None,
        loudness: LoudnessSummary { integrated_lufs: Some(lufs), range_lu: Some(5.0), true_peak_dbtp: Some(-1.0) },
        energy: 0.2,
        summary: summary(twist),
    }
}

pub fn put(store: &mut dyn Store, path: &str, bpm: Option<f64>, key: Option<(u8, Mode)>, lufs: f64, twist: f64) -> i64 {
    store
        .put_track(&TrackWrite {
            path: path.into(),
            content_hash: Some(format!("hash-{path}")),
            file: FileMeta { size_bytes: 1, mtime_ms: 1 },
            outcome: Ok(descriptors(bpm, key, lufs, twist)),
            analyzer_version: resonode_analysis::ANALYZER_VERSION.into(),
            analyzed_at_ms: 1,
        })
        .unwrap()
}

/// Reference 120 BPM C major at -10 LUFS, and candidates named after what they test.
pub fn library(b: &dyn Backend, name: &str) -> Library {
    let mut lib = b.fresh(name);
    fill(lib.store());
    lib
}

pub fn fill(s: &mut dyn Store) {
    put(s, "/m/ref", Some(120.0), Some((0, Mode::Major)), -10.0, 0.0);
    put(s, "/m/same", Some(120.0), Some((0, Mode::Major)), -10.5, 0.0);
    put(s, "/m/fifth-122", Some(122.0), Some((7, Mode::Major)), -10.0, 0.0);
    put(s, "/m/relative-119", Some(119.0), Some((9, Mode::Minor)), -11.0, 0.0);
    put(s, "/m/half-60", Some(60.0), Some((0, Mode::Major)), -10.0, 0.0);
    put(s, "/m/clash-120", Some(120.0), Some((6, Mode::Major)), -10.0, 0.0);
    put(s, "/m/quiet-120", Some(120.0), Some((0, Mode::Major)), -24.0, 0.0);
    put(s, "/m/slow-90", Some(90.0), Some((0, Mode::Major)), -10.0, 0.0);
    put(s, "/m/no-tempo", None, None, -10.0, 0.0);
}

pub fn names(recs: &[resonode_library::Recommendation]) -> Vec<&str> {
    recs.iter().map(|r| r.path.trim_start_matches("/m/")).collect()
}

pub fn ranking_follows_tempo_camelot_and_loudness_rules(b: &dyn Backend) {
    let mut lib = library(b, "rank");
    let recs = lib.recommend(&RecommendFrom::Track(TrackRef::Path("/m/ref".into())), &RecommendOptions { limit: 20, ..Default::default() }).unwrap();
    let order = names(&recs);
    assert_eq!(order.len(), 8, "the reference is left out: {order:?}");
    assert_eq!(order[0], "same", "{order:?}");
    let pos = |n: &str| order.iter().position(|x| *x == n).unwrap();
    // Compatible key beats a clash at the same tempo; loudness jumps cost; tempo out of reach ranks last.
    assert!(pos("fifth-122") < pos("clash-120"), "{order:?}");
    assert!(pos("relative-119") < pos("clash-120"), "{order:?}");
    assert!(pos("same") < pos("quiet-120"), "{order:?}");
    assert!(pos("slow-90") > pos("clash-120"), "{order:?}");
    let half = &recs[pos("half-60")];
    assert_eq!(half.tempo_multiple, 2.0);
    assert!((half.components.tempo - 0.85).abs() < 1e-9, "{:?}", half.components);
    assert!((half.stretch_ratio.unwrap() - 1.0).abs() < 1e-9);
    let fifth = &recs[pos("fifth-122")];
    assert!((fifth.stretch_ratio.unwrap() - 120.0 / 122.0).abs() < 1e-9);
    assert_eq!(fifth.components.harmonic, 0.9);
    assert_eq!(recs[pos("relative-119")].components.harmonic, 0.85);
    assert_eq!(recs[pos("slow-90")].components.tempo, 0.0);
    assert_eq!(recs[pos("no-tempo")].components.tempo, 0.5);
    assert_eq!(recs[pos("no-tempo")].stretch_ratio, None);
    assert!(recs[pos("quiet-120")].components.energy < 0.01);
    for w in recs.windows(2) {
        assert!(w[0].score >= w[1].score);
    }
}

pub fn without_key_lock_the_stretched_key_is_scored(b: &dyn Backend) {
    let mut lib = library(b, "keylock");
    // A C major track at 127 BPM: stretched to 120 without key lock it
    // sounds a semitone lower (B major, 1B): five steps from C (8B), the
    // semitone rule (0.45) instead of the same key.
    put(lib.store(), "/m/fast-127", Some(127.14), Some((0, Mode::Major)), -10.0, 0.1);
    let from = RecommendFrom::Track(TrackRef::Path("/m/ref".into()));
    let opts = RecommendOptions { limit: 20, tempo_tolerance: 0.1, ..Default::default() };
    let locked = lib.recommend(&from, &opts).unwrap();
    let unlocked = lib.recommend(&from, &RecommendOptions { key_lock: false, ..opts }).unwrap();
    let h = |recs: &[resonode_library::Recommendation]| recs.iter().find(|r| r.path == "/m/fast-127").unwrap().components.harmonic;
    assert_eq!(h(&locked), 1.0);
    assert_eq!(h(&unlocked), 0.45);
}

pub fn live_features_rank_like_the_track_they_describe(b: &dyn Backend) {
    let mut lib = library(b, "live");
    let from = RecommendFrom::Current(CurrentFeatures {
        tempo_bpm: Some(120.0),
        key_tonic: Some(0),
        mode: Some(Mode::Major),
        loudness_lufs: Some(-10.0),
        energy: None,
        summary: Some(summary(0.0)),
    });
    let recs = lib.recommend(&from, &RecommendOptions { limit: 2, ..Default::default() }).unwrap();
    assert_eq!(names(&recs), ["ref", "same"]);
    // Nothing known: every component neutral, still a full ranking.
    let none = lib.recommend(&RecommendFrom::Current(CurrentFeatures::default()), &RecommendOptions { limit: 50, ..Default::default() }).unwrap();
    assert_eq!(none.len(), 9);
    assert!(none.iter().all(|r| r.components.tempo == 0.5 && r.components.harmonic == 0.5));
}

pub fn feedback_trains_a_model_that_persists_and_resets(b: &dyn Backend) {
    let mut lib = library(b, "learn");
    let from = RecommendFrom::Track(TrackRef::Path("/m/ref".into()));
    let rank = |lib: &mut Library| names(&lib.recommend(&from, &RecommendOptions { limit: 20, ..Default::default() }).unwrap()).iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let before = rank(&mut lib);
    let pos = |v: &[String], n: &str| v.iter().position(|x| x == n).unwrap();
    assert!(pos(&before, "clash-120") < pos(&before, "slow-90"));
    for _ in 0..10 {
        for (to, accepted) in [("/m/slow-90", true), ("/m/clash-120", false)] {
            lib.add_feedback(&FeedbackInput { session: None, from: from.clone(), to: TrackRef::Path(to.into()), accepted, rating: None }).unwrap();
        }
    }
    let after = rank(&mut lib);
    assert!(pos(&after, "slow-90") < pos(&after, "clash-120"), "{after:?}");
    let m = lib.model().unwrap();
    assert_eq!(m.updates, 20);
    assert!(m.weights[1] > DEFAULT_WEIGHTS[1] && m.weights[0] < DEFAULT_WEIGHTS[0], "{m:?}");
    drop(lib);
    let mut lib = b.reopen("learn");
    assert_eq!(rank(&mut lib), after, "learning survives reopening");
    assert_eq!(lib.model().unwrap(), m);
    lib.reset_learning().unwrap();
    assert_eq!(rank(&mut lib), before, "reset goes back to the defaults");
    assert_eq!(lib.model().unwrap().updates, 0);
    // A bad rating stores nothing.
    let e = lib.add_feedback(&FeedbackInput { session: None, from, to: TrackRef::Path("/m/same".into()), accepted: true, rating: Some(-0.1) }).unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_PARAMETER");
    assert_eq!(lib.model().unwrap().updates, 0);
}

pub fn sessions_keep_ordered_plays_and_exclude_them(b: &dyn Backend) {
    let mut lib = library(b, "sessions");
    let s = lib.begin_session(Some("deck A")).unwrap();
    let same = lib.track(&TrackRef::Path("/m/same".into())).unwrap().id;
    lib.add_play(s, Some(same), None).unwrap();
    lib.add_play(s, None, Some("line in")).unwrap();
    let rec = lib.session(s).unwrap();
    assert_eq!(rec.source.as_deref(), Some("deck A"));
    assert_eq!(rec.plays.iter().map(|p| p.seq).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(rec.plays[1].label.as_deref(), Some("line in"));
    let recs = lib
        .recommend(&RecommendFrom::Track(TrackRef::Path("/m/ref".into())), &RecommendOptions { session: Some(s), ..Default::default() })
        .unwrap();
    assert!(!names(&recs).contains(&"same"));
    lib.end_session(s).unwrap();
    assert!(lib.session(s).unwrap().ended_at_ms.is_some());
    assert_eq!(lib.end_session(999).unwrap_err().code(), "ERR_INVALID_PARAMETER");
    assert_eq!(lib.add_play(999, None, None).unwrap_err().code(), "ERR_INVALID_PARAMETER");
    assert_eq!(lib.add_play(s, Some(12345), None).unwrap_err().code(), "ERR_TRACK_NOT_FOUND");
    // Feedback in the session, then the track removed: the play stays
    // without its track, the feedback into it goes.
    let from = RecommendFrom::Track(TrackRef::Path("/m/ref".into()));
    lib.add_feedback(&FeedbackInput { session: Some(s), from, to: TrackRef::Id(same), accepted: true, rating: Some(0.75) }).unwrap();
    assert_eq!(lib.store().feedback_totals().unwrap().len(), 1);
    lib.remove(&TrackRef::Id(same)).unwrap();
    assert_eq!(lib.session(s).unwrap().plays[0].track, None);
    assert_eq!(lib.store().feedback_totals().unwrap().len(), 0);
    assert_eq!(lib.track(&TrackRef::Id(same)).unwrap_err().code(), "ERR_TRACK_NOT_FOUND");
    assert_eq!(lib.remove(&TrackRef::Id(same)).unwrap_err().code(), "ERR_TRACK_NOT_FOUND");
}

/// 8 s of 16-bit mono clicks at `bpm` with a sustained C major triad.
pub fn write_song(path: &Path, bpm: f64) {
    let rate = 22050u32;
    let n = 8 * rate as usize;
    let period = 60.0 / bpm;
    let mut w = hound::WavWriter::create(path, hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int }).unwrap();
    for i in 0..n {
        let t = i as f64 / rate as f64;
        let since = t % period;
        let click = if since < 0.05 { (-(since / 0.01)).exp() * (2.0 * std::f64::consts::PI * 1500.0 * since).sin() } else { 0.0 };
        let chord: f64 = [261.63, 329.63, 392.0].iter().map(|f| (2.0 * std::f64::consts::PI * f * t).sin()).sum::<f64>() * 0.08;
        w.write_sample(((0.5 * click + chord) * 20000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

pub fn scans_record_failures_skip_unchanged_files_and_resume_after_a_stop(b: &dyn Backend) {
    let dir = b.folder("music");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    write_song(&dir.join("a.wav"), 120.0);
    write_song(&dir.join("sub/b.wav"), 100.0);
    std::fs::write(dir.join("broken.wav"), b"RIFF\x10\x00\x00\x00WAVEfmt garbage").unwrap();
    std::fs::write(dir.join("readme.txt"), b"text").unwrap();
    let mut lib = b.fresh("scan");
    let stop = AtomicBool::new(true);
    let s = lib.scan(&dir, &ScanOptions::default(), &stop, |_| {}).unwrap();
    assert!(s.aborted && s.added == 0, "{s:?}");
    let stop = AtomicBool::new(false);
    let mut seen = 0;
    let s = lib.scan(&dir, &ScanOptions { concurrency: 2, ..Default::default() }, &stop, |p| seen = p.done).unwrap();
    assert_eq!((s.files, s.added, s.failed, s.ignored, seen), (3, 2, 1, 1, 3), "{s:?}");
    assert!(s.failures[0].path.ends_with("broken.wav"));
    assert!(s.failures[0].code.starts_with("ERR_"), "{s:?}");
    let tracks = lib.tracks().unwrap();
    let a = tracks.iter().find(|t| t.path.ends_with("a.wav")).unwrap();
    assert!((a.descriptors.as_ref().unwrap().tempo.unwrap().bpm - 120.0).abs() < 1.5, "{a:?}");
    let broken = tracks.iter().find(|t| t.path.ends_with("broken.wav")).unwrap();
    assert!(broken.error.is_some() && broken.descriptors.is_none());
    assert_eq!(broken.error_code.as_deref(), Some(s.failures[0].code.as_str()), "the failure is recorded with its code");
    let again = lib.scan(&dir, &ScanOptions::default(), &stop, |_| {}).unwrap();
    assert_eq!((again.unchanged, again.added, again.updated), (3, 0, 0), "{again:?}");
    assert_eq!(lib.tracks().unwrap().len(), 3);
    assert_eq!(lib.scan(&dir.join("nope"), &ScanOptions::default(), &stop, |_| {}).unwrap_err().code(), "ERR_NOT_FOUND");

    // A copy of an analysed file takes its analysis by content hash (the
    // original's analysis time shows that nothing was analysed again).
    std::fs::copy(dir.join("a.wav"), dir.join("sub/a-copy.wav")).unwrap();
    let s = lib.scan(&dir, &ScanOptions::default(), &stop, |_| {}).unwrap();
    assert_eq!((s.added, s.unchanged), (1, 3), "{s:?}");
    let tracks = lib.tracks().unwrap();
    let a = tracks.iter().find(|t| t.path.ends_with("/a.wav")).unwrap();
    let copy = tracks.iter().find(|t| t.path.ends_with("a-copy.wav")).unwrap();
    assert_ne!(copy.id, a.id);
    assert_eq!((&copy.content_hash, &copy.descriptors, copy.analyzed_at_ms), (&a.content_hash, &a.descriptors, a.analyzed_at_ms));
    std::fs::remove_file(dir.join("sub/a-copy.wav")).unwrap();
    lib.remove(&TrackRef::Id(copy.id)).unwrap();

    // A deleted file is reported missing, then removed with `prune`.
    std::fs::remove_file(dir.join("sub/b.wav")).unwrap();
    let s = lib.scan(&dir, &ScanOptions::default(), &stop, |_| {}).unwrap();
    assert!(s.missing.len() == 1 && s.missing[0].ends_with("sub/b.wav") && !s.pruned, "{s:?}");
    assert_eq!(lib.tracks().unwrap().len(), 3);
    let s = lib.scan(&dir, &ScanOptions { prune: true, ..Default::default() }, &stop, |_| {}).unwrap();
    assert!(s.pruned, "{s:?}");
    assert_eq!(lib.tracks().unwrap().len(), 2);
    assert!(lib.scan(&dir, &ScanOptions::default(), &stop, |_| {}).unwrap().missing.is_empty());
    assert_eq!(lib.scan(&dir.join("a.wav"), &ScanOptions::default(), &stop, |_| {}).unwrap_err().code(), "ERR_INVALID_PARAMETER");
}

pub fn timbre_similarity_breaks_ties_between_equal_tempo_and_key(b: &dyn Backend) {
    let mut lib = b.fresh("timbre");
    let s = lib.store();
    put(s, "/m/ref", Some(120.0), Some((0, Mode::Major)), -10.0, 0.0);
    put(s, "/m/near", Some(120.0), Some((0, Mode::Major)), -10.0, 0.05);
    put(s, "/m/far", Some(120.0), Some((0, Mode::Major)), -10.0, 2.5);
    put(s, "/m/other", Some(120.0), Some((0, Mode::Major)), -10.0, 1.2);
    let recs = lib.recommend(&RecommendFrom::Track(TrackRef::Path("/m/ref".into())), &RecommendOptions::default()).unwrap();
    assert_eq!(names(&recs)[0], "near", "{recs:?}");
    let t = |n: &str| recs.iter().find(|r| r.path.ends_with(n)).unwrap().components.timbre;
    assert!(t("near") > 0.9 && t("near") > t("far"), "near {} far {}", t("near"), t("far"));
}

pub fn stored_descriptors_read_back_as_written(b: &dyn Backend) {
    let mut lib = b.fresh("roundtrip");
    let id = put(lib.store(), "/m/x", Some(128.5), Some((9, Mode::Minor)), -8.25, 0.3);
    // A failure replaces the analysis of the same path (one row per path)...
    let failed = lib
        .store()
        .put_track(&TrackWrite {
            path: "/m/y".into(),
            content_hash: None,
            file: FileMeta { size_bytes: 7, mtime_ms: 1_700_000_000_123 },
            outcome: Err(("ERR_DECODE".into(), "bad frame".into())),
            analyzer_version: "v-test".into(),
            analyzed_at_ms: 42,
        })
        .unwrap();
    drop(lib);
    let mut lib = b.reopen("roundtrip");
    let d = lib.track(&TrackRef::Id(id)).unwrap().descriptors.unwrap();
    assert_eq!(d.tempo, Some(TempoEstimate { bpm: 128.5, confidence: 0.8 }));
    assert_eq!(d.key.map(|k| (k.tonic, k.mode, k.confidence)), Some((9, Mode::Minor, 0.6)));
    assert_eq!(d.loudness, LoudnessSummary { integrated_lufs: Some(-8.25), range_lu: Some(5.0), true_peak_dbtp: Some(-1.0) });
    assert_eq!((d.duration_s, d.sample_rate, d.channels, d.frames), (200.0, 44100, 2, 200 * 43));
    assert_eq!(d.downbeats_s, [0.0, 2.0, 4.0]);
    assert_eq!(d.beats_s.len(), 10);
    // Arrays are stored as f32.
    for (a, b) in d.summary.iter().zip(summary(0.3)) {
        assert!((a - b).abs() < 1e-4);
    }
    let y = lib.track(&TrackRef::Path("/m/y".into())).unwrap();
    assert_eq!((y.id, y.error.as_deref(), y.error_code.as_deref(), y.descriptors.is_none()), (failed, Some("bad frame"), Some("ERR_DECODE"), true));
    assert_eq!((y.file, y.analyzer_version.as_str(), y.analyzed_at_ms), (FileMeta { size_bytes: 7, mtime_ms: 1_700_000_000_123 }, "v-test", 42));
    // ...and an analysis replaces a failure, keeping the id.
    let again = put(lib.store(), "/m/y", Some(100.0), None, -12.0, 0.0);
    assert_eq!(again, failed);
    let y = lib.track(&TrackRef::Path("/m/y".into())).unwrap();
    assert!(y.error.is_none() && y.error_code.is_none() && y.descriptors.is_some(), "{y:?}");
    assert_eq!(lib.tracks().unwrap().len(), 2);
    assert_eq!(lib.store().paths_under("/m/").unwrap().len(), 2);
    assert!(lib.store().paths_under("/m/x").unwrap().len() == 1 && lib.store().paths_under("/n/").unwrap().is_empty());
}

/// The counters bump on every change the recommender caches (tracks,
/// feedback, model), in the same transaction, and not on a touch.
pub fn generation_counters_follow_tracks_and_feedback(b: &dyn Backend) {
    let mut lib = b.fresh("generations");
    let s = lib.store();
    let (t0, f0) = s.generation().unwrap();
    let a = put(s, "/m/a", Some(120.0), None, -10.0, 0.0);
    let (t1, f1) = s.generation().unwrap();
    assert!(t1 > t0 && f1 == f0);
    s.touch_track(a, FileMeta { size_bytes: 9, mtime_ms: 9 }).unwrap();
    assert_eq!(s.generation().unwrap(), (t1, f1), "a touch changes nothing recommendations read");
    put(s, "/m/a", Some(121.0), None, -10.0, 0.0);
    let (t2, _) = s.generation().unwrap();
    assert!(t2 > t1);
    let bb = put(s, "/m/b", Some(121.0), None, -10.0, 0.0);
    let row = FeedbackRow { session: None, from: Some(a), to: bb, accepted: true, rating: None, components: [0.5; 5], created_at_ms: 5 };
    let (id, model) = s.add_feedback(&row).unwrap();
    // One learning step from the defaults towards y = 1 (accepted, no rating).
    let mut expected = resonode_library::learn::ModelState::default();
    expected.update(&[0.5; 5], 1.0);
    assert!(id > 0 && model.updates == 1 && model.bias == expected.bias && model.bias > resonode_library::learn::DEFAULT_BIAS);
    assert_eq!(model, expected);
    assert_eq!(s.model().unwrap(), Some(model));
    let (t3, f3) = s.generation().unwrap();
    assert!(f3 > f1 && t3 > t2);
    assert_eq!(s.pair_feedback(a).unwrap().len(), 1);
    assert_eq!(s.feedback_totals().unwrap()[0].count, 1.0);
    s.reset_model().unwrap();
    let (_, f4) = s.generation().unwrap();
    assert!(f4 > f3);
    assert_eq!(s.model().unwrap(), None);
    assert!(s.feedback_totals().unwrap().is_empty(), "feedback before a reset no longer counts");
    s.remove_track(&TrackRef::Path("/m/b".into())).unwrap();
    let (t5, f5) = s.generation().unwrap();
    assert!(t5 > t3 && f5 > f4, "removing a track removes its feedback");
    assert_eq!(s.analysed_hashes(resonode_analysis::ANALYZER_VERSION).unwrap(), [("hash-/m/a".to_string(), a)]);
    assert_eq!(s.analysed_track_with_hash("hash-/m/a", resonode_analysis::ANALYZER_VERSION).unwrap(), Some(a));
    assert_eq!(s.analysed_track_with_hash("hash-/m/a", "0.0.0-other").unwrap(), None, "another analyzer version does not count");
    assert_eq!(s.analysed_track_with_hash("hash-/m/b", resonode_analysis::ANALYZER_VERSION).unwrap(), None, "a removed track does not count");
    let st = s.file_state("/m/a").unwrap().unwrap();
    assert_eq!((st.id, st.failed, st.content_hash.as_deref()), (a, false, Some("hash-/m/a")));
    assert!(s.file_state("/m/none").unwrap().is_none());
}

/// Every shared behaviour, for backends that run them in one test each.
#[macro_export]
macro_rules! behaviour_tests {
    ($backend:expr) => {
        #[test]
        fn ranking_follows_tempo_camelot_and_loudness_rules() {
            common::ranking_follows_tempo_camelot_and_loudness_rules(&$backend);
        }
        #[test]
        fn without_key_lock_the_stretched_key_is_scored() {
            common::without_key_lock_the_stretched_key_is_scored(&$backend);
        }
        #[test]
        fn live_features_rank_like_the_track_they_describe() {
            common::live_features_rank_like_the_track_they_describe(&$backend);
        }
        #[test]
        fn feedback_trains_a_model_that_persists_and_resets() {
            common::feedback_trains_a_model_that_persists_and_resets(&$backend);
        }
        #[test]
        fn sessions_keep_ordered_plays_and_exclude_them() {
            common::sessions_keep_ordered_plays_and_exclude_them(&$backend);
        }
        #[test]
        fn scans_record_failures_skip_unchanged_files_and_resume_after_a_stop() {
            common::scans_record_failures_skip_unchanged_files_and_resume_after_a_stop(&$backend);
        }
        #[test]
        fn timbre_similarity_breaks_ties_between_equal_tempo_and_key() {
            common::timbre_similarity_breaks_ties_between_equal_tempo_and_key(&$backend);
        }
        #[test]
        fn stored_descriptors_read_back_as_written() {
            common::stored_descriptors_read_back_as_written(&$backend);
        }
        #[test]
        fn generation_counters_follow_tracks_and_feedback() {
            common::generation_counters_follow_tracks_and_feedback(&$backend);
        }
    };
}
