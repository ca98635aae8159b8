//! The flow-matching ODE from noise (t = 0) to the separated latents (t = 1).
//!
//! mlx-audio 0.6.2 `SAMAudio.separate`: `num_steps = int(1 / step_size)`,
//! step `i` at `t = i * step_size` (both in f64, `t` passed as f32):
//! - Euler (`_ode_step_euler`, one DiT call per step): `x + f32(dt) * v(t, x)`;
//! - midpoint (`_ode_step_midpoint`, two calls): `m = x + f32(0.5 dt) * v(t, x)`,
//!   then `x + f32(dt) * v(f32(t + 0.5 dt), m)`.
//!
//! The paper's default (arXiv 2512.18099) is midpoint with step 2/32 (16 steps,
//! 32 DiT calls); Euler with the same step is twice as fast and coarser.

use resonode_core::{Error, Result};

/// The ODE solver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum OdeMethod {
    /// One velocity evaluation per step (faster, coarser).
    Euler,
    /// Two evaluations per step (the reference's default).
    #[default]
    Midpoint,
}

impl OdeMethod {
    /// `"euler"` or `"midpoint"`.
    pub fn as_str(self) -> &'static str {
        match self {
            OdeMethod::Euler => "euler",
            OdeMethod::Midpoint => "midpoint",
        }
    }

    /// DiT calls per step (1 or 2).
    pub fn calls_per_step(self) -> usize {
        match self {
            OdeMethod::Euler => 1,
            OdeMethod::Midpoint => 2,
        }
    }
}

impl std::str::FromStr for OdeMethod {
    type Err = Error;
    /// Parses `"euler"` or `"midpoint"`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`ode.method`) otherwise.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "euler" => Ok(OdeMethod::Euler),
            "midpoint" => Ok(OdeMethod::Midpoint),
            o => Err(Error::param(
                "ode.method",
                format!("`{o}` is not one of euler, midpoint"),
            )),
        }
    }
}

/// The most ODE steps one separation may take (`floor(1 / step_size)`):
/// 1000 (midpoint: 2000 DiT calls per chunk); smaller steps are refused.
pub const MAX_ODE_STEPS: usize = 1000;

/// ODE options (`ode_opt` of the reference).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OdeOptions {
    /// Solver (default midpoint).
    pub method: OdeMethod,
    /// Step in `(0, 1)` exclusive (default `2/32` = 16 steps); the solver
    /// takes `floor(1 / step_size)` steps.
    pub step_size: f64,
}

impl Default for OdeOptions {
    fn default() -> Self {
        OdeOptions {
            method: OdeMethod::Midpoint,
            step_size: 2.0 / 32.0,
        }
    }
}

impl OdeOptions {
    /// Checks the step size.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`ode.stepSize`) unless finite, in
    /// `(0, 1)` and giving at most [`MAX_ODE_STEPS`] steps.
    pub fn check(&self) -> Result<()> {
        let s = self.step_size;
        if !(s.is_finite() && s > 0.0 && s < 1.0) {
            return Err(Error::param(
                "ode.stepSize",
                format!(
                    "must be between 0 and 1 (exclusive), e.g. 2/32 = 0.0625 for 16 steps; got {s}"
                ),
            ));
        }
        if self.steps() > MAX_ODE_STEPS {
            return Err(Error::param(
                "ode.stepSize",
                format!(
                    "{s} gives {} steps; at most {MAX_ODE_STEPS} steps are allowed (stepSize >= 1/{MAX_ODE_STEPS})",
                    self.steps()
                ),
            ));
        }
        Ok(())
    }

    /// Steps: `floor(1 / step_size)` in f64, as the reference's `int(1.0 / step_size)`.
    pub fn steps(&self) -> usize {
        (1.0 / self.step_size).floor() as usize
    }
}

/// Integrates from `noise` (copied once into the state) with
/// `velocity(t, x)`, checking `cancel` before every DiT call.
///
/// # Errors
/// The velocity's errors; [`Error::InvalidState`] ("the separation was
/// stopped") when `cancel` returns true.
pub(crate) fn solve(
    noise: &[f32],
    ode: &OdeOptions,
    cancel: &dyn Fn() -> bool,
    mut velocity: impl FnMut(f32, &[f32]) -> Result<Vec<f32>>,
) -> Result<Vec<f32>> {
    let dt = ode.step_size;
    let mut x = noise.to_vec();
    for i in 0..ode.steps() {
        let t = i as f64 * dt;
        super::stopped_if(cancel)?;
        let v = velocity(t as f32, &x)?;
        match ode.method {
            OdeMethod::Euler => {
                let h = dt as f32;
                x.iter_mut().zip(&v).for_each(|(a, b)| *a += h * b);
            }
            OdeMethod::Midpoint => {
                let half = (0.5 * dt) as f32;
                let m: Vec<f32> = x.iter().zip(&v).map(|(a, b)| a + half * b).collect();
                super::stopped_if(cancel)?;
                let vm = velocity((t + 0.5 * dt) as f32, &m)?;
                let h = dt as f32;
                x.iter_mut().zip(&vm).for_each(|(a, b)| *a += h * b);
            }
        }
    }
    Ok(x)
}
