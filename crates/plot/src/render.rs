//! Drawing: the layout of the panels, their axes (plotters' charts) and
//! their contents, drawn in pixel coordinates of each plotting area so the
//! returned layout maps times and frequencies to pixels exactly.

use plotters::coord::Shift;
use plotters::element::BitMapElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use resonode_core::{Error, Result};

use resonode_analysis::band_spectrum::band_power_db;

use crate::collect::{self, PlotData, SPECTROGRAM_BANDS, SPECTROGRAM_F_MIN_HZ};
use crate::font::{self, FAMILY};
use crate::{Annotations, Panel, PanelLayout, PlotFormat, PlotLayout};

/// Waveform envelope (min..max per pixel column).
pub const WAVEFORM_COLOUR: RGBColor = RGBColor(120, 160, 205);
/// RMS band inside the envelope.
pub const WAVEFORM_RMS_COLOUR: RGBColor = RGBColor(40, 80, 140);
/// Beat lines (1 px) over the waveform.
pub const BEAT_COLOUR: RGBColor = RGBColor(255, 140, 0);
/// Downbeat lines (3 px, centred on the beat) over the waveform.
pub const DOWNBEAT_COLOUR: RGBColor = RGBColor(214, 0, 80);
/// Short-term loudness line.
pub const LOUDNESS_COLOUR: RGBColor = RGBColor(30, 110, 60);
/// Integrated loudness (dashed).
pub const INTEGRATED_LUFS_COLOUR: RGBColor = RGBColor(200, 40, 40);
/// Outline and label of the key's tonic row in the chromagram.
pub const KEY_COLOUR: RGBColor = RGBColor(0, 200, 255);

const TEXT: RGBColor = RGBColor(30, 30, 30);
const GRID: RGBColor = RGBColor(225, 225, 225);

const TITLE_H: u32 = 44;
const LEFT: u32 = 86;
/// Left of the y-axis description (plotters draws it at the edge of the label area).
const MARGIN_LEFT: u32 = 12;
const RIGHT: u32 = 100;
const CAPTION_H: u32 = 22;
const XLABEL_H: u32 = 34;
const BOTTOM: u32 = 6;

/// dB range of the spectrogram's colour scale, below its loudest band.
const SPECTROGRAM_RANGE_DB: f64 = 80.0;

fn area_height(p: Panel) -> u32 {
    match p {
        Panel::Waveform | Panel::Beats => 180,
        Panel::Spectrogram => 240,
        Panel::Chroma => 144,
        Panel::Loudness => 150,
    }
}

fn draw_err(e: impl std::fmt::Display) -> Error {
    Error::Internal {
        message: format!("drawing the plot: {e}"),
    }
}

/// Levels of the colour maps.
const COLOUR_LEVELS: f64 = SPECTROGRAM_RANGE_DB;

/// Inferno-like colour map (anchors of matplotlib's `inferno`), `v` in 0..1.
pub(crate) fn colour_map(v: f64) -> [u8; 3] {
    const ANCHORS: [[f64; 3]; 8] = [
        [0.0, 0.0, 4.0],
        [40.0, 11.0, 84.0],
        [101.0, 21.0, 110.0],
        [159.0, 42.0, 99.0],
        [212.0, 72.0, 66.0],
        [245.0, 125.0, 21.0],
        [250.0, 193.0, 39.0],
        [252.0, 255.0, 164.0],
    ];
    let v = if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    };
    // Discrete levels (1 dB apart over the spectrogram's range): finer steps
    // are invisible and only make the PNG larger.
    let v = (v * COLOUR_LEVELS).round() / COLOUR_LEVELS;
    let x = v * (ANCHORS.len() - 1) as f64;
    let i = (x.floor() as usize).min(ANCHORS.len() - 2);
    let f = x - i as f64;
    let mut out = [0u8; 3];
    for (c, o) in out.iter_mut().enumerate() {
        *o = (ANCHORS[i][c] + (ANCHORS[i + 1][c] - ANCHORS[i][c]) * f).round() as u8;
    }
    out
}

fn time_label(duration_s: f64) -> impl Fn(&f64) -> String {
    move |&t| {
        if duration_s > 120.0 {
            let s = t.max(0.0).round() as u64;
            format!("{}:{:02}", s / 60, s % 60)
        } else if duration_s > 10.0 {
            format!("{t:.0}")
        } else {
            format!("{t:.1}")
        }
    }
}

fn hz_label(f: &f64) -> String {
    if *f >= 1000.0 {
        format!("{}k", (f / 1000.0 * 10.0).round() / 10.0)
    } else {
        format!("{}", f.round())
    }
}

/// Per pixel column: the bins it covers, combined.
struct Columns {
    values: Vec<Vec<f64>>,
}

impl Columns {
    fn new(data: &PlotData, width: u32, duration_s: f64) -> Columns {
        let fpb = data.bins.frames_per_bin() as f64;
        let frames = duration_s * f64::from(data.sample_rate);
        let mut values = Vec::with_capacity(width as usize);
        let mut buf = vec![0.0; data.bins.stride()];
        for c in 0..width {
            let f0 = frames * f64::from(c) / f64::from(width);
            let f1 = frames * f64::from(c + 1) / f64::from(width);
            let b0 = (f0 / fpb).floor() as usize;
            let b1 = ((f1 / fpb).ceil() as usize).max(b0 + 1);
            data.bins.combined(b0..b1, &mut buf);
            values.push(buf.clone());
        }
        Columns { values }
    }
}

/// Renders the plot: the encoded image and its layout (`out` left empty).
pub(crate) fn render(
    data: &PlotData,
    ann: &Annotations,
    title: &str,
    panels: &[Panel],
    beats: bool,
    width: u32,
    format: PlotFormat,
) -> Result<(Vec<u8>, PlotLayout)> {
    font::ensure_registered()?;
    let height = TITLE_H
        + panels
            .iter()
            .map(|&p| CAPTION_H + area_height(p) + XLABEL_H)
            .sum::<u32>()
        + BOTTOM;
    let duration_s = data.frames as f64 / f64::from(data.sample_rate);
    let mut layout = PlotLayout {
        out: Default::default(),
        format,
        width,
        height,
        duration_s,
        panels: Vec::new(),
    };
    let title = title_text(title, ann);
    let scene = Scene {
        data,
        ann,
        title: &title,
        panels,
        beats,
        duration_s,
    };
    match format {
        PlotFormat::Png => {
            let mut rgb = vec![255u8; width as usize * height as usize * 3];
            {
                let root =
                    BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
                draw(&root, &scene, &mut layout, &mut |area, (w, h), buf| {
                    let element =
                        BitMapElement::<(i32, i32)>::with_owned_buffer((0, 0), (w, h), buf)
                            .ok_or_else(|| draw_err("heat map buffer size"))?;
                    area.draw(&element).map_err(draw_err)
                })?;
                root.present().map_err(draw_err)?;
            }
            Ok((encode_png(&rgb, width, height)?, layout))
        }
        PlotFormat::Svg => {
            let mut svg = String::new();
            let mut images = Vec::new();
            {
                let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
                draw(&root, &scene, &mut layout, &mut |area, (w, h), buf| {
                    // plotters' SVG backend embeds bitmaps through the image
                    // crate; a placeholder text element marks where the
                    // heat map goes in drawing order, replaced below.
                    let marker = format!("resonode-heatmap-{}", images.len());
                    let (x, y) = area.get_base_pixel();
                    area.draw_text(
                        &marker,
                        &(FAMILY, 1).into_font().color(&TEXT).into_text_style(area),
                        (0, 0),
                    )
                    .map_err(draw_err)?;
                    images.push((marker, x, y, w, h, encode_png(&buf, w, h)?));
                    Ok(())
                })?;
                root.present().map_err(draw_err)?;
            }
            for (marker, x, y, w, h, png) in images {
                use base64::Engine as _;
                let image = format!(
                    r#"<image x="{x}" y="{y}" width="{w}" height="{h}" preserveAspectRatio="none" style="image-rendering:pixelated" href="data:image/png;base64,{}"/>"#,
                    base64::engine::general_purpose::STANDARD.encode(png)
                );
                svg = replace_text_element(&svg, &marker, &image)?;
            }
            Ok((svg.into_bytes(), layout))
        }
    }
}

/// Replaces the `<text ...>marker</text>` element of `svg` with `with`.
fn replace_text_element(svg: &str, marker: &str, with: &str) -> Result<String> {
    let missing = || draw_err("heat map placeholder not found");
    let at = svg.find(marker).ok_or_else(missing)?;
    let start = svg[..at].rfind("<text").ok_or_else(missing)?;
    let end = at + svg[at..].find("</text>").ok_or_else(missing)? + "</text>".len();
    Ok(format!("{}{}{}", &svg[..start], with, &svg[end..]))
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Best);
        enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut w = enc
            .write_header()
            .map_err(|e| draw_err(format!("PNG: {e}")))?;
        w.write_image_data(rgb)
            .map_err(|e| draw_err(format!("PNG: {e}")))?;
        w.finish().map_err(|e| draw_err(format!("PNG: {e}")))?;
    }
    Ok(out)
}

fn title_text(name: &str, ann: &Annotations) -> String {
    let tempo = ann
        .tempo_bpm
        .map_or_else(|| "no tempo".to_string(), |b| format!("{b:.1} BPM"));
    let key = ann.key.as_ref().map_or_else(
        || "no key".to_string(),
        |(tonic, mode, camelot)| {
            format!(
                "{} {} ({camelot})",
                resonode_analysis::key::PITCH_CLASSES[usize::from(*tonic % 12)],
                mode.as_str()
            )
        },
    );
    let lufs = ann
        .integrated_lufs
        .map_or_else(|| "silence".to_string(), |l| format!("{l:.1} LUFS"));
    format!("{name} — {tempo} — {key} — {lufs}")
}

type HeatMap<'a, DB> = dyn FnMut(&DrawingArea<DB, Shift>, (u32, u32), Vec<u8>) -> Result<()> + 'a;

#[allow(clippy::too_many_arguments)]
/// What [`draw`] draws, whatever the backend.
struct Scene<'a> {
    data: &'a PlotData,
    ann: &'a Annotations,
    title: &'a str,
    panels: &'a [Panel],
    /// Whether the waveform carries the beat grid.
    beats: bool,
    duration_s: f64,
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    scene: &Scene<'_>,
    layout: &mut PlotLayout,
    heat: &mut HeatMap<'_, DB>,
) -> Result<()> {
    let Scene {
        data,
        ann,
        title,
        panels,
        beats,
        duration_s,
    } = *scene;
    root.fill(&WHITE).map_err(draw_err)?;
    root.draw_text(
        title,
        &(FAMILY, 20).into_font().color(&TEXT).into_text_style(root),
        (LEFT as i32, 12),
    )
    .map_err(draw_err)?;
    // Every panel's plotting area has the same width: the image's, less the
    // y-label area on the left and the colour bar's room on the right.
    let columns = Columns::new(
        data,
        (layout.width - RIGHT).saturating_sub(LEFT).max(1),
        duration_s,
    );
    let mut top = TITLE_H;
    for &p in panels {
        let h = area_height(p);
        let strip = root
            .clone()
            .shrink((0, top), (layout.width, CAPTION_H + h + XLABEL_H));
        strip
            .draw_text(
                caption(p, beats),
                &(FAMILY, 14)
                    .into_font()
                    .color(&TEXT)
                    .into_text_style(&strip),
                (LEFT as i32, 4),
            )
            .map_err(draw_err)?;
        let chart_area = strip
            .clone()
            .shrink((0, CAPTION_H), (layout.width - RIGHT, h + XLABEL_H));
        let pl = match p {
            Panel::Waveform | Panel::Beats => {
                waveform(&chart_area, &columns, ann, beats, duration_s)?
            }
            Panel::Spectrogram => spectrogram(&chart_area, root, data, &columns, duration_s, heat)?,
            Panel::Chroma => chroma(&chart_area, root, &columns, ann, duration_s, heat)?,
            Panel::Loudness => loudness(&chart_area, root, &columns, ann, duration_s)?,
        };
        layout.panels.push(pl);
        top += CAPTION_H + h + XLABEL_H;
    }
    Ok(())
}

fn caption(p: Panel, beats: bool) -> &'static str {
    match p {
        Panel::Waveform | Panel::Beats if beats => {
            "Waveform (min/max, RMS) with beats (orange) and downbeats (red)"
        }
        Panel::Waveform | Panel::Beats => "Waveform (min/max, RMS)",
        Panel::Spectrogram => "Spectrogram (log frequency, dB re full-scale sine)",
        Panel::Chroma => "Chroma (pitch classes; the key's tonic outlined)",
        Panel::Loudness => "Loudness: short-term (3 s, BS.1770) and integrated (dashed)",
    }
}

fn panel_layout(
    panel: Panel,
    area: (std::ops::Range<i32>, std::ops::Range<i32>),
    duration_s: f64,
) -> PanelLayout {
    PanelLayout {
        panel,
        x: area.0.start as u32,
        y: area.1.start as u32,
        width: (area.0.end - area.0.start) as u32,
        height: (area.1.end - area.1.start) as u32,
        time_start_s: 0.0,
        time_end_s: duration_s,
        f_min_hz: None,
        f_max_hz: None,
        log_frequency: false,
    }
}

/// Column of time `t` in a plotting area `w` px wide.
fn column(t: f64, duration_s: f64, w: u32) -> Option<i32> {
    let c = (t / duration_s * f64::from(w)).floor();
    (c >= 0.0 && c < f64::from(w)).then_some(c as i32)
}

/// Draws the colour map as a vertical bar (1 at the top, 0 at the bottom)
/// right of the plotting area `plot` of `w` x `h` px, on `root` (the
/// plotting area clips). Returns the bar's right edge, the plotting area's
/// top (pixels of `root`) and the style of the bar's labels.
fn colour_bar<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    plot: &DrawingArea<DB, Shift>,
    (w, h): (u32, u32),
) -> Result<(i32, i32, TextStyle<'a>)> {
    let (ox, oy) = plot.get_base_pixel();
    let (bar_x, bar_w) = (ox + w as i32 + 14, 14);
    for r in 0..h as i32 {
        let [cr, cg, cb] = colour_map(1.0 - (f64::from(r) + 0.5) / f64::from(h));
        root.draw(&Rectangle::new(
            [(bar_x, oy + r), (bar_x + bar_w, oy + r + 1)],
            RGBColor(cr, cg, cb).filled(),
        ))
        .map_err(draw_err)?;
    }
    let label = (FAMILY, 12)
        .into_font()
        .color(&TEXT)
        .into_text_style(root)
        .pos(Pos::new(HPos::Left, VPos::Center));
    Ok((bar_x + bar_w, oy, label))
}

/// The mesh (axes, labels, grid) every panel shares.
macro_rules! mesh {
    ($chart:expr) => {
        $chart
            .configure_mesh()
            .label_style((FAMILY, 12).into_font().color(&TEXT))
            .axis_desc_style((FAMILY, 12).into_font().color(&TEXT))
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .x_labels(12)
    };
}

fn waveform<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    columns: &Columns,
    ann: &Annotations,
    beats: bool,
    duration_s: f64,
) -> Result<PanelLayout> {
    let mut chart = ChartBuilder::on(area)
        .margin_left(MARGIN_LEFT)
        .x_label_area_size(XLABEL_H)
        .y_label_area_size(LEFT - MARGIN_LEFT)
        .build_cartesian_2d(0.0..duration_s, -1.0..1.0)
        .map_err(draw_err)?;
    let fmt = time_label(duration_s);
    mesh!(chart)
        .y_labels(5)
        .x_label_formatter(&fmt)
        .x_desc(time_desc(duration_s))
        .y_desc("amplitude")
        .draw()
        .map_err(draw_err)?;
    let plot = chart.plotting_area().strip_coord_spec();
    let (w, h) = plot.dim_in_pixel();
    debug_assert_eq!(columns.values.len(), w as usize);
    let y_of = |v: f64| (((1.0 - v) / 2.0 * f64::from(h)).round() as i32).clamp(0, h as i32);
    for (c, v) in columns.values.iter().enumerate().take(w as usize) {
        if v[collect::SAMPLES] == 0.0 {
            continue;
        }
        let c = c as i32;
        let (lo, hi) = (v[collect::MIN], v[collect::MAX]);
        plot.draw(&Rectangle::new(
            [(c, y_of(hi)), (c + 1, y_of(lo) + 1)],
            WAVEFORM_COLOUR.filled(),
        ))
        .map_err(draw_err)?;
        let rms = (v[collect::SUM_SQ] / v[collect::SAMPLES])
            .sqrt()
            .min(hi.abs().max(lo.abs()));
        plot.draw(&Rectangle::new(
            [(c, y_of(rms)), (c + 1, y_of(-rms) + 1)],
            WAVEFORM_RMS_COLOUR.filled(),
        ))
        .map_err(draw_err)?;
    }
    if beats {
        for &t in &ann.beats_s {
            if let Some(c) = column(t, duration_s, w) {
                plot.draw(&Rectangle::new(
                    [(c, 0), (c + 1, h as i32)],
                    BEAT_COLOUR.filled(),
                ))
                .map_err(draw_err)?;
            }
        }
        for &t in &ann.downbeats_s {
            if let Some(c) = column(t, duration_s, w) {
                plot.draw(&Rectangle::new(
                    [(c - 1, 0), (c + 2, h as i32)],
                    DOWNBEAT_COLOUR.filled(),
                ))
                .map_err(draw_err)?;
            }
        }
    }
    Ok(panel_layout(
        Panel::Waveform,
        chart.plotting_area().get_pixel_range(),
        duration_s,
    ))
}

fn time_desc(duration_s: f64) -> &'static str {
    if duration_s > 120.0 {
        "time (m:ss)"
    } else {
        "time (s)"
    }
}

fn spectrogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    root: &DrawingArea<DB, Shift>,
    data: &PlotData,
    columns: &Columns,
    duration_s: f64,
    heat: &mut HeatMap<'_, DB>,
) -> Result<PanelLayout> {
    let f_min = f64::from(SPECTROGRAM_F_MIN_HZ);
    let f_max = f64::from(data.bands.edges_hz(data.bands.len() - 1).1);
    let mut chart = ChartBuilder::on(area)
        .margin_left(MARGIN_LEFT)
        .x_label_area_size(XLABEL_H)
        .y_label_area_size(LEFT - MARGIN_LEFT)
        .build_cartesian_2d(0.0..duration_s, (f_min..f_max).log_scale())
        .map_err(draw_err)?;
    let fmt = time_label(duration_s);
    mesh!(chart)
        .y_labels(8)
        .x_label_formatter(&fmt)
        .y_label_formatter(&hz_label)
        .x_desc(time_desc(duration_s))
        .y_desc("frequency (Hz)")
        .draw()
        .map_err(draw_err)?;
    let plot = chart.plotting_area().strip_coord_spec();
    let (w, h) = plot.dim_in_pixel();
    debug_assert_eq!(columns.values.len(), w as usize);
    // dB re the band power of a full-scale sine, as the dashboard's band
    // spectrum: Stft's periodic Hann window over a whole frame has energy
    // 3 N / 8.
    let window_energy = 3.0 * data.n_fft as f64 / 8.0;
    let mut db = vec![f64::NEG_INFINITY; (w * h) as usize];
    let mut last: Option<Vec<f64>> = None;
    let mut top = f64::NEG_INFINITY;
    for (c, v) in columns.values.iter().enumerate().take(w as usize) {
        let bands: Option<Vec<f64>> = if v[collect::SPEC_N] > 0.0 {
            Some(
                v[collect::SPEC..collect::SPEC + SPECTROGRAM_BANDS]
                    .iter()
                    .map(|p| p / v[collect::SPEC_N])
                    .collect(),
            )
        } else {
            last.clone()
        };
        let Some(bands) = bands else { continue };
        for r in 0..h {
            let frac = (f64::from(h - r) - 0.5) / f64::from(h);
            let b = ((frac * SPECTROGRAM_BANDS as f64) as usize).min(SPECTROGRAM_BANDS - 1);
            let d = f64::from(band_power_db(bands[b], data.n_fft, window_energy));
            top = top.max(d);
            db[(r * w) as usize + c] = d;
        }
        last = Some(bands);
    }
    let top = if top.is_finite() {
        (top / 10.0).ceil() * 10.0
    } else {
        0.0
    };
    let bottom = top - SPECTROGRAM_RANGE_DB;
    let mut rgb = Vec::with_capacity(db.len() * 3);
    for &d in &db {
        rgb.extend_from_slice(&colour_map((d - bottom) / SPECTROGRAM_RANGE_DB));
    }
    heat(&plot, (w, h), rgb)?;
    // Colour bar legend in dB.
    let (bar_right, oy, label) = colour_bar(root, &plot, (w, h))?;
    let mut level = top;
    while level >= bottom - 1e-9 {
        let r = ((top - level) / SPECTROGRAM_RANGE_DB * f64::from(h)).round() as i32;
        root.draw(&PathElement::new(
            vec![(bar_right, oy + r), (bar_right + 4, oy + r)],
            TEXT,
        ))
        .map_err(draw_err)?;
        root.draw_text(
            &format!("{level:.0} dB"),
            &label,
            (bar_right + 6, oy + r.clamp(6, h as i32 - 6)),
        )
        .map_err(draw_err)?;
        level -= 20.0;
    }
    let mut pl = panel_layout(
        Panel::Spectrogram,
        chart.plotting_area().get_pixel_range(),
        duration_s,
    );
    pl.f_min_hz = Some(f_min);
    pl.f_max_hz = Some(f_max);
    pl.log_frequency = true;
    Ok(pl)
}

fn chroma<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    root: &DrawingArea<DB, Shift>,
    columns: &Columns,
    ann: &Annotations,
    duration_s: f64,
    heat: &mut HeatMap<'_, DB>,
) -> Result<PanelLayout> {
    let mut chart = ChartBuilder::on(area)
        .margin_left(MARGIN_LEFT)
        .x_label_area_size(XLABEL_H)
        .y_label_area_size(LEFT - MARGIN_LEFT)
        .build_cartesian_2d(0.0..duration_s, 0.0..12.0)
        .map_err(draw_err)?;
    let fmt = time_label(duration_s);
    mesh!(chart)
        .y_labels(0)
        .x_label_formatter(&fmt)
        .x_desc(time_desc(duration_s))
        .draw()
        .map_err(draw_err)?;
    let plot = chart.plotting_area().strip_coord_spec();
    let (w, h) = plot.dim_in_pixel();
    debug_assert_eq!(columns.values.len(), w as usize);
    let row_top = |p: u32| h - (p + 1) * h / 12;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    let mut last: Option<[f64; 12]> = None;
    for (c, v) in columns.values.iter().enumerate().take(w as usize) {
        let col = if v[collect::CHROMA_N] > 0.0 {
            let mut m = [0.0; 12];
            for (p, o) in m.iter_mut().enumerate() {
                *o = v[collect::CHROMA + p] / v[collect::CHROMA_N];
            }
            Some(m)
        } else {
            last
        };
        let Some(col) = col else { continue };
        for p in 0..12u32 {
            let rgb_px = colour_map(col[p as usize]);
            for r in row_top(p)..row_top(p) + h / 12 {
                let i = ((r * w) as usize + c) * 3;
                rgb[i..i + 3].copy_from_slice(&rgb_px);
            }
        }
        last = Some(col);
    }
    heat(&plot, (w, h), rgb)?;
    let label = (FAMILY, 12)
        .into_font()
        .color(&TEXT)
        .into_text_style(&plot)
        .pos(Pos::new(HPos::Right, VPos::Center));
    let key_label = (FAMILY, 12)
        .into_font()
        .color(&KEY_COLOUR.mix(1.0))
        .into_text_style(&plot)
        .pos(Pos::new(HPos::Right, VPos::Center));
    let tonic = ann
        .key
        .as_ref()
        .map(|(t, m, _)| (u32::from(*t % 12), m.as_str()));
    for p in 0..12u32 {
        let y = (row_top(p) + h / 24) as i32;
        let name = resonode_analysis::key::PITCH_CLASSES[p as usize];
        match tonic {
            Some((t, mode)) if t == p => {
                plot.draw_text(&format!("{name} {mode}"), &key_label, (-6, y))
                    .map_err(draw_err)?;
                let r0 = row_top(p) as i32;
                for k in 0..2 {
                    plot.draw(&Rectangle::new(
                        [
                            (k, r0 + k),
                            (w as i32 - 1 - k, r0 + (h / 12) as i32 - 1 - k),
                        ],
                        KEY_COLOUR.stroke_width(1),
                    ))
                    .map_err(draw_err)?;
                }
            }
            _ => plot.draw_text(name, &label, (-6, y)).map_err(draw_err)?,
        }
    }
    // Colour bar: chroma is max-normalised per frame (0..1).
    let (bar_right, oy, bar_label) = colour_bar(root, &plot, (w, h))?;
    root.draw_text("1", &bar_label, (bar_right + 6, oy + 6))
        .map_err(draw_err)?;
    root.draw_text("0", &bar_label, (bar_right + 6, oy + h as i32 - 6))
        .map_err(draw_err)?;
    Ok(panel_layout(
        Panel::Chroma,
        chart.plotting_area().get_pixel_range(),
        duration_s,
    ))
}

fn loudness<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    root: &DrawingArea<DB, Shift>,
    columns: &Columns,
    ann: &Annotations,
    duration_s: f64,
) -> Result<PanelLayout> {
    // The plotting area's width (the chart needs the value range first).
    let w = columns.values.len();
    debug_assert_eq!(
        w as u32,
        (area.dim_in_pixel().0.saturating_sub(LEFT)).max(1)
    );
    let points: Vec<Option<(f64, f64)>> = columns
        .values
        .iter()
        .enumerate()
        .map(|(c, v)| {
            (v[collect::LOUD_N] > 0.0).then(|| {
                (
                    (c as f64 + 0.5) / w as f64 * duration_s,
                    v[collect::LOUD_SUM] / v[collect::LOUD_N],
                )
            })
        })
        .collect();
    let values = points
        .iter()
        .flatten()
        .map(|p| p.1)
        .chain(ann.integrated_lufs);
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = if lo.is_finite() {
        (
            ((lo - 3.0) / 6.0).floor() * 6.0,
            ((hi + 3.0) / 6.0).ceil() * 6.0,
        )
    } else {
        (-60.0, 0.0)
    };
    let mut chart = ChartBuilder::on(area)
        .margin_left(MARGIN_LEFT)
        .x_label_area_size(XLABEL_H)
        .y_label_area_size(LEFT - MARGIN_LEFT)
        .build_cartesian_2d(0.0..duration_s, lo.max(-80.0)..hi)
        .map_err(draw_err)?;
    let fmt = time_label(duration_s);
    mesh!(chart)
        .y_labels(6)
        .x_label_formatter(&fmt)
        .x_desc(time_desc(duration_s))
        .y_desc("LUFS")
        .draw()
        .map_err(draw_err)?;
    // One line through the samples, broken where loudness is missing
    // (digital silence) for longer than a few sampling steps.
    let gap = 3.0 * collect::LOUDNESS_STEP_S + 2.0 * duration_s / w as f64;
    let samples: Vec<(f64, f64)> = points.iter().flatten().copied().collect();
    for run in samples.chunk_by(|a, b| b.0 - a.0 <= gap) {
        chart
            .draw_series(LineSeries::new(
                run.iter().copied(),
                LOUDNESS_COLOUR.stroke_width(2),
            ))
            .map_err(draw_err)?;
    }
    if let Some(i) = ann.integrated_lufs {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, i), (duration_s, i)],
                8,
                5,
                INTEGRATED_LUFS_COLOUR.stroke_width(2),
            ))
            .map_err(draw_err)?;
        let plot = chart.plotting_area().strip_coord_spec();
        let ((ox, oy), (pw, ph)) = (plot.get_base_pixel(), plot.dim_in_pixel());
        let y = ((hi - i) / (hi - lo.max(-80.0)) * f64::from(ph)).round() as i32;
        let style = (FAMILY, 12)
            .into_font()
            .color(&INTEGRATED_LUFS_COLOUR)
            .into_text_style(root)
            .pos(Pos::new(HPos::Left, VPos::Center));
        root.draw_text(
            &format!("{i:.1} LUFS"),
            &style,
            (ox + pw as i32 + 8, oy + y.clamp(6, ph as i32 - 6)),
        )
        .map_err(draw_err)?;
    }
    Ok(panel_layout(
        Panel::Loudness,
        chart.plotting_area().get_pixel_range(),
        duration_s,
    ))
}
