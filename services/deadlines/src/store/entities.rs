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
        /// Working-day basis: `basis_days` after the day of `basis_from`...
        pub basis_from: Option<DateTimeUtc>,
        pub basis_days: Option<i32>,
        /// ...or a fixed instant plus `basis_extra_days`.
        pub basis_until: Option<DateTimeUtc>,
        pub basis_extra_days: i32,
        pub term_days: Option<i32>,
        pub extended_days: i32,
        pub stage: i32,
        pub next_alarm_at: Option<DateTimeUtc>,
        pub missing_year: Option<i32>,
        /// Bumped by every write: the scanner's and the handler's writes are conditional on it.
        pub revision: i32,
        /// The calendar the due time was counted with ([`crate::store::calendar_version`]).
        pub calendar_version: String,
        pub recurrence: Option<String>,
        /// The service that opened the duty (`requests`, ...), the only one that may change
        /// it; NULL on clocks opened before openers were recorded, which any opener may change.
        pub opened_by: Option<String>,
        /// An end (`Term::Expires`, a usage period), not a deadline: never escalated, never
        /// listed as overdue. False on every clock opened before ends were told apart.
        pub expires: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod clock_log {
    use sea_orm::entity::prelude::*;

    /// What happened to a clock and why: every contract message applied and every event
    /// announced, with the due time after it.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "clock_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        #[serde(skip)]
        pub id: i64,
        #[serde(skip)]
        pub duty_id: String,
        pub at: DateTimeUtc,
        pub kind: String,
        pub due_at: Option<DateTimeUtc>,
        #[sea_orm(column_type = "Text")]
        #[serde(serialize_with = "govshare_runtime::store::json_text")]
        pub note: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod recurrence {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "recurrences")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub duty_id: String,
        pub article: i32,
        pub holder: String,
        pub about_kind: String,
        pub about_id: String,
        #[sea_orm(column_type = "Text")]
        pub title: String,
        /// Canonical [`govshare_runtime::schedule::UpdateFrequency`].
        pub schedule: String,
        pub active: bool,
        pub next_cycle_at: Option<DateTimeUtc>,
        pub current_cycle: Option<String>,
        pub revision: i32,
        /// As [`super::clock::Model::opened_by`]; every cycle's clock inherits it.
        pub opened_by: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod timer {
    use sea_orm::entity::prelude::*;

    /// The service's own scheduled work (the overdue digest): claimed by a conditional update
    /// of `next_at`, so one replica runs each occurrence.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "timers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub next_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod calendar_year {
    use sea_orm::entity::prelude::*;

    /// The calendar years the clocks were last projected with.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "calendar_years")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: i32,
        #[sea_orm(column_type = "Text")]
        pub digest: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
