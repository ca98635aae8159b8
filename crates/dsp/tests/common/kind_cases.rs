//! One chain element per processor kind, each with parameter changes to
//! send while it runs: the real-time-safety tests of resonode-dsp and of
//! resonode-device (which includes this file by path and leaves out the
//! two-pass `normalize`) walk the same list, so a new kind is added once.

pub const CASES: &[(&str, &[(&str, f64)])] = &[
    ("gain(-3db)", &[("db", -12.0), ("linear", 0.7)]),
    (
        "highpass(80, 3)",
        &[
            ("cutoff", 200.0),
            ("order", 8.0),
            ("order", 16.0),
            ("order", 1.0),
        ],
    ),
    (
        "lowpass(8khz)",
        &[("cutoff", 2000.0), ("order", 5.0), ("cutoff", 15000.0)],
    ),
    (
        "biquad(peaking, 1khz, 2, 6db)",
        &[("frequency", 3000.0), ("q", 0.5), ("gain", -9.0)],
    ),
    (
        "biquad(lowshelf, 200, 0.7, 3)",
        &[("frequency", 90.0), ("gain", 6.0)],
    ),
    ("normalize(-1db)", &[("peak", -3.0)]),
    (
        "limiter(-1db, 50ms)",
        &[("ceiling", -6.0), ("release", 200.0)],
    ),
    (
        "reverb(0.5, 0.5, 0.3, 1, 1)",
        &[
            ("room", 0.9),
            ("damping", 0.1),
            ("wet", 0.5),
            ("dry", 0.7),
            ("width", 0.2),
        ],
    ),
    (
        "delay(120ms, 0.5, 0.5)",
        &[
            ("time", 1999.0),
            ("feedback", 0.9),
            ("mix", 0.2),
            ("time", 3.0),
        ],
    ),
];
