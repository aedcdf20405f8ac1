//! The calls of the catalog service: bodies, answers, and the one list that names them.

use crate::bus::Service;

crate::calls! {
    /// Every command and query of the catalog service.
    pub enum Call for Service::Catalog {
    }
}
