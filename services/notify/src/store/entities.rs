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
