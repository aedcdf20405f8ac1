//! Every command and query of every service, as types (one module per service), and the
//! registry the generated contract (`docs/contract/`) is made from.

pub mod catalog;
pub mod deadlines;
pub mod disputes;
pub mod notify;
pub mod recall;
pub mod requests;
pub mod returns;

use crate::{
    calls::{CallSet, Operation},
    envelope::{EventKind, EventSet},
};

/// Every operation of the platform, service by service.
pub fn operations() -> Vec<Operation> {
    let mut all = catalog::Call::operations();
    all.extend(requests::Call::operations());
    all.extend(returns::Call::operations());
    all.extend(disputes::Call::operations());
    all.extend(deadlines::Call::operations());
    all.extend(recall::Call::operations());
    all.extend(notify::Call::operations());
    all
}

/// Every event type on the bus: each service's events and the duty contract.
pub fn events() -> Vec<EventKind> {
    use crate::{duty, events};
    let mut all = events::catalog::Emitted::kinds();
    all.extend(events::requests::Emitted::kinds());
    all.extend(events::returns::Emitted::kinds());
    all.extend(events::disputes::Emitted::kinds());
    all.extend(events::violations::Emitted::kinds());
    all.extend(events::recall::Emitted::kinds());
    all.extend(events::notify::Emitted::kinds());
    all.extend(duty::DutyMessage::kinds());
    all.extend(duty::DutyEvent::kinds());
    all
}
