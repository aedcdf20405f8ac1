//! The deadlines service's own database: one row per duty clock, indexed by its next alarm;
//! the clock log; recurring duties; timers; the calendar years the clocks were counted with.
//!
//! Every write of a clock or a recurrence is conditional on the revision that was read, so
//! a replica's scanner and another's contract handler never both apply a change: the loser
//! changes nothing and emits nothing.

pub mod entities;
mod m20261123_300001_create_clocks;
mod m20261123_300002_alarms_and_recurrences;
mod m20261202_300003_duty_openers;
mod m20261203_300004_expiring_clocks;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use govshare_runtime::{
    Service,
    duty::{About, Closure, Duty},
};
use sea_orm::{
    AccessMode,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, IsolationLevel, QueryFilter,
    QueryOrder, TransactionTrait,
    sea_query::OnConflict,
};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

use crate::domain::{Basis, DutyClock, Recurrence, State};
use entities::{calendar_year, clock, clock_log, recurrence};

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut m = govshare_runtime::store::shared_migrations();
        m.push(Box::new(m20261123_300001_create_clocks::Migration));
        m.push(Box::new(m20261123_300002_alarms_and_recurrences::Migration));
        m.push(Box::new(m20261202_300003_duty_openers::Migration));
        m.push(Box::new(m20261203_300004_expiring_clocks::Migration));
        m
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("stored {what}: {e}"))
}

fn duty_of(
    duty_id: String,
    article: i32,
    holder: String,
    kind: String,
    id: String,
    title: &str,
) -> Result<Duty, DbErr> {
    Ok(Duty {
        duty_id,
        article: u16::try_from(article).map_err(|e| corrupt("article", e))?,
        holder,
        about: About { kind, id },
        title: serde_json::from_str(title).map_err(|e| corrupt("title", e))?,
    })
}

/// The recorded opener of a duty; `None` for rows written before openers were recorded.
fn opener_of(stored: Option<&str>) -> Result<Option<Service>, DbErr> {
    stored.map(|s| Service::parse(s).ok_or_else(|| corrupt("opened_by", s))).transpose()
}

fn closure_name(c: Closure) -> String {
    serde_json::to_value(c).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// A stored clock and the revision it was read at.
pub fn to_domain(row: clock::Model) -> Result<(DutyClock, i32), DbErr> {
    let basis = match (row.basis_from, row.basis_days, row.basis_until) {
        (Some(from), Some(days), _) => Basis::WorkingDays { from, days: days as u32 },
        (_, _, Some(at)) => Basis::Until { at, extra_days: row.basis_extra_days as u32 },
        _ => return Err(corrupt("basis", format!("clock {} has none", row.duty_id))),
    };
    let clock = DutyClock {
        state: State::parse(&row.state).ok_or_else(|| corrupt("state", &row.state))?,
        basis,
        term_days: row.term_days.map(|d| d as u32),
        extended_days: row.extended_days as u32,
        opened_at: row.opened_at,
        due_at: row.due_at,
        remaining_days: row.remaining_days.map(|d| d as u32),
        stage: row.stage as u32,
        next_alarm_at: row.next_alarm_at,
        missing_year: row.missing_year,
        breached_at: row.breached_at,
        closed_at: row.closed_at,
        closure: row
            .closure
            .as_deref()
            .map(|c| serde_json::from_value(c.into()).map_err(|e| corrupt("closure", e)))
            .transpose()?,
        recurrence: row.recurrence,
        opened_by: opener_of(row.opened_by.as_deref())?,
        expires: row.expires,
        duty: duty_of(row.duty_id, row.article, row.holder, row.about_kind, row.about_id, &row.title)?,
    };
    Ok((clock, row.revision))
}

fn to_row(c: &DutyClock, revision: i32, calendar_version: &str) -> clock::ActiveModel {
    let (basis_from, basis_days, basis_until, basis_extra_days) = match c.basis {
        Basis::WorkingDays { from, days } => (Some(from), Some(days as i32), None, 0),
        Basis::Until { at, extra_days } => (None, None, Some(at), extra_days as i32),
    };
    clock::ActiveModel {
        duty_id: Set(c.duty.duty_id.clone()),
        article: Set(i32::from(c.duty.article)),
        holder: Set(c.duty.holder.clone()),
        about_kind: Set(c.duty.about.kind.clone()),
        about_id: Set(c.duty.about.id.clone()),
        title: Set(serde_json::to_string(&c.duty.title).expect("text serializes")),
        state: Set(c.state.name().to_owned()),
        opened_at: Set(c.opened_at),
        due_at: Set(c.due_at),
        remaining_days: Set(c.remaining_days.map(|d| d as i32)),
        breached_at: Set(c.breached_at),
        closed_at: Set(c.closed_at),
        closure: Set(c.closure.map(closure_name)),
        basis_from: Set(basis_from),
        basis_days: Set(basis_days),
        basis_until: Set(basis_until),
        basis_extra_days: Set(basis_extra_days),
        term_days: Set(c.term_days.map(|d| d as i32)),
        extended_days: Set(c.extended_days as i32),
        stage: Set(c.stage as i32),
        next_alarm_at: Set(c.next_alarm_at),
        missing_year: Set(c.missing_year),
        revision: Set(revision),
        calendar_version: Set(calendar_version.to_owned()),
        recurrence: Set(c.recurrence.clone()),
        opened_by: Set(c.opened_by.map(|s| s.name().to_owned())),
        expires: Set(c.expires),
    }
}

pub async fn clock(db: &impl ConnectionTrait, duty_id: &str) -> Result<Option<(DutyClock, i32)>, DbErr> {
    clock::Entity::find_by_id(duty_id.to_owned()).one(db).await?.map(to_domain).transpose()
}

/// evolve: writes a clock read at `read_revision` (`None`: a new clock). Returns whether
/// this write won; `false` means another writer got there first and nothing was written.
pub async fn save(
    db: &impl ConnectionTrait,
    c: &DutyClock,
    read_revision: Option<i32>,
    calendar_version: &str,
) -> Result<bool, DbErr> {
    let written = match read_revision {
        None => {
            clock::Entity::insert(to_row(c, 0, calendar_version))
                .on_conflict(OnConflict::column(clock::Column::DutyId).do_nothing().to_owned())
                .exec_without_returning(db)
                .await?
        }
        Some(rev) => {
            clock::Entity::update_many()
                .set(to_row(c, rev + 1, calendar_version))
                .filter(clock::Column::DutyId.eq(&c.duty.duty_id))
                .filter(clock::Column::Revision.eq(rev))
                .exec(db)
                .await?
                .rows_affected
        }
    };
    Ok(written == 1)
}

/// Saves many clocks read at their revisions, in a few set-based statements instead of one
/// round trip each (a burst of 100,000 alarms was 100,000 sequential UPDATEs): an upsert whose
/// update applies only where the stored revision is still the one read. Returns how many were
/// written; fewer than given means another writer moved some, and the caller must not keep
/// its transaction (it cannot tell which).
pub async fn save_read(
    db: &impl ConnectionTrait,
    clocks: &[(DutyClock, i32)],
    calendar_version: &str,
) -> Result<u64, DbErr> {
    use sea_orm::{
        Iterable,
        sea_query::{Alias, Expr, ExprTrait},
    };
    let updated: Vec<clock::Column> = clock::Column::iter().filter(|c| !matches!(c, clock::Column::DutyId)).collect();
    let mut written = 0;
    // 27 values a row: PostgreSQL binds at most 65,535 a statement, SQLite 32,766.
    for chunk in clocks.chunks(SAVE_CHUNK) {
        let rows = chunk.iter().map(|(c, rev)| to_row(c, rev + 1, calendar_version));
        let on_conflict = OnConflict::column(clock::Column::DutyId)
            .update_columns(updated.iter().copied())
            .action_and_where(
                Expr::col((clock::Entity, clock::Column::Revision))
                    .add(1)
                    .eq(Expr::col((Alias::new("excluded"), clock::Column::Revision))),
            )
            .to_owned();
        written += clock::Entity::insert_many(rows).on_conflict(on_conflict).exec_without_returning(db).await?;
    }
    Ok(written)
}

/// Clocks per statement of [`save_read`].
const SAVE_CHUNK: usize = 500;

/// One line of a clock's log.
#[derive(Debug, Clone)]
pub struct LogLine {
    pub duty_id: String,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub due_at: Option<DateTime<Utc>>,
    pub note: String,
}

/// Appends to a clock's log.
pub async fn log(
    db: &impl ConnectionTrait,
    duty_id: &str,
    at: DateTime<Utc>,
    kind: &str,
    due_at: Option<DateTime<Utc>>,
    note: &str,
) -> Result<(), DbErr> {
    let line = LogLine { duty_id: duty_id.to_owned(), at, kind: kind.to_owned(), due_at, note: note.to_owned() };
    append_log(db, vec![line]).await
}

/// Appends many lines in few statements (a burst of breaches writes one per batch).
pub async fn append_log(db: &impl ConnectionTrait, lines: Vec<LogLine>) -> Result<(), DbErr> {
    let rows = lines.into_iter().map(|l| clock_log::ActiveModel {
        id: NotSet,
        duty_id: Set(l.duty_id),
        at: Set(l.at),
        kind: Set(l.kind),
        due_at: Set(l.due_at),
        note: Set(l.note),
    });
    let rows: Vec<_> = rows.collect();
    for chunk in rows.chunks(500) {
        clock_log::Entity::insert_many(chunk.to_vec()).exec_without_returning(db).await?;
    }
    Ok(())
}

pub async fn clock_log(db: &impl ConnectionTrait, duty_id: &str) -> Result<Vec<clock_log::Model>, DbErr> {
    clock_log::Entity::find()
        .filter(clock_log::Column::DutyId.eq(duty_id))
        .order_by_asc(clock_log::Column::Id)
        .all(db)
        .await
}

/// A clock row and its log, read in one snapshot (a read-only transaction; REPEATABLE READ
/// on PostgreSQL, where READ COMMITTED would give each statement its own): the log never
/// shows a newer due time than the row.
pub async fn clock_with_log(
    db: &DatabaseConnection,
    duty_id: &str,
) -> Result<Option<(clock::Model, Vec<clock_log::Model>)>, DbErr> {
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    let tx = db
        .begin_with_config(postgres.then_some(IsolationLevel::RepeatableRead), postgres.then_some(AccessMode::ReadOnly))
        .await?;
    let read = match clock::Entity::find_by_id(duty_id.to_owned()).one(&tx).await? {
        Some(row) => Some((row, clock_log(&tx, duty_id).await?)),
        None => None,
    };
    tx.commit().await?;
    Ok(read)
}

/// The open (or paused) cycles of a recurring duty, oldest first.
pub async fn open_cycles(db: &impl ConnectionTrait, recurrence_id: &str) -> Result<Vec<(DutyClock, i32)>, DbErr> {
    clock::Entity::find()
        .filter(clock::Column::Recurrence.eq(recurrence_id))
        .filter(clock::Column::State.ne("closed"))
        .order_by_asc(clock::Column::OpenedAt)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

pub fn recurrence_to_domain(row: recurrence::Model) -> Result<(Recurrence, i32), DbErr> {
    let rec = Recurrence {
        schedule: serde_json::from_value(row.schedule.clone().into()).map_err(|e| corrupt("schedule", e))?,
        active: row.active,
        next_cycle_at: row.next_cycle_at,
        current_cycle: row.current_cycle,
        opened_by: opener_of(row.opened_by.as_deref())?,
        duty: duty_of(row.duty_id, row.article, row.holder, row.about_kind, row.about_id, &row.title)?,
    };
    Ok((rec, row.revision))
}

pub async fn recurrence(db: &impl ConnectionTrait, duty_id: &str) -> Result<Option<(Recurrence, i32)>, DbErr> {
    recurrence::Entity::find_by_id(duty_id.to_owned()).one(db).await?.map(recurrence_to_domain).transpose()
}

/// evolve: writes a recurring duty read at `read_revision`; see [`save`].
pub async fn save_recurrence(
    db: &impl ConnectionTrait,
    r: &Recurrence,
    read_revision: Option<i32>,
) -> Result<bool, DbErr> {
    let row = |revision| recurrence::ActiveModel {
        duty_id: Set(r.duty.duty_id.clone()),
        article: Set(i32::from(r.duty.article)),
        holder: Set(r.duty.holder.clone()),
        about_kind: Set(r.duty.about.kind.clone()),
        about_id: Set(r.duty.about.id.clone()),
        title: Set(serde_json::to_string(&r.duty.title).expect("text serializes")),
        schedule: Set(r.schedule.canonical()),
        active: Set(r.active),
        next_cycle_at: Set(r.next_cycle_at),
        current_cycle: Set(r.current_cycle.clone()),
        opened_by: Set(r.opened_by.map(|s| s.name().to_owned())),
        revision: Set(revision),
    };
    let written = match read_revision {
        None => {
            recurrence::Entity::insert(row(0))
                .on_conflict(OnConflict::column(recurrence::Column::DutyId).do_nothing().to_owned())
                .exec_without_returning(db)
                .await?
        }
        Some(rev) => {
            recurrence::Entity::update_many()
                .set(row(rev + 1))
                .filter(recurrence::Column::DutyId.eq(&r.duty.duty_id))
                .filter(recurrence::Column::Revision.eq(rev))
                .exec(db)
                .await?
                .rows_affected
        }
    };
    Ok(written == 1)
}

/// The calendar years the clocks were last projected with.
pub async fn stored_years(db: &impl ConnectionTrait) -> Result<BTreeMap<i32, String>, DbErr> {
    Ok(calendar_year::Entity::find().all(db).await?.into_iter().map(|r| (r.year, r.digest)).collect())
}

pub async fn store_years(db: &impl ConnectionTrait, years: &BTreeMap<i32, String>) -> Result<(), DbErr> {
    calendar_year::Entity::delete_many().exec(db).await?;
    for (year, digest) in years {
        calendar_year::Entity::insert(calendar_year::ActiveModel { year: Set(*year), digest: Set(digest.clone()) })
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use govshare_runtime::{
        Service,
        calendar::Calendar,
        duty::{About, Duty, OpenDuty, Term},
        reply::Text,
    };

    use super::*;
    use crate::domain::{Change, Policy, open};

    fn opened(id: &str) -> DutyClock {
        let monday = "2026-11-23T02:00:00Z".parse().unwrap();
        let cmd = OpenDuty {
            duty: Duty {
                duty_id: id.into(),
                article: 21,
                holder: "gongan".into(),
                about: About { kind: "request".into(), id: id.into() },
                title: Text::new("答复", "reply"),
            },
            term: Term::WorkingDays { days: 10, from: monday },
            opened_by: Service::Requests,
        };
        match open(None, &cmd, &Calendar::official(), &Policy::default(), monday) {
            Change::Update(c, _) => c,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_batch_is_saved_in_one_statement_only_where_the_revision_read_still_holds() {
        // Given three clocks stored at revision 0, one of which another writer moved to 1
        let db = govshare_runtime::store::connect_and_migrate::<Migrator>("sqlite::memory:", 1).await.unwrap();
        let clocks: Vec<DutyClock> = (1..=3).map(|i| opened(&format!("d{i}"))).collect();
        for c in &clocks {
            assert!(save(&db, c, None, "v").await.unwrap());
        }
        assert!(save(&db, &clocks[1], Some(0), "v").await.unwrap());
        // When all three are saved as read at revision 0, stage moved
        let fired: Vec<(DutyClock, i32)> = clocks.iter().map(|c| (DutyClock { stage: 1, ..c.clone() }, 0)).collect();
        let written = save_read(&db, &fired, "v").await.unwrap();
        // Then the two whose revision held are written, the moved one is left as it was
        assert_eq!(written, 2);
        let stages: Vec<(i32, i32)> = futures::future::join_all(["d1", "d2", "d3"].map(|id| clock(&db, id)))
            .await
            .into_iter()
            .map(|c| {
                let (c, rev) = c.unwrap().unwrap();
                (c.stage as i32, rev)
            })
            .collect();
        assert_eq!(stages, [(1, 1), (0, 1), (1, 1)]);
    }
}
