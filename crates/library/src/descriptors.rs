//! [`Descriptors`]: what the library keeps of a track's analysis, and the
//! byte layout of its arrays in the database.

use resonode_analysis::key::{camelot, Mode, PITCH_CLASSES};
use resonode_analysis::TrackDescriptors;

/// A track's analysis as stored: [`TrackDescriptors`] flattened to
/// columns. Times in seconds, tempo in BPM, loudness in LUFS / LU / dBTP.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Descriptors {
    pub duration_s: f64,
    /// Of the file (Hz), and its channel count.
    pub sample_rate: u32,
    pub channels: u32,
    pub tempo_bpm: Option<f64>,
    pub tempo_confidence: f64,
    pub tempo_reason: Option<String>,
    pub beats_s: Vec<f64>,
    pub downbeats_s: Vec<f64>,
    /// Tonic as a pitch class (0 = C .. 11 = B) and mode.
    pub key_tonic: Option<u8>,
    pub mode: Option<Mode>,
    pub key_confidence: f64,
    pub key_reason: Option<String>,
    pub loudness_lufs: Option<f64>,
    pub loudness_range_lu: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    /// RMS level, linear amplitude of full scale (0..1).
    pub energy: f64,
    /// The analyzer's summary vector (`resonode_analysis::track::SUMMARY_LEN` values).
    pub summary: Vec<f64>,
}

impl Descriptors {
    /// Tonic name with sharps (`C` .. `B`).
    pub fn key_name(&self) -> Option<&'static str> {
        self.key_tonic.map(|t| PITCH_CLASSES[t as usize % 12])
    }

    /// Camelot code (`8B` = C major, `8A` = A minor).
    pub fn camelot(&self) -> Option<String> {
        Some(camelot(self.key_tonic?, self.mode?))
    }
}

impl From<&TrackDescriptors> for Descriptors {
    fn from(d: &TrackDescriptors) -> Self {
        Descriptors {
            duration_s: d.duration_s,
            sample_rate: d.sample_rate,
            channels: d.channels as u32,
            tempo_bpm: d.tempo.map(|t| t.bpm),
            tempo_confidence: d.tempo.map_or(0.0, |t| t.confidence),
            tempo_reason: d.tempo_reason.clone(),
            beats_s: d.beats_s.clone(),
            downbeats_s: d.downbeats_s.clone(),
            key_tonic: d.key.map(|k| k.tonic),
            mode: d.key.map(|k| k.mode),
            key_confidence: d.key.map_or(0.0, |k| k.confidence),
            key_reason: d.key_reason.clone(),
            loudness_lufs: d.loudness.integrated_lufs,
            loudness_range_lu: d.loudness.range_lu,
            true_peak_dbtp: d.loudness.true_peak_dbtp,
            energy: d.energy,
            summary: d.summary.clone(),
        }
    }
}

/// Arrays are stored as little-endian `f32`: microsecond precision for
/// beat times up to hours, and half the bytes of `f64`.
pub fn encode_f32(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| (*v as f32).to_le_bytes()).collect()
}

/// Inverse of [`encode_f32`]; a trailing partial value is ignored.
pub fn decode_f32(bytes: &[u8]) -> Vec<f64> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).collect()
}

/// Parses `major` / `minor`.
pub fn parse_mode(s: &str) -> Option<Mode> {
    match s {
        "major" => Some(Mode::Major),
        "minor" => Some(Mode::Minor),
        _ => None,
    }
}

/// Parses a tonic name (`C`, `C#`, `Db`, ... `B`; case-insensitive) into a pitch class.
pub fn parse_tonic(s: &str) -> Option<u8> {
    let s = s.trim();
    let mut chars = s.chars();
    let base = match chars.next()?.to_ascii_uppercase() {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return None,
    };
    let shift: i32 = match chars.as_str() {
        "" => 0,
        "#" | "♯" => 1,
        "b" | "♭" => -1,
        _ => return None,
    };
    Some((base + shift).rem_euclid(12) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_blobs_round_trip_to_f32_precision() {
        let v = vec![0.0, 0.5, 123.456789, 3599.999];
        let back = decode_f32(&encode_f32(&v));
        assert_eq!(back.len(), 4);
        for (a, b) in v.iter().zip(&back) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
    }

    #[test]
    fn tonic_names_parse_with_sharps_and_flats() {
        assert_eq!(parse_tonic("C"), Some(0));
        assert_eq!(parse_tonic("c#"), Some(1));
        assert_eq!(parse_tonic("Db"), Some(1));
        assert_eq!(parse_tonic("Cb"), Some(11));
        assert_eq!(parse_tonic("H"), None);
        assert_eq!(parse_tonic("C##"), None);
    }
}
