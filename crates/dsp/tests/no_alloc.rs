//! Real-time safety: after `prepare`, `process`, `set_parameter`, `reset`
//! and the analysis calls of every processor kind, and of a chain of all of
//! them, run under an allocation guard that aborts the test binary on any
//! allocation, deallocation or reallocation.

mod common;
#[path = "common/kind_cases.rs"]
mod kind_cases;

use assert_no_alloc::assert_no_alloc;
use common::*;
use kind_cases::CASES;
use resonode_core::{AudioBuffer, Processor};
use resonode_dsp::registry;

#[global_allocator]
static ALLOC_GUARD: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;


const MAX_BLOCK: usize = 512;

fn run_guarded(p: &mut dyn Processor, params: &[(&str, f64)], input: &AudioBuffer) {
    let mut buf = input.clone();
    let mut blocks = [1usize, 37, MAX_BLOCK, 100].iter().cycle();
    assert_no_alloc(|| {
        if p.needs_analysis() {
            p.analyze(&input.as_block());
            p.finish_analysis();
        }
        let frames = buf.frames();
        let mut start = 0;
        let mut k = 0;
        while start < frames {
            let len = (*blocks.next().unwrap()).min(frames - start);
            if k < params.len() {
                let (name, value) = params[k];
                p.set_parameter(name, value).unwrap();
                // A refused value must not allocate either.
                assert!(p.set_parameter(name, f64::NAN).is_err());
            }
            p.process(&mut buf.as_block_mut().slice_mut(start, len));
            start += len;
            k += 1;
        }
        assert!(p.set_parameter("no-such-parameter", 1.0).is_err());
        p.reset();
        p.process(&mut buf.as_block_mut().slice_mut(0, 64));
    });
}

#[test]
fn every_processor_runs_without_allocating() {
    let input = noise(1, 0.9, 2, 4000);
    for (text, params) in CASES {
        let spec_list = resonode_core::chain_spec::parse(text).unwrap();
        for channels in [1, 2, 3] {
            let mut p = registry::create(&spec_list[0]).unwrap();
            p.prepare(&spec(48_000, channels, MAX_BLOCK)).unwrap();
            let chans: Vec<Vec<f32>> = (0..channels)
                .map(|c| input.channel(c % 2).to_vec())
                .collect();
            run_guarded(
                p.as_mut(),
                params,
                &AudioBuffer::from_planar(&chans).unwrap(),
            );
        }
    }
}

#[test]
fn a_chain_of_every_kind_runs_without_allocating() {
    let text: Vec<&str> = CASES.iter().map(|(t, _)| *t).collect();
    let mut chain = registry::parse_chain(&text.join(" | ")).unwrap();
    assert_eq!(chain.len(), CASES.len());
    chain.prepare(&spec(44_100, 2, MAX_BLOCK)).unwrap();
    let mut buf = noise(2, 0.9, 2, 6000);
    let paths: Vec<(String, f64)> = CASES
        .iter()
        .enumerate()
        .flat_map(|(i, (_, ps))| ps.iter().map(move |(n, v)| (format!("{i}.{n}"), *v)))
        .collect();
    let analysis = chain.analysis_points();
    assert_eq!(analysis.len(), 1);
    assert_no_alloc(|| {
        for &a in &analysis {
            chain.processors_mut()[a].analyze(&buf.as_block());
            chain.processors_mut()[a].finish_analysis();
        }
        let frames = buf.frames();
        let mut start = 0;
        let mut k = 0;
        while start < frames {
            let len = [1usize, 37, MAX_BLOCK][k % 3].min(frames - start);
            if let Some((path, value)) = paths.get(k) {
                chain.set_parameter(path, *value).unwrap();
            }
            chain.process(&mut buf.as_block_mut().slice_mut(start, len));
            start += len;
            k += 1;
        }
        chain.reset();
    });
    assert!(buf.as_block().find_non_finite().is_none());
}
