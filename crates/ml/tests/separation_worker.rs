//! The separation worker on the fixture HTDemucs model: its regions are
//! those of `HtDemucs::separate_long` bit for bit (source input, and pushed
//! blocks of random sizes), a stop ends the thread and frees the model
//! within one model call, and failures arrive as typed events.

mod htdemucs_fixtures;

use htdemucs_fixtures::{dir, meta, wav};
use resonode_core::PlanarSource;
use resonode_ml::chunker::{LongOptions, Region};
use resonode_ml::htdemucs::{normalization_stats, HtDemucs, Normalization, SeparateOptions};
use resonode_ml::runtime::SessionOptions;
use resonode_ml::{SeparationWorker, WorkerEvent, WorkerInput, WorkerOptions, WorkerStats};

fn load(_: &mut SeparateOptions) -> resonode_core::Result<HtDemucs> {
    HtDemucs::load(&dir().join("htdemucs_tiny.onnx"), &SessionOptions { intra_threads: 1, ..SessionOptions::default() })
}

/// The parity clip (two segments, the second partial).
fn mix() -> Vec<Vec<f32>> {
    let start: usize = meta("clip.start_frame_in_music_wav").parse().unwrap();
    let frames: usize = meta("clip.frames").parse().unwrap();
    let (x, _) = wav("../../../../../assets/music.wav");
    x.into_iter().map(|c| c[start..start + frames].to_vec()).collect()
}

fn reference(x: &[Vec<f32>], opts: &SeparateOptions) -> Vec<Region> {
    let mut model = load(&mut SeparateOptions::default()).unwrap();
    let mut src = PlanarSource::new(x.to_vec(), 44100).unwrap();
    let mut regions = Vec::new();
    model
        .separate_long(
            &mut src,
            opts,
            &LongOptions::default(),
            |r| {
                regions.push(r);
                Ok(())
            },
            |_| {},
        )
        .unwrap();
    regions
}

/// Every event up to the terminal one: (started sources, regions, end stats).
fn drain(w: &SeparationWorker) -> (Vec<String>, Vec<Region>, WorkerStats) {
    let mut sources = Vec::new();
    let mut regions = Vec::new();
    loop {
        match w.recv().expect("a terminal event") {
            WorkerEvent::Started { sources: s, channels, sample_rate, .. } => {
                assert_eq!((channels, sample_rate), (2, 44100));
                sources = s;
            }
            WorkerEvent::Region { region, .. } => regions.push(region),
            WorkerEvent::End(stats) => {
                assert!(w.recv().is_none(), "nothing after the end");
                return (sources, regions, stats);
            }
            WorkerEvent::Failed(e) => panic!("worker failed: {e}"),
        }
    }
}

#[test]
fn source_worker_yields_the_regions_of_separate_long() {
    let x = mix();
    let want = reference(&x, &SeparateOptions::default());
    let src = PlanarSource::new(x.clone(), 44100).unwrap();
    let mut w = SeparationWorker::spawn(load, WorkerInput::Source(Box::new(src)), WorkerOptions::default()).unwrap();
    let (sources, got, stats) = drain(&w);
    assert_eq!(sources, ["drums", "bass", "other", "vocals"]);
    assert_eq!(got, want);
    assert_eq!(
        (stats.frames_in, stats.frames_out, stats.chunks, stats.regions, stats.stopped),
        (348401, 348401, 2, 2, false)
    );
    let tta = stats.time_to_first_audio.unwrap();
    assert!(stats.model_load <= tta && tta <= stats.elapsed);
    println!(
        "worker: model load {:.2} s, time to first audio {:.2} s, total {:.2} s",
        stats.model_load.as_secs_f64(),
        tta.as_secs_f64(),
        stats.elapsed.as_secs_f64()
    );
    w.join();
    assert!(w.has_exited());
}

#[test]
fn pushed_blocks_of_random_sizes_give_the_same_regions() {
    let x = mix();
    let (mean, std) = normalization_stats(&x);
    let opts = SeparateOptions { normalization: Normalization::Fixed { mean, std }, ..SeparateOptions::default() };
    let want = reference(&x, &opts);
    let wopts = WorkerOptions { separate: opts, ..WorkerOptions::default() };
    let w = SeparationWorker::spawn(load, WorkerInput::Push { channels: 2, sample_rate: 44100 }, wopts).unwrap();
    // The producer honours back-pressure on its own thread, as a JS pump does.
    let (mut pos, mut seed) = (0usize, 777u64);
    std::thread::scope(|s| {
        s.spawn(|| {
            while pos < x[0].len() {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let n = ((seed >> 33) as usize % 70000).min(x[0].len() - pos);
                let (tx, rx) = std::sync::mpsc::channel();
                w.when_ready(Box::new(move || {
                    let _ = tx.send(());
                }));
                rx.recv().unwrap();
                w.push(x.iter().map(|c| c[pos..pos + n].to_vec()).collect()).unwrap();
                pos += n;
            }
            w.end_input();
        });
        let (_, got, stats) = drain(&w);
        assert_eq!(got, want);
        assert_eq!((stats.frames_in, stats.frames_out, stats.chunks), (348401, 348401, 2));
    });
}

#[test]
fn stop_ends_the_thread_early_and_frees_the_model() {
    // Six copies of the clip: nine model calls, of which the stop leaves most undone.
    let x: Vec<Vec<f32>> = mix().into_iter().map(|c| c.repeat(6)).collect();
    let src = PlanarSource::new(x, 44100).unwrap();
    let mut w = SeparationWorker::spawn(load, WorkerInput::Source(Box::new(src)), WorkerOptions::default()).unwrap();
    assert!(matches!(w.recv(), Some(WorkerEvent::Started { .. })));
    assert!(matches!(w.recv(), Some(WorkerEvent::Region { .. })));
    w.stop();
    let mut regions = 1;
    let stats = loop {
        match w.recv().unwrap() {
            WorkerEvent::Region { .. } => regions += 1,
            WorkerEvent::End(s) => break s,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(stats.stopped);
    // At most the one queued region and the one being computed follow.
    assert!(regions <= 3 && stats.regions <= 3, "{regions} regions after the stop");
    w.join();
    assert!(w.has_exited());
    assert!(w.push(vec![vec![0.0]]).is_err());
}

#[test]
fn failures_arrive_as_typed_events() {
    let fixed = SeparateOptions { normalization: Normalization::Off, ..SeparateOptions::default() };
    // Non-finite input.
    let w = SeparationWorker::spawn(
        load,
        WorkerInput::Push { channels: 2, sample_rate: 44100 },
        WorkerOptions { separate: fixed.clone(), ..WorkerOptions::default() },
    )
    .unwrap();
    w.push(vec![vec![0.0, f32::NAN], vec![0.0, 0.0]]).unwrap();
    w.end_input();
    assert!(matches!(w.recv(), Some(WorkerEvent::Started { .. })));
    match w.recv() {
        Some(WorkerEvent::Failed(e)) => assert_eq!(e.code(), "ERR_NON_FINITE_SAMPLE"),
        other => panic!("{other:?}"),
    }
    assert!(w.recv().is_none());
    // Wrong channel count.
    let w = SeparationWorker::spawn(
        load,
        WorkerInput::Push { channels: 2, sample_rate: 44100 },
        WorkerOptions { separate: fixed, ..WorkerOptions::default() },
    )
    .unwrap();
    w.push(vec![vec![0.0; 4]]).unwrap();
    w.end_input();
    let _started = w.recv();
    assert!(matches!(w.recv(), Some(WorkerEvent::Failed(e)) if e.code() == "ERR_SHAPE"));
    // A missing model.
    let src = PlanarSource::new(vec![vec![0.0; 100]], 44100).unwrap();
    let missing = |_: &mut SeparateOptions| HtDemucs::load(&dir().join("no_such.onnx"), &SessionOptions::default());
    let w = SeparationWorker::spawn(missing, WorkerInput::Source(Box::new(src)), WorkerOptions::default()).unwrap();
    assert!(matches!(w.recv(), Some(WorkerEvent::Failed(e)) if e.code() == "ERR_NOT_FOUND"));
    // Global statistics cannot come from pushed blocks.
    let err =
        SeparationWorker::spawn(load, WorkerInput::Push { channels: 2, sample_rate: 44100 }, WorkerOptions::default())
            .unwrap_err();
    assert_eq!(err.code(), "ERR_INVALID_PARAMETER");
}
