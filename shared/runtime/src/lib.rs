//! `govshare-runtime`: what every govshare service runs on.
//!
//! It owns the guarantees ([`outbox`], [`inbox`], [`store`], [`clock`], [`idempotency`],
//! [`revision`]) so that no service re-implements them, plus the plumbing a service needs to
//! run ([`config`], [`telemetry`], [`health`], [`trust`], [`app`]). The wire types are the
//! contract crate's (`govshare-contract`: [`bus`] names, [`envelope`], [`events`], [`duty`],
//! [`reply`]) and the working days the calendar crate's; both are re-exported here so a
//! service has one import root.

pub use govshare_calendar as calendar;
pub use govshare_contract::{dates, duty, envelope, events, region, reply, schedule};

pub mod app;
pub mod bus;
pub mod calls;
pub mod clock;
pub mod config;
pub mod health;
pub mod idempotency;
pub mod inbox;
pub mod outbox;
pub mod page;
pub mod revision;
pub mod store;
pub mod telemetry;
pub mod trust;

pub use app::{App, Context, run, serve};
pub use async_trait::async_trait;
pub use bus::Service;
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use config::Settings;
pub use envelope::{Envelope, EventMeta};
pub use outbox::Outgoing;
pub use reply::{ApiError, ErrorCode, Lang, Problem};
