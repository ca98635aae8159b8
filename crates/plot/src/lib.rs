//! # resonode-plot
//!
//! Pictures of an audio file, from one streaming pass over it: a waveform
//! overview with the beat grid, a log-frequency spectrogram, a chromagram
//! with the detected key and short-term loudness over time, titled with the
//! tempo, key / Camelot code and integrated loudness. PNG or SVG, rendered
//! with `plotters` and a bundled subset of DejaVu Sans (no system fonts).
//!
//! [`plot_file`] decodes the file once through
//! [`analyze_file_with_blocks`](resonode_analysis::analyze_file_with_blocks):
//! the [`TrackAnalyzer`](resonode_analysis::TrackAnalyzer) gives the
//! descriptors and the chroma, a [`collect::Collector`] hook accumulates the
//! rest per time bin (see [`bins`]), so memory is O(width x rows) whatever
//! the length of the file.
//!
//! ## Real-time safety
//! None of this runs in an audio callback (decoding, FFTs, allocation, file
//! I/O).
#![deny(unsafe_op_in_unsafe_fn)]

pub mod bins;
pub mod collect;
mod font;
mod render;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::cell::RefCell;

use resonode_analysis::key::Mode;
use resonode_analysis::{
    analyze_file_with_blocks, AnalysisConfig, AnalyzeOptions, TrackDescriptors,
};
use resonode_core::{Error, Result};

pub use render::{
    BEAT_COLOUR, DOWNBEAT_COLOUR, INTEGRATED_LUFS_COLOUR, KEY_COLOUR, LOUDNESS_COLOUR,
    WAVEFORM_COLOUR, WAVEFORM_RMS_COLOUR,
};

/// Default image width (px).
pub const DEFAULT_WIDTH: u32 = 1600;
/// Accepted image widths (px).
pub const WIDTH_RANGE: std::ops::RangeInclusive<u32> = 400..=8192;

/// A panel of the plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Panel {
    /// Min/max envelope of all channels (full scale = ±1), RMS inside.
    Waveform,
    /// Log-frequency spectrogram of the mono analysis signal, dB colours.
    Spectrogram,
    /// 12 pitch classes (C..B) over time, the key's tonic marked.
    Chroma,
    /// The beat grid (beats thin, downbeats thick) over the waveform panel
    /// (which is drawn for it when not asked for).
    Beats,
    /// Short-term loudness (LUFS, 3 s window) and the integrated loudness.
    Loudness,
}

impl Panel {
    /// All panels, in drawing order: the default `show`.
    pub const ALL: [Panel; 5] = [
        Panel::Waveform,
        Panel::Spectrogram,
        Panel::Chroma,
        Panel::Beats,
        Panel::Loudness,
    ];

    /// The panel's name (`waveform`, `spectrogram`, `chroma`, `beats`, `loudness`).
    pub fn name(self) -> &'static str {
        match self {
            Panel::Waveform => "waveform",
            Panel::Spectrogram => "spectrogram",
            Panel::Chroma => "chroma",
            Panel::Beats => "beats",
            Panel::Loudness => "loudness",
        }
    }

    /// The panel called `name`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`show`) naming the accepted panels.
    pub fn parse(name: &str) -> Result<Panel> {
        Panel::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                Error::param(
                    "show",
                    format!(
                        "unknown panel {name:?}; accepted: {}",
                        Panel::ALL.map(Panel::name).join(", ")
                    ),
                )
            })
    }
}

/// Image format, from the output file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotFormat {
    Png,
    Svg,
}

impl PlotFormat {
    /// `png` or `svg`.
    pub fn name(self) -> &'static str {
        match self {
            PlotFormat::Png => "png",
            PlotFormat::Svg => "svg",
        }
    }

    /// The format of `out` from its extension (`.png` / `.svg`, any case).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`out`) for any other extension.
    pub fn of_path(out: &Path) -> Result<PlotFormat> {
        match out
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => Ok(PlotFormat::Png),
            Some("svg") => Ok(PlotFormat::Svg),
            _ => Err(Error::param(
                "out",
                format!("{}: the extension must be .png or .svg", out.display()),
            )),
        }
    }
}

/// What to plot and where.
#[derive(Debug, Clone)]
pub struct PlotOptions {
    /// Output file; its extension gives the format.
    pub out: PathBuf,
    /// Panels, in any order (drawn in [`Panel::ALL`]'s order; duplicates
    /// ignored). Empty: all.
    pub show: Vec<Panel>,
    /// Image width in px ([`WIDTH_RANGE`]); the height follows from the panels.
    pub width: u32,
    /// Analysis settings (the spectrogram uses their rate, `n_fft` and hop).
    pub config: AnalysisConfig,
}

impl PlotOptions {
    /// Defaults: all panels, [`DEFAULT_WIDTH`], the default analysis.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        PlotOptions {
            out: out.into(),
            show: Vec::new(),
            width: DEFAULT_WIDTH,
            config: AnalysisConfig::default(),
        }
    }
}

/// What is drawn over the audio: the analysis' findings (from the file's
/// own analysis, or given by the caller).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotations {
    pub tempo_bpm: Option<f64>,
    /// Beat and downbeat times (s).
    pub beats_s: Vec<f64>,
    pub downbeats_s: Vec<f64>,
    /// Key: tonic pitch class (0 = C .. 11 = B), mode, Camelot code.
    pub key: Option<(u8, Mode, String)>,
    /// Integrated loudness (LUFS).
    pub integrated_lufs: Option<f64>,
}

impl From<&TrackDescriptors> for Annotations {
    fn from(d: &TrackDescriptors) -> Self {
        Annotations {
            tempo_bpm: d.tempo.map(|t| t.bpm),
            beats_s: d.beats_s.clone(),
            downbeats_s: d.downbeats_s.clone(),
            key: d.key.map(|k| (k.tonic, k.mode, k.camelot())),
            integrated_lufs: d.loudness.integrated_lufs,
        }
    }
}

/// Where a panel's plotting area is in the image, and what it spans.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelLayout {
    pub panel: Panel,
    /// Plotting area (without axes) in px: left, top, width, height. Time
    /// `t` is at column `x + floor((t - time_start_s) / (time_end_s -
    /// time_start_s) * width)`.
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub time_start_s: f64,
    pub time_end_s: f64,
    /// Spectrogram: the frequency axis, logarithmic: `f` is at row
    /// `y + height * (1 - ln(f / f_min) / ln(f_max / f_min))`.
    pub f_min_hz: Option<f64>,
    pub f_max_hz: Option<f64>,
    pub log_frequency: bool,
}

/// The written image and its layout.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotLayout {
    pub out: PathBuf,
    pub format: PlotFormat,
    pub width: u32,
    pub height: u32,
    pub duration_s: f64,
    pub panels: Vec<PanelLayout>,
}

/// The panels to draw for `show`, in order (`beats` folds into the
/// waveform panel).
fn drawn_panels(show: &[Panel]) -> Vec<Panel> {
    let show: &[Panel] = if show.is_empty() { &Panel::ALL } else { show };
    [
        Panel::Waveform,
        Panel::Spectrogram,
        Panel::Chroma,
        Panel::Loudness,
    ]
    .into_iter()
    .filter(|p| show.contains(p) || (*p == Panel::Waveform && show.contains(&Panel::Beats)))
    .collect()
}

/// Checks the options before any decoding.
///
/// # Errors
/// [`Error::InvalidParameter`] for the extension of `out` or the width.
pub fn check_options(opts: &PlotOptions) -> Result<PlotFormat> {
    if !WIDTH_RANGE.contains(&opts.width) {
        return Err(Error::param(
            "width",
            format!(
                "{} px is outside {}..={}",
                opts.width,
                WIDTH_RANGE.start(),
                WIDTH_RANGE.end()
            ),
        ));
    }
    opts.config.validate()?;
    PlotFormat::of_path(&opts.out)
}

/// Plots the file at `path` into `opts.out` and returns the layout and the
/// file's analysis. The drawn beats, tempo, key and loudness are
/// `annotations` when given, else the analysis'. `on_progress` gets the
/// fraction decoded (NaN when the length is unknown); `stop` ends early
/// with [`Error::InvalidState`].
///
/// The image is written to a temporary file next to `out`, then renamed:
/// a failure never leaves a partial image.
///
/// # Errors
/// [`Error::InvalidParameter`] for the options (checked first); the
/// decoding and analysis errors of
/// [`analyze_file`](resonode_analysis::analyze_file) ([`Error::NotFound`],
/// [`Error::UnsupportedFormat`], [`Error::Decode`], [`Error::EmptyAudio`],
/// ...); [`Error::Io`] naming `out` when writing fails.
pub fn plot_file(
    path: &Path,
    opts: &PlotOptions,
    annotations: Option<Annotations>,
    stop: &AtomicBool,
    on_progress: impl FnMut(f64),
) -> Result<(PlotLayout, TrackDescriptors)> {
    let format = check_options(opts)?;
    let collector = RefCell::new(collect::Collector::new(
        opts.config.clone(),
        opts.width as usize,
    ));
    let mut hook = CollectorHook(&collector);
    let d = analyze_file_with_blocks(
        path,
        &AnalyzeOptions {
            config: opts.config.clone(),
            block_frames: None,
        },
        stop,
        on_progress,
        |f| {
            collector.borrow_mut().frames(f);
            Ok(())
        },
        &mut hook,
    )?;
    let data = collector
        .into_inner()
        .finish()?
        .ok_or_else(|| Error::Internal {
            message: "the plot saw no audio".into(),
        })?;
    let ann = annotations.unwrap_or_else(|| Annotations::from(&d));
    let title_name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let (bytes, layout) = render_data(&data, &ann, &title_name, &opts.show, opts.width, format)?;
    write_atomically(&opts.out, &bytes)?;
    Ok((
        PlotLayout {
            out: opts.out.clone(),
            format,
            ..layout
        },
        d,
    ))
}

/// The collector as the analysis' block hook (the frame callback adds the
/// chroma to the same collector, hence the shared reference; both are
/// called one after the other on the analysing thread, never nested).
struct CollectorHook<'a>(&'a RefCell<collect::Collector>);

impl resonode_analysis::DecodedBlocks for CollectorHook<'_> {
    fn start(
        &mut self,
        sample_rate: u32,
        channels: usize,
        total_frames: Option<u64>,
    ) -> Result<()> {
        self.0.borrow_mut().start(sample_rate, channels, total_frames)
    }
    fn block(&mut self, planar: &[&[f32]]) -> Result<()> {
        self.0.borrow_mut().block(planar)
    }
}

/// Writes `bytes` to a temporary file in `out`'s directory, then renames
/// it over `out`.
fn write_atomically(out: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| Error::Io {
        path: out.display().to_string(),
        reason: e.to_string(),
    };
    let name = out
        .file_name()
        .ok_or_else(|| Error::param("out", format!("{}: not a file name", out.display())))?;
    let tmp = out.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, out));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

/// Renders `data` without a file (for tests and benchmarks): the encoded
/// image and its layout.
///
/// # Errors
/// [`Error::Internal`] when drawing fails.
pub fn render_data(
    data: &collect::PlotData,
    annotations: &Annotations,
    title: &str,
    show: &[Panel],
    width: u32,
    format: PlotFormat,
) -> Result<(Vec<u8>, PlotLayout)> {
    render::render(
        data,
        annotations,
        title,
        &drawn_panels(show),
        show.is_empty() || show.contains(&Panel::Beats),
        width,
        format,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::Collector;
    use resonode_analysis::DecodedBlocks;

    fn sine_data(hz: f32, seconds: f32, rate: u32) -> collect::PlotData {
        let n = (seconds * rate as f32) as usize;
        let s: Vec<f32> = (0..n)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin())
            .collect();
        let mut c = Collector::new(AnalysisConfig::default(), 800);
        c.start(rate, 2, Some(n as u64)).unwrap();
        for chunk in s.chunks(10_000) {
            c.block(&[chunk, chunk]).unwrap();
        }
        c.finish().unwrap().unwrap()
    }

    fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut r = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        let info = r.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    /// Row of the brightest (summed RGB) pixels of the spectrogram panel.
    fn brightest_row(rgb: &[u8], width: u32, p: &PanelLayout) -> u32 {
        (p.y..p.y + p.height)
            .max_by_key(|&y| {
                (p.x + p.width / 4..p.x + 3 * p.width / 4)
                    .map(|x| {
                        let i = ((y * width + x) * 3) as usize;
                        u32::from(rgb[i]) + u32::from(rgb[i + 1]) + u32::from(rgb[i + 2])
                    })
                    .sum::<u32>()
            })
            .unwrap()
    }

    fn row_of(p: &PanelLayout, hz: f64) -> f64 {
        let (lo, hi) = (p.f_min_hz.unwrap(), p.f_max_hz.unwrap());
        f64::from(p.y) + f64::from(p.height) * (1.0 - (hz / lo).ln() / (hi / lo).ln())
    }

    #[test]
    fn png_of_a_synthetic_signal_has_the_requested_size() {
        let data = sine_data(1000.0, 3.0, 44_100);
        let ann = Annotations {
            tempo_bpm: Some(120.0),
            beats_s: vec![0.5, 1.0, 1.5, 2.0],
            downbeats_s: vec![0.5],
            ..Default::default()
        };
        for width in [400, 1000] {
            let (bytes, layout) =
                render_data(&data, &ann, "sine.wav", &[], width, PlotFormat::Png).unwrap();
            let (w, h, _) = decode_png(&bytes);
            assert_eq!((w, h), (width, layout.height));
            assert_eq!(
                layout
                    .panels
                    .iter()
                    .map(|p| p.panel.name())
                    .collect::<Vec<_>>(),
                ["waveform", "spectrogram", "chroma", "loudness"]
            );
            for p in &layout.panels {
                assert!(p.x + p.width <= w && p.y + p.height <= h, "{p:?}");
                assert!((p.time_end_s - 3.0).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn log_frequency_rows_put_a_tone_at_its_frequency() {
        for hz in [200.0f32, 1000.0, 4000.0] {
            let data = sine_data(hz, 2.0, 48_000);
            let (bytes, layout) = render_data(
                &data,
                &Annotations::default(),
                "t",
                &[Panel::Spectrogram],
                800,
                PlotFormat::Png,
            )
            .unwrap();
            let (w, _, rgb) = decode_png(&bytes);
            let p = &layout.panels[0];
            assert!(p.log_frequency);
            let band_px = f64::from(p.height) / collect::SPECTROGRAM_BANDS as f64;
            let row = f64::from(brightest_row(&rgb, w, p)) + 0.5;
            assert!(
                (row - row_of(p, f64::from(hz))).abs() <= band_px.max(1.0) + 0.5,
                "{hz} Hz: row {row}, expected {}",
                row_of(p, f64::from(hz))
            );
        }
    }

    #[test]
    fn beat_grid_columns() {
        let data = sine_data(440.0, 4.0, 22_050);
        let beats: Vec<f64> = (1..8).map(|i| f64::from(i) * 0.5).collect();
        let ann = Annotations {
            beats_s: beats.clone(),
            downbeats_s: vec![0.5, 2.5],
            ..Default::default()
        };
        let (bytes, layout) =
            render_data(&data, &ann, "t", &[Panel::Beats], 1000, PlotFormat::Png).unwrap();
        let (w, _, rgb) = decode_png(&bytes);
        let p = &layout.panels[0];
        assert_eq!(p.panel, Panel::Waveform);
        let px = |x: u32, y: u32| {
            let i = ((y * w + x) * 3) as usize;
            RGBColour(rgb[i], rgb[i + 1], rgb[i + 2])
        };
        #[derive(PartialEq, Debug)]
        struct RGBColour(u8, u8, u8);
        let colour = |c: plotters::style::RGBColor| RGBColour(c.0, c.1, c.2);
        let x_of = |t: f64| p.x + (t / p.time_end_s * f64::from(p.width)).floor() as u32;
        for (i, &t) in beats.iter().enumerate() {
            let want = if ann.downbeats_s.contains(&t) {
                colour(DOWNBEAT_COLOUR)
            } else {
                colour(BEAT_COLOUR)
            };
            assert_eq!(px(x_of(t), p.y + 2), want, "beat {i} at {t} s");
            assert_ne!(px(x_of(t + 0.25), p.y + 2), colour(BEAT_COLOUR));
        }
    }

    #[test]
    fn svg_embeds_heat_maps_and_the_title() {
        let data = sine_data(1000.0, 2.0, 44_100);
        let ann = Annotations {
            tempo_bpm: Some(128.0),
            key: Some((9, Mode::Minor, "8A".into())),
            integrated_lufs: Some(-9.5),
            ..Default::default()
        };
        let (bytes, layout) = render_data(&data, &ann, "x.wav", &[], 600, PlotFormat::Svg).unwrap();
        let svg = String::from_utf8(bytes).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(
            svg.contains("x.wav — 128.0 BPM — A minor (8A) — -9.5 LUFS"),
            "{}",
            &svg[..500]
        );
        assert_eq!(svg.matches("<image ").count(), 2);
        assert!(!svg.contains("resonode-heatmap"));
        assert!(svg.contains(&format!("height=\"{}\"", layout.height)));
    }

    #[test]
    fn options_are_checked() {
        let mut o = PlotOptions::new("/tmp/x.jpg");
        assert!(
            matches!(check_options(&o), Err(Error::InvalidParameter { name, .. }) if name == "out")
        );
        o.out = "/tmp/x.PNG".into();
        assert_eq!(check_options(&o).unwrap(), PlotFormat::Png);
        o.width = 399;
        assert!(
            matches!(check_options(&o), Err(Error::InvalidParameter { name, .. }) if name == "width")
        );
        match Panel::parse("spectrum") {
            Err(Error::InvalidParameter { reason, .. }) => assert!(
                reason.contains("waveform, spectrogram, chroma, beats, loudness"),
                "{reason}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plots_a_real_recording_in_one_pass() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/music.wav");
        let dir = std::env::temp_dir().join(format!("resonode-plot-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("music.png");
        let (layout, d) = plot_file(
            &path,
            &PlotOptions::new(&out),
            None,
            &AtomicBool::new(false),
            |_| {},
        )
        .unwrap();
        let (w, h, _) = decode_png(&std::fs::read(&out).unwrap());
        assert_eq!((w, h), (DEFAULT_WIDTH, layout.height));
        assert!((layout.duration_s - d.duration_s).abs() < 1e-6);
        // Only the image is left in the directory: no temporary file.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let missing = plot_file(
            &dir.join("nope.wav"),
            &PlotOptions::new(dir.join("n.png")),
            None,
            &AtomicBool::new(false),
            |_| {},
        );
        assert!(
            matches!(missing, Err(Error::NotFound { .. })),
            "{missing:?}"
        );
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
