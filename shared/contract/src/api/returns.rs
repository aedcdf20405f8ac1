//! The returns calls of the requests service: bodies, answers, and the one list that names them.

use crate::bus::Service;

crate::calls! {
    /// Every command and query about returns (served by the requests service).
    pub enum Call for Service::Requests {
    }
}
