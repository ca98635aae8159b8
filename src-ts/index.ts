/**
 * resonode: real-time and streaming audio processing for Node.js, with a
 * Rust core. Audio is planar `Float32Array[]` (channels x frames); sample
 * rates in Hz, cutoffs in Hz; a bare gain is a linear factor (dB through
 * `{ db }` and the chain grammar's `db` unit).
 *
 * Loading is lazy (issue 14): `require('resonode')` loads only this file
 * and the errors; each module of the API loads at the first read of one of
 * its exports, and the native addon with the first module that needs it
 * (a platform without one gets `ERR_BINDING_NOT_FOUND` there, see
 * `native.ts`). The exports are those of the modules below, unchanged:
 * each value is declared with its module's type and read through a getter
 * (see `lazy-module.ts` for the getter's shape), types are re-exported.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import { lazyModule } from './lazy-module'

// processors.ts
const processorsModule = lazyModule((): typeof import('./processors') => require('./processors'))
export declare const Processor: typeof import('./processors').Processor
export type Processor = import('./processors').Processor
Object.defineProperty(exports, 'Processor', { enumerable: true, get() { return processorsModule.Processor } })
export declare const NativeProcessor: typeof import('./processors').NativeProcessor
export type NativeProcessor = import('./processors').NativeProcessor
Object.defineProperty(exports, 'NativeProcessor', { enumerable: true, get() { return processorsModule.NativeProcessor } })
export declare const JsProcessor: typeof import('./processors').JsProcessor
export type JsProcessor = import('./processors').JsProcessor
Object.defineProperty(exports, 'JsProcessor', { enumerable: true, get() { return processorsModule.JsProcessor } })
export declare const Gain: typeof import('./processors').Gain
export type Gain = import('./processors').Gain
Object.defineProperty(exports, 'Gain', { enumerable: true, get() { return processorsModule.Gain } })
export declare const HighPass: typeof import('./processors').HighPass
export type HighPass = import('./processors').HighPass
Object.defineProperty(exports, 'HighPass', { enumerable: true, get() { return processorsModule.HighPass } })
export declare const LowPass: typeof import('./processors').LowPass
export type LowPass = import('./processors').LowPass
Object.defineProperty(exports, 'LowPass', { enumerable: true, get() { return processorsModule.LowPass } })
export declare const Biquad: typeof import('./processors').Biquad
export type Biquad = import('./processors').Biquad
Object.defineProperty(exports, 'Biquad', { enumerable: true, get() { return processorsModule.Biquad } })
export declare const Normalize: typeof import('./processors').Normalize
export type Normalize = import('./processors').Normalize
Object.defineProperty(exports, 'Normalize', { enumerable: true, get() { return processorsModule.Normalize } })
export declare const Reverb: typeof import('./processors').Reverb
export type Reverb = import('./processors').Reverb
Object.defineProperty(exports, 'Reverb', { enumerable: true, get() { return processorsModule.Reverb } })
export declare const Delay: typeof import('./processors').Delay
export type Delay = import('./processors').Delay
Object.defineProperty(exports, 'Delay', { enumerable: true, get() { return processorsModule.Delay } })
export declare const Limiter: typeof import('./processors').Limiter
export type Limiter = import('./processors').Limiter
Object.defineProperty(exports, 'Limiter', { enumerable: true, get() { return processorsModule.Limiter } })
export declare const Enhance: typeof import('./processors').Enhance
export type Enhance = import('./processors').Enhance
Object.defineProperty(exports, 'Enhance', { enumerable: true, get() { return processorsModule.Enhance } })
export declare const parseChain: typeof import('./processors').parseChain
Object.defineProperty(exports, 'parseChain', { enumerable: true, get() { return processorsModule.parseChain } })
export declare const processorKinds: typeof import('./processors').processorKinds
Object.defineProperty(exports, 'processorKinds', { enumerable: true, get() { return processorsModule.processorKinds } })
export type { BiquadType, ButterworthOptions, GainOptions, NormalizeOptions, EnhanceOptions, JsProcessContext, JsProcessFn, StreamInfo, ProcessorDesc } from './processors'

// sources.ts
const sourcesModule = lazyModule((): typeof import('./sources') => require('./sources'))
export declare const FileSource: typeof import('./sources').FileSource
export type FileSource = import('./sources').FileSource
Object.defineProperty(exports, 'FileSource', { enumerable: true, get() { return sourcesModule.FileSource } })
export declare const CallbackSource: typeof import('./sources').CallbackSource
export type CallbackSource = import('./sources').CallbackSource
Object.defineProperty(exports, 'CallbackSource', { enumerable: true, get() { return sourcesModule.CallbackSource } })
export declare const MicrophoneSource: typeof import('./sources').MicrophoneSource
export type MicrophoneSource = import('./sources').MicrophoneSource
Object.defineProperty(exports, 'MicrophoneSource', { enumerable: true, get() { return sourcesModule.MicrophoneSource } })
export type { MicrophoneSourceOptions, FileSourceOptions, CallbackSourceOptions, SourceChunk, FileInfo, Source } from './sources'

// sinks.ts
const sinksModule = lazyModule((): typeof import('./sinks') => require('./sinks'))
export declare const FileSink: typeof import('./sinks').FileSink
export type FileSink = import('./sinks').FileSink
Object.defineProperty(exports, 'FileSink', { enumerable: true, get() { return sinksModule.FileSink } })
export declare const MultiFileSink: typeof import('./sinks').MultiFileSink
export type MultiFileSink = import('./sinks').MultiFileSink
Object.defineProperty(exports, 'MultiFileSink', { enumerable: true, get() { return sinksModule.MultiFileSink } })
export declare const CallbackSink: typeof import('./sinks').CallbackSink
export type CallbackSink = import('./sinks').CallbackSink
Object.defineProperty(exports, 'CallbackSink', { enumerable: true, get() { return sinksModule.CallbackSink } })
export declare const SpeakerSink: typeof import('./sinks').SpeakerSink
export type SpeakerSink = import('./sinks').SpeakerSink
Object.defineProperty(exports, 'SpeakerSink', { enumerable: true, get() { return sinksModule.SpeakerSink } })
export type { SpeakerSinkOptions, FileSinkOptions, MultiFileSinkOptions, CallbackSinkOptions, Encoding, SinkCallback, Sink } from './sinks'

// streams.ts
const streamsModule = lazyModule((): typeof import('./streams') => require('./streams'))
export declare const StreamSource: typeof import('./streams').StreamSource
export type StreamSource = import('./streams').StreamSource
Object.defineProperty(exports, 'StreamSource', { enumerable: true, get() { return streamsModule.StreamSource } })
export declare const StreamSink: typeof import('./streams').StreamSink
export type StreamSink = import('./streams').StreamSink
Object.defineProperty(exports, 'StreamSink', { enumerable: true, get() { return streamsModule.StreamSink } })
export declare const transform: typeof import('./streams').transform
Object.defineProperty(exports, 'transform', { enumerable: true, get() { return streamsModule.transform } })
export type { StreamSourceOptions, StreamSinkOptions, TransformOptions, RawFormat, ByteInput } from './streams'

// pipeline.ts
const pipelineModule = lazyModule((): typeof import('./pipeline') => require('./pipeline'))
export declare const StreamingPipeline: typeof import('./pipeline').StreamingPipeline
export type StreamingPipeline = import('./pipeline').StreamingPipeline
Object.defineProperty(exports, 'StreamingPipeline', { enumerable: true, get() { return pipelineModule.StreamingPipeline } })
export type { PipelineStats, PipelineOptions, ProgressEvent, RunOptions, CustomSink, ChunkWriter, CustomSource, ChunkReader, SourceChunks } from './pipeline'

// stream-processor.ts
const streamProcessorModule = lazyModule((): typeof import('./stream-processor') => require('./stream-processor'))
export declare const StreamProcessor: typeof import('./stream-processor').StreamProcessor
export type StreamProcessor = import('./stream-processor').StreamProcessor
Object.defineProperty(exports, 'StreamProcessor', { enumerable: true, get() { return streamProcessorModule.StreamProcessor } })
export type { StreamProcessorOptions, StreamCallOptions, ProcessFileOptions, ProcessChunksOptions } from './stream-processor'

// ring-buffer.ts
const ringBufferModule = lazyModule((): typeof import('./ring-buffer') => require('./ring-buffer'))
export declare const AudioRingBuffer: typeof import('./ring-buffer').AudioRingBuffer
export type AudioRingBuffer = import('./ring-buffer').AudioRingBuffer
Object.defineProperty(exports, 'AudioRingBuffer', { enumerable: true, get() { return ringBufferModule.AudioRingBuffer } })

// context.ts
const contextModule = lazyModule((): typeof import('./context') => require('./context'))
export declare const StreamingContext: typeof import('./context').StreamingContext
export type StreamingContext = import('./context').StreamingContext
Object.defineProperty(exports, 'StreamingContext', { enumerable: true, get() { return contextModule.StreamingContext } })

// state.ts
export type { StreamState, StateChange } from './state'

// monitor.ts
export type { ProcessUsage } from './monitor'

// logging.ts
const loggingModule = lazyModule((): typeof import('./logging') => require('./logging'))
export declare const setLogLevel: typeof import('./logging').setLogLevel
Object.defineProperty(exports, 'setLogLevel', { enumerable: true, get() { return loggingModule.setLogLevel } })
export declare const setLogger: typeof import('./logging').setLogger
Object.defineProperty(exports, 'setLogger', { enumerable: true, get() { return loggingModule.setLogger } })
export type { LogLevel, LogRecord } from './logging'

// processor-chain.ts
const processorChainModule = lazyModule((): typeof import('./processor-chain') => require('./processor-chain'))
export declare const ProcessorChain: typeof import('./processor-chain').ProcessorChain
export type ProcessorChain = import('./processor-chain').ProcessorChain
Object.defineProperty(exports, 'ProcessorChain', { enumerable: true, get() { return processorChainModule.ProcessorChain } })
export type { ProcessorChainOptions } from './processor-chain'

// info.ts
const infoModule = lazyModule((): typeof import('./info') => require('./info'))
export declare const info: typeof import('./info').info
Object.defineProperty(exports, 'info', { enumerable: true, get() { return infoModule.info } })
export type { AudioInfo } from './info'

// analysis.ts
const analysisModule = lazyModule((): typeof import('./analysis') => require('./analysis'))
export declare const analyze: typeof import('./analysis').analyze
Object.defineProperty(exports, 'analyze', { enumerable: true, get() { return analysisModule.analyze } })
export declare const Analyzer: typeof import('./analysis').Analyzer
export type Analyzer = import('./analysis').Analyzer
Object.defineProperty(exports, 'Analyzer', { enumerable: true, get() { return analysisModule.Analyzer } })
export type { AnalysisOptions, AnalyzeOptions, AnalyzeResult, AnalyzeProgress, AnalyzerOptions, FeatureBatch, TrackAnalysis, LiveAnalysis } from './analysis'

// plot.ts
const plotModule = lazyModule((): typeof import('./plot') => require('./plot'))
export declare const plot: typeof import('./plot').plot
Object.defineProperty(exports, 'plot', { enumerable: true, get() { return plotModule.plot } })
export type { PlotOptions, PlotResult, PlotPanel, PlotPanelName } from './plot'

// realtime.ts
const realtimeModule = lazyModule((): typeof import('./realtime') => require('./realtime'))
export declare const RealtimeProcessor: typeof import('./realtime').RealtimeProcessor
export type RealtimeProcessor = import('./realtime').RealtimeProcessor
Object.defineProperty(exports, 'RealtimeProcessor', { enumerable: true, get() { return realtimeModule.RealtimeProcessor } })
export declare const listDevices: typeof import('./realtime').listDevices
Object.defineProperty(exports, 'listDevices', { enumerable: true, get() { return realtimeModule.listDevices } })
export declare const defaultInputDevice: typeof import('./realtime').defaultInputDevice
Object.defineProperty(exports, 'defaultInputDevice', { enumerable: true, get() { return realtimeModule.defaultInputDevice } })
export declare const defaultOutputDevice: typeof import('./realtime').defaultOutputDevice
Object.defineProperty(exports, 'defaultOutputDevice', { enumerable: true, get() { return realtimeModule.defaultOutputDevice } })
export declare const testDevice: typeof import('./realtime').testDevice
Object.defineProperty(exports, 'testDevice', { enumerable: true, get() { return realtimeModule.testDevice } })
export declare const resolveStreamConfig: typeof import('./realtime').resolveStreamConfig
Object.defineProperty(exports, 'resolveStreamConfig', { enumerable: true, get() { return realtimeModule.resolveStreamConfig } })
export type { Backend, StreamConfig, ResolvedStreamConfig, AudioDevice, DeviceTestResult, RealtimeStats, RealtimeProcessorOptions, RealtimeReadOptions, RealtimeLevels, ChannelLevels, ListDevicesOptions, TestDeviceOptions } from './realtime'

// spectrum.ts
const spectrumModule = lazyModule((): typeof import('./spectrum') => require('./spectrum'))
export declare const bandSpectrum: typeof import('./spectrum').bandSpectrum
Object.defineProperty(exports, 'bandSpectrum', { enumerable: true, get() { return spectrumModule.bandSpectrum } })
export type { BandSpectrum, BandSpectrumOptions } from './spectrum'

// ml.ts
const mlModule = lazyModule((): typeof import('./ml') => require('./ml'))
export declare const SpeechEnhancer: typeof import('./ml').SpeechEnhancer
export type SpeechEnhancer = import('./ml').SpeechEnhancer
Object.defineProperty(exports, 'SpeechEnhancer', { enumerable: true, get() { return mlModule.SpeechEnhancer } })
export declare const siSdr: typeof import('./ml').siSdr
Object.defineProperty(exports, 'siSdr', { enumerable: true, get() { return mlModule.siSdr } })
export declare const sdr: typeof import('./ml').sdr
Object.defineProperty(exports, 'sdr', { enumerable: true, get() { return mlModule.sdr } })
export declare const snr: typeof import('./ml').snr
Object.defineProperty(exports, 'snr', { enumerable: true, get() { return mlModule.snr } })
export declare const correlation: typeof import('./ml').correlation
Object.defineProperty(exports, 'correlation', { enumerable: true, get() { return mlModule.correlation } })
export declare const SeparationMetrics: typeof import('./ml').SeparationMetrics
Object.defineProperty(exports, 'SeparationMetrics', { enumerable: true, get() { return mlModule.SeparationMetrics } })
export type { SpeechEnhancerOptions, InferenceOptions, EnhanceResult, EnhanceFileOptions, Metrics } from './ml'

// separation.ts
const separationModule = lazyModule((): typeof import('./separation') => require('./separation'))
export declare const Separator: typeof import('./separation').Separator
export type Separator = import('./separation').Separator
Object.defineProperty(exports, 'Separator', { enumerable: true, get() { return separationModule.Separator } })
export declare const SeparationStream: typeof import('./separation').SeparationStream
export type SeparationStream = import('./separation').SeparationStream
Object.defineProperty(exports, 'SeparationStream', { enumerable: true, get() { return separationModule.SeparationStream } })
export declare const SeparationProcessor: typeof import('./separation').SeparationProcessor
export type SeparationProcessor = import('./separation').SeparationProcessor
Object.defineProperty(exports, 'SeparationProcessor', { enumerable: true, get() { return separationModule.SeparationProcessor } })
export type { SeparatorOptions, SeparateResult, SeparateFileOptions, SeparationInput, SeparationCallOptions, SeparatedStems, LongOptions, LongFileOptions, LongSeparation, StemFiles, StreamingOptions, SeparatedChunk, StreamingStats, SeparationProcessorOptions, Normalization } from './separation'

// prompt-separation.ts
const promptSeparationModule = lazyModule((): typeof import('./prompt-separation') => require('./prompt-separation'))
export declare const PromptSeparator: typeof import('./prompt-separation').PromptSeparator
export type PromptSeparator = import('./prompt-separation').PromptSeparator
Object.defineProperty(exports, 'PromptSeparator', { enumerable: true, get() { return promptSeparationModule.PromptSeparator } })
export declare const PromptSeparationStream: typeof import('./prompt-separation').PromptSeparationStream
export type PromptSeparationStream = import('./prompt-separation').PromptSeparationStream
Object.defineProperty(exports, 'PromptSeparationStream', { enumerable: true, get() { return promptSeparationModule.PromptSeparationStream } })
export type { PromptSeparatorOptions, PromptModelInfo, Anchor, OdeOptions, PromptInput, PromptCallOptions, PromptSeparateOptions, PromptBatchOptions, PromptRunInfo, PromptSeparation, PromptBatchSeparation, PromptLongOptions, PromptLongSeparation, PromptLongFiles, PromptStreamingOptions, PromptPiece, PromptStreamStats } from './prompt-separation'

// library.ts
const libraryModule = lazyModule((): typeof import('./library') => require('./library'))
export declare const Library: typeof import('./library').Library
export type Library = import('./library').Library
Object.defineProperty(exports, 'Library', { enumerable: true, get() { return libraryModule.Library } })
// From its own small module, as library.ts does: reading it opens no addon.
const libraryPathModule = lazyModule((): typeof import('./library-path') => require('./library-path'))
export declare const DEFAULT_LIBRARY_PATH: typeof import('./library-path').DEFAULT_LIBRARY_PATH
Object.defineProperty(exports, 'DEFAULT_LIBRARY_PATH', { enumerable: true, get() { return libraryPathModule.DEFAULT_LIBRARY_PATH } })
export type { LibraryOptions, LibraryLocation, LibraryTrack, TrackListEntry, ScanOptions, AddOptions, ScanProgress, ScanSummary, CurrentFeatures, TrackRef, RecommendOptions, Recommendation, ScoreComponents, PreferenceModel, FeedbackResult, Play, MixSessionRecord } from './library'

// queue.ts (loads bullmq and ioredis on first use)
const queueModule = lazyModule((): typeof import('./queue') => require('./queue'))
export declare const enqueueScan: typeof import('./queue').enqueueScan
Object.defineProperty(exports, 'enqueueScan', { enumerable: true, get() { return queueModule.enqueueScan } })
export declare const startWorker: typeof import('./queue').startWorker
Object.defineProperty(exports, 'startWorker', { enumerable: true, get() { return queueModule.startWorker } })
export declare const jobStatus: typeof import('./queue').jobStatus
Object.defineProperty(exports, 'jobStatus', { enumerable: true, get() { return queueModule.jobStatus } })
export declare const waitForJobs: typeof import('./queue').waitForJobs
Object.defineProperty(exports, 'waitForJobs', { enumerable: true, get() { return queueModule.waitForJobs } })
export declare const retryFailed: typeof import('./queue').retryFailed
Object.defineProperty(exports, 'retryFailed', { enumerable: true, get() { return queueModule.retryFailed } })
export declare const QueueWorker: typeof import('./queue').QueueWorker
export type QueueWorker = import('./queue').QueueWorker
Object.defineProperty(exports, 'QueueWorker', { enumerable: true, get() { return queueModule.QueueWorker } })
export type { JobType, QueueJobData, EnqueueScanOptions, EnqueueSummary, EnqueueFailure, StartWorkerOptions, QueueWorkerStats, JobActiveEvent, JobProgressEvent, JobCompletedEvent, JobFailedEvent, JobStatusOptions, JobStatus, JobFailure, WaitForJobsOptions, WaitResult, RetryFailedOptions } from './queue'

// mixer.ts
const mixerModule = lazyModule((): typeof import('./mixer') => require('./mixer'))
export declare const MixerSession: typeof import('./mixer').MixerSession
export type MixerSession = import('./mixer').MixerSession
Object.defineProperty(exports, 'MixerSession', { enumerable: true, get() { return mixerModule.MixerSession } })
export type { MixerSessionOptions, SessionFeatures, SessionPredictions } from './mixer'

// transition.ts
const transitionModule = lazyModule((): typeof import('./transition') => require('./transition'))
export declare const mixTransition: typeof import('./transition').mixTransition
Object.defineProperty(exports, 'mixTransition', { enumerable: true, get() { return transitionModule.mixTransition } })
export type { TransitionOptions, TransitionReport } from './transition'

// dashboard.ts (loads ws, and the engine's modules, on first use)
const dashboardModule = lazyModule((): typeof import('./dashboard') => require('./dashboard'))
export declare const startDashboard: typeof import('./dashboard').startDashboard
Object.defineProperty(exports, 'startDashboard', { enumerable: true, get() { return dashboardModule.startDashboard } })
export type { Dashboard, DashboardOptions, DashboardRejection } from './dashboard'

// The errors are loaded with the index (every module needs them).
export * from './errors'
