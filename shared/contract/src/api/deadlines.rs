//! The calls of the deadlines service: bodies, answers, and the one list that names them.

use crate::bus::Service;

crate::calls! {
    /// Every command and query of the deadlines service.
    pub enum Call for Service::Deadlines {
    }
}
