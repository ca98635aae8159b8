//! SAM-Audio parity with the mlx-audio 0.6.2 reference: every case of
//! `tests/fixtures/sam_audio/cases.json` (made by
//! `scripts/make_sam_audio_fixtures.py` with the tiny random-weight model
//! `models/sam-audio-tiny`) is run through the same resonode entry point with
//! the reference's initial noise, and target and residual must match with
//! SI-SDR >= 60 dB. Also: seeded runs repeat bit-exactly, different seeds
//! differ, a file job gives what the same samples give, a model whose
//! `dit.onnx` keeps its weights in external data gives the same output, and
//! the tokenizer code `SamAudio` uses matches transformers on a real
//! T5-style `tokenizer.json`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use resonode_ml::metrics::si_sdr;
use resonode_ml::runtime::SessionOptions;
use resonode_ml::sam_audio::{
    Anchor, AnchorKind, LongFileJob, LongOptions, OdeMethod, OdeOptions, PromptChunk, SamAudio,
    SeparateOptions,
};
use serde_json::Value;

const MIN_SI_SDR: f64 = 60.0;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sam_audio")
}

fn cases() -> &'static Value {
    static CASES: OnceLock<Value> = OnceLock::new();
    CASES.get_or_init(|| {
        let text = std::fs::read_to_string(fixtures().join("cases.json")).expect("cases.json");
        serde_json::from_str(&text).expect("cases.json is JSON")
    })
}

fn case(name: &str) -> &'static Value {
    cases()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name} in cases.json"))
}

fn model() -> Arc<SamAudio> {
    static MODEL: OnceLock<Arc<SamAudio>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let dir = common::root().join(cases()["model"].as_str().unwrap());
            Arc::new(
                SamAudio::load(&dir, &SessionOptions::default())
                    .expect("load models/sam-audio-tiny"),
            )
        })
        .clone()
}

fn read_f32(name: &str) -> Vec<f32> {
    let bytes = std::fs::read(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn inputs(c: &Value) -> Vec<Vec<f32>> {
    c["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let all = read_f32(i["file"].as_str().unwrap());
            let (o, n) = (
                i["offset"].as_u64().unwrap() as usize,
                i["frames"].as_u64().unwrap() as usize,
            );
            all[o..o + n].to_vec()
        })
        .collect()
}

fn ode(c: &Value) -> OdeOptions {
    OdeOptions {
        method: c["ode"]["method"].as_str().unwrap().parse().unwrap(),
        step_size: c["ode"]["stepSize"].as_f64().unwrap(),
    }
}

fn anchors(c: &Value) -> Option<Vec<Vec<Anchor>>> {
    c["anchors"].as_array().map(|lists| {
        lists
            .iter()
            .map(|l| {
                l.as_array()
                    .unwrap()
                    .iter()
                    .map(|a| Anchor {
                        kind: a[0].as_str().unwrap().parse::<AnchorKind>().unwrap(),
                        start_s: a[1].as_f64().unwrap(),
                        end_s: a[2].as_f64().unwrap(),
                    })
                    .collect()
            })
            .collect()
    })
}

fn noise(c: &Value) -> Vec<f32> {
    let n = read_f32(c["noise"]["file"].as_str().unwrap());
    let want: u64 = c["noise"]["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap())
        .product();
    assert_eq!(n.len() as u64, want, "noise file length vs shape");
    n
}

/// Asserts SI-SDR >= 60 dB of `got` vs the reference file, printing it.
fn assert_close(label: &str, got: &[f32], file: &str) {
    let want = read_f32(file);
    assert_eq!(got.len(), want.len(), "{label}: length");
    let sdr = si_sdr(got, &want).unwrap();
    let err = common::max_abs_diff(got, &want);
    println!("{label}: SI-SDR {sdr:.1} dB, max abs error {err:.2e}");
    assert!(
        sdr >= MIN_SI_SDR,
        "{label}: SI-SDR {sdr:.1} dB < {MIN_SI_SDR} dB"
    );
}

fn run_separate(name: &str) {
    let c = case(name);
    assert_eq!(c["entry"], "separate");
    let m = model();
    let x = inputs(c);
    let refs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
    let descriptions: Vec<&str> = c["descriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    let opts = SeparateOptions {
        anchors: anchors(c),
        ode: ode(c),
        decode_chunk_size: c["decodeChunkSize"].as_u64().map(|v| v as usize),
        noise: Some(noise(c)),
        seed: None,
    };
    let out = m.separate(&refs, &descriptions, &opts, &|| false).unwrap();
    let shape: Vec<usize> = c["noise"]["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(out.noise_shape.to_vec(), shape);
    assert_eq!(out.seed, None);
    assert!(out.peak_memory_bytes > 0);
    for (b, e) in c["expected"].as_array().unwrap().iter().enumerate() {
        assert_eq!(out.target[b].len(), x[b].len());
        assert_close(
            &format!("{name}[{b}] target"),
            &out.target[b],
            e["target"].as_str().unwrap(),
        );
        assert_close(
            &format!("{name}[{b}] residual"),
            &out.residual[b],
            e["residual"].as_str().unwrap(),
        );
    }
}

fn long_options(c: &Value) -> LongOptions {
    LongOptions {
        chunk_seconds: c["chunkSeconds"].as_f64().unwrap(),
        overlap_seconds: c["overlapSeconds"].as_f64().unwrap(),
        ode: ode(c),
        decode_chunk_size: c["decodeChunkSize"].as_u64().map(|v| v as usize),
        seed: c["seed"].as_u64().unwrap(),
        noise: Some(noise(c)),
    }
}

/// Pushes `x` in blocks of `block` samples, pulling pieces as they become
/// available; returns all pieces.
fn stream(
    m: &Arc<SamAudio>,
    x: &[f32],
    description: &str,
    opts: LongOptions,
    block: usize,
) -> (Vec<PromptChunk>, Vec<f32>) {
    let mut sep = m.long_separator(description, opts).unwrap();
    let mut pieces = Vec::new();
    for b in x.chunks(block) {
        sep.push(b).unwrap();
        while let Some(p) = sep.next_piece(&|| false).unwrap() {
            pieces.push(p);
        }
    }
    sep.finish();
    assert!(sep.chunks_total().is_some());
    while let Some(p) = sep.next_piece(&|| false).unwrap() {
        pieces.push(p);
    }
    assert!(pieces.last().unwrap().is_last);
    assert_eq!(
        sep.next_piece(&|| false).unwrap(),
        None,
        "nothing after is_last"
    );
    (pieces, sep.noise())
}

fn concat(pieces: &[PromptChunk]) -> (Vec<f32>, Vec<f32>) {
    let mut t = Vec::new();
    let mut r = Vec::new();
    for p in pieces {
        assert_eq!(p.start_frame, t.len() as u64);
        assert_eq!(p.target.len(), p.residual.len());
        t.extend_from_slice(&p.target);
        r.extend_from_slice(&p.residual);
    }
    (t, r)
}

fn run_long(name: &str) {
    let c = case(name);
    let m = model();
    let x = inputs(c).remove(0);
    let description = c["descriptions"][0].as_str().unwrap();
    let e = &c["expected"][0];
    // File-job style (samples fed as the chunks need them).
    let mut job = LongFileJob::from_samples(&m, x.clone(), description, long_options(c)).unwrap();
    assert_eq!(job.total_frames(), Some(x.len() as u64));
    let mut pieces = Vec::new();
    while let Some(p) = job.next_piece(&|| false).unwrap() {
        pieces.push(p);
    }
    assert_eq!(job.frames_done(), x.len() as u64);
    let shape = &c["noise"]["shape"];
    assert_eq!(job.noise_frames() as u64, shape[1].as_u64().unwrap());
    assert_eq!(job.noise(), noise(c));
    let (t, r) = concat(&pieces);
    assert_close(&format!("{name} target"), &t, e["target"].as_str().unwrap());
    assert_close(
        &format!("{name} residual"),
        &r,
        e["residual"].as_str().unwrap(),
    );
}

#[test]
fn short_midpoint() {
    run_separate("short_midpoint");
}

#[test]
fn short_euler() {
    run_separate("short_euler");
}

#[test]
fn short_anchors() {
    run_separate("short_anchors");
}

#[test]
fn short_anchors_euler() {
    run_separate("short_anchors_euler");
}

#[test]
fn batch_of_two_lengths_and_descriptions() {
    run_separate("batch");
}

#[test]
fn batch_with_anchors() {
    run_separate("batch_anchors");
}

#[test]
fn chunked_decode() {
    run_separate("decode_chunked");
}

#[test]
fn long_path_chunked() {
    run_long("long");
}

#[test]
fn long_path_single_pass() {
    run_long("long_single");
}

#[test]
fn streaming_pieces() {
    let name = "streaming";
    let c = case(name);
    let m = model();
    let x = inputs(c).remove(0);
    let description = c["descriptions"][0].as_str().unwrap();
    let (pieces, used_noise) = stream(&m, &x, description, long_options(c), 7000);
    assert_eq!(used_noise, noise(c));
    let expected = c["pieces"].as_array().unwrap();
    assert_eq!(pieces.len(), expected.len(), "piece count");
    let reference_frames = c["referenceFrames"].as_u64().unwrap() as usize;
    let cut = reference_frames - x.len();
    for (k, (p, e)) in pieces.iter().zip(expected).enumerate() {
        let mut frames = e["frames"].as_u64().unwrap() as usize;
        if k + 1 == expected.len() {
            // resonode cuts the output to the input length.
            frames -= cut;
        }
        println!(
            "piece {k}: chunk_idx {} is_last {} frames {} (reference {})",
            p.chunk_idx,
            p.is_last,
            p.target.len(),
            e["frames"]
        );
        assert_eq!(
            p.chunk_idx as u64,
            e["chunkIdx"].as_u64().unwrap(),
            "piece {k} chunk_idx"
        );
        assert_eq!(
            p.is_last,
            e["isLast"].as_bool().unwrap(),
            "piece {k} is_last"
        );
        assert_eq!(p.target.len(), frames, "piece {k} length");
    }
    let (t, r) = concat(&pieces);
    let e = &c["expected"][0];
    assert_close("streaming target", &t, e["target"].as_str().unwrap());
    assert_close("streaming residual", &r, e["residual"].as_str().unwrap());
    // Block size does not matter: one push gives the same samples.
    let (again, _) = stream(&m, &x, description, long_options(c), x.len());
    assert_eq!(concat(&again), (t, r));
}

#[test]
fn seeded_runs_repeat_and_seeds_differ() {
    let m = model();
    let x = &read_f32("mix.f32")[..12000];
    let run = |seed: u64| {
        let opts = SeparateOptions {
            ode: OdeOptions {
                method: OdeMethod::Euler,
                step_size: 0.25,
            },
            seed: Some(seed),
            ..SeparateOptions::default()
        };
        m.separate(&[x], &["speech"], &opts, &|| false).unwrap()
    };
    let (a, b, d) = (run(3), run(3), run(4));
    assert_eq!(a.seed, Some(3));
    assert_eq!(a.target, b.target, "same seed, same target, bit for bit");
    assert_eq!(a.residual, b.residual);
    assert_eq!(a.noise, b.noise);
    assert_ne!(a.noise, d.noise, "different seeds, different noise");
    assert_ne!(a.target, d.target, "different seeds, different target");
    // The returned noise reproduces the run.
    let opts = SeparateOptions {
        ode: OdeOptions {
            method: OdeMethod::Euler,
            step_size: 0.25,
        },
        noise: Some(a.noise.clone()),
        ..SeparateOptions::default()
    };
    let e = m.separate(&[x], &["speech"], &opts, &|| false).unwrap();
    assert_eq!(e.target, a.target);
    // No seed: one is drawn and reported.
    let f = m
        .separate(
            &[x],
            &["speech"],
            &SeparateOptions {
                ode: opts.ode,
                ..SeparateOptions::default()
            },
            &|| false,
        )
        .unwrap();
    assert!(f.seed.is_some());
}

#[test]
fn seeded_long_runs_repeat_and_seeds_differ() {
    let m = model();
    let x = read_f32("mix.f32")[..40000].to_vec();
    let run = |seed: u64| {
        let opts = LongOptions {
            chunk_seconds: 0.3,
            overlap_seconds: 0.05,
            ode: OdeOptions {
                method: OdeMethod::Euler,
                step_size: 0.5,
            },
            seed,
            ..LongOptions::default()
        };
        let (pieces, noise) = stream(&m, &x, "speech", opts, 5000);
        (concat(&pieces), noise)
    };
    let (a, b, d) = (run(9), run(9), run(10));
    assert_eq!(a, b, "same seed, same output and noise");
    // The noise is rebuilt on request from the seeds: chunk i (of 14400
    // samples, hop 12000; the last is 4000) is normal(seed + i, T_i x 2C).
    let c2 = 2 * m.manifest().codebook_dim;
    let want: Vec<f32> = [60usize, 60, 60, 17]
        .iter()
        .enumerate()
        .flat_map(|(i, &t)| resonode_ml::sam_audio::noise::normal(9 + i as u64, t * c2))
        .collect();
    assert_eq!(a.1, want);
    assert_ne!(a.1, d.1);
    assert_ne!(a.0, d.0);
    assert_eq!((a.0).0.len(), x.len());
}

#[test]
fn file_job_matches_samples() {
    let m = model();
    let x = read_f32("mix.f32")[..30000].to_vec();
    let dir = std::env::temp_dir().join(format!("resonode-sam-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mix.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    // Stereo whose channel mean is x.
    for &v in &x {
        w.write_sample(v + 0.25).unwrap();
        w.write_sample(v - 0.25).unwrap();
    }
    w.finalize().unwrap();
    let mono = resonode_ml::sam_audio::read_mono(&path, 48000, &|| false).unwrap();
    assert_eq!(mono.len(), x.len());
    assert!(common::max_abs_diff(&mono, &x) < 1e-6);
    let opts = || LongOptions {
        chunk_seconds: 0.25,
        overlap_seconds: 0.05,
        ode: OdeOptions {
            method: OdeMethod::Euler,
            step_size: 0.5,
        },
        ..LongOptions::default()
    };
    let mut job = LongFileJob::open(&m, &path, "speech", opts()).unwrap();
    assert_eq!(job.total_frames(), Some(x.len() as u64));
    let mut from_file = Vec::new();
    while let Some(p) = job.next_piece(&|| false).unwrap() {
        from_file.push(p);
    }
    let mut job2 = LongFileJob::from_samples(&m, mono, "speech", opts()).unwrap();
    let mut from_samples = Vec::new();
    while let Some(p) = job2.next_piece(&|| false).unwrap() {
        from_samples.push(p);
    }
    assert_eq!(from_file, from_samples);
    assert_eq!(concat(&from_file).0.len(), x.len());
    assert!(job.peak_memory_bytes() > 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn long_path_edge_chunkings() {
    let m = model();
    let x = read_f32("mix.f32")[..30000].to_vec();
    let ode = OdeOptions {
        method: OdeMethod::Euler,
        step_size: 0.5,
    };
    // No overlap: whole chunks, all numbered 0 as the reference's generator does.
    let o = LongOptions {
        chunk_seconds: 0.2,
        overlap_seconds: 0.0,
        ode,
        ..LongOptions::default()
    };
    let (pieces, _) = stream(&m, &x, "speech", o, 4000);
    assert_eq!(pieces.len(), 4);
    assert!(pieces.iter().all(|p| p.chunk_idx == 0));
    assert_eq!(concat(&pieces).0.len(), x.len());
    // A chunk that is not a multiple of the hop with a tiny overlap: the
    // reference's padded outputs run ahead of the input; resonode holds the
    // excess back and still ends at the input's length, whatever the pushes.
    let o = LongOptions {
        chunk_seconds: 0.2525,
        overlap_seconds: 0.001,
        ode,
        ..LongOptions::default()
    };
    let (a, _) = stream(&m, &x, "speech", o.clone(), 1000);
    let (b, _) = stream(&m, &x, "speech", o, x.len());
    assert_eq!(concat(&a), concat(&b));
    assert_eq!(concat(&a).0.len(), x.len());
    // Input shorter than the overlap: one piece.
    let o = LongOptions {
        chunk_seconds: 0.2,
        overlap_seconds: 0.1,
        ode,
        ..LongOptions::default()
    };
    let (p, _) = stream(&m, &x[..1000], "speech", o, 300);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].target.len(), 1000);
}

/// The tiny model with `dit.onnx` re-saved with external data
/// (`fixtures/sam_audio/external_data/`, made by the fixture script with
/// the exporter's own `finish_graph`): copied to a temp folder whose
/// manifest lists `"data": {"dit": "dit.onnx.data"}`. Loads and gives the
/// inline model's output bit for bit (and so the reference's).
#[test]
fn external_data_model_matches() {
    let src = common::root().join(cases()["model"].as_str().unwrap());
    let dir = std::env::temp_dir().join(format!(
        "resonode-sam-audio-external-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    let ext = fixtures().join("external_data");
    for f in ["dit.onnx", "dit.onnx.data"] {
        std::fs::copy(ext.join(f), dir.join(f)).unwrap();
    }
    let inline_len = std::fs::metadata(src.join("dit.onnx")).unwrap().len();
    let graph_len = std::fs::metadata(dir.join("dit.onnx")).unwrap().len();
    let data_len = std::fs::metadata(dir.join("dit.onnx.data")).unwrap().len();
    assert!(
        graph_len < inline_len && data_len > 100_000,
        "{graph_len} {data_len}"
    );
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let mut v: Value = serde_json::from_str(&manifest).unwrap();
    v["data"] = serde_json::json!({"dit": "dit.onnx.data"});
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&v).unwrap(),
    )
    .unwrap();
    let ext_model =
        SamAudio::load(&dir, &SessionOptions::default()).expect("load the external-data copy");
    assert_eq!(
        ext_model.manifest().data,
        vec![("data.dit".to_string(), "dit.onnx.data".to_string())]
    );

    let c = case("short_anchors_euler");
    let x = inputs(c);
    let opts = SeparateOptions {
        anchors: anchors(c),
        ode: ode(c),
        decode_chunk_size: None,
        noise: Some(noise(c)),
        seed: None,
    };
    let d = c["descriptions"][0].as_str().unwrap();
    let got = ext_model
        .separate(&[&x[0]], &[d], &opts, &|| false)
        .unwrap();
    let want = model().separate(&[&x[0]], &[d], &opts, &|| false).unwrap();
    assert_eq!(
        got.target, want.target,
        "external data: same target bit for bit"
    );
    assert_eq!(got.residual, want.residual);
    let e = &c["expected"][0];
    assert_close(
        "external-data target",
        &got.target[0],
        e["target"].as_str().unwrap(),
    );
    assert_close(
        "external-data residual",
        &got.residual[0],
        e["residual"].as_str().unwrap(),
    );

    // Without its data file the folder is refused, naming it.
    drop(ext_model);
    std::fs::remove_file(dir.join("dit.onnx.data")).unwrap();
    match SamAudio::load(&dir, &SessionOptions::default()) {
        Err(resonode_core::Error::Model { reason, .. }) => {
            assert!(
                reason.contains("data.dit") && reason.contains("dit.onnx.data"),
                "{reason}"
            )
        }
        other => panic!("expected ERR_MODEL, got {other:?}"),
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `fixtures/sam_audio/t5_style_tokenizer.json` is a real T5-style file (a
/// SentencePiece Unigram model converted by transformers: Precompiled
/// normaliser, Metaspace, `</s>` template, extra ids); `t5_style_tokens.json`
/// holds transformers' ids and masks for a few batches (truncation to 8,
/// padding to the longest, space runs, unicode, an added token). The
/// tokenizer code `SamAudio` encodes descriptions with must give the same.
#[test]
fn t5_style_tokenizer_matches_transformers() {
    use resonode_ml::sam_audio::tokenizer::TextTokenizer;
    let text = std::fs::read_to_string(fixtures().join("t5_style_tokens.json")).unwrap();
    let want: Value = serde_json::from_str(&text).unwrap();
    let max = want["maxLength"].as_u64().unwrap() as usize;
    let tok =
        TextTokenizer::load(&fixtures().join(want["tokenizer"].as_str().unwrap()), max).unwrap();
    let batches = want["batches"].as_array().unwrap();
    assert!(batches.len() >= 4);
    let mut truncated = false;
    for b in batches {
        let texts: Vec<&str> = b["texts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        let got = tok.encode(&texts).unwrap();
        let rows = |k: &str| -> Vec<i64> {
            b[k].as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()))
                .collect()
        };
        let (ids, mask) = (rows("inputIds"), rows("attentionMask"));
        assert_eq!(got.batch, texts.len());
        assert_eq!(
            got.tokens,
            b["inputIds"][0].as_array().unwrap().len(),
            "{texts:?}"
        );
        assert_eq!(got.ids, ids, "ids of {texts:?}");
        assert_eq!(got.mask, mask, "attention mask of {texts:?}");
        truncated |= got.tokens == max && mask.iter().all(|&m| m == 1);
    }
    assert!(truncated, "the fixture exercises truncation");
}
