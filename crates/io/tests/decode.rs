//! Decoding the fixtures (real music, re-encoded by scripts/make_io_fixtures.sh)
//! and every kind of bad input.

mod common;

use std::path::Path;

use common::*;
use resonode_core::pipeline::{run, Control, PipelineOptions};
use resonode_core::{Chain, Error, Source};
use resonode_io::*;

/// The 16-bit stereo reference, decoded by hound (independently of symphonia).
fn reference() -> Vec<Vec<f32>> {
    hound_read(&fixture("ref_s16.wav")).1
}

fn decode(path: &Path) -> (FileSource, Vec<Vec<f32>>) {
    let mut src = FileSource::open(path, &SourceOptions::default()).unwrap();
    let data = read_all(&mut src).unwrap();
    (src, data)
}

fn decode_with(path: &Path, opts: SourceOptions) -> Vec<Vec<f32>> {
    read_all(&mut FileSource::open(path, &opts).unwrap()).unwrap()
}

fn err_of(r: resonode_core::Result<impl std::fmt::Debug>) -> Error {
    r.expect_err("expected an error")
}

#[test]
fn pcm_wav_in_every_bit_depth_matches_the_reference() {
    let r = reference();
    // (fixture, reference channel of each file channel, frames, tolerance)
    let cases: &[(&str, &[usize], usize, f32)] = &[
        ("ref_s16.wav", &[0, 1], 44100, 0.0),
        ("pcm_u8.wav", &[0, 1], 44100, 1.0 / 256.0), // rounded to 8 bits
        ("pcm_s24_ext.wav", &[0, 1], 44100, 0.0),    // WAVE_FORMAT_EXTENSIBLE
        ("pcm_s32_ext_mono.wav", &[0], 44100, 0.0),  // WAVE_FORMAT_EXTENSIBLE
        ("float32.wav", &[0, 1], 22050, 0.0),
        ("float64_mono.wav", &[0], 22050, 0.0),
        ("ext_4ch_s16.wav", &[0, 1, 0, 1], 11025, 0.0), // extensible, 4 channels
        ("flac16.flac", &[0, 1], 44100, 0.0),
    ];
    for &(name, map, frames, tol) in cases {
        let (src, d) = decode(&fixture(name));
        assert_eq!(src.info().channels, map.len(), "{name}");
        assert_eq!(d.len(), map.len(), "{name}");
        for (c, &rc) in map.iter().enumerate() {
            assert_eq!(d[c].len(), frames, "{name} ch {c}");
            let diff = max_abs_diff(&d[c], &r[rc][..frames]);
            assert!(diff <= tol, "{name} ch {c}: max diff {diff} > {tol}");
        }
        assert_eq!(src.total_frames(), Some(frames as u64), "{name}");
    }
}

#[test]
fn alaw_wav_is_decoded_within_its_quantisation() {
    let r = reference();
    let (_, d) = decode(&fixture("alaw.wav"));
    assert_eq!(d[0].len(), 11025);
    for c in 0..2 {
        // A-law keeps 4 mantissa bits: the step is at most 1/64 of full scale.
        assert!(max_abs_diff(&d[c], &r[c][..11025]) < 1.0 / 60.0);
        assert!(correlation_at(&r[c][..11025], &d[c], 0) > 0.9999);
    }
}

#[test]
fn mp3_decodes_to_the_music_with_the_encoder_delay() {
    let r = reference();
    let (src, d) = decode(&fixture("mp3_128k.mp3"));
    // This file has no LAME/Xing gapless info, so the decoder delay (576 +
    // 529 = 1105 frames) and the padding to whole 1152-frame MPEG frames stay
    // in the output: 40 frames * 1152.
    let len = d[0].len();
    assert!((44100..=44100 + 1105 + 2 * 1152).contains(&len), "{len}");
    assert_eq!(len % 1152, 0);
    for c in 0..2 {
        let (lag, corr) = best_lag(&r[c], &d[c], 2500);
        assert!(corr > 0.95, "ch {c}: correlation {corr} at lag {lag}");
        assert!((1100..=1110).contains(&lag), "ch {c}: lag {lag}");
    }
    assert_eq!(src.corrupt_packets(), 0);
}

#[test]
fn vorbis_decodes_gapless_and_time_aligned() {
    let r = reference();
    let (_, d) = decode(&fixture("vorbis_q5.ogg"));
    assert_eq!(d[0].len(), 44100, "Ogg granule positions give the exact length");
    for c in 0..2 {
        let (lag, corr) = best_lag(&r[c], &d[c], 200);
        assert_eq!(lag, 0, "ch {c}");
        assert!(corr > 0.98, "ch {c}: correlation {corr}");
    }
}

/// (fixture, format, codec, rate, channels, frames, bits, sample format)
type ProbeCase = (&'static str, &'static str, &'static str, u32, usize, Option<u64>, Option<u32>, SampleFormat);

#[test]
fn probe_describes_each_fixture() {
    let cases: &[ProbeCase] = &[
        ("ref_s16.wav", "wav", "pcm_s16le", 44100, 2, Some(44100), Some(16), SampleFormat::Int),
        ("pcm_u8.wav", "wav", "pcm_u8", 44100, 2, Some(44100), Some(8), SampleFormat::Int),
        ("pcm_s24_ext.wav", "wav", "pcm_s24le", 44100, 2, Some(44100), Some(24), SampleFormat::Int),
        ("pcm_s32_ext_mono.wav", "wav", "pcm_s32le", 44100, 1, Some(44100), Some(32), SampleFormat::Int),
        ("float32.wav", "wav", "pcm_f32le", 44100, 2, Some(22050), Some(32), SampleFormat::Float),
        ("float64_mono.wav", "wav", "pcm_f64le", 44100, 1, Some(22050), Some(64), SampleFormat::Float),
        ("ext_4ch_s16.wav", "wav", "pcm_s16le", 44100, 4, Some(11025), Some(16), SampleFormat::Int),
        ("alaw.wav", "wav", "pcm_alaw", 44100, 2, Some(11025), Some(8), SampleFormat::Int),
        ("flac16.flac", "flac", "flac", 44100, 2, Some(44100), Some(16), SampleFormat::Int),
        ("mp3_128k.mp3", "mp3", "mp3", 44100, 2, Some(46080), None, SampleFormat::Float),
        ("vorbis_q5.ogg", "ogg", "vorbis", 44100, 2, Some(44100), None, SampleFormat::Float),
    ];
    for &(name, format, codec, rate, ch, frames, bits, sf) in cases {
        let info = probe(&fixture(name)).unwrap();
        assert_eq!(
            (
                info.format.as_str(),
                info.codec.as_str(),
                info.sample_rate,
                info.channels,
                info.frames,
                info.bits_per_sample,
                info.sample_format
            ),
            (format, codec, rate, ch, frames, bits, sf),
            "{name}"
        );
        assert!(info.path.ends_with(name));
    }
    let speech = probe(&asset("speech.wav")).unwrap();
    assert_eq!((speech.sample_rate, speech.channels), (16000, 1));
    let music = probe(&asset("music.wav")).unwrap();
    assert_eq!((music.sample_rate, music.channels, music.frames), (44100, 2, Some(12 * 44100)));
    assert!((music.duration_s().unwrap() - 12.0).abs() < 1e-9);
}

#[test]
fn source_chunking_does_not_change_the_output() {
    let path = fixture("flac16.flac");
    let whole = decode(&path).1;
    for chunk in [1, 7, 4096, 100_000] {
        let mut src = FileSource::open(&path, &SourceOptions::default()).unwrap();
        assert_eq!(read_all_chunked(&mut src, chunk).unwrap(), whole, "chunk {chunk}");
    }
}

#[test]
fn rewind_starts_again_from_the_first_frame() {
    let mut src = FileSource::open(&fixture("vorbis_q5.ogg"), &SourceOptions::default()).unwrap();
    assert!(src.can_rewind());
    let first = read_all(&mut src).unwrap();
    src.rewind().unwrap();
    assert_eq!(read_all(&mut src).unwrap(), first);
}

#[test]
fn channel_selection_mono_select_and_errors() {
    let path = fixture("ext_4ch_s16.wav");
    let all = decode(&path).1;
    let mono = decode_with(&path, SourceOptions { channels: ChannelSelection::Mono, ..Default::default() });
    assert_eq!(mono.len(), 1);
    for (i, &m) in mono[0].iter().enumerate() {
        let avg = (all[0][i] + all[1][i] + all[2][i] + all[3][i]) / 4.0;
        assert!((m - avg).abs() < 1e-6);
    }
    let sel =
        decode_with(&path, SourceOptions { channels: ChannelSelection::Select(vec![3, 0, 0]), ..Default::default() });
    assert_eq!(sel, vec![all[3].clone(), all[0].clone(), all[0].clone()]);

    let e = FileSource::open(
        &path,
        &SourceOptions { channels: ChannelSelection::Select(vec![1, 4]), ..Default::default() },
    )
    .unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_PARAMETER");
    assert!(e.to_string().contains("channel 4") && e.to_string().contains("ext_4ch_s16.wav"), "{e}");
    let e =
        FileSource::open(&path, &SourceOptions { channels: ChannelSelection::Select(vec![]), ..Default::default() })
            .unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_PARAMETER");
}

#[test]
fn missing_file_is_not_found() {
    let e = err_of(probe(Path::new("/definitely/not/here.wav")));
    assert_eq!(e.code(), "ERR_NOT_FOUND");
    assert!(e.to_string().contains("/definitely/not/here.wav"), "{e}");
    assert_eq!(err_of(FileSource::open(Path::new("nope.flac"), &SourceOptions::default())).code(), "ERR_NOT_FOUND");
}

#[test]
fn directory_is_an_io_error() {
    let dir = TempDir::new("dir");
    let d = dir.path("looks_like.wav");
    std::fs::create_dir(&d).unwrap();
    let e = err_of(probe(&d));
    assert_eq!(e.code(), "ERR_IO");
    assert!(e.to_string().contains("directory") && e.to_string().contains("looks_like.wav"), "{e}");
}

#[cfg(unix)]
#[test]
fn unreadable_file_is_an_io_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("perm");
    let p = dir.path("secret.wav");
    std::fs::copy(fixture("ref_s16.wav"), &p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&p).is_ok() {
        eprintln!("running with privileges that ignore file permissions; skipping");
        return;
    }
    let e = err_of(probe(&p));
    assert_eq!(e.code(), "ERR_IO");
    assert!(e.to_string().contains("secret.wav"), "{e}");
}

#[test]
fn empty_file_is_empty_audio() {
    let e = err_of(probe(&fixture("empty.wav")));
    assert_eq!(e.code(), "ERR_EMPTY_AUDIO");
    assert!(e.to_string().contains("empty") && e.to_string().contains("empty.wav"), "{e}");
}

#[test]
fn random_bytes_are_an_unsupported_format() {
    let e = err_of(probe(&fixture("random_bytes.wav")));
    assert_eq!(e.code(), "ERR_UNSUPPORTED_FORMAT");
    assert!(e.to_string().contains("random_bytes.wav"), "{e}");
}

#[test]
fn unsupported_wav_codecs_are_named() {
    for (name, codec) in
        [("gsm610.wav", "GSM 6.10 (format tag 0x0031)"), ("ms_adpcm.wav", "Microsoft ADPCM (format tag 0x0002)")]
    {
        let e = err_of(FileSource::open(&fixture(name), &SourceOptions::default()));
        assert_eq!(e.code(), "ERR_UNSUPPORTED_FORMAT", "{name}");
        assert!(e.to_string().contains(codec) && e.to_string().contains(name), "{e}");
    }
}

/// A WAV file with a plain 16-byte fmt chunk and the given fields.
fn wav_bytes(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8], data_len_field: u32) -> Vec<u8> {
    let block_align = channels * bits.div_ceil(8);
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&tag.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
    v.extend_from_slice(&block_align.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len_field.to_le_bytes());
    v.extend_from_slice(data);
    v
}

#[test]
fn mp3_inside_wav_is_unsupported_and_named() {
    let dir = TempDir::new("mp3wav");
    let p = dir.path("mp3_in.wav");
    std::fs::write(&p, wav_bytes(0x0055, 2, 44100, 0, &[0u8; 400], 400)).unwrap();
    let e = err_of(probe(&p));
    assert_eq!(e.code(), "ERR_UNSUPPORTED_FORMAT");
    assert!(e.to_string().contains("MP3") && e.to_string().contains("0x0055"), "{e}");
}

#[test]
fn zero_channels_is_empty_audio() {
    let dir = TempDir::new("zeroch");
    let p = dir.path("zero_channels.wav");
    std::fs::write(&p, wav_bytes(1, 0, 44100, 16, &[0u8; 64], 64)).unwrap();
    let e = err_of(probe(&p));
    assert_eq!(e.code(), "ERR_EMPTY_AUDIO");
    assert!(e.to_string().contains("zero_channels.wav") && e.to_string().contains("0 channels"), "{e}");
}

#[test]
fn header_without_frames_makes_the_pipeline_report_empty_audio() {
    let dir = TempDir::new("noframes");
    let p = dir.path("no_frames.wav");
    std::fs::write(&p, wav_bytes(1, 2, 44100, 16, &[], 0)).unwrap();
    let info = probe(&p).unwrap();
    assert_eq!(info.frames, Some(0));
    let mut src = FileSource::open(&p, &SourceOptions::default()).unwrap();
    let mut buf = resonode_core::AudioBuffer::new(2, 64);
    assert_eq!(src.read(&mut buf).unwrap(), 0);
    src.rewind().unwrap();
    let out = dir.path("out.wav");
    let mut sink = WavSink::create(&out, WavEncoding::Int16);
    let e =
        run(&mut src, &mut Chain::default(), &mut sink, &PipelineOptions::default(), &Control::default(), &mut |_| {})
            .unwrap_err();
    assert_eq!(e.code(), "ERR_EMPTY_AUDIO");
    assert!(e.to_string().contains("no_frames.wav"), "{e}");
}

#[test]
fn streaming_wav_with_unknown_length_reads_to_the_end_without_error() {
    let dir = TempDir::new("streaming");
    let p = dir.path("piped.wav");
    let samples: Vec<u8> = (0..1000i16).flat_map(|s| (s * 30).to_le_bytes()).collect();
    let mut bytes = wav_bytes(1, 1, 8000, 16, &samples, u32::MAX);
    bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&p, bytes).unwrap();
    let (_, d) = decode(&p);
    assert_eq!(d[0].len(), 1000);
    assert_eq!(d[0][999], 999.0 * 30.0 / 32768.0);
}

#[test]
fn truncated_wav_delivers_every_intact_frame_and_warns() {
    let path = fixture("truncated_s16.wav");
    let r = reference();
    let info = probe(&path).unwrap();
    assert_eq!(info.frames, Some(15000), "frames actually present");
    assert_eq!(info.declared_frames, Some(44100));
    assert_eq!(info.warnings, ["the header declares 44100 frames but only 15000 could be decoded"]);
    let mut src = FileSource::open(&path, &SourceOptions::default()).unwrap();
    assert_eq!(src.total_frames(), Some(15000));
    let mut buf = resonode_core::AudioBuffer::new(2, 4000);
    let mut got = vec![Vec::new(); 2];
    loop {
        match src.read(&mut buf).unwrap() {
            0 => break,
            _ => (0..2).for_each(|c| got[c].extend_from_slice(buf.channel(c))),
        }
    }
    assert_eq!(got[0].len(), 15000);
    for c in 0..2 {
        assert_eq!(got[c], r[c][..15000]);
    }
    assert_eq!(src.warnings().len(), 1, "{:?}", src.warnings());
    assert_eq!(src.read(&mut buf).unwrap(), 0);
}

#[test]
fn truncated_wav_through_the_pipeline_keeps_everything_before_the_cut() {
    let dir = TempDir::new("trunc-pipe");
    let out = dir.path("out.wav");
    let mut src = FileSource::open(&fixture("truncated_s16.wav"), &SourceOptions::default()).unwrap();
    let mut sink = WavSink::create(&out, WavEncoding::Int16);
    let stats = run(
        &mut src,
        &mut Chain::default(),
        &mut sink,
        &PipelineOptions { chunk_frames: 4096 },
        &Control::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(stats.frames_processed, 15000);
    let (spec, d) = hound_read(&out);
    assert_eq!((spec.channels, spec.bits_per_sample), (2, 16));
    let r = reference();
    assert_eq!(d[0], r[0][..15000]);
    assert_eq!(d[1], r[1][..15000]);
}

#[test]
fn truncated_flac_delivers_what_decodes_and_warns() {
    let dir = TempDir::new("trunc-flac");
    let p = dir.path("cut.flac");
    let bytes = std::fs::read(fixture("flac16.flac")).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let mut src = FileSource::open(&p, &SourceOptions::default()).unwrap();
    let mut buf = resonode_core::AudioBuffer::new(2, 1000);
    let mut n = 0;
    loop {
        match src.read(&mut buf).unwrap() {
            0 => break,
            k => n += k,
        }
    }
    assert!(n > 20000 && n < 44100, "{n}");
    let want = format!("the header declares 44100 frames but only {n} could be decoded");
    assert_eq!(src.warnings(), std::slice::from_ref(&want));
    // probe counts the same frames without decoding them.
    let info = probe(&p).unwrap();
    assert_eq!((info.frames, info.declared_frames), (Some(n as u64), Some(44100)));
    assert_eq!(info.warnings, [want]);
    let r = reference();
    let d = {
        let mut s = FileSource::open(&p, &SourceOptions::default()).unwrap();
        let mut out = vec![Vec::new(); 2];
        let mut b = resonode_core::AudioBuffer::new(2, 1000);
        while let Ok(k) = s.read(&mut b) {
            if k == 0 {
                break;
            }
            (0..2).for_each(|c| out[c].extend_from_slice(b.channel(c)));
        }
        out
    };
    assert_eq!(d[0], r[0][..n]);
}

/// Flips 64 bytes in the middle of a fixture.
fn corrupt_middle(name: &str, dir: &TempDir) -> std::path::PathBuf {
    let mut bytes = std::fs::read(fixture(name)).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid..mid + 64].iter_mut().for_each(|b| *b ^= 0x5A);
    let p = dir.path(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn corrupt_flac_and_vorbis_packets_become_silence_and_keep_the_timing() {
    let dir = TempDir::new("corrupt");
    for name in ["flac16.flac", "vorbis_q5.ogg"] {
        let clean = decode(&fixture(name)).1;
        let (src, d) = decode(&corrupt_middle(name, &dir));
        assert_eq!(d[0].len(), clean[0].len(), "{name}: length kept");
        assert!(src.corrupt_packets() >= 1, "{name}");
        let lost = src.concealed_frames() as usize;
        assert!(lost > 0 && lost < 12000, "{name}: {lost} frames concealed");
        // Before and well after the damage the audio is bit-identical.
        let first = clean[0].iter().zip(&d[0]).position(|(a, b)| a != b).unwrap();
        let last = clean[0].iter().zip(&d[0]).rposition(|(a, b)| a != b).unwrap();
        assert!(first > 5000 && last < 40000 && last - first < 2 * lost + 4096, "{name}: differs in {first}..={last}");
        // The concealed stretch is silent (FLAC: exactly where the damaged
        // frame was; Ogg: possibly one page later, see FileSource's docs).
        let silent = d[0][first..=last].windows(lost).any(|w| w.iter().all(|&s| s == 0.0));
        assert!(silent, "{name}: no silent run of {lost} frames");
        if name.ends_with(".flac") {
            assert_eq!(last + 1 - first, lost, "FLAC conceals exactly the damaged frame");
        }
    }
}

#[test]
fn corrupt_mp3_frames_are_skipped_without_error() {
    let dir = TempDir::new("corrupt-mp3");
    let clean = decode(&fixture("mp3_128k.mp3")).1;
    let (src, d) = decode(&corrupt_middle("mp3_128k.mp3", &dir));
    // The MP3 demuxer resynchronises on its own and drops what it skips, so
    // the output may be shorter; everything before the damage is intact.
    assert!(d[0].len() > 40000 && d[0].len() <= clean[0].len(), "{}", d[0].len());
    assert_eq!(d[0][..20000], clean[0][..20000]);
    assert!(src.corrupt_packets() <= 3);
}

#[test]
fn id3_tagged_and_junk_prefixed_mp3_decode_like_the_original() {
    let dir = TempDir::new("id3");
    let clean = decode(&fixture("mp3_128k.mp3")).1;
    let mp3 = std::fs::read(fixture("mp3_128k.mp3")).unwrap();
    // ID3v2.4 tag: 10-byte header + 300 bytes of (padding) body, syncsafe size.
    let mut tagged = b"ID3\x04\x00\x00\x00\x00\x02\x2c".to_vec();
    tagged.extend(std::iter::repeat_n(0u8, 300));
    tagged.extend_from_slice(&mp3);
    let p = dir.path("tagged.mp3");
    std::fs::write(&p, tagged).unwrap();
    assert_eq!(decode(&p).1, clean);
    // 100 bytes of junk before the first frame: found because the name ends in .mp3.
    let mut junk = vec![0x11u8; 100];
    junk.extend_from_slice(&mp3);
    let p = dir.path("junk.mp3");
    std::fs::write(&p, &junk).unwrap();
    assert_eq!(decode(&p).1, clean);
    // The same bytes under another name are not guessed at.
    let p = dir.path("junk.bin");
    std::fs::write(&p, &junk).unwrap();
    assert_eq!(err_of(probe(&p)).code(), "ERR_UNSUPPORTED_FORMAT");
}

#[test]
fn other_containers_are_unsupported_with_a_clear_reason() {
    let dir = TempDir::new("others");
    for (name, bytes, needle) in [
        ("a.aiff", b"FORM\x00\x00\x00\x20SVX8VHDR".to_vec(), "SVX8"),
        ("a.mka", b"\x1a\x45\xdf\xa3\x00\x00\x00\x20matroska".to_vec(), "Matroska"),
        ("a.wav", b"RIFF\x24\x00\x00\x00AVI LIST".to_vec(), "AVI"),
        ("a.wav", b"RF64\xff\xff\xff\xffAVI ds64".to_vec(), "RF64"),
    ] {
        let p = dir.path(name);
        std::fs::write(&p, bytes).unwrap();
        let e = err_of(probe(&p));
        assert_eq!(e.code(), "ERR_UNSUPPORTED_FORMAT", "{name}");
        assert!(e.to_string().contains(needle), "{e}");
    }
    // A few bytes of a real header: truncated, not unsupported.
    let p = dir.path("stub.wav");
    std::fs::write(&p, b"RIFF\x10").unwrap();
    assert_eq!(err_of(probe(&p)).code(), "ERR_DECODE");
}

/// A tiny deterministic PRNG (xorshift64*), so the test needs no crates.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn two_hundred_garbled_files_give_ok_or_a_typed_error_never_a_panic() {
    let dir = TempDir::new("garble");
    let sources = [
        "ref_s16.wav",
        "pcm_u8.wav",
        "pcm_s24_ext.wav",
        "float32.wav",
        "ext_4ch_s16.wav",
        "flac16.flac",
        "mp3_128k.mp3",
        "vorbis_q5.ogg",
        "alaw.wav",
    ];
    let originals: Vec<Vec<u8>> = sources.iter().map(|n| std::fs::read(fixture(n)).unwrap()).collect();
    // RESONODE_IO_GARBLE_ITERS / _SEED run a longer or different campaign.
    let iters: usize = std::env::var("RESONODE_IO_GARBLE_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let seed: u64 =
        std::env::var("RESONODE_IO_GARBLE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5EED_1234_ABCD_0001);
    let mut rng = Rng(seed);
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..iters {
        let k = i % sources.len();
        let mut bytes = originals[k].clone();
        match rng.below(4) {
            // Truncate anywhere (header included).
            0 => bytes.truncate(rng.below(bytes.len())),
            // Flip bytes anywhere.
            1 => {
                for _ in 0..1 + rng.below(40) {
                    let at = rng.below(bytes.len());
                    bytes[at] ^= 1 + rng.below(255) as u8;
                }
            }
            // Flip bytes in the first 128 bytes (the headers).
            2 => {
                for _ in 0..1 + rng.below(6) {
                    let at = rng.below(128.min(bytes.len()));
                    bytes[at] = rng.next() as u8;
                }
            }
            // Both, and overwrite a run with noise.
            _ => {
                let at = rng.below(bytes.len());
                let len = rng.below(2000).min(bytes.len() - at);
                bytes[at..at + len].iter_mut().for_each(|b| *b = rng.next() as u8);
                bytes.truncate(bytes.len() - rng.below(bytes.len() / 4));
            }
        }
        let p = dir.path(&format!("g{i}-{}", sources[k]));
        std::fs::write(&p, &bytes).unwrap();
        let opts = SourceOptions {
            sample_rate: if i % 3 == 0 { Some(48000) } else { None },
            channels: if i % 5 == 0 { ChannelSelection::Mono } else { ChannelSelection::All },
        };
        let outcome = std::panic::catch_unwind(|| -> resonode_core::Result<u64> {
            let _ = probe(&p);
            let mut src = FileSource::open(&p, &opts)?;
            let mut buf = resonode_core::AudioBuffer::new(src.channels(), 3000);
            let mut frames = 0u64;
            loop {
                let n = src.read(&mut buf)?;
                if n == 0 {
                    return Ok(frames);
                }
                frames += n as u64;
                assert!(frames < 10_000_000, "runaway output");
            }
        });
        let key = match outcome {
            Err(_) => panic!("variant {i} ({}) panicked", sources[k]),
            Ok(Ok(_)) => "ok".to_string(),
            Ok(Err(e)) => {
                if e.to_string().contains("the decoder failed on malformed data") {
                    eprintln!("caught decoder panic: {e}");
                }
                // Damaged data is never an OS-level I/O error or a bug.
                assert!(!matches!(e.code(), "ERR_IO" | "ERR_INTERNAL" | "ERR_NOT_FOUND"), "variant {i}: {e}");
                // NonFiniteSample (NaN met by the resampler) has no path field in core.
                assert!(e.to_string().contains(&format!("g{i}-")) || e.code() == "ERR_NON_FINITE_SAMPLE", "{e}");
                e.code().to_string()
            }
        };
        *counts.entry(key).or_default() += 1;
    }
    eprintln!("garbled outcomes: {counts:?}");
    assert_eq!(counts.values().sum::<usize>(), iters);
}
