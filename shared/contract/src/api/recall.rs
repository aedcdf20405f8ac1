//! The calls of the recall service: bodies, answers, and the one list that names them.

use crate::bus::Service;

crate::calls! {
    /// Every command and query of the recall service.
    pub enum Call for Service::Recall {
    }
}
