//! Alarms (reminder, breach, escalation rungs) found by one partial index on the next alarm
//! time; the term's basis for re-projection after a calendar change; the clock's log;
//! recurring duties; the service's own timers (the digest); the calendar each clock was
//! counted with.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clocks {
    Table,
    BasisFrom,
    BasisDays,
    BasisUntil,
    BasisExtraDays,
    TermDays,
    ExtendedDays,
    Stage,
    NextAlarmAt,
    MissingYear,
    Revision,
    CalendarVersion,
    Recurrence,
}

#[derive(DeriveIden)]
enum ClockLog {
    Table,
    Id,
    DutyId,
    At,
    Kind,
    DueAt,
    Note,
}

#[derive(DeriveIden)]
enum Recurrences {
    Table,
    DutyId,
    Article,
    Holder,
    AboutKind,
    AboutId,
    Title,
    Schedule,
    Active,
    NextCycleAt,
    CurrentCycle,
    Revision,
}

#[derive(DeriveIden)]
enum Timers {
    Table,
    Name,
    NextAt,
}

#[derive(DeriveIden)]
enum CalendarYears {
    Table,
    Year,
    Digest,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        let columns = [
            timestamp_with_time_zone_null(Clocks::BasisFrom),
            integer_null(Clocks::BasisDays),
            timestamp_with_time_zone_null(Clocks::BasisUntil),
            integer(Clocks::BasisExtraDays).default(0).to_owned(),
            integer_null(Clocks::TermDays),
            integer(Clocks::ExtendedDays).default(0).to_owned(),
            integer(Clocks::Stage).default(0).to_owned(),
            timestamp_with_time_zone_null(Clocks::NextAlarmAt),
            integer_null(Clocks::MissingYear),
            integer(Clocks::Revision).default(0).to_owned(),
            string(Clocks::CalendarVersion).default("").to_owned(),
            string_null(Clocks::Recurrence),
        ];
        for mut col in columns {
            manager.alter_table(Table::alter().table(Clocks::Table).add_column(&mut col).to_owned()).await?;
        }
        let db = manager.get_connection();
        // Clocks from before alarms: a fixed due time, the breach (or, if it came, nothing) next.
        db.execute_unprepared(
            "UPDATE clocks SET basis_until = due_at, stage = 1, next_alarm_at = due_at \
             WHERE state = 'open' AND breached_at IS NULL AND due_at IS NOT NULL",
        )
        .await?;
        db.execute_unprepared("UPDATE clocks SET basis_until = due_at, stage = 2 WHERE breached_at IS NOT NULL")
            .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS clocks_pending_due").await?;
        // The scanner reads the head of this index and nothing else (Zeebe's timer storms
        // came from scanning): only clocks with an alarm still to fire are in it.
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS clocks_next_alarm ON clocks (next_alarm_at) WHERE next_alarm_at IS NOT NULL",
        )
        .await?;
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS clocks_open_due ON clocks (due_at) WHERE state = 'open'")
            .await?;
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS clocks_recurrence ON clocks (recurrence, state)").await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS clocks_calendar ON clocks (calendar_version) WHERE state <> 'closed'",
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(ClockLog::Table)
                    .if_not_exists()
                    .col(big_integer(ClockLog::Id).auto_increment().primary_key())
                    .col(string(ClockLog::DutyId))
                    .col(timestamp_with_time_zone(ClockLog::At))
                    .col(string(ClockLog::Kind))
                    .col(timestamp_with_time_zone_null(ClockLog::DueAt))
                    .col(text(ClockLog::Note))
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS clock_log_duty ON clock_log (duty_id, id)").await?;

        manager
            .create_table(
                Table::create()
                    .table(Recurrences::Table)
                    .if_not_exists()
                    .col(string(Recurrences::DutyId).primary_key())
                    .col(integer(Recurrences::Article))
                    .col(string(Recurrences::Holder))
                    .col(string(Recurrences::AboutKind))
                    .col(string(Recurrences::AboutId))
                    .col(text(Recurrences::Title))
                    .col(string(Recurrences::Schedule))
                    .col(boolean(Recurrences::Active))
                    .col(timestamp_with_time_zone_null(Recurrences::NextCycleAt))
                    .col(string_null(Recurrences::CurrentCycle))
                    .col(integer(Recurrences::Revision).default(0))
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS recurrences_next_cycle ON recurrences (next_cycle_at) WHERE active",
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Timers::Table)
                    .if_not_exists()
                    .col(string(Timers::Name).primary_key())
                    .col(timestamp_with_time_zone(Timers::NextAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CalendarYears::Table)
                    .if_not_exists()
                    .col(integer(CalendarYears::Year).primary_key())
                    .col(text(CalendarYears::Digest))
                    .to_owned(),
            )
            .await
    }
}
