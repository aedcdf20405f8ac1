//! `govshare-contract`: the bus contract of govshare, written once as Rust types.
//!
//! A department system written in Rust depends on this crate alone: it names every subject
//! ([`bus`]), the CloudEvents [`envelope`] and every event payload ([`events`], [`duty`]),
//! the answer and error shape ([`reply`]). Nothing here does I/O; the services' runtime
//! (`govshare-runtime`) adds the bus, stores, outbox and inbox around it.

pub mod api;
pub mod asyncapi;
pub mod bus;
pub mod calls;
pub mod dates;
pub mod duty;
pub mod envelope;
pub mod events;
pub mod region;
pub mod reply;
pub mod schedule;
pub mod types;

pub use bus::Service;
pub use envelope::{Envelope, EventMeta, EventPayload};
pub use reply::{ApiError, ErrorCode, Lang, Problem, Text};
