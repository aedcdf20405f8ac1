//! The `govshare` command line and the pieces it shares with the system tests: assembling
//! the five services in one process, starting a local `nats-server`, and calling services
//! over the bus the way a department system does.

pub mod bus_cli;
pub mod calendar_cli;
pub mod catalog_cli;
pub mod client;
pub mod contract_cli;
pub mod demo;
pub mod dispute_cli;
pub mod fixtures;
pub mod inbox_cli;
pub mod platform;
pub mod recall_cli;
pub mod request_cli;
pub mod return_cli;
