/**
 * resonode: real-time and streaming audio processing for Node.js, with a
 * Rust core. Audio is planar `Float32Array[]` (channels x frames); sample
 * rates in Hz, gains in dB, cutoffs in Hz.
 */
import './preflight'
export * from './errors'
export {
  Processor,
  NativeProcessor,
  JsProcessor,
  Gain,
  HighPass,
  LowPass,
  Biquad,
  Normalize,
  Reverb,
  Delay,
  Limiter,
  Enhance,
  parseChain,
  processorKinds,
  type BiquadType,
  type ButterworthOptions,
  type EnhanceOptions,
  type JsProcessContext,
  type JsProcessFn,
  type StreamInfo,
  type ProcessorDesc,
} from './processors'
export { FileSource, CallbackSource, MicrophoneSource, type MicrophoneSourceOptions, type FileSourceOptions, type CallbackSourceOptions, type SourceChunk, type FileInfo, type Source } from './sources'
export { FileSink, MultiFileSink, CallbackSink, SpeakerSink, type SpeakerSinkOptions, type FileSinkOptions, type MultiFileSinkOptions, type Encoding, type SinkCallback, type Sink } from './sinks'
export { StreamingPipeline, type PipelineStats, type PipelineOptions, type ProgressEvent } from './pipeline'
export { StreamProcessor, type StreamProcessorOptions } from './stream-processor'
export { AudioRingBuffer } from './ring-buffer'
export { StreamingContext } from './context'
export { type StreamState, type StateChange } from './state'
export { type ProcessUsage } from './monitor'
export { ProcessorChain, type ProcessorChainOptions } from './processor-chain'
export { info, type AudioInfo } from './info'
export { analyze, Analyzer, type AnalysisOptions, type AnalyzeOptions, type AnalyzeResult, type AnalyzerOptions, type FeatureBatch, type TrackAnalysis, type LiveAnalysis } from './analysis'
export {
  RealtimeProcessor,
  listDevices,
  defaultInputDevice,
  defaultOutputDevice,
  testDevice,
  resolveStreamConfig,
  type Backend,
  type StreamConfig,
  type ResolvedStreamConfig,
  type AudioDevice,
  type DeviceTestResult,
  type RealtimeStats,
  type RealtimeProcessorOptions,
} from './realtime'
export { SpeechEnhancer, siSdr, sdr, snr, correlation, SeparationMetrics, type SpeechEnhancerOptions, type InferenceOptions, type EnhanceResult, type Metrics } from './ml'
export {
  Separator,
  SeparationStream,
  SeparationProcessor,
  type SeparatorOptions,
  type SeparateResult,
  type SeparationInput,
  type SeparationCallOptions,
  type SeparatedStems,
  type LongOptions,
  type LongFileOptions,
  type LongSeparation,
  type StemFiles,
  type StreamingOptions,
  type SeparatedChunk,
  type StreamingStats,
  type SeparationProcessorOptions,
  type Normalization,
} from './separation'
export {
  Library,
  DEFAULT_LIBRARY_PATH,
  type LibraryOptions,
  type LibraryTrack,
  type TrackListEntry,
  type ScanOptions,
  type ScanProgress,
  type ScanSummary,
  type CurrentFeatures,
  type TrackRef,
  type RecommendOptions,
  type Recommendation,
  type ScoreComponents,
  type PreferenceModel,
  type FeedbackResult,
  type Play,
  type MixSessionRecord,
} from './library'
export { MixerSession, type MixerSessionOptions, type SessionFeatures, type SessionPredictions } from './mixer'
export { mixTransition, type TransitionOptions, type TransitionReport } from './transition'
