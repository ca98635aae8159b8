//! Runs every file of the broken-and-odd corpus (`__test__/corpus/`, made by
//! `scripts/make-corpus.mjs`) through `probe` and a full decode to a WAV
//! file, each in a child process, and checks: a typed error or success as
//! `expect.json` says, no signal, bounded time and memory, and output that
//! sox reads with the frame count decoding reported.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use resonode_core::pipeline::{run, Control, PipelineOptions};
use resonode_core::{Chain, Source};
use resonode_io::{open_sink, probe, FileSource, OutputFormat, SourceOptions};

const CHILD_ENV: &str = "RESONODE_CORPUS_FILE";
const TIME_LIMIT: Duration = Duration::from_secs(30);
/// Peak resident memory allowed for one file (the test binary's own baseline included).
const MEMORY_LIMIT_KB: u64 = 400 * 1024;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../__test__/corpus")
}

/// `expect.json`: one `"name": value` per line.
fn expectations() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(corpus_dir().join("expect.json")).unwrap();
    text.lines()
        .filter_map(|l| {
            let l = l.trim().trim_end_matches(',');
            let (k, v) = l.split_once("\": ")?;
            Some((k.trim_start_matches('"').to_string(), v.to_string()))
        })
        .collect()
}

fn json_num(v: &str, key: &str) -> Option<u64> {
    let at = v.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &v[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l[6..].trim().trim_end_matches(" kB").trim().parse().unwrap_or(0)))
        .unwrap_or(0)
}

/// What one file gives: `info` (probe + decode everything, as `resonode
/// info` does) and `process` (decode to a WAV file).
fn run_one(path: &Path, out: &Path) -> String {
    let info = match probe(path) {
        Ok(i) => i,
        Err(e) => return format!("ERR {} msg={:?}", e.code(), e.to_string()),
    };
    let mut src = match FileSource::open(path, &SourceOptions::default()) {
        Ok(s) => s,
        Err(e) => return format!("ERR {} msg={:?}", e.code(), e.to_string()),
    };
    let format = match OutputFormat::for_path(out, None, Some(&info)) {
        Ok(f) => f,
        Err(e) => return format!("ERR {} msg={:?}", e.code(), e.to_string()),
    };
    let mut sink = open_sink(out, format);
    let stats = run(&mut src, &mut Chain::default(), sink.as_mut(), &PipelineOptions::default(), &Control::default(), &mut |_| {});
    match stats {
        Ok(s) => format!(
            "OK frames={} probe_frames={} declared={} warnings={} src_warnings={} total={}",
            s.frames_processed,
            info.frames.map_or("none".into(), |f| f.to_string()),
            info.declared_frames.map_or("none".into(), |f| f.to_string()),
            info.warnings.len(),
            src.warnings().len(),
            src.total_frames().map_or("none".into(), |f| f.to_string()),
        ),
        Err(e) => format!("ERR {} msg={:?}", e.code(), e.to_string()),
    }
}

#[test]
fn corpus_child() {
    // Runs only as the child of `every_corpus_file_gives_a_typed_result`.
    let Ok(file) = std::env::var(CHILD_ENV) else { return };
    let out = std::env::temp_dir().join(format!("resonode-corpus-{}.wav", std::process::id()));
    let result = run_one(Path::new(&file), &out);
    println!("RESULT {result} hwm_kb={} out={}", peak_rss_kb(), out.display());
    if let Ok(i) = probe(Path::new(&file)) {
        println!("INFO {i:?}");
    }
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

fn sox_frames(path: &str) -> u64 {
    let out = Command::new("sox").args(["--i", "-s", path]).output().expect("sox must be installed (scripts/system-deps.sh)");
    assert!(out.status.success(), "sox cannot read {path}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn every_corpus_file_gives_a_typed_result() {
    let exe = std::env::current_exe().unwrap();
    let expect = expectations();
    assert!(expect.len() >= 40, "the corpus lists {} files", expect.len());
    let mut failures = Vec::new();
    for (name, want) in &expect {
        let path = corpus_dir().join(name);
        assert!(path.exists(), "{name} is listed in expect.json but missing");
        let started = Instant::now();
        let mut child = Command::new(&exe)
            .args(["--exact", "corpus_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > TIME_LIMIT {
                child.kill().ok();
                child.wait().ok();
                panic!("{name}: still running after {TIME_LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        // A panic, abort or signal shows as a failed status (no signal: the code exists).
        assert!(status.code().is_some(), "{name}: killed by a signal ({status:?})");
        assert!(status.success(), "{name}: the child failed ({status:?}): {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        let line = stdout.lines().find_map(|l| l.find("RESULT ").map(|i| &l[i..])).unwrap_or_else(|| panic!("{name}: no result: {stdout}"));
        let hwm: u64 = field(line, "hwm_kb").unwrap().parse().unwrap();
        assert!(hwm < MEMORY_LIMIT_KB, "{name}: peak memory {hwm} kB");
        let out_path = field(line, "out").unwrap().to_string();
        let got_ok = line.starts_with("RESULT OK");
        let check = || -> Result<(), String> {
            if want == "\"any\"" {
                return Ok(());
            }
            if let Some(code) = want.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
                return match line.strip_prefix("RESULT ERR ") {
                    Some(rest) if rest.starts_with(code) => Ok(()),
                    _ => Err(format!("expected {code}, got {line}")),
                };
            }
            if !got_ok {
                return Err(format!("expected success {want}, got {line}"));
            }
            let frames: u64 = field(line, "frames").unwrap().parse().unwrap();
            if frames == 0 {
                return Err(format!("success with 0 frames: {line}"));
            }
            if field(line, "probe_frames") != Some(&frames.to_string()) {
                return Err(format!("probe frames differ from the decoded count: {line}"));
            }
            if field(line, "total") != Some(&frames.to_string()) {
                return Err(format!("total_frames differs from the decoded count: {line}"));
            }
            if let Some(n) = json_num(want, "frames") {
                if frames != n {
                    return Err(format!("expected {n} frames: {line}"));
                }
            }
            if let Some(n) = json_num(want, "maxFrames") {
                if frames > n {
                    return Err(format!("expected at most {n} frames: {line}"));
                }
            }
            if let Some(n) = json_num(want, "minFrames") {
                if frames < n {
                    return Err(format!("expected at least {n} frames: {line}"));
                }
            }
            if let Some(n) = json_num(want, "declared") {
                if field(line, "declared") != Some(&n.to_string()) {
                    return Err(format!("expected declared {n}: {line}"));
                }
                if field(line, "warnings") == Some("0") || field(line, "src_warnings") == Some("0") {
                    return Err(format!("expected a length warning: {line}"));
                }
            }
            let sox = sox_frames(&out_path);
            if sox != frames {
                return Err(format!("sox reads {sox} frames from the output, decoding gave {frames}"));
            }
            Ok(())
        };
        if let Err(e) = check() {
            failures.push(format!("{name}: {e}\n    {}", stdout.lines().filter(|l| l.starts_with("INFO")).collect::<Vec<_>>().join("")));
        }
        std::fs::remove_file(&out_path).ok();
    }
    assert!(failures.is_empty(), "{} of {} corpus files:\n{}", failures.len(), expect.len(), failures.join("\n"));
}
