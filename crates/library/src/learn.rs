//! The preference model feedback trains: online logistic regression over
//! the five score components.
//!
//! `p(accept | x) = σ(b + w · x)`, with `x` = (tempo, harmonic, energy,
//! timbre, learned), each in 0..1 (see [`crate::recommend::Components`]).
//! A recommendation's score is `p`: the predicted chance that the user
//! takes the transition. Each feedback event is one stochastic-gradient
//! step on the log loss with target `y` ([`target`]), plus an L2 pull
//! towards the defaults so that a few clicks bend the ranking without
//! erasing the mixing rules (Bishop, *Pattern Recognition and Machine
//! Learning*, 2006, §4.3.2; online updates as in Bottou, "Stochastic
//! gradient descent tricks", 2012).

use resonode_core::{Error, Result};

/// Component names, in the order of the model's weights.
pub const COMPONENTS: [&str; 5] = ["tempo", "harmonic", "energy", "timbre", "learned"];

/// Default weights: tempo first (a transition must be beat-matchable),
/// then key, timbre, loudness continuity; the learned preference starts
/// modest and grows with feedback.
pub const DEFAULT_WEIGHTS: [f64; 5] = [4.0, 3.0, 1.5, 2.0, 1.5];

/// Default bias: a candidate whose components are all 0.5 scores 0.5.
pub const DEFAULT_BIAS: f64 = -6.0;

/// Step size of each feedback update.
pub const LEARNING_RATE: f64 = 0.5;

/// Strength of the pull towards the default weights per update.
pub const L2_TO_DEFAULTS: f64 = 0.01;

/// The model's parameters, stored in the library.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelState {
    pub weights: [f64; 5],
    pub bias: f64,
    /// Feedback events learned from since the last reset.
    pub updates: u64,
}

impl Default for ModelState {
    fn default() -> Self {
        ModelState { weights: DEFAULT_WEIGHTS, bias: DEFAULT_BIAS, updates: 0 }
    }
}

/// The training target of a feedback event: the rating when given (0..1),
/// else 1 for accepted and 0 for rejected.
///
/// # Errors
/// `Error::InvalidParameter` for a rating outside 0..1 or not finite.
pub fn target(accepted: bool, rating: Option<f64>) -> Result<f64> {
    match rating {
        Some(r) if !(0.0..=1.0).contains(&r) => Err(Error::param("rating", format!("must be within 0..1, got {r}"))),
        Some(r) => Ok(r),
        None => Ok(if accepted { 1.0 } else { 0.0 }),
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl ModelState {
    /// The model stored as columns `w_tempo, w_harmonic, w_energy,
    /// w_timbre, w_learned, bias` (NULL while the model has the defaults:
    /// then `None`) and `updates`.
    pub fn from_columns(w: [Option<f64>; 6], updates: i64) -> Option<ModelState> {
        match w {
            [Some(a), Some(b), Some(c), Some(d), Some(e), Some(bias)] => Some(ModelState { weights: [a, b, c, d, e], bias, updates: updates.max(0) as u64 }),
            _ => None,
        }
    }

    /// The logit `b + w · x`.
    pub fn logit(&self, x: &[f64; 5]) -> f64 {
        self.bias + self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>()
    }

    /// Predicted acceptance, 0..1.
    pub fn predict(&self, x: &[f64; 5]) -> f64 {
        sigmoid(self.logit(x))
    }

    /// One gradient step towards target `y` for components `x`.
    pub fn update(&mut self, x: &[f64; 5], y: f64) {
        let err = y - self.predict(x);
        for (k, w) in self.weights.iter_mut().enumerate() {
            *w += LEARNING_RATE * (err * x[k] - L2_TO_DEFAULTS * (*w - DEFAULT_WEIGHTS[k]));
        }
        self.bias += LEARNING_RATE * (err - L2_TO_DEFAULTS * (self.bias - DEFAULT_BIAS));
        self.updates += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutral_components_score_one_half_by_default() {
        assert!((ModelState::default().predict(&[0.5; 5]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn accepting_harmonic_over_tempo_matches_moves_the_weights() {
        let mut m = ModelState::default();
        let harmonic_match = [0.2, 1.0, 0.5, 0.5, 0.5];
        let tempo_match = [1.0, 0.1, 0.5, 0.5, 0.5];
        assert!(m.predict(&tempo_match) > m.predict(&harmonic_match));
        for _ in 0..20 {
            m.update(&harmonic_match, 1.0);
            m.update(&tempo_match, 0.0);
        }
        assert!(m.weights[1] > DEFAULT_WEIGHTS[1] && m.weights[0] < DEFAULT_WEIGHTS[0], "{m:?}");
        assert!(m.predict(&harmonic_match) > m.predict(&tempo_match), "{m:?}");
        assert_eq!(m.updates, 40);
    }

    #[test]
    fn ratings_outside_zero_to_one_are_refused() {
        assert_eq!(target(true, None).unwrap(), 1.0);
        assert_eq!(target(false, None).unwrap(), 0.0);
        assert_eq!(target(true, Some(0.25)).unwrap(), 0.25);
        assert_eq!(target(true, Some(1.5)).unwrap_err().code(), "ERR_INVALID_PARAMETER");
        assert_eq!(target(true, Some(f64::NAN)).unwrap_err().code(), "ERR_INVALID_PARAMETER");
    }
}
