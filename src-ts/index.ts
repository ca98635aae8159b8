/**
 * resonode: real-time and streaming audio processing for Node.js, with a
 * Rust core. Audio is planar `Float32Array[]` (channels x frames); sample
 * rates in Hz, cutoffs in Hz; a bare gain is a linear factor (dB through
 * `{ db }` and the chain grammar's `db` unit).
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
  type GainOptions,
  type NormalizeOptions,
  type EnhanceOptions,
  type JsProcessContext,
  type JsProcessFn,
  type StreamInfo,
  type ProcessorDesc,
} from './processors'
export { FileSource, CallbackSource, MicrophoneSource, type MicrophoneSourceOptions, type FileSourceOptions, type CallbackSourceOptions, type SourceChunk, type FileInfo, type Source } from './sources'
export { FileSink, MultiFileSink, CallbackSink, SpeakerSink, type SpeakerSinkOptions, type FileSinkOptions, type MultiFileSinkOptions, type CallbackSinkOptions, type Encoding, type SinkCallback, type Sink } from './sinks'
export { StreamSource, StreamSink, transform, type StreamSourceOptions, type StreamSinkOptions, type TransformOptions, type RawFormat, type ByteInput } from './streams'
export { StreamingPipeline, type PipelineStats, type PipelineOptions, type ProgressEvent, type RunOptions, type CustomSink, type ChunkWriter, type CustomSource, type ChunkReader, type SourceChunks } from './pipeline'
export { StreamProcessor, type StreamProcessorOptions, type StreamCallOptions, type ProcessFileOptions, type ProcessChunksOptions } from './stream-processor'
export { AudioRingBuffer } from './ring-buffer'
export { StreamingContext } from './context'
export { type StreamState, type StateChange } from './state'
export { type ProcessUsage } from './monitor'
export { setLogLevel, setLogger, type LogLevel, type LogRecord } from './logging'
export { ProcessorChain, type ProcessorChainOptions } from './processor-chain'
export { info, type AudioInfo } from './info'
export { analyze, Analyzer, type AnalysisOptions, type AnalyzeOptions, type AnalyzeResult, type AnalyzeProgress, type AnalyzerOptions, type FeatureBatch, type TrackAnalysis, type LiveAnalysis } from './analysis'
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
  type RealtimeReadOptions,
  type ListDevicesOptions,
  type TestDeviceOptions,
} from './realtime'
export { SpeechEnhancer, siSdr, sdr, snr, correlation, SeparationMetrics, type SpeechEnhancerOptions, type InferenceOptions, type EnhanceResult, type EnhanceFileOptions, type Metrics } from './ml'
export {
  Separator,
  SeparationStream,
  SeparationProcessor,
  type SeparatorOptions,
  type SeparateResult,
  type SeparateFileOptions,
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
  type AddOptions,
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
