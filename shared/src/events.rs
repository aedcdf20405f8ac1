//! Event payloads of every service, versioned. The wire contract lives here, once, so a
//! consumer decodes exactly what the producer wrote. Add a `V2` type beside a `V1` on a
//! breaking change; never change a published version.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{bus::Service, envelope::EventPayload};

/// The CloudEvents subject: a field, or `entry_id_of` for events carrying a whole entry.
macro_rules! subject_of {
    ($self:ident, entry_id_of) => {
        $self.entry_id_of()
    };
    ($self:ident, $field:ident) => {
        $self.$field.clone()
    };
}

macro_rules! event {
    ($ty:ident, $svc:expr, $kind:literal, version $ver:literal, $subject:ident) => {
        impl EventPayload for $ty {
            const SERVICE: Service = $svc;
            const KIND: &'static str = $kind;
            const VERSION: u32 = $ver;
            fn subject(&self) -> String {
                subject_of!(self, $subject)
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
    //! Events of the catalog service. Every entry transition carries the whole entry
    //! version, so other services keep their own read models without calling back.
    use super::*;

    /// Roles inside an organisation and the accounts (people or systems) that hold them.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Roles {
        /// Administrators: receive the organisation's notifications.
        #[serde(default)]
        pub administrators: Vec<String>,
        /// The department head, who signs off catalog submissions (Art. 13).
        #[serde(default)]
        pub head: Vec<String>,
        /// The sharing office (工作机构).
        #[serde(default)]
        pub sharing_office: Vec<String>,
        /// The head of the sharing office, who signs off requests and replies (Art. 20).
        #[serde(default)]
        pub sharing_office_head: Vec<String>,
    }

    /// An organisation joined the directory.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct OrganisationRegistered {
        pub org_id: String,
        pub name: String,
        pub kind: OrgKind,
        /// GB/T 2260 six-digit code; `000000` for the national level.
        pub region: String,
        pub roles: Roles,
    }
    event!(OrganisationRegistered, Service::Catalog, "organisation.registered", version 1, org_id);

    /// An organisation's roles were replaced (the whole new set).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct RolesChanged {
        pub org_id: String,
        pub roles: Roles,
    }
    event!(RolesChanged, Service::Catalog, "organisation.roles_changed", version 1, org_id);

    /// A data item (信息项) of an entry.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct DataItem {
        pub name: String,
        /// `string`, `integer`, `decimal`, `date`, `datetime`, `boolean`, `binary`.
        pub data_type: String,
        pub sensitivity: Sensitivity,
    }

    /// How sensitive a data item is.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Sensitivity {
        Public,
        Internal,
        Sensitive,
        PersonalInformation,
    }

    /// How data is delivered (Art. 22).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum ShareMethod {
        Interface,
        Batch,
        File,
    }

    /// Whether the data is also opened to the public.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum OpenType {
        Open,
        ConditionalOpen,
        NotOpen,
    }

    /// One version of a catalog entry, with every Art. 13 field and the catalog guide's.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct EntryVersion {
        pub entry_id: String,
        pub version: u32,
        /// 分类码: classification code, e.g. `A01-02`.
        pub classification_code: String,
        /// 顺序码: sequence code within the classification, e.g. `000123`.
        pub sequence_code: String,
        pub name: String,
        pub provider: String,
        /// The provider's region.
        pub region: String,
        pub summary: String,
        pub items: Vec<DataItem>,
        pub format: String,
        /// Canonical update frequency: a word (`daily`) or `cron:<six fields>`.
        pub update_frequency: String,
        pub share_type: ShareType,
        pub share_methods: Vec<ShareMethod>,
        /// Conditions of use (scope, purpose); required for `conditional`.
        pub conditions: Option<String>,
        /// Required for `not_shared`, with the legal basis (Art. 14).
        pub not_shared_reason: Option<String>,
        pub legal_basis: Option<String>,
        pub open_type: OpenType,
        /// Classification, e.g. `基础信息/人口`.
        pub classification: String,
        /// Data level, e.g. `一般`, `重要`.
        pub level: String,
        /// Codes of related resources.
        pub related_entries: Vec<String>,
        /// Entries this one is derived from (lineage; recall follows it).
        pub derived_from: Vec<String>,
    }

    impl EntryVersion {
        /// `classification/sequence`, the entry's catalog code.
        pub fn code(&self) -> String {
            format!("{}/{}", self.classification_code, self.sequence_code)
        }
    }

    /// A draft was saved (a new entry, or a new version of a published one).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct EntryDrafted {
        pub entry: EntryVersion,
        pub at: DateTime<Utc>,
    }
    event!(EntryDrafted, Service::Catalog, "entry.drafted", version 1, entry_id_of);

    /// The provider submitted a version to its same-level authority (Art. 16), with the
    /// assessments and sign-off Art. 13 requires.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct EntrySubmitted {
        pub entry: EntryVersion,
        pub reviewer: String,
        pub secrecy_assessment: String,
        pub personal_information_assessment: String,
        pub signed_off_by: String,
        pub at: DateTime<Utc>,
    }
    event!(EntrySubmitted, Service::Catalog, "entry.submitted", version 1, entry_id_of);

    /// The authority approved a version and published it to all departments (Art. 16).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct EntryPublished {
        pub entry: EntryVersion,
        pub approved_by: String,
        pub published_at: DateTime<Utc>,
    }
    event!(EntryPublished, Service::Catalog, "entry.published", version 1, entry_id_of);

    /// The authority sent a version back with its reasons.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct EntryReturned {
        pub entry: EntryVersion,
        pub returned_by: String,
        pub reasons: Vec<String>,
        pub at: DateTime<Utc>,
    }
    event!(EntryReturned, Service::Catalog, "entry.returned", version 1, entry_id_of);

    /// The entry was withdrawn from the catalog.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct EntryWithdrawn {
        pub entry: EntryVersion,
        pub withdrawn_by: String,
        pub reason: String,
        pub at: DateTime<Utc>,
    }
    event!(EntryWithdrawn, Service::Catalog, "entry.withdrawn", version 1, entry_id_of);

    /// A change of law or duties requires the entry to be updated (Art. 17).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct UpdateRequired {
        pub entry_id: String,
        pub cause: String,
        pub reported_by: String,
        pub duty_id: String,
        pub at: DateTime<Utc>,
    }
    event!(UpdateRequired, Service::Catalog, "entry.update_required", version 1, entry_id);

    /// The provider refreshed the data of a published entry, as its update frequency asks
    /// (Art. 13); this fulfils the current cycle of the version's refresh duty.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct DataRefreshed {
        pub entry_id: String,
        /// The published version whose data was refreshed.
        pub version: u32,
        pub refreshed_at: DateTime<Utc>,
        #[serde(default)]
        pub note: Option<String>,
    }
    event!(DataRefreshed, Service::Catalog, "entry.data_refreshed", version 1, entry_id);

    /// The authority named the source department of a data item (Art. 19).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct SourceDesignated {
        pub designation_id: String,
        pub region: String,
        pub item: String,
        pub department: String,
        pub designated_by: String,
        pub at: DateTime<Utc>,
    }
    event!(SourceDesignated, Service::Catalog, "source.designated", version 1, designation_id);

    macro_rules! entry_id_of {
        ($($ty:ident),*) => {$(
            impl $ty {
                /// The entry this event is about.
                pub fn entry_id_of(&self) -> String {
                    self.entry.entry_id.clone()
                }
            }
        )*};
    }
    entry_id_of!(EntryDrafted, EntrySubmitted, EntryPublished, EntryReturned, EntryWithdrawn);
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
