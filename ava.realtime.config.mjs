// The live-audio specs run on their own, after the rest of the suite
// (`npm test`): their xrun and callback-deadline assertions measure
// resonode's real-time path while JS is kept busy on purpose, not while
// other spec files run ONNX inference on both cores next to them.
// live-enhance.spec.mjs needs no audio server (the `none` backend) but
// asserts that `enhance`'s worker thread never falls behind.
// analysis-loopback.spec.mjs checks live beat prediction over the loopback;
// mixer-loopback.spec.mjs a MixerSession on live input.
export default {
  files: ['__test__/realtime.spec.mjs', '__test__/live-enhance.spec.mjs', '__test__/analysis-loopback.spec.mjs', '__test__/mixer-loopback.spec.mjs'],
  timeout: '5m',
  workerThreads: false,
  // One file at a time: the two must not measure each other.
  concurrency: 1,
}
