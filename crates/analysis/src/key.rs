//! Key and mode from chroma.
//!
//! # Method
//! Krumhansl–Schmuckler key finding: the Pearson correlation between the
//! chroma vector and a key profile rotated to each of the 12 tonics, for the
//! major and the minor profile (24 keys); the best correlation wins
//! (Krumhansl 1990, "Cognitive Foundations of Musical Pitch", ch. 4).
//! The profile is chosen with [`KeyProfile`]; the default,
//! [`KeyProfile::AlbrechtShanahan`], is the corpus-derived profile of
//! Albrecht & Shanahan (2013), "The use of large corpora to train a new type
//! of key-finding algorithm", Music Perception 31(1), 59–67. Krumhansl &
//! Kessler (1982) and Temperley (1999), "What's key for key?", Music
//! Perception 17(1), are available too.
//!
//! An STFT chroma also counts each note's overtones (the 3rd harmonic lands
//! a fifth up, the 5th a major third up), which drags plain profiles towards
//! the dominant key. The profiles are therefore expanded with 4 harmonics
//! of amplitude `0.6^(h−1)` before correlating ([`with_harmonics`]), as
//! Gómez (2006) does for her HPCP key templates.
//!
//! Measured on the 58 key-labelled files of `bench/analysis` (librosa
//! `chroma_stft` means), MIREX weighted score: Albrecht–Shanahan with
//! harmonics 0.898, without 0.876; Krumhansl–Kessler 0.797 / 0.690;
//! Temperley 0.821 / 0.738.
//!
//! # Input
//! 12 chroma energies, C first, as from librosa's `chroma_stft`
//! (per-frame max-normalised) averaged over the frames of a track or a
//! window. Scale does not matter.
//!
//! # Confidence
//! With `r1` the best and `r2` the second best correlation over the 24
//! keys, `confidence = clamp((r1 − r2) / (1 − r2), 0, 1) ` scaled down by
//! `clamp(r1, 0, 1)`: the share of the distance from the runner-up to a
//! perfect match that the winner covers, times how good the match is.
//! The runner-up is often the relative or parallel key, so typical values
//! are small (0.02–0.3); 0 means a tie.
//!
//! # No key
//! `None` for all-zero, non-finite or negative chroma, and for flat chroma:
//! `max / min < `[`MIN_CHROMA_CONTRAST`] (1.5; librosa chroma of white
//! noise measures 1.2, tonal music 2 and more), or a best correlation below
//! [`MIN_CORRELATION`]. Drums carry some pitch: of the 17 Sonic Pi loops,
//! 5 drum loops give `None`, the others (amen break 1.66) a key with a
//! confidence below 0.1, which callers should treat as "no clear key".

// `!(x > 0.0)` is the NaN-rejecting form of the input checks here.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

/// Major or minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Major,
    Minor,
}

impl Mode {
    /// `"major"` or `"minor"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Major => "major",
            Mode::Minor => "minor",
        }
    }
}

/// A key estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyEstimate {
    /// Pitch class of the tonic, 0 = C, 1 = C#, ..., 11 = B.
    pub tonic: u8,
    pub mode: Mode,
    /// 0..1.
    pub confidence: f64,
}

/// Pitch-class names with sharps: `C`, `C#`, `D`, ..., `B`.
pub const PITCH_CLASSES: [&str; 12] = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];

impl KeyEstimate {
    /// Tonic name, e.g. `"F#"`.
    pub fn tonic_name(&self) -> &'static str {
        PITCH_CLASSES[usize::from(self.tonic % 12)]
    }
    /// Camelot wheel code, e.g. `"8B"` (C major), `"8A"` (A minor).
    pub fn camelot(&self) -> String {
        camelot(self.tonic, self.mode)
    }
}

/// Camelot code of a key: the circle of fifths numbered 1–12, `B` for major
/// and `A` for minor, with C major = 8B and its relative A minor = 8A; one
/// step clockwise is a fifth up (G major = 9B, E minor = 9A).
pub fn camelot(tonic: u8, mode: Mode) -> String {
    // Position on the circle of fifths of the major key sharing the key
    // signature (relative major of a minor key is 3 semitones up).
    let major_pc = match mode {
        Mode::Major => u32::from(tonic % 12),
        Mode::Minor => (u32::from(tonic % 12) + 3) % 12,
    };
    let fifths = (major_pc * 7) % 12; // C=0, G=1, D=2, ..., F=11
    let number = (fifths + 7) % 12 + 1; // C = 8
    let letter = match mode {
        Mode::Major => 'B',
        Mode::Minor => 'A',
    };
    format!("{number}{letter}")
}

/// Key profiles (weights of the 12 scale degrees from the tonic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyProfile {
    /// Krumhansl & Kessler (1982), "Tracing the dynamic changes in perceived
    /// tonal organization in a spatial representation of musical keys",
    /// Psychological Review 89(4): probe-tone ratings.
    KrumhanslKessler,
    /// Temperley (1999), Music Perception 17(1), table 2. Its minor profile
    /// favours the raised seventh (harmonic minor) and so takes natural-minor
    /// pop progressions (Em C G D) for the relative major.
    Temperley,
    /// Albrecht & Shanahan (2013), "The use of large corpora to train a new
    /// type of key-finding algorithm", Music Perception 31(1): pitch-class
    /// distributions of a corpus (the default).
    #[default]
    AlbrechtShanahan,
}

impl KeyProfile {
    /// `(major, minor)` profiles, tonic first.
    pub fn profiles(self) -> ([f64; 12], [f64; 12]) {
        match self {
            KeyProfile::KrumhanslKessler => (
                [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88],
                [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17],
            ),
            KeyProfile::Temperley => (
                [5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0],
                [5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0],
            ),
            KeyProfile::AlbrechtShanahan => (
                [0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081],
                [0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052],
            ),
        }
    }
}

/// Chroma with `max / min` below this is flat: no key.
pub const MIN_CHROMA_CONTRAST: f64 = 1.5;

/// A best correlation below this is no key.
pub const MIN_CORRELATION: f64 = 0.2;

/// Estimates the key from `chroma` (12 energies, C first: e.g. the mean of
/// per-frame chroma over a track). `None` when the chroma is flat (noise,
/// silence, drums only).
pub fn estimate_key(chroma: &[f64; 12]) -> Option<KeyEstimate> {
    estimate_key_with(chroma, KeyProfile::default())
}

/// [`estimate_key`] with a chosen profile.
pub fn estimate_key_with(chroma: &[f64; 12], profile: KeyProfile) -> Option<KeyEstimate> {
    let scores = key_correlations(chroma, profile)?;
    let (max, min) = chroma.iter().fold((f64::NEG_INFINITY, f64::INFINITY), |(a, b), &v| (a.max(v), b.min(v)));
    if !(max > 0.0) || max < MIN_CHROMA_CONTRAST * min {
        return None;
    }
    let mut order: Vec<usize> = (0..24).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (r1, r2) = (scores[order[0]], scores[order[1]]);
    if !(r1 >= MIN_CORRELATION) {
        return None;
    }
    let margin = if r2 < 1.0 { ((r1 - r2) / (1.0 - r2)).clamp(0.0, 1.0) } else { 0.0 };
    let best = order[0];
    Some(KeyEstimate {
        tonic: (best % 12) as u8,
        mode: if best < 12 { Mode::Major } else { Mode::Minor },
        confidence: margin * r1.clamp(0.0, 1.0),
    })
}

/// Pearson correlations of `chroma` with the 24 keys: indices 0..12 are
/// C major .. B major, 12..24 C minor .. B minor. `None` for non-finite or
/// negative input, or constant chroma.
pub fn key_correlations(chroma: &[f64; 12], profile: KeyProfile) -> Option<[f64; 24]> {
    if chroma.iter().any(|v| !v.is_finite() || *v < 0.0) {
        return None;
    }
    let (major, minor) = profile.profiles();
    let (major, minor) = (with_harmonics(&major, HARMONIC_DECAY, HARMONICS), with_harmonics(&minor, HARMONIC_DECAY, HARMONICS));
    let mut out = [0.0; 24];
    for (m, prof) in [major, minor].iter().enumerate() {
        for tonic in 0..12 {
            // Profile rotated so that its tonic lands on pitch class `tonic`.
            let rotated: [f64; 12] = std::array::from_fn(|pc| prof[(pc + 12 - tonic) % 12]);
            out[m * 12 + tonic] = pearson(chroma, &rotated)?;
        }
    }
    Some(out)
}

/// Amplitude ratio between successive harmonics in the key templates
/// (Gómez 2006).
pub const HARMONIC_DECAY: f64 = 0.6;
/// Harmonics per note in the key templates.
pub const HARMONICS: usize = 4;

/// A profile as an STFT chroma sees it: each pitch class `p` with weight
/// `w` also puts `w · s^(h−1)` on the pitch class of its harmonic `h`
/// (`p + round(12 log2 h)`, for `h = 2..=n_harmonics`).
/// After Gómez (2006), "Tonal description of polyphonic audio for music
/// content processing", INFORMS J. on Computing 18(3), 294–304.
pub fn with_harmonics(profile: &[f64; 12], decay: f64, n_harmonics: usize) -> [f64; 12] {
    let mut out = [0.0; 12];
    for (p, &w) in profile.iter().enumerate() {
        let mut a = 1.0;
        for h in 1..=n_harmonics.max(1) {
            let pc = (p + (12.0 * (h as f64).log2()).round() as usize) % 12;
            out[pc] += w * a;
            a *= decay;
        }
    }
    out
}

fn pearson(a: &[f64; 12], b: &[f64; 12]) -> Option<f64> {
    let ma = a.iter().sum::<f64>() / 12.0;
    let mb = b.iter().sum::<f64>() / 12.0;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    let den = (saa * sbb).sqrt();
    (den > 1e-300).then(|| sab / den)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAJOR: [u8; 3] = [0, 4, 7];
    const MINOR: [u8; 3] = [0, 3, 7];
    const DOM7: [u8; 4] = [0, 4, 7, 10];

    /// Chroma of a chord progression as librosa's chroma_stft would roughly
    /// see it: each chord tone 1.0 in its frame, its 3rd harmonic (a fifth
    /// up) 0.3, everything else a 0.12 floor; frames max-normalised and
    /// averaged. Chords are (root pitch class, intervals, beats).
    fn progression(chords: &[(u8, &[u8], u32)]) -> [f64; 12] {
        let mut acc = [0.0; 12];
        let mut frames = 0.0;
        for &(root, ivs, beats) in chords {
            let mut f = [0.12; 12];
            for &iv in ivs {
                let pc = usize::from((root + iv) % 12);
                f[(pc + 7) % 12] = f64::max(f[(pc + 7) % 12], 0.3);
            }
            for &iv in ivs {
                f[usize::from((root + iv) % 12)] = 1.0;
            }
            let m = f.iter().copied().fold(0.0, f64::max);
            for (a, v) in acc.iter_mut().zip(f) {
                *a += f64::from(beats) * v / m;
            }
            frames += f64::from(beats);
        }
        acc.map(|v| v / frames)
    }

    fn key_of(chroma: [f64; 12]) -> (String, Mode) {
        let k = estimate_key(&chroma).expect("a key");
        (k.tonic_name().to_string(), k.mode)
    }

    #[test]
    fn camelot_wheel() {
        let cases = [
            (0, Mode::Major, "8B"),
            (9, Mode::Minor, "8A"),
            (7, Mode::Major, "9B"),
            (4, Mode::Minor, "9A"),
            (2, Mode::Major, "10B"),
            (11, Mode::Minor, "10A"),
            (9, Mode::Major, "11B"),
            (4, Mode::Major, "12B"),
            (1, Mode::Minor, "12A"),
            (11, Mode::Major, "1B"),
            (8, Mode::Minor, "1A"),
            (6, Mode::Major, "2B"),
            (3, Mode::Minor, "2A"),
            (1, Mode::Major, "3B"),
            (10, Mode::Minor, "3A"),
            (8, Mode::Major, "4B"),
            (5, Mode::Minor, "4A"),
            (3, Mode::Major, "5B"),
            (0, Mode::Minor, "5A"),
            (10, Mode::Major, "6B"),
            (7, Mode::Minor, "6A"),
            (5, Mode::Major, "7B"),
            (2, Mode::Minor, "7A"),
        ];
        for (tonic, mode, code) in cases {
            assert_eq!(camelot(tonic, mode), code, "{} {}", PITCH_CLASSES[tonic as usize], mode.as_str());
        }
        // 24 distinct codes.
        let mut all: Vec<String> = (0..12).flat_map(|t| [camelot(t, Mode::Major), camelot(t, Mode::Minor)]).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 24);
        assert_eq!(KeyEstimate { tonic: 21, mode: Mode::Minor, confidence: 0.5 }.camelot(), "8A");
    }

    #[test]
    fn pop_progressions() {
        // I–V–vi–IV in C major.
        let c = progression(&[(0, &MAJOR, 4), (7, &MAJOR, 4), (9, &MINOR, 4), (5, &MAJOR, 4)]);
        assert_eq!(key_of(c), ("C".into(), Mode::Major));
        // The same in F# major (transposition).
        let fs = progression(&[(6, &MAJOR, 4), (1, &MAJOR, 4), (3, &MINOR, 4), (11, &MAJOR, 4)]);
        assert_eq!(key_of(fs), ("F#".into(), Mode::Major));
        // I–IV–V7–I in D major.
        let d = progression(&[(2, &MAJOR, 4), (7, &MAJOR, 2), (9, &DOM7, 2), (2, &MAJOR, 4)]);
        assert_eq!(key_of(d), ("D".into(), Mode::Major));
        // 12-bar blues in A (major triads).
        let a = progression(&[(9, &MAJOR, 16), (2, &MAJOR, 8), (9, &MAJOR, 8), (4, &MAJOR, 4), (2, &MAJOR, 4), (9, &MAJOR, 8)]);
        assert_eq!(key_of(a), ("A".into(), Mode::Major));
    }

    #[test]
    fn minor_progressions() {
        // i–iv–V7–i in A minor (harmonic minor: E7 has G#).
        let am = progression(&[(9, &MINOR, 4), (2, &MINOR, 4), (4, &DOM7, 4), (9, &MINOR, 4)]);
        assert_eq!(key_of(am), ("A".into(), Mode::Minor));
        // i–VI–III–VII in E minor (Em C G D), tonic chord longer.
        let em = progression(&[(4, &MINOR, 8), (0, &MAJOR, 4), (7, &MAJOR, 4), (2, &MAJOR, 4), (4, &MINOR, 4)]);
        assert_eq!(key_of(em), ("E".into(), Mode::Minor));
        // i–iv–v–i in C# minor.
        let csm = progression(&[(1, &MINOR, 4), (6, &MINOR, 4), (8, &DOM7, 4), (1, &MINOR, 4)]);
        let k = estimate_key(&csm).unwrap();
        assert_eq!((k.tonic, k.mode), (1, Mode::Minor));
        assert_eq!(k.camelot(), "12A");
    }

    #[test]
    fn all_24_keys_from_scales() {
        // Tonic-weighted scale tones: each key must come back out, with every
        // profile.
        let major_scale = [0u8, 2, 4, 5, 7, 9, 11];
        let minor_scale = [0u8, 2, 3, 5, 7, 8, 11];
        for profile in [KeyProfile::KrumhanslKessler, KeyProfile::Temperley, KeyProfile::AlbrechtShanahan] {
            for tonic in 0..12u8 {
                for (mode, scale) in [(Mode::Major, &major_scale), (Mode::Minor, &minor_scale)] {
                    let mut c = [0.1; 12];
                    for &d in scale.iter() {
                        c[usize::from((tonic + d) % 12)] = 0.5;
                    }
                    c[usize::from(tonic % 12)] = 1.0;
                    c[usize::from((tonic + 7) % 12)] = 0.8;
                    let k = estimate_key_with(&c, profile).unwrap();
                    assert_eq!((k.tonic, k.mode), (tonic, mode), "{profile:?}");
                    assert!(k.confidence > 0.0 && k.confidence <= 1.0);
                }
            }
        }
    }

    #[test]
    fn confidence_orders_clear_and_ambiguous() {
        let clear = progression(&[(0, &MAJOR, 8), (5, &MAJOR, 4), (7, &DOM7, 4), (0, &MAJOR, 8)]);
        // C major and A minor triads equally long: ambiguous.
        let amb = progression(&[(0, &MAJOR, 4), (9, &MINOR, 4)]);
        let kc = estimate_key(&clear).unwrap();
        let ka = estimate_key(&amb).unwrap();
        assert!(kc.confidence > ka.confidence, "{kc:?} {ka:?}");
    }

    #[test]
    fn flat_or_bad_chroma_gives_none() {
        assert_eq!(estimate_key(&[0.0; 12]), None);
        assert_eq!(estimate_key(&[0.7; 12]), None);
        let mut noise = [0.0; 12];
        for (i, v) in noise.iter_mut().enumerate() {
            *v = 0.8 + 0.02 * ((i * 7) % 5) as f64;
        }
        assert_eq!(estimate_key(&noise), None);
        let mut nan = progression(&[(0, &MAJOR, 4)]);
        nan[3] = f64::NAN;
        assert_eq!(estimate_key(&nan), None);
        let mut inf = progression(&[(0, &MAJOR, 4)]);
        inf[3] = f64::INFINITY;
        assert_eq!(estimate_key(&inf), None);
        let mut neg = progression(&[(0, &MAJOR, 4)]);
        neg[3] = -1.0;
        assert_eq!(estimate_key(&neg), None);
    }
}
