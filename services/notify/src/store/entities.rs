//! Tables of the notify service.

pub mod directory {
    //! Each organisation's place and roles, from the catalog's events. Role lists are JSON
    //! arrays of account ids.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: String,
        pub name: String,
        #[sea_orm(column_type = "Text")]
        pub administrators: String,
        /// `department` or `authority`; `None` on rows recorded before notify kept it.
        pub kind: Option<String>,
        /// Six-digit GB/T 2260 code; `None` on rows recorded before notify kept it.
        pub region: Option<String>,
        #[sea_orm(column_type = "Text")]
        pub head: String,
        #[sea_orm(column_type = "Text")]
        pub sharing_office: String,
        #[sea_orm(column_type = "Text")]
        pub sharing_office_head: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod notification {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notifications")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub recipient: String,
        /// The organisation the recipient acts for.
        pub org: String,
        /// `inbox` for now.
        pub channel: String,
        /// The event that caused it: with recipient and channel, unique.
        pub source_event: String,
        /// The template and its parameters (JSON), rendered at read time.
        #[sea_orm(column_type = "Text")]
        pub message: String,
        pub created_at: DateTimeUtc,
        pub read_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod request_parties {
    //! The requester and provider of each request notify has heard submitted.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "request_parties")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_id: String,
        pub requester: String,
        pub provider: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod preference {
    use sea_orm::entity::prelude::*;

    /// How an account wants to hear: channels (`inbox`, `email`), an address, digest only.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "preferences")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub account: String,
        pub email: Option<String>,
        /// JSON list of channel names.
        #[sea_orm(column_type = "Text")]
        #[serde(serialize_with = "govshare_runtime::store::json_text")]
        pub channels: String,
        /// Only digests leave by email: single duty notices stay in the inbox.
        pub digest: bool,
        /// `zh-CN` or `en`.
        pub lang: String,
        /// Moves one on with every change; a change names the revision it read.
        #[serde(skip)]
        pub revision: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod webhook {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhooks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org: String,
        #[sea_orm(column_type = "Text")]
        pub url: String,
        /// `whsec_...` (Standard Webhooks).
        pub secret: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod org_message {
    use sea_orm::entity::prelude::*;

    /// One bus message per organisation and event.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "org_messages")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub source_event: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod delivery {
    use sea_orm::entity::prelude::*;

    /// An email or webhook to send, with its retries: `pending`, `sent` or `dead`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub channel: String,
        pub org: String,
        /// An email address, or the organisation whose webhook it goes to.
        #[sea_orm(column_type = "Text")]
        pub target: String,
        pub source_event: String,
        #[sea_orm(column_type = "Text")]
        pub subject: String,
        #[sea_orm(column_type = "Text")]
        pub body: String,
        pub attempts: i32,
        pub next_attempt_at: Option<DateTimeUtc>,
        pub state: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub last_error: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
