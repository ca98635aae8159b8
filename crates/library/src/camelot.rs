//! Harmonic compatibility on the Camelot wheel (Mark Davis's Camelot
//! system, as used by Mixed In Key): keys are numbered 1..12 around the
//! circle of fifths, `A` minor and `B` major; moving one step is a fifth,
//! switching letter keeps the number (relative major / minor).

use resonode_analysis::Mode;

/// Wheel position (1..=12) and letter (`false` = A / minor, `true` = B / major).
pub fn wheel(tonic: u8, mode: Mode) -> (u8, bool) {
    // C major is 8B and each fifth up is one step; A minor (relative of C) is 8A.
    let major_tonic = match mode {
        Mode::Major => tonic % 12,
        Mode::Minor => (tonic % 12 + 3) % 12,
    };
    let fifths = (major_tonic as u32 * 7) % 12; // steps of a fifth from C
    (((fifths + 7) % 12 + 1) as u8, mode == Mode::Major)
}

/// Compatibility of playing key `b` after key `a`, 0..1:
/// - 1.0 the same key;
/// - 0.9 one step around the wheel, same letter (a fifth up or down);
/// - 0.85 the relative major / minor (same number, other letter);
/// - 0.6 one step and the other letter (diagonal mix);
/// - 0.5 two steps, same letter (a whole tone; an energy change);
/// - 0.45 five steps, same letter (seven fifths: a semitone up or down, the "energy boost");
/// - 0.1 anything else (a clash).
pub fn compatibility(a: (u8, Mode), b: (u8, Mode)) -> f64 {
    let (na, la) = wheel(a.0, a.1);
    let (nb, lb) = wheel(b.0, b.1);
    let d = (nb as i32 - na as i32).rem_euclid(12);
    let steps = d.min(12 - d);
    match (steps, la == lb) {
        (0, true) => 1.0,
        (1, true) => 0.9,
        (0, false) => 0.85,
        (1, false) => 0.6,
        (2, true) => 0.5,
        (5, true) => 0.45,
        _ => 0.1,
    }
}

/// The key after transposing by `semitones` (tempo change without key lock).
pub fn transpose(tonic: u8, semitones: i32) -> u8 {
    (tonic as i32 + semitones).rem_euclid(12) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use resonode_analysis::key::camelot;

    #[test]
    fn wheel_positions_match_the_published_camelot_codes() {
        for tonic in 0..12u8 {
            for mode in [Mode::Major, Mode::Minor] {
                let (n, major) = wheel(tonic, mode);
                assert_eq!(format!("{n}{}", if major { 'B' } else { 'A' }), camelot(tonic, mode), "tonic {tonic} {mode:?}");
            }
        }
    }

    #[test]
    fn camelot_rules_rank_same_adjacent_relative_then_clashes() {
        let c_major = (0, Mode::Major); // 8B
        assert_eq!(compatibility(c_major, c_major), 1.0);
        assert_eq!(compatibility(c_major, (7, Mode::Major)), 0.9); // G major 9B
        assert_eq!(compatibility(c_major, (5, Mode::Major)), 0.9); // F major 7B
        assert_eq!(compatibility(c_major, (9, Mode::Minor)), 0.85); // A minor 8A
        assert_eq!(compatibility(c_major, (4, Mode::Minor)), 0.6); // E minor 9A
        assert_eq!(compatibility(c_major, (2, Mode::Major)), 0.5); // D major 10B
        assert_eq!(compatibility(c_major, (1, Mode::Major)), 0.45); // C# major 3B: a semitone, 5 steps
        assert_eq!(compatibility(c_major, (6, Mode::Major)), 0.1); // F# major 2B: tritone
    }

    #[test]
    fn transposing_wraps_around_the_octave() {
        assert_eq!(transpose(11, 1), 0);
        assert_eq!(transpose(0, -1), 11);
        assert_eq!(transpose(5, 24), 5);
    }
}

/// Parses a Camelot code (`1A` .. `12B`, case-insensitive) into tonic and mode.
pub fn parse_camelot(code: &str) -> Option<(u8, Mode)> {
    let code = code.trim();
    let (num, letter) = code.split_at(code.len().checked_sub(1)?);
    let n: u8 = num.parse().ok().filter(|n| (1..=12).contains(n))?;
    let mode = match letter {
        "A" | "a" => Mode::Minor,
        "B" | "b" => Mode::Major,
        _ => return None,
    };
    (0..12u8).find(|&t| wheel(t, mode) == (n, mode == Mode::Major)).map(|t| (t, mode))
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn camelot_codes_parse_back_to_keys() {
        assert_eq!(parse_camelot("8B"), Some((0, Mode::Major)));
        assert_eq!(parse_camelot("8a"), Some((9, Mode::Minor)));
        assert_eq!(parse_camelot("12B"), Some((4, Mode::Major)));
        assert_eq!(parse_camelot("13B"), None);
        assert_eq!(parse_camelot("8C"), None);
        assert_eq!(parse_camelot(""), None);
    }
}
