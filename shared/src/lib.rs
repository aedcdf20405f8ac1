//! `govshare-shared`: the one library every govshare service is built on.
//!
//! It owns the wire contract ([`bus`], [`envelope`], [`reply`]) and the guarantees
//! ([`outbox`], [`inbox`], [`store`], [`clock`]) so that no service re-implements them,
//! plus the plumbing a service needs to run ([`config`], [`telemetry`], [`health`], [`app`]).
//! [`duty`] is the contract every service uses to start and stop a statutory clock;
//! [`calendar`] counts working days, and [`region`] reads GB/T 2260 region codes.

pub mod app;
pub mod bus;
pub mod calendar;
pub mod clock;
pub mod config;
pub mod duty;
pub mod envelope;
pub mod events;
pub mod health;
pub mod idempotency;
pub mod inbox;
pub mod outbox;
pub mod page;
pub mod region;
pub mod reply;
pub mod revision;
pub mod schedule;
pub mod store;
pub mod telemetry;
pub mod trust;
pub mod validate;

pub use app::{App, Context, run, serve};
pub use async_trait::async_trait;
pub use bus::Service;
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use config::Settings;
pub use envelope::{Envelope, EventMeta};
pub use outbox::Outgoing;
pub use reply::{ApiError, ErrorCode, Lang, Problem};
