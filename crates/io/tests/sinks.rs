//! WAV and FLAC output: exact round trips, clipping and rounding, crash
//! safety, format selection, pipeline runs, level metering.

mod common;

use std::path::Path;

use common::*;
use resonode_core::pipeline::{run, Control, PipelineOptions};
use resonode_core::{AudioBuffer, Chain, Sink, Source};
use resonode_io::*;

/// Writes `planes` to `sink` in blocks of `block` frames (open/write/finalize).
fn write_blocks(sink: &mut dyn Sink, rate: u32, planes: &[Vec<f32>], block: usize) {
    sink.open(rate, planes.len()).unwrap();
    feed(sink, planes, block);
    sink.finalize().unwrap();
}

fn feed(sink: &mut dyn Sink, planes: &[Vec<f32>], block: usize) {
    let n = planes[0].len();
    let mut start = 0;
    while start < n {
        let len = block.min(n - start);
        let chunk: Vec<Vec<f32>> = planes.iter().map(|p| p[start..start + len].to_vec()).collect();
        let buf = AudioBuffer::from_planar(&chunk).unwrap();
        sink.write(&buf.as_block()).unwrap();
        start += len;
    }
}

/// A test signal: a slow sine sweep plus values around the clipping points.
fn signal(frames: usize, channels: usize) -> Vec<Vec<f32>> {
    (0..channels)
        .map(|c| {
            (0..frames)
                .map(|i| {
                    let t = i as f32 / frames as f32;
                    (0.9 - 0.2 * c as f32) * (i as f32 * (0.01 + 0.05 * t)).sin()
                })
                .collect()
        })
        .collect()
}

#[test]
fn wav_int16_int24_float32_round_trip_exactly_as_documented() {
    let dir = TempDir::new("wav-rt");
    let mut x = signal(10_000, 2);
    // Edge values: clipping, rounding ties, NaN.
    let edges = [1.0, -1.0, 1.5, -1.5, 0.5 / 32768.0, -0.5 / 32768.0, 0.49 / 32768.0, f32::NAN];
    x[0][..edges.len()].copy_from_slice(&edges);
    for enc in [WavEncoding::Int16, WavEncoding::Int24, WavEncoding::Float32] {
        let p = dir.path(&format!("{enc:?}.wav"));
        let mut sink = WavSink::create(&p, enc);
        write_blocks(&mut sink, 48000, &x, 777);
        let mut r = hound::WavReader::open(&p).unwrap();
        let spec = r.spec();
        assert_eq!((spec.channels, spec.sample_rate, u32::from(spec.bits_per_sample)), (2, 48000, enc.bits()));
        assert_eq!(r.duration(), 10_000);
        match enc {
            WavEncoding::Float32 => {
                let got: Vec<f32> = r.samples::<f32>().map(|s| s.unwrap()).collect();
                for (i, g) in got.iter().enumerate() {
                    let want = x[i % 2][i / 2];
                    assert!(g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()), "sample {i}");
                }
            }
            _ => {
                let bits = enc.bits();
                let got: Vec<i32> = r.samples::<i32>().map(|s| s.unwrap()).collect();
                for (i, &g) in got.iter().enumerate() {
                    assert_eq!(g, float_to_int(x[i % 2][i / 2], bits), "sample {i}");
                }
                let first: Vec<i32> = got[..16].iter().step_by(2).copied().collect();
                if enc == WavEncoding::Int16 {
                    // 1.0 and 1.5 clip to 32767, -1.0 and -1.5 to -32768, half an
                    // LSB rounds away from zero, 0.49 LSB to 0, NaN to 0.
                    assert_eq!(first, [32767, -32768, 32767, -32768, 1, -1, 0, 0]);
                } else {
                    assert_eq!(first, [8_388_607, -8_388_608, 8_388_607, -8_388_608, 128, -128, 125, 0]);
                }
            }
        }
        // And FileSource reads back exactly what was written.
        let back = read_all(&mut FileSource::open(&p, &SourceOptions::default()).unwrap()).unwrap();
        assert_eq!(back[0].len(), 10_000);
        if enc == WavEncoding::Int16 {
            assert!((back[1][5000] - x[1][5000]).abs() <= 0.5 / 32768.0);
        }
    }
}

#[test]
fn wav_on_disk_is_valid_after_each_periodic_flush_even_without_finalize() {
    let dir = TempDir::new("wav-crash");
    let p = dir.path("crash.wav");
    let x = signal(44100 * 5 / 2, 2); // 2.5 s
    let mut sink = WavSink::create(&p, WavEncoding::Int16);
    sink.open(44100, 2).unwrap();
    feed(&mut sink, &x, 1000); // flushes after 1 s and 2 s of audio
                               // Simulate a crash: never finalize, never drop.
    std::mem::forget(sink);
    let mut r = hound::WavReader::open(&p).expect("a valid WAV");
    // The header covers what was flushed: a flush follows the first block
    // that completes >= 1 s (44100 frames) since the previous one, i.e. at
    // 45000 and 90000 frames; the 20000 frames after that are not counted.
    assert_eq!(r.duration(), 90_000);
    let got: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
    assert_eq!(got.len(), 2 * 90_000);
    assert_eq!(got[2 * 50_000], float_to_int(x[0][50_000], 16) as i16);
    // symphonia agrees (the bytes after the declared data are ignored).
    assert_eq!(probe(&p).unwrap().frames, Some(90_000));
}

#[test]
fn explicit_wav_flush_makes_every_written_frame_readable() {
    let dir = TempDir::new("wav-flush");
    let p = dir.path("f.wav");
    let x = signal(1234, 1);
    let mut sink = WavSink::create(&p, WavEncoding::Float32);
    sink.open(8000, 1).unwrap();
    feed(&mut sink, &x, 100);
    sink.flush().unwrap();
    assert_eq!(sink.frames_written(), 1234);
    let (_, d) = hound_read(&p);
    assert_eq!(d[0], x[0]);
    std::mem::forget(sink);
}

#[test]
fn sinks_reject_misuse_with_typed_errors() {
    let dir = TempDir::new("misuse");
    let p = dir.path("m.wav");
    let mut sink = WavSink::create(&p, WavEncoding::Int16);
    let buf = AudioBuffer::from_planar(&[vec![0.0; 4]]).unwrap();
    assert_eq!(sink.write(&buf.as_block()).unwrap_err().code(), "ERR_INVALID_STATE");
    assert_eq!(sink.open(44100, 0).unwrap_err().code(), "ERR_INVALID_PARAMETER");
    sink.open(44100, 2).unwrap();
    assert_eq!(sink.write(&buf.as_block()).unwrap_err().code(), "ERR_SHAPE");
    sink.finalize().unwrap();
    sink.finalize().unwrap(); // idempotent

    let mut flac = FlacSink::create(&dir.path("m.flac"), 20);
    assert_eq!(flac.open(44100, 2).unwrap_err().code(), "ERR_INVALID_PARAMETER");
    let mut flac = FlacSink::create(&dir.path("m.flac"), 16);
    assert_eq!(flac.open(44100, 9).unwrap_err().code(), "ERR_INVALID_PARAMETER");
}

#[test]
fn output_in_a_missing_directory_is_an_io_error_naming_the_path() {
    let dir = TempDir::new("nodir");
    for fmt in [OutputFormat::Wav(WavEncoding::Int16), OutputFormat::Flac { bits: 16 }] {
        let p = dir.path(&format!("missing/out.{}", fmt.extension()));
        let mut sink = open_sink(&p, fmt);
        let e = sink.open(44100, 2).unwrap_err();
        assert_eq!(e.code(), "ERR_IO");
        assert!(e.to_string().contains("missing/out."), "{e}");
    }
}

#[test]
fn flac_round_trip_is_lossless_for_16_and_24_bits() {
    let dir = TempDir::new("flac-rt");
    // Real music, 16-bit: decode, encode to FLAC, decode again: identical.
    let reference =
        read_all(&mut FileSource::open(&fixture("ref_s16.wav"), &SourceOptions::default()).unwrap()).unwrap();
    let p = dir.path("music.flac");
    let mut sink = FlacSink::create(&p, 16);
    write_blocks(&mut sink, 44100, &reference, 3000);
    let info = probe(&p).unwrap();
    assert_eq!(
        (info.codec.as_str(), info.channels, info.frames, info.bits_per_sample),
        ("flac", 2, Some(44100), Some(16))
    );
    let back = read_all(&mut FileSource::open(&p, &SourceOptions::default()).unwrap()).unwrap();
    assert_eq!(back, reference);
    assert!(std::fs::metadata(&p).unwrap().len() < 176_444, "FLAC compresses");

    // 24 bits, 3 channels, odd length (partial last frame).
    let x = signal(10_007, 3);
    let p = dir.path("s24.flac");
    let mut sink = FlacSink::create(&p, 24);
    write_blocks(&mut sink, 96000, &x, 1500);
    let back = read_all(&mut FileSource::open(&p, &SourceOptions::default()).unwrap()).unwrap();
    assert_eq!(probe(&p).unwrap().frames, Some(10_007));
    for c in 0..3 {
        for i in 0..10_007 {
            assert_eq!(back[c][i], float_to_int(x[c][i], 24) as f32 / 8_388_608.0);
        }
    }
}

#[test]
fn partial_flac_without_finalize_decodes_up_to_the_last_flush() {
    let dir = TempDir::new("flac-crash");
    let p = dir.path("crash.flac");
    let x = signal(44100 * 2 + 500, 2);
    let mut sink = FlacSink::create(&p, 16);
    sink.open(44100, 2).unwrap();
    feed(&mut sink, &x, 1000);
    std::mem::forget(sink);
    let info = probe(&p).unwrap();
    assert_eq!(info.declared_frames, None, "length unknown until finalize");
    let mut src = FileSource::open(&p, &SourceOptions::default()).unwrap();
    let back = read_all(&mut src).unwrap();
    // probe counts the frames that are there.
    assert_eq!(info.frames, Some(back[0].len() as u64));
    // Flushed after the first whole 4096-frame FLAC frame completing >= 1 s
    // since the previous flush (11 frames = 45056); a partly written frame
    // at the end is ignored by the decoder.
    assert!(back[0].len() >= 45056 && back[0].len().is_multiple_of(4096), "{}", back[0].len());
    assert_eq!(src.concealed_frames(), 0);
    for i in 0..back[0].len() {
        assert_eq!(back[0][i], float_to_int(x[0][i], 16) as f32 / 32768.0);
    }
}

#[test]
fn pipeline_file_to_file_with_open_sink_and_resampling() {
    let dir = TempDir::new("pipe");
    let input = asset("speech.wav");
    let info = probe(&input).unwrap();
    for name in ["out.wav", "out.flac"] {
        let out = dir.path(name);
        let fmt = OutputFormat::for_path(&out, None, Some(&info)).unwrap();
        let mut sink = open_sink(&out, fmt);
        let mut src =
            FileSource::open(&input, &SourceOptions { sample_rate: Some(48000), ..Default::default() }).unwrap();
        let total = src.total_frames().unwrap();
        let stats = run(
            &mut src,
            &mut Chain::default(),
            sink.as_mut(),
            &PipelineOptions::default(),
            &Control::default(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(stats.frames_processed, total);
        assert_eq!(total, (info.frames.unwrap() as f64 * 3.0).round() as u64);
        let o = probe(&out).unwrap();
        assert_eq!((o.sample_rate, o.channels, o.frames, o.bits_per_sample), (48000, 1, Some(total), Some(16)));
    }
}

#[test]
fn levels_of_known_signals() {
    let dir = TempDir::new("levels");
    // Full-scale sine: peak 0 dBFS, RMS -3.01 dBFS.
    let n = 48000;
    let sine: Vec<f32> =
        (0..n).map(|i| (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 48000.0).sin() as f32).collect();
    let p = dir.path("sine.wav");
    write_blocks(
        &mut WavSink::create(&p, WavEncoding::Float32),
        48000,
        &[sine.clone(), sine.iter().map(|s| s * 0.5).collect()],
        4096,
    );
    let l = measure_levels(&p).unwrap();
    assert!(l.peak_dbfs.abs() < 1e-3, "{l:?}");
    // Channels pooled: mean square = (0.5 + 0.125) / 2.
    let want = 10.0 * (0.3125f64).log10();
    assert!((l.rms_dbfs - want).abs() < 1e-3, "{l:?} vs {want}");

    // Silence: -inf for both.
    let p = dir.path("silence.wav");
    write_blocks(&mut WavSink::create(&p, WavEncoding::Int16), 8000, &[vec![0.0; 8000]], 1000);
    let l = measure_levels(&p).unwrap();
    assert_eq!((l.peak_dbfs, l.rms_dbfs), (f64::NEG_INFINITY, f64::NEG_INFINITY));

    // The real music asset was normalised to -1 dBFS peak by sox.
    let l = measure_levels(&asset("music.wav")).unwrap();
    assert!((l.peak_dbfs + 1.0).abs() < 0.01, "{l:?}");
    assert!(l.rms_dbfs < -6.0 && l.rms_dbfs > -30.0, "{l:?}");

    // No frames: EmptyAudio; truncated: the frames that are there.
    let p = dir.path("none.wav");
    write_blocks(&mut WavSink::create(&p, WavEncoding::Int16), 8000, &[vec![]], 1000);
    assert_eq!(measure_levels(&p).unwrap_err().code(), "ERR_EMPTY_AUDIO");
    assert_eq!(measure_levels(&fixture("truncated_s16.wav")).unwrap().frames, 15000);
    assert_eq!(measure_levels(Path::new("/nope.wav")).unwrap_err().code(), "ERR_NOT_FOUND");
}

#[test]
fn source_and_sink_channel_counts_agree_through_selection() {
    let dir = TempDir::new("sel");
    let out = dir.path("left.wav");
    let mut src = FileSource::open(
        &fixture("ref_s16.wav"),
        &SourceOptions { channels: ChannelSelection::Select(vec![0]), ..Default::default() },
    )
    .unwrap();
    let mut sink = WavSink::create(&out, WavEncoding::Int16);
    run(
        &mut src,
        &mut Chain::default(),
        &mut sink,
        &PipelineOptions { chunk_frames: 1000 },
        &Control::default(),
        &mut |_| {},
    )
    .unwrap();
    let (spec, d) = hound_read(&out);
    assert_eq!(spec.channels, 1);
    assert_eq!(d[0], hound_read(&fixture("ref_s16.wav")).1[0]);
    assert_eq!(src.channels(), 1);
}
