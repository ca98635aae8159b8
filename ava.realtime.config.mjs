// The live-audio specs run on their own, after the rest of the suite
// (`npm test`): their xrun and callback-deadline assertions measure
// resonode's real-time path while JS is kept busy on purpose, not while
// other spec files run ONNX inference on both cores next to them.
export default {
  files: ['__test__/realtime.spec.mjs'],
  timeout: '5m',
  workerThreads: false,
}
