//! Tables of the requests service.

pub mod entry {
    //! Read model of published catalog entries, fed by the catalog's events.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "catalog_entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub entry_id: String,
        pub version: i32,
        pub name: String,
        pub provider: String,
        pub share_type: String,
        /// JSON of [`crate::domain::EntryView`]; `None` for rows from before it was kept.
        #[sea_orm(column_type = "Text", nullable)]
        pub view: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod request {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub entry_id: String,
        pub requester: String,
        pub provider: String,
        pub share_type: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub purpose: Option<String>,
        pub status: String,
        pub submitted_at: DateTimeUtc,
        pub reply_duty_id: String,
        /// JSON of [`crate::domain::Request`].
        #[sea_orm(column_type = "Text", nullable)]
        pub state: Option<String>,
        /// Moves one on with every save; a save names the revision it read.
        pub revision: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod org {
    //! Directory copy, from the catalog's events.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "orgs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: String,
        pub kind: String,
        pub region: String,
        /// JSON of `events::catalog::Roles`.
        #[sea_orm(column_type = "Text")]
        pub roles: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod provider_setting {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "provider_settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: String,
        pub auto_approve_unconditional: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod usage_record {
    //! Usage records (Art. 29): append-only, kept at least three years; there is no delete.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "usage_records")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub request_id: String,
        pub recorded_by: String,
        pub at: DateTimeUtc,
        pub keep_until: DateTimeUtc,
        #[sea_orm(column_type = "Text")]
        pub body: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod dispute {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "disputes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub claimant: String,
        pub respondent: String,
        pub handled_by: String,
        pub step: String,
        pub closed: bool,
        pub opened_at: DateTimeUtc,
        /// JSON of [`crate::domain::disputes::Dispute`].
        #[sea_orm(column_type = "Text")]
        pub state: String,
        /// Moves one on with every save; a save names the revision it read.
        pub revision: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
