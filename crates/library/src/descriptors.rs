//! How a track's descriptors (`resonode_analysis::TrackDescriptors`) are
//! stored: arrays as blobs, keys and modes as text.

use resonode_analysis::key::Mode;

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
