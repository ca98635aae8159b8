// The live-audio specs run on their own, after the rest of the suite
// (`npm test`): their xrun and callback-deadline assertions measure
// resonode's real-time path while JS is kept busy on purpose, not while
// other spec files run ONNX inference on both cores next to them.
// live-enhance.spec.mjs needs no audio server (the `none` backend) but
// asserts that `enhance`'s worker thread never falls behind.
// analysis-loopback.spec.mjs checks live beat prediction over the loopback;
// mixer-loopback.spec.mjs a MixerSession on live input; speaker-sink.spec.mjs
// what SpeakerSink's stem and rate options play over the loopback;
// separation-loopback.spec.mjs microphone -> separation -> speaker;
// live-pipeline.spec.mjs that microphone -> speaker plays real audio whole;
// jack-backend.spec.mjs backend 'jack' on a jackd dummy server it starts;
// dashboard-browser.spec.mjs the live dashboard in headless Chromium while
// a song plays over the loopback.
export default {
  files: ['__test__/realtime.spec.mjs', '__test__/live-enhance.spec.mjs', '__test__/analysis-loopback.spec.mjs', '__test__/mixer-loopback.spec.mjs', '__test__/speaker-sink.spec.mjs', '__test__/separation-loopback.spec.mjs', '__test__/live-pipeline.spec.mjs', '__test__/jack-backend.spec.mjs', '__test__/dashboard-browser.spec.mjs'],
  timeout: '5m',
  workerThreads: false,
  // One file at a time: the two must not measure each other.
  concurrency: 1,
}
