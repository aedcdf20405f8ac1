//! Tables of the catalog service.

pub mod region {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "regions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        pub name: String,
        /// `province`, `city` or `county`.
        pub level: String,
        pub parent: String,
        pub retired_in: Option<i32>,
        /// The dataset version the row was last confirmed by.
        pub dataset_version: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod organisation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "organisations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        /// `department` or `authority`.
        pub kind: String,
        pub region: String,
        /// JSON of `Roles`.
        #[sea_orm(column_type = "Text")]
        pub roles: String,
        /// Moves one on with every save; a save names the revision it read.
        pub revision: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod entry {
    //! One row per entry: the aggregate as JSON, plus the published version's searchable
    //! columns.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// `classification/sequence` of the newest version; unique.
        pub code: String,
        pub provider: String,
        pub region: String,
        pub status: String,
        pub name: String,
        #[sea_orm(column_type = "Text")]
        pub summary: String,
        pub share_type: String,
        pub classification: String,
        /// Lower-cased name and summary of the published version, for text search.
        #[sea_orm(column_type = "Text")]
        pub search_text: String,
        pub published_version: Option<i32>,
        pub published_at: Option<DateTimeUtc>,
        /// JSON of `domain::entry::Entry`.
        #[sea_orm(column_type = "Text")]
        pub state: String,
        /// Moves one on with every save; a save names the revision it read.
        pub revision: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod history {
    //! Every entry event, as emitted: the versions and who did what.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "entry_history")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: String,
        pub entry_id: String,
        pub event_type: String,
        #[sea_orm(column_type = "Text")]
        pub data: String,
        pub at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod source {
    //! Art. 19 source-department designations, one per (region, item).
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "source_designations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub region: String,
        pub item: String,
        pub department: String,
        pub designated_by: String,
        pub at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod posting {
    //! The search index: each listed entry under each of its search keys, at its code, so a
    //! key's entries are read in the order a search answers them.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "entry_postings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        /// The entry's code (`entries.code`), its place in a search's order.
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub entry_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod key_count {
    //! How many listed entries hold each search key, kept with the postings.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "search_key_counts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub holders: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod refresh {
    //! A data refresh the provider recorded for a published entry (Art. 13).
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "data_refreshes")]
    pub struct Model {
        /// The id of the `entry.data_refreshed` event.
        #[sea_orm(primary_key, auto_increment = false)]
        pub refresh_id: String,
        pub entry_id: String,
        /// The published version whose data was refreshed.
        pub version: i32,
        pub refreshed_at: DateTimeUtc,
        #[sea_orm(column_type = "Text", nullable)]
        pub note: Option<String>,
        pub recorded_by: String,
        pub recorded_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod bus_key {
    //! The public part of an organisation's NATS user nkeys, active until revoked.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bus_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub public_key: String,
        pub added_by: String,
        pub added_at: DateTimeUtc,
        pub revoked_by: Option<String>,
        pub revoked_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
