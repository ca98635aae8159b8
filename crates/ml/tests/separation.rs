//! The separation jobs behind the JS `Separator` (`resonode_ml::separation`)
//! on the fixture HTDemucs model and real music: input handling, model
//! options, stem selection, stem files, and a stop that ends the run like a
//! pipeline's (resolved, `stopped`, the files finalised and holding exactly
//! the frames reported, which are a prefix of the full run's).

mod htdemucs_fixtures;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use htdemucs_fixtures::{dir, meta};
use resonode_core::{Control, Progress};
use resonode_io::read::decode_file;
use resonode_io::{SourceOptions, WavEncoding};
use resonode_ml::htdemucs::Normalization;
use resonode_ml::runtime::SessionOptions;
use resonode_ml::separation::{self, select_stems, SeparationConfig, SeparationInput, StemFiles, StemFormat};

fn config() -> SeparationConfig {
    SeparationConfig {
        session: SessionOptions { intra_threads: 1, ..SessionOptions::default() },
        ..SeparationConfig::new(dir().join("htdemucs_tiny.onnx"))
    }
}

fn music() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/music.wav")
}

fn file_input() -> SeparationInput {
    SeparationInput::File { path: music(), options: SourceOptions::default() }
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("resonode-ml-separation-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    d
}

fn read(path: &Path) -> Vec<Vec<f32>> {
    decode_file(path, &SourceOptions::default()).unwrap().channels
}

#[test]
fn separate_long_into_files_and_into_memory_agree_and_a_file_decodes_like_its_arrays() {
    let sources: Vec<String> = meta("sources").split(',').map(String::from).collect();
    let total = decode_file(&music(), &SourceOptions::default()).unwrap();
    let progress = AtomicUsize::new(0);
    let mem = separation::separate_long(file_input(), &config(), None, &Control::default(), |p: Progress| {
        assert!(p.fraction.is_some_and(|f| (0.0..=1.0).contains(&f)));
        progress.fetch_add(1, Ordering::Relaxed);
    })
    .unwrap();
    assert!(!mem.stopped);
    assert_eq!(mem.stem_names, sources);
    assert_eq!((mem.frames, mem.sample_rate, mem.chunks), (total.frames() as u64, 44100, Some(3)));
    assert_eq!(progress.load(Ordering::Relaxed), 3, "one report per region");
    assert!(mem.time_to_first_audio.unwrap() <= mem.processing_time);
    assert!(mem.realtime_factor() > 0.0);
    for stem in &mem.stems {
        assert!(stem.iter().all(|c| c.len() == total.frames()));
    }

    // Files: two stems, in the order asked, float32 so the bits survive.
    let out = temp("files");
    let files = StemFiles {
        out_dir: out.clone(),
        stems: Some(vec!["vocals".into(), "drums".into()]),
        format: StemFormat::Wav,
        encoding: Some(WavEncoding::Float32),
    };
    let r = separation::separate_long(file_input(), &config(), Some(&files), &Control::default(), |_| {}).unwrap();
    assert_eq!(r.stem_names, ["vocals", "drums"]);
    assert!(r.stems.is_empty());
    let paths = r.paths.unwrap();
    assert_eq!(paths, [out.join("vocals.wav"), out.join("drums.wav")]);
    assert!(read(&paths[0]) == mem.stems[3], "vocals.wav holds the in-memory vocals");
    assert!(read(&paths[1]) == mem.stems[0], "drums.wav holds the in-memory drums");

    // separate() of the file decodes it whole: the same as of its arrays.
    let whole = separation::separate(file_input(), &config()).unwrap();
    let planar = SeparationInput::Planar { channels: total.channels.clone(), sample_rate: total.sample_rate };
    let arrays = separation::separate(planar, &config()).unwrap();
    assert!(whole.stems == arrays.stems);
    assert_eq!((whole.frames, whole.chunks, whole.stopped), (total.frames() as u64, None, false));
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn a_stop_resolves_with_stopped_and_finalised_files_holding_a_prefix() {
    let full = separation::separate_long(file_input(), &config(), None, &Control::default(), |_| {}).unwrap();
    let out = temp("stop");
    let files = StemFiles { out_dir: out.clone(), encoding: Some(WavEncoding::Float32), ..StemFiles::default() };

    // Stopped once the first region is written: the run ends at the next read.
    let control = Control::default();
    let r = separation::separate_long(file_input(), &config(), Some(&files), &control, |p: Progress| {
        assert!(p.frames > 0);
        control.stop();
    })
    .unwrap();
    assert!(r.stopped);
    assert_eq!(r.chunks, Some(1));
    assert!(r.frames > 0 && r.frames < full.frames, "{} of {} frames", r.frames, full.frames);
    let paths = r.paths.unwrap();
    assert_eq!(paths.len(), 4);
    for (s, p) in paths.iter().enumerate() {
        let y = read(p);
        assert_eq!(y.len(), 2);
        for (c, ch) in y.iter().enumerate() {
            assert_eq!(ch.len() as u64, r.frames, "{}: the finalised file holds the frames reported", p.display());
            assert!(ch[..] == full.stems[s][c][..ch.len()], "{}: a prefix of the full run", p.display());
        }
    }

    // In memory: the same prefix.
    let control = Control::default();
    let m = separation::separate_long(file_input(), &config(), None, &control, |_| control.stop()).unwrap();
    assert!(m.stopped && m.frames == r.frames);
    assert!(m.stems[1][0][..] == full.stems[1][0][..m.frames as usize]);

    // Stopped before the start (during the statistics pass): valid, empty files.
    let before = Control::default();
    before.stop();
    let r = separation::separate_long(file_input(), &config(), Some(&files), &before, |_| {}).unwrap();
    assert!(r.stopped);
    assert_eq!((r.frames, r.chunks), (0, Some(0)));
    for p in r.paths.unwrap() {
        let d = decode_file(&p, &SourceOptions::default()).unwrap();
        assert_eq!((d.frames(), d.channels.len(), d.sample_rate), (0, 2, 44100));
    }
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn inputs_and_options_are_checked_with_typed_errors() {
    let code = |r: resonode_core::Result<_>| r.map(|_: separation::Separated| ()).unwrap_err().code();
    let ok = || SeparationInput::Planar { channels: vec![vec![0.0; 1000]; 2], sample_rate: 44100 };
    // Input parts: exactly one; arrays and blocks need a rate.
    let none = SeparationInput::from_parts(None, None, None, Some(44100));
    assert_eq!(none.unwrap_err().code(), "ERR_INVALID_PARAMETER");
    let two = SeparationInput::from_parts(Some((music(), SourceOptions::default())), Some(vec![vec![0.0]]), None, None);
    assert_eq!(two.unwrap_err().code(), "ERR_INVALID_PARAMETER");
    let no_rate = SeparationInput::from_parts(None, Some(vec![vec![0.0; 10]]), None, None);
    assert!(no_rate.unwrap_err().to_string().contains("sample rate"));
    assert_eq!(
        SeparationInput::from_parts(None, None, Some(2), Some(44100)).unwrap(),
        SeparationInput::Push { channels: 2, sample_rate: 44100 }
    );
    // Pushed blocks only stream.
    let push = || SeparationInput::Push { channels: 2, sample_rate: 44100 };
    assert_eq!(code(separation::separate(push(), &config())), "ERR_INVALID_PARAMETER");
    assert_eq!(
        code(separation::separate_long(push(), &config(), None, &Control::default(), |_| {})),
        "ERR_INVALID_PARAMETER"
    );
    // Options.
    let both = SeparationConfig { overlap: Some(0.25), overlap_seconds: Some(1.0), ..config() };
    assert_eq!(code(separation::separate(ok(), &both)), "ERR_INVALID_PARAMETER");
    // Longer than the export's 7.8 s: demucs refuses it for a Transformer model.
    let segment = SeparationConfig { segment_seconds: Some(9.0), ..config() };
    let e = separation::separate(ok(), &segment).unwrap_err();
    assert!(e.code() == "ERR_INVALID_PARAMETER" && e.to_string().contains("7.80 s"), "{e}");
    let overlap = SeparationConfig { overlap_seconds: Some(8.0), ..config() };
    assert_eq!(code(separation::separate(ok(), &overlap)), "ERR_INVALID_PARAMETER");
    let stats = SeparationConfig { normalization: Normalization::Fixed { mean: 0.0, std: 0.0 }, ..config() };
    assert_eq!(stats.separate_options().unwrap_err().code(), "ERR_INVALID_PARAMETER");
    let seconds = SeparationConfig { overlap_seconds: Some(7.8 / 2.0), ..config() };
    let (_, opts) = seconds.load().unwrap();
    assert!((opts.overlap - 0.5).abs() < 1e-3, "{}", opts.overlap);
    // Stems, model, input file.
    let sources: Vec<String> = ["drums", "bass"].map(String::from).to_vec();
    assert_eq!(select_stems(&sources, Some(&["bass".to_string()][..])).unwrap(), [1]);
    assert_eq!(select_stems(&sources, None).unwrap(), [0, 1]);
    let kazoo = select_stems(&sources, Some(&["kazoo".to_string()][..])).unwrap_err();
    assert!(kazoo.code() == "ERR_INVALID_PARAMETER" && kazoo.to_string().contains("drums, bass"));
    let files = StemFiles { out_dir: temp("kazoo"), stems: Some(vec!["kazoo".into()]), ..StemFiles::default() };
    assert_eq!(
        code(separation::separate_long(ok(), &config(), Some(&files), &Control::default(), |_| {})),
        "ERR_INVALID_PARAMETER"
    );
    assert_eq!(StemFormat::parse("mp3").unwrap_err().code(), "ERR_INVALID_PARAMETER");
    assert_eq!(StemFormat::parse("flac").unwrap().extension(), "flac");
    let missing = SeparationConfig::new("/nonexistent/htdemucs.onnx");
    assert_eq!(code(separation::separate(ok(), &missing)), "ERR_NOT_FOUND");
    let no_file =
        SeparationInput::File { path: music().with_file_name("no-such.wav"), options: SourceOptions::default() };
    assert_eq!(code(separation::separate(no_file, &config())), "ERR_NOT_FOUND");
    let nan = SeparationInput::Planar { channels: vec![vec![0.0, f32::NAN], vec![0.0, 0.0]], sample_rate: 44100 };
    assert_eq!(code(separation::separate(nan, &config())), "ERR_NON_FINITE_SAMPLE");
}

#[test]
fn a_worker_spawned_from_a_job_streams_the_same_regions() {
    let full = separation::separate_long(file_input(), &config(), None, &Control::default(), |_| {}).unwrap();
    let w = separation::spawn_worker(file_input(), config()).unwrap();
    let mut frames = 0usize;
    let mut first_vocals = Vec::new();
    loop {
        match w.recv().expect("a terminal event") {
            resonode_ml::WorkerEvent::Region { region, .. } => {
                if region.chunk_idx == 0 {
                    first_vocals = region.stems[3][0].clone();
                }
                frames += region.frames();
            }
            resonode_ml::WorkerEvent::End(stats) => {
                assert!(!stats.stopped);
                break;
            }
            resonode_ml::WorkerEvent::Failed(e) => panic!("{e}"),
            _ => {}
        }
    }
    assert_eq!(frames as u64, full.frames);
    assert!(first_vocals[..] == full.stems[3][0][..first_vocals.len()]);
    // Global normalisation cannot be done on pushed blocks.
    let e = separation::spawn_worker(SeparationInput::Push { channels: 2, sample_rate: 44100 }, config()).unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_PARAMETER");
}
