//! The calls of the notify service: bodies, answers, and the one list that names them.

use crate::bus::Service;

crate::calls! {
    /// Every command and query of the notify service.
    pub enum Call for Service::Notify {
    }
}
