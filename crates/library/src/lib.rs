//! # resonode-library
//!
//! The music library a mixer works from: analysed tracks in a database,
//! the transitions and feedback of mix sessions, and the recommendations
//! built on both.
//!
//! - [`store`]: the [`Store`] interface every backend implements, and the
//!   records it keeps. [`sqlite`]: the embedded backend, one SQLite file
//!   (WAL: readers are never blocked by a scan's writes), its schema under
//!   versioned migrations. [`postgres`]: the same schema on a PostgreSQL
//!   server, shared by processes on several machines, TLS included
//!   ([`postgres_tls`]). [`spec`]: which of
//!   the two a string names (`postgres://...` or a file path).
//! - [`scan`]: analyse every audio file under a folder on all cores,
//!   skipping unchanged content and recording failures, interruptible and
//!   resumable (each file is committed on its own).
//! - [`camelot`]: harmonic compatibility on the Camelot wheel.
//! - [`recommend`]: rank the tracks that can follow a track or what is
//!   playing live, each score explained by its components.
//! - [`learn`]: the preference model that feedback trains (online logistic
//!   regression over the score components), kept in the database.
//! - [`Library`]: all of it behind one handle.
//!
//! Nothing here runs on an audio thread.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod camelot;
pub mod descriptors;
pub mod learn;
pub mod library;
pub mod postgres;
pub mod postgres_tls;
pub mod recommend;
mod rows;
pub mod scan;
pub mod spec;
pub mod sqlite;
pub mod store;

pub use library::{FeedbackInput, Library};
pub use recommend::{Components, CurrentFeatures, RecommendFrom, RecommendOptions, Recommendation};
pub use scan::{scan, ScanFailure, ScanOptions, ScanProgress, ScanSummary};
pub use postgres::PostgresStore;
pub use spec::{OpenOptions, StoreSpec};
pub use sqlite::SqliteStore;
pub use store::{Store, TrackId, TrackRecord, TrackRef};
