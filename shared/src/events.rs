//! Event payloads of every service, versioned. The wire contract lives here, once, so a
//! consumer decodes exactly what the producer wrote. Add a `V2` type beside a `V1` on a
//! breaking change; never change a published version.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{bus::Service, envelope::EventPayload};

macro_rules! event {
    ($ty:ident, $svc:expr, $kind:literal, version $ver:literal, $subject:ident) => {
        impl EventPayload for $ty {
            const SERVICE: Service = $svc;
            const KIND: &'static str = $kind;
            const VERSION: u32 = $ver;
            fn subject(&self) -> String {
                self.$subject.clone()
            }
        }
    };
}

/// Kinds of organisation in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// A government department (政府部门).
    Department,
    /// The sharing authority of a region (主管部门).
    Authority,
}

/// Share type of a catalog entry (Art. 14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareType {
    Unconditional,
    Conditional,
    NotShared,
}

pub mod catalog {
    //! Events of the catalog service.
    use super::*;

    /// An organisation joined the directory.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct OrganisationRegistered {
        pub org_id: String,
        pub name: String,
        pub kind: OrgKind,
        /// GB/T 2260 six-digit code.
        pub region: String,
        /// People or system accounts who administer it (they receive its notifications).
        pub administrators: Vec<String>,
    }
    event!(OrganisationRegistered, Service::Catalog, "organisation.registered", version 1, org_id);

    /// A catalog entry version was published (Art. 16). Carries the whole version so other
    /// services keep their own read models.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct EntryPublished {
        pub entry_id: String,
        pub version: u32,
        pub name: String,
        pub provider: String,
        pub share_type: ShareType,
        pub published_at: DateTime<Utc>,
    }
    event!(EntryPublished, Service::Catalog, "entry.published", version 1, entry_id);
}

pub mod requests {
    //! Events of the requests service.
    use super::*;

    /// A requester submitted a request for a catalog entry (Art. 20).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct RequestSubmitted {
        pub request_id: String,
        pub entry_id: String,
        pub requester: String,
        pub provider: String,
        pub share_type: ShareType,
        pub submitted_at: DateTime<Utc>,
        /// The reply duty opened with it.
        pub reply_duty_id: String,
    }
    event!(RequestSubmitted, Service::Requests, "request.submitted", version 1, request_id);
}

pub mod notify {
    //! Events of the notify service.
    use super::*;

    /// A notification was put in a recipient's in-app inbox.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct NotificationStored {
        pub notification_id: String,
        pub recipient: String,
        pub org: String,
        pub about_event: String,
    }
    event!(NotificationStored, Service::Notify, "notification.stored", version 1, notification_id);
}
