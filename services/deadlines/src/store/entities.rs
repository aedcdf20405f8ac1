//! Tables of the deadlines service.

pub mod clock {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "clocks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub duty_id: String,
        pub article: i32,
        pub holder: String,
        pub about_kind: String,
        pub about_id: String,
        /// JSON `{"zh": ..., "en": ...}`.
        #[sea_orm(column_type = "Text")]
        pub title: String,
        /// `open`, `paused` or `closed`.
        pub state: String,
        pub opened_at: DateTimeUtc,
        pub due_at: Option<DateTimeUtc>,
        pub remaining_days: Option<i32>,
        pub breached_at: Option<DateTimeUtc>,
        pub closed_at: Option<DateTimeUtc>,
        pub closure: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
