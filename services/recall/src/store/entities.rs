//! Tables of the recall service.

pub mod entry {
    //! Read model of published catalog entries.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub entry_id: String,
        pub version: i32,
        pub name: String,
        pub provider: String,
        pub published_at: DateTimeUtc,
        /// JSON list of the entries it declares it is derived from (lineage).
        #[sea_orm(column_type = "Text")]
        #[serde(serialize_with = "govshare_runtime::store::json_text")]
        pub derived_from: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod grant {
    //! Grants that received data, from the requests service's delivery records.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "grants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_id: String,
        pub entry_id: String,
        pub holder: String,
        /// JSON list of the versions delivered.
        #[sea_orm(column_type = "Text")]
        pub versions: String,
        pub ended: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod recall {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "recalls")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub entry_id: String,
        pub provider: String,
        pub completed: bool,
        pub started_at: DateTimeUtc,
        /// JSON of [`crate::domain::recall::Recall`].
        #[sea_orm(column_type = "Text")]
        pub state: String,
        /// Moves one on with every save; a save names the revision it read.
        pub revision: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod recall_issue {
    //! Where issuing a recall's orders stands ([`crate::domain::recall::issue`]).
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "recall_issues")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub recall_id: String,
        /// Messages stored in JetStream so far, of `total`.
        pub issued: i32,
        pub total: i32,
        /// Working days each holder has for its receipt.
        pub receipt_days: i32,
        /// JSON of the [`govshare_runtime::EventMeta`] of the command that started the recall.
        #[sea_orm(column_type = "Text")]
        pub meta: String,
        /// Until when the issuer that last moved it on holds it; after that, anyone may go on.
        pub lease_until: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
