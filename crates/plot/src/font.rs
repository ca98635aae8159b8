//! The bundled font: a subset of DejaVu Sans (see `fonts/make-subset.sh`
//! and `fonts/LICENSE-DejaVu.txt`), compiled in and registered with
//! plotters as `sans-serif`, so PNG text needs no system font (SVG text
//! names `sans-serif` and is drawn by the viewer).

use std::sync::OnceLock;

use resonode_core::{Error, Result};

static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans-plot-subset.ttf");

/// The family name every text style of the plots uses.
pub const FAMILY: &str = "sans-serif";

/// Registers the font once per process.
///
/// # Errors
/// [`Error::Internal`] if the bundled font cannot be parsed.
pub fn ensure_registered() -> Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::Internal {
            message: "the bundled plot font could not be read".into(),
        })
    }
}
