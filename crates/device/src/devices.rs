//! Audio backends and device listing.
//!
//! [`Backend::Default`] is the best host running here: JACK when a JACK
//! server is running (its socket accepts connections, see
//! [`jack_server_running`]),
//! else PulseAudio (or PipeWire's PulseAudio server) spoken natively when
//! its socket can be found through `PULSE_SERVER`, `PULSE_RUNTIME_PATH` or
//! `XDG_RUNTIME_DIR`, otherwise ALSA. [`Backend::Alsa`],
//! [`Backend::PulseAudio`] and [`Backend::Jack`] pick one host explicitly.
//!
//! Why JACK first: the server calls the client's process callback from
//! its own real-time cycle, so one period of latency needs no client-side
//! queue, and nothing else (no protocol thread, no timing requests) sits
//! between the callback and the device. On PulseAudio the data travels
//! through the server's main loop, which is not a real-time thread. [`Backend::None`] is the clocked no-hardware backend; it
//! is only used when asked for by name, never as a fallback.
//!
//! Why PulseAudio natively: cpal's ALSA worker asks `snd_pcm_avail_delay`
//! on every period, which ALSA's `pulse` plugin fails with `EIO` until the
//! server's next timing update; the worker then spins and audio stalls for
//! hundreds of milliseconds at a time. Real ALSA hardware is unaffected.
//!
//! Enumeration opens every ALSA device to learn its capabilities, which can
//! be slow on odd systems; it runs on a helper thread and gives up after
//! [`ENUMERATION_TIMEOUT`] with [`Error::BackendNotAvailable`] rather than
//! hanging.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait};
use resonode_core::{Error, Result};

use crate::config::MAX_CHANNELS;

/// Log target of device choices, stream opens, restarts and fallbacks
/// (`resonode_core::log_filter`). Logged only off the audio callback.
pub(crate) const LOG: &str = "resonode::device";

/// Upper bound on a device enumeration.
pub const ENUMERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// What to tell people when no device works.
pub(crate) const SUGGESTION: &str =
    "start an audio server (e.g. PulseAudio: `pulseaudio --start`, or \
     `bash scripts/start-pulseaudio.sh` in the resonode repository) or use backend 'none' to run \
     without hardware";

/// Rates reported in [`DeviceInfo::supported_sample_rates`] when a device's
/// range contains them.
pub const COMMON_SAMPLE_RATES: [u32; 13] = [
    8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000, 352800, 384000,
];

/// Id and name of the only device of [`Backend::None`].
pub const NONE_DEVICE_ID: &str = "none";

/// An audio backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// cpal's default host: PulseAudio when its socket is found (see the
    /// [module docs](self)), otherwise ALSA.
    #[default]
    Default,
    /// ALSA (Linux), including its `pulse`/`default` plugin devices.
    Alsa,
    /// PulseAudio's native protocol (also PipeWire's `pipewire-pulse`).
    PulseAudio,
    /// A JACK server (jackd; PipeWire's JACK API, which has no server
    /// socket, is not found). Its buffer size and
    /// sample rate are the server's: a request for another buffer size runs
    /// at the server's period (see `actual_buffer` in the stats). libjack
    /// is loaded at run time.
    Jack,
    /// No hardware: a thread calls the render path at the buffer period.
    /// Deterministic, for tests and headless apps. Never chosen silently.
    None,
    /// [`Backend::Default`] when a device opens; otherwise the clocked
    /// [`Backend::None`], said in an [`crate::EngineEvent::BackendFallback`]
    /// event. An explicit opt-in for apps that must run without hardware.
    Auto,
}

impl Backend {
    /// Parses `"default"`, `"alsa"`, `"pulseaudio"` (also `"pulse"`,
    /// `"pipewire"`), `"jack"`, `"none"` or `"auto"`.
    ///
    /// # Errors
    /// [`Error::BackendNotAvailable`] for hosts not compiled into this build
    /// (`"asio"`, `"wasapi"`, ...), [`Error::InvalidParameter`] for unknown
    /// names.
    pub fn parse(name: &str) -> Result<Backend> {
        match name.trim().to_ascii_lowercase().as_str() {
            "" | "default" => Ok(Backend::Default),
            "auto" => Ok(Backend::Auto),
            "alsa" => Ok(Backend::Alsa),
            "pulseaudio" | "pulse" | "pipewire" => Ok(Backend::PulseAudio),
            "jack" => Ok(Backend::Jack),
            "none" | "null" => Ok(Backend::None),
            b @ ("asio" | "wasapi" | "coreaudio" | "oboe" | "aaudio") => Err(Error::BackendNotAvailable {
                reason: format!(
                    "backend '{b}' is not compiled into this build; use 'default', 'alsa', 'pulseaudio', 'jack', 'none' or 'auto'"
                ),
            }),
            other => Err(Error::param(
                "backend",
                format!("unknown backend `{other}` (valid: default, alsa, pulseaudio, jack, none, auto)"),
            )),
        }
    }

    /// `"default"`, `"alsa"`, `"pulseaudio"`, `"jack"`, `"none"` or `"auto"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Default => "default",
            Backend::Alsa => "alsa",
            Backend::PulseAudio => "pulseaudio",
            Backend::Jack => "jack",
            Backend::None => "none",
            Backend::Auto => "auto",
        }
    }
}

impl FromStr for Backend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Backend::parse(s)
    }
}

/// One audio device as listed by [`list_devices`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Stable id to pass as `input_device`/`output_device`: the ALSA PCM
    /// name (e.g. `"pulse"`, `"default"`, `"hw:CARD=0,DEV=0"`), the
    /// PulseAudio sink or source name (e.g. `"resonull"`,
    /// `"resonull.monitor"`), or `"none"`.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Host (backend) name: `"ALSA"`, `"PulseAudio"` or `"none"`.
    pub host: String,
    /// Most input channels offered (0: no capture); for sound servers
    /// (PulseAudio) the device's own channel count, though they convert.
    pub max_input_channels: u16,
    /// Most output channels offered (0: no playback).
    pub max_output_channels: u16,
    /// The rate the device prefers: its own rate on sound servers, else
    /// 48000 or 44100 when offered, if known.
    pub default_sample_rate: Option<u32>,
    /// The [`COMMON_SAMPLE_RATES`] the device supports.
    pub supported_sample_rates: Vec<u32>,
    /// Smallest buffer (period) in frames, if known.
    pub min_buffer_size: Option<u32>,
    /// Largest buffer (period) in frames, if known.
    pub max_buffer_size: Option<u32>,
    /// Whether this is the host's default input device.
    pub is_default_input: bool,
    /// Whether this is the host's default output device.
    pub is_default_output: bool,
}

impl DeviceInfo {
    /// Whether the device can capture.
    pub fn is_input(&self) -> bool {
        self.max_input_channels > 0
    }
    /// Whether the device can play.
    pub fn is_output(&self) -> bool {
        self.max_output_channels > 0
    }
}

/// Which devices [`list_devices_filtered`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceFilter {
    /// Every usable device.
    #[default]
    All,
    /// Devices with input channels.
    Input,
    /// Devices with output channels.
    Output,
    /// Devices with both.
    Duplex,
}

impl DeviceFilter {
    /// Parses `"all"`, `"input"`, `"output"` or `"duplex"`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for anything else.
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "all" | "" => Ok(DeviceFilter::All),
            "input" => Ok(DeviceFilter::Input),
            "output" => Ok(DeviceFilter::Output),
            "duplex" => Ok(DeviceFilter::Duplex),
            other => Err(Error::param(
                "filter",
                format!("`{other}` is not one of all, input, output, duplex"),
            )),
        }
    }

    /// Whether `d` passes.
    pub fn matches(self, d: &DeviceInfo) -> bool {
        match self {
            DeviceFilter::All => true,
            DeviceFilter::Input => d.is_input(),
            DeviceFilter::Output => d.is_output(),
            DeviceFilter::Duplex => d.is_input() && d.is_output(),
        }
    }
}

/// The single virtual device of [`Backend::None`].
pub fn none_device() -> DeviceInfo {
    DeviceInfo {
        id: NONE_DEVICE_ID.into(),
        name: "No hardware (clocked)".into(),
        host: "none".into(),
        max_input_channels: MAX_CHANNELS,
        max_output_channels: MAX_CHANNELS,
        default_sample_rate: Some(48_000),
        supported_sample_rates: COMMON_SAMPLE_RATES.to_vec(),
        min_buffer_size: Some(crate::config::MIN_BUFFER_SIZE),
        max_buffer_size: Some(crate::config::MAX_BUFFER_SIZE),
        is_default_input: true,
        is_default_output: true,
    }
}

/// Every usable device of `backend` (devices that can neither capture nor
/// play, such as unconfigured ALSA plugins, are left out).
///
/// # Errors
/// [`Error::BackendNotAvailable`] with a suggestion when the host cannot be
/// opened, enumeration takes longer than [`ENUMERATION_TIMEOUT`], or no
/// device other than ALSA's `null` (discard) plugin works, e.g. no sound
/// card and no audio server.
pub fn list_devices(backend: Backend) -> Result<Vec<DeviceInfo>> {
    match backend {
        Backend::None => Ok(vec![none_device()]),
        hw => with_timeout("listing audio devices", ENUMERATION_TIMEOUT, move || {
            enumerate(hw)
        })?,
    }
}

/// [`list_devices`] keeping only the devices that pass `filter`.
///
/// # Errors
/// As [`list_devices`].
pub fn list_devices_filtered(backend: Backend, filter: DeviceFilter) -> Result<Vec<DeviceInfo>> {
    Ok(list_devices(backend)?
        .into_iter()
        .filter(|d| filter.matches(d))
        .collect())
}

/// The default input device.
///
/// # Errors
/// As [`list_devices`]; [`Error::BackendNotAvailable`] when there is no
/// usable default input.
pub fn default_input_device(backend: Backend) -> Result<DeviceInfo> {
    list_devices(backend)?
        .into_iter()
        .find(|d| d.is_default_input && d.is_input())
        .ok_or_else(|| Error::BackendNotAvailable {
            reason: format!("no usable default input device; {SUGGESTION}"),
        })
}

/// The default output device.
///
/// # Errors
/// As [`list_devices`]; [`Error::BackendNotAvailable`] when there is no
/// usable default output.
pub fn default_output_device(backend: Backend) -> Result<DeviceInfo> {
    list_devices(backend)?
        .into_iter()
        .find(|d| d.is_default_output && d.is_output())
        .ok_or_else(|| Error::BackendNotAvailable {
            reason: format!("no usable default output device; {SUGGESTION}"),
        })
}

/// Runs `f` on a helper thread and waits at most `timeout` for it. On
/// timeout the helper is left to finish on its own.
pub(crate) fn with_timeout<T: Send + 'static>(
    what: &str,
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("resonode-probe".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| Error::Internal {
            message: format!("cannot spawn a thread: {e}"),
        })?;
    rx.recv_timeout(timeout)
        .map_err(|_| Error::BackendNotAvailable {
            reason: format!(
                "{what} took longer than {} s; the audio system is not responding; {SUGGESTION}",
                timeout.as_secs()
            ),
        })
}

/// The cpal host of a hardware backend.
///
/// # Errors
/// [`Error::BackendNotAvailable`] with a suggestion when the host cannot be
/// opened (e.g. no PulseAudio server), [`Error::InvalidParameter`] for
/// [`Backend::None`], which has no cpal host.
pub(crate) fn host_for(backend: Backend) -> Result<cpal::Host> {
    match backend {
        Backend::Default | Backend::Auto => {
            if jack_server_running() {
                if let Ok(host) = cpal::host_from_id(cpal::HostId::Jack) {
                    return Ok(host);
                }
            }
            Ok(cpal::default_host())
        }
        Backend::Jack => {
            if !jack_server_running() {
                return Err(Error::BackendNotAvailable {
                    reason: format!(
                        "no JACK server is running (nothing listens on /dev/shm/jack_{}_<uid>_0); start one, e.g. `jackd -d alsa` or, without hardware, `jackd -d dummy -r 48000 -p 128` (see scripts/start-jack.sh)",
                        jack_server_name()
                    ),
                });
            }
            cpal::host_from_id(cpal::HostId::Jack).map_err(|e| Error::BackendNotAvailable {
                reason: format!("JACK: {e}"),
            })
        }
        Backend::Alsa => {
            cpal::host_from_id(cpal::HostId::Alsa).map_err(|e| Error::BackendNotAvailable {
                reason: format!("ALSA: {e}; {SUGGESTION}"),
            })
        }
        Backend::PulseAudio => {
            if pulse_socket_from_env().is_none() {
                let hint = match pulse_socket_fallback() {
                    Some(p) => format!(
                        "a server seems to listen on {}; export PULSE_SERVER=unix:{} (or XDG_RUNTIME_DIR) so it can be found",
                        p.display(),
                        p.display()
                    ),
                    None => SUGGESTION.to_string(),
                };
                return Err(Error::BackendNotAvailable {
                    reason: format!("no PulseAudio socket in PULSE_SERVER, PULSE_RUNTIME_PATH or XDG_RUNTIME_DIR; {hint}"),
                });
            }
            cpal::host_from_id(cpal::HostId::PulseAudio).map_err(|e| Error::BackendNotAvailable {
                reason: format!("PulseAudio: {e}; {SUGGESTION}"),
            })
        }
        Backend::None => Err(Error::param(
            "backend",
            "the `none` backend has no devices to open",
        )),
    }
}

/// The JACK server name libjack connects to: `JACK_DEFAULT_SERVER`, else
/// `default`.
fn jack_server_name() -> String {
    std::env::var("JACK_DEFAULT_SERVER")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

/// Whether a JACK server is running for this user: something accepts
/// connections on its socket, jackd2's `/dev/shm/jack_<server>_<uid>_0`
/// (`/dev/shm/jack_<server>_0` for `JACK_PROMISCUOUS_SERVER` servers) or
/// jackd1's `/dev/shm/jack-<uid>/<server>/jack_0`. Checking the socket,
/// rather than opening a client, never starts a server and loads no
/// libjack; a socket a crashed server left behind refuses the connection.
/// PipeWire's JACK API has no such socket, so it is not found.
pub(crate) fn jack_server_running() -> bool {
    jack_socket_accepts(
        &jack_server_name(),
        &current_uid().unwrap_or_else(|| "0".to_string()),
        std::env::var_os("JACK_PROMISCUOUS_SERVER").is_some(),
    )
}

/// [`jack_server_running`] for the server `server` of user `uid`.
fn jack_socket_accepts(server: &str, uid: &str, promiscuous: bool) -> bool {
    let mut sockets = vec![
        PathBuf::from(format!("/dev/shm/jack_{server}_{uid}_0")),
        PathBuf::from(format!("/dev/shm/jack-{uid}/{server}/jack_0")),
    ];
    if promiscuous {
        sockets.push(PathBuf::from(format!("/dev/shm/jack_{server}_0")));
    }
    #[cfg(unix)]
    return sockets
        .iter()
        .any(|p| std::os::unix::net::UnixStream::connect(p).is_ok());
    #[cfg(not(unix))]
    return false;
}

/// The real uid, from `/proc/self/status`.
fn current_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
}

/// The PulseAudio socket as the native client looks for it: `PULSE_SERVER`
/// (`unix:` paths), `$PULSE_RUNTIME_PATH/pulse/native`,
/// `$XDG_RUNTIME_DIR/pulse/native`.
pub fn pulse_socket_from_env() -> Option<PathBuf> {
    let candidates = std::env::var("PULSE_SERVER")
        .ok()
        .and_then(|s| s.strip_prefix("unix:").map(PathBuf::from))
        .into_iter()
        .chain(
            std::env::var("PULSE_RUNTIME_PATH")
                .ok()
                .map(|p| PathBuf::from(p).join("pulse/native")),
        )
        .chain(
            std::env::var("XDG_RUNTIME_DIR")
                .ok()
                .map(|p| PathBuf::from(p).join("pulse/native")),
        );
    candidates.into_iter().find(|p| p.exists())
}

/// Where libpulse also looks when the environment names no socket
/// (`~/.config/pulse/*-runtime/native`, `/run/user/<uid>/pulse/native`,
/// the system socket): used to make error messages say what to export.
pub fn pulse_socket_fallback() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        let dir = PathBuf::from(home).join(".config/pulse");
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().ends_with("-runtime") {
                    candidates.push(e.path().join("native"));
                }
            }
        }
    }
    if let Some(uid) = current_uid() {
        candidates.push(PathBuf::from(format!("/run/user/{uid}/pulse/native")));
    }
    candidates.push(PathBuf::from("/var/run/pulse/native"));
    candidates.into_iter().find(|p| p.exists())
}

fn enumerate(backend: Backend) -> Result<Vec<DeviceInfo>> {
    let host = host_for(backend)?;
    let host_name = host.id().name().to_string();
    let default_in = host.default_input_device().and_then(|d| d.id().ok());
    let default_out = host.default_output_device().and_then(|d| d.id().ok());
    let devices = host.devices().map_err(|e| Error::BackendNotAvailable {
        reason: format!("cannot enumerate {host_name} devices: {e}; {SUGGESTION}"),
    })?;
    let mut out = Vec::new();
    for d in devices {
        let Ok(id) = d.id() else { continue };
        let ins: Vec<_> = d
            .supported_input_configs()
            .map(|c| c.collect())
            .unwrap_or_default();
        let outs: Vec<_> = d
            .supported_output_configs()
            .map(|c| c.collect())
            .unwrap_or_default();
        if ins.is_empty() && outs.is_empty() {
            continue;
        }
        let name = d
            .description()
            .map(|desc| desc.name().to_string())
            .unwrap_or_else(|_| id.id().to_string());
        let mut info = describe(
            id.id(),
            name,
            &host_name,
            &ins,
            &outs,
            default_in.as_ref() == Some(&id),
            default_out.as_ref() == Some(&id),
        );
        if host.id() != cpal::HostId::Alsa {
            // Servers such as PulseAudio accept any channel count and rate
            // (they convert), so their ranges say little: report the
            // device's own format instead.
            if let Ok(c) = d.default_output_config() {
                info.max_output_channels = c.channels();
                info.default_sample_rate = Some(c.sample_rate());
            }
            if let Ok(c) = d.default_input_config() {
                info.max_input_channels = c.channels();
                info.default_sample_rate = Some(c.sample_rate());
            }
        }
        out.push(info);
    }
    log::debug!(target: LOG, "{host_name}: {} device(s): {}", out.len(), out.iter().map(|d| d.id.as_str()).collect::<Vec<_>>().join(", "));
    // ALSA's `null` plugin discards everything: it is not a device.
    if out.iter().all(|d| d.id == "null") {
        return Err(Error::BackendNotAvailable {
            reason: format!("no usable audio device on {host_name} (no sound card and no audio server); {SUGGESTION}"),
        });
    }
    Ok(out)
}

fn describe(
    id: &str,
    name: String,
    host: &str,
    ins: &[cpal::SupportedStreamConfigRange],
    outs: &[cpal::SupportedStreamConfigRange],
    is_default_input: bool,
    is_default_output: bool,
) -> DeviceInfo {
    let max_ch = |cs: &[cpal::SupportedStreamConfigRange]| {
        cs.iter().map(|c| c.channels()).max().unwrap_or(0)
    };
    let all: Vec<_> = ins.iter().chain(outs).copied().collect();
    let supported_sample_rates: Vec<u32> = COMMON_SAMPLE_RATES
        .iter()
        .copied()
        .filter(|&r| all.iter().any(|c| c.contains_rate(r)))
        .collect();
    let default_sample_rate = [48_000, 44_100]
        .into_iter()
        .find(|r| supported_sample_rates.contains(r))
        .or_else(|| all.iter().map(|c| c.max_sample_rate()).max());
    // Buffer limits for stereo (or the nearest channel count offered).
    let preferred = all
        .iter()
        .map(|c| c.channels())
        .min_by_key(|&c| (c as i32 - 2).abs());
    let (mut min_buf, mut max_buf) = (None::<u32>, None::<u32>);
    for c in all.iter().filter(|c| Some(c.channels()) == preferred) {
        if let cpal::SupportedBufferSize::Range { min, max } = *c.buffer_size() {
            min_buf = Some(min_buf.map_or(min, |m| m.min(min)));
            max_buf = Some(max_buf.map_or(max, |m| m.max(max)));
        }
    }
    DeviceInfo {
        id: id.to_string(),
        name,
        host: host.to_string(),
        max_input_channels: max_ch(ins),
        max_output_channels: max_ch(outs),
        default_sample_rate,
        supported_sample_rates,
        min_buffer_size: min_buf,
        max_buffer_size: max_buf,
        is_default_input: is_default_input && !ins.is_empty(),
        is_default_output: is_default_output && !outs.is_empty(),
    }
}

/// Which way a cpal device is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Way {
    Input,
    Output,
}

/// Finds the cpal device for `wanted` (an id such as `pulse`, a full cpal id
/// such as `alsa:pulse`, or a device name), or the default device.
pub(crate) fn find_cpal_device(
    host: &cpal::Host,
    wanted: Option<&str>,
    way: Way,
) -> Result<cpal::Device> {
    let what = match way {
        Way::Input => "input",
        Way::Output => "output",
    };
    let Some(wanted) = wanted else {
        let d = match way {
            Way::Input => host.default_input_device(),
            Way::Output => host.default_output_device(),
        };
        if let Some(d) = &d {
            log::debug!(target: LOG, "default {what} device of {}: `{}`", host.id().name(), d.id().map(|i| i.to_string()).unwrap_or_else(|_| "?".into()));
        }
        return d.ok_or_else(|| Error::BackendNotAvailable {
            reason: format!("no default {what} device; {SUGGESTION}"),
        });
    };
    let devices: Vec<cpal::Device> = host
        .devices()
        .map_err(|e| Error::BackendNotAvailable {
            reason: format!("cannot enumerate devices: {e}; {SUGGESTION}"),
        })?
        .collect();
    let matches = |d: &cpal::Device| {
        let Ok(id) = d.id() else { return false };
        id.to_string() == wanted
            || id.id() == wanted
            || d.description()
                .map(|desc| desc.name() == wanted)
                .unwrap_or(false)
    };
    if let Some(d) = devices.iter().find(|d| matches(d)) {
        log::debug!(target: LOG, "{what} device `{wanted}`: `{}`", d.id().map(|i| i.to_string()).unwrap_or_else(|_| "?".into()));
        return Ok(d.clone());
    }
    let ids: Vec<String> = devices
        .iter()
        .filter_map(|d| d.id().ok())
        .map(|id| id.id().to_string())
        .collect();
    Err(Error::DeviceNotFound {
        id: wanted.to_string(),
        reason: format!(
            "no {what} device with that id or name (known ids: {})",
            ids.join(", ")
        ),
    })
}

/// Converts a cpal error met while opening or running a stream.
pub(crate) fn stream_error(context: &str, e: &cpal::Error) -> Error {
    use cpal::ErrorKind as K;
    match e.kind() {
        K::HostUnavailable | K::DeviceNotAvailable => Error::BackendNotAvailable {
            reason: format!("{context}: {e}; {SUGGESTION}"),
        },
        _ => Error::Stream {
            reason: format!("{context}: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_parse_from_their_names() {
        assert_eq!(Backend::parse("alsa").unwrap(), Backend::Alsa);
        assert_eq!(Backend::parse("Default").unwrap(), Backend::Default);
        assert_eq!(Backend::parse("pulse").unwrap(), Backend::PulseAudio);
        assert_eq!("none".parse::<Backend>().unwrap(), Backend::None);
        assert_eq!(Backend::parse("JACK").unwrap(), Backend::Jack);
        assert_eq!(
            Backend::parse("asio").unwrap_err().code(),
            "ERR_BACKEND_NOT_AVAILABLE"
        );
        assert_eq!(
            Backend::parse("bogus").unwrap_err().code(),
            "ERR_INVALID_PARAMETER"
        );
    }

    #[test]
    fn the_none_backend_lists_its_one_virtual_device() {
        let d = list_devices(Backend::None).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].id, "none");
        assert!(d[0].is_default_input && d[0].is_default_output);
        assert_eq!(default_output_device(Backend::None).unwrap().id, "none");
        assert_eq!(
            list_devices_filtered(Backend::None, DeviceFilter::Duplex)
                .unwrap()
                .len(),
            1
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_jack_server_counts_as_running_only_while_it_accepts_connections() {
        // A server name of our own, so a real jackd on this machine does not matter.
        // (Not through JACK_DEFAULT_SERVER: other tests of this binary read
        // the environment meanwhile.)
        let server = format!("resonode_test_{}", std::process::id());
        let uid = current_uid().unwrap();
        let running = || jack_socket_accepts(&server, &uid, false);
        let path = PathBuf::from(format!("/dev/shm/jack_{server}_{uid}_0"));
        assert!(!running(), "no socket yet");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert!(
            running(),
            "a listening socket at {}",
            path.display()
        );
        drop(listener);
        assert!(path.exists());
        assert!(!running(), "a socket left behind by a dead server");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_hung_probe_times_out_as_backend_not_available() {
        let e = with_timeout("probing", Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(2))
        })
        .unwrap_err();
        assert_eq!(e.code(), "ERR_BACKEND_NOT_AVAILABLE");
        assert!(e.to_string().contains("backend 'none'"), "{e}");
    }
}
