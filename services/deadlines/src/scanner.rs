//! Fires due alarms and starts due cycles: reads the head of the `next_alarm_at` index (and
//! of the recurrences' `next_cycle_at` index), handles what has come in bounded batches (each
//! one short transaction), then sleeps on the clock until the next time anything falls due.
//!
//! Exactly once, even with several replicas: each batch is claimed with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL, and every write is conditional on the revision
//! read, in the same transaction as its events in the outbox. A replica that loses a race
//! writes nothing and emits nothing. After downtime, every missed alarm fires, oldest first,
//! a batch at a time.
//!
//! Also here: re-projection after a calendar change (clocks counted with another calendar
//! version are counted again, batch by batch) and the daily digest of overdue duties.

use std::{
    collections::BTreeMap,
    sync::{Arc, OnceLock},
    time::Duration,
};

use chrono::{DateTime, Utc};
use govshare_runtime::{
    Context, EventMeta, Outgoing,
    calendar::TIME_ZONE,
    duty::{CalendarNextYearMissing, OverdueDigest, OverdueDuty},
    reply::Text,
    schedule::UpdateFrequency,
};
use opentelemetry::metrics::Histogram;
use sea_orm::{
    ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    TransactionTrait,
    sea_query::{LockBehavior, LockType},
};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::{
    domain::{self, Change},
    handlers::{self, Clocking},
    store::{
        self,
        entities::{clock, recurrence, timer},
    },
};

/// The digest timer's name in `timers`.
const DIGEST: &str = "overdue-digest";
/// The daily check for next year's calendar in `timers`.
const NEXT_YEAR: &str = "next-year-calendar";
/// Most duties listed per holder in one digest (the count says how many there are).
const DIGEST_LIST: usize = 50;

/// Wakes the scanner when a clock or cycle falls due before the time it sleeps until, and
/// only then (issue 15: woken by every opened duty, it made ~0.7 passes of seven queries per
/// request, for clocks due days later).
///
/// While a pass runs, every due time wakes it again: the pass may have read the head of the
/// index before that clock was written. Otherwise a due time at or after the one the scanner
/// waits for changes nothing. A clock written by another replica, or one whose wake came
/// before its commit, is found by the periodic rescan (`deadlines.rescan_interval_ms`).
#[derive(Debug, Default)]
pub struct Rescan {
    notify: tokio::sync::Notify,
    watch: std::sync::Mutex<Watch>,
}

#[derive(Debug, Default)]
struct Watch {
    scanning: bool,
    /// When the scanner looks next; `None`: nothing is due at all.
    next: Option<DateTime<Utc>>,
}

impl Rescan {
    /// A clock or cycle now falls due at `at`.
    pub fn due(&self, at: Option<DateTime<Utc>>) {
        let Some(at) = at else { return };
        let mut watch = self.watch.lock().expect("not poisoned");
        if watch.scanning {
            self.notify.notify_one();
        } else if watch.next.is_none_or(|next| at < next) {
            watch.next = Some(at);
            self.notify.notify_one();
        }
    }

    fn scanning(&self) {
        self.watch.lock().expect("not poisoned").scanning = true;
    }

    fn scanned(&self, next: Option<DateTime<Utc>>) {
        *self.watch.lock().expect("not poisoned") = Watch { scanning: false, next };
    }
}

pub struct Scanner {
    pub ctx: Context,
    pub clocking: Arc<Clocking>,
    pub rescan: Arc<Rescan>,
    /// Why clocks counted with an older calendar are counted again (set at start); taken
    /// once re-projection is done.
    pub reprojection: Arc<Mutex<Option<Text>>>,
}

/// Seconds between an alarm's time and its firing: the lag Temporal users could not see.
fn lag_histogram() -> &'static Histogram<f64> {
    static H: OnceLock<Histogram<f64>> = OnceLock::new();
    H.get_or_init(|| {
        opentelemetry::global::meter("govshare-deadlines")
            .f64_histogram("govshare.deadlines.alarm.lag")
            .with_unit("s")
            .with_description("Seconds from an alarm's due time (reminder, breach, rung) to its firing")
            .build()
    })
}

/// The last overdue-by histogram the scanner counted, read by the metric's callback.
type OverdueSnapshot = Arc<std::sync::Mutex<(Vec<(i64, u64)>, u64)>>;

/// `govshare.deadlines.overdue.duties{le_hours}`: open duties overdue by at most `le_hours`
/// (cumulative; `+Inf` is all of them), the metric Zeebe users asked for. Counted by the
/// scanner at most once a minute; the gauge reports the last count.
fn overdue_gauge() -> &'static OverdueSnapshot {
    static SNAPSHOT: OnceLock<OverdueSnapshot> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let snapshot = OverdueSnapshot::default();
        let read = snapshot.clone();
        // The callback stays registered with the meter provider; the handle is not needed.
        let _gauge = opentelemetry::global::meter("govshare-deadlines")
            .u64_observable_gauge("govshare.deadlines.overdue.duties")
            .with_description("Open duties overdue by at most le_hours hours (cumulative)")
            .with_callback(move |observer| {
                let (buckets, total) = read.lock().expect("not poisoned").clone();
                for (hours, n) in buckets {
                    observer.observe(n, &[opentelemetry::KeyValue::new("le_hours", hours.to_string())]);
                }
                observer.observe(total, &[opentelemetry::KeyValue::new("le_hours", "+Inf")]);
            })
            .build();
        snapshot
    })
}

/// The last next-year check: the year without a calendar and the duties that will wait on it.
type NextYearSnapshot = Arc<std::sync::Mutex<Option<(i32, u64)>>>;

/// `govshare.calendar.next_year_missing{year}`: open duties that will wait on next year's
/// missing calendar, reported from `calendar.next_year_warning_from` until the year is
/// loaded (nothing is observed otherwise). Alert on its presence.
fn next_year_gauge() -> &'static NextYearSnapshot {
    static SNAPSHOT: OnceLock<NextYearSnapshot> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let snapshot = NextYearSnapshot::default();
        let read = snapshot.clone();
        let _gauge = opentelemetry::global::meter("govshare-deadlines")
            .u64_observable_gauge("govshare.calendar.next_year_missing")
            .with_description("Open duties that will wait on next year's missing working-day calendar")
            .with_callback(move |observer| {
                if let Some((year, n)) = *read.lock().expect("not poisoned") {
                    observer.observe(n, &[opentelemetry::KeyValue::new("year", i64::from(year))]);
                }
            })
            .build();
        snapshot
    })
}

fn meta(duty_id: &str) -> EventMeta {
    EventMeta { acting_org: "deadlines".into(), correlation_id: duty_id.to_owned(), ..Default::default() }
}

impl Scanner {
    pub async fn run(self, stop: CancellationToken) {
        let rescan_every = Duration::from_millis(self.ctx.settings.deadlines.rescan_interval_ms);
        loop {
            self.rescan.scanning();
            let next = match self.pass().await {
                Ok(next) => next,
                Err(err) => {
                    tracing::warn!(error = %err, "deadline scan failed; retrying");
                    None
                }
            };
            self.rescan.scanned(next);
            let clock = self.ctx.clock.clone();
            let until_due = async move {
                match next {
                    Some(at) => clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = until_due => {}
                _ = self.rescan.notify.notified() => {}
                _ = tokio::time::sleep(rescan_every) => {}
            }
        }
    }

    /// One look at everything due; returns when to look next.
    pub async fn pass(&self) -> Result<Option<DateTime<Utc>>, DbErr> {
        self.reproject_all().await?;
        let batch = self.ctx.settings.deadlines.batch_size;
        while self.start_cycles(batch).await? == batch as usize {}
        while self.fire_batch(batch).await? == batch as usize {}
        let digest_at = self.digest().await?;
        let next_year_at = self.next_year_check().await?;
        self.count_overdue().await?;
        let next_alarm = head(
            clock::Entity::find().select_only().column(clock::Column::NextAlarmAt),
            clock::Column::NextAlarmAt,
            &self.ctx,
        )
        .await?;
        let next_cycle = head(
            recurrence::Entity::find()
                .select_only()
                .column(recurrence::Column::NextCycleAt)
                .filter(recurrence::Column::Active.eq(true)),
            recurrence::Column::NextCycleAt,
            &self.ctx,
        )
        .await?;
        Ok([next_alarm, next_cycle, digest_at, next_year_at].into_iter().flatten().min())
    }

    /// Fires the alarms of one batch of clocks; returns how many clocks it claimed.
    pub async fn fire_batch(&self, batch: u64) -> Result<usize, DbErr> {
        let now = self.ctx.clock.now();
        let k = &*self.clocking;
        let tx = self.ctx.db.begin().await?;
        let rows = claim_due(clock::Entity::find(), clock::Column::NextAlarmAt, now, batch, &tx).await?;
        let claimed = rows.len();
        let (mut outgoing, mut log, mut saved) = (Vec::new(), Vec::new(), Vec::with_capacity(claimed));
        for row in rows {
            let (c, rev) = store::to_domain(row)?;
            let Change::Update(next, said) = domain::fire(&c, &k.calendar, &k.policy, now) else { continue };
            if let Some(at) = c.next_alarm_at {
                lag_histogram().record((now - at).num_milliseconds() as f64 / 1000.0, &[]);
            }
            outgoing.extend(handlers::announce(&next, &said, &meta(&c.duty.duty_id), now, &mut log));
            saved.push((next, rev));
        }
        // One set-based write for the batch. The rows are claimed (locked on PostgreSQL, the one
        // writer on SQLite), so every revision still holds; if one did not, nothing of this
        // batch is kept and the next pass claims again.
        if store::save_read(&tx, &saved, &k.calendar_version).await? != saved.len() as u64 {
            tracing::warn!("a fired clock was changed by another writer; the batch is retried");
            tx.rollback().await?;
            return Ok(0);
        }
        if !outgoing.is_empty() {
            tracing::info!(announced = outgoing.len(), "duty alarms fired");
        }
        store::append_log(&tx, log).await?;
        self.ctx.commit(tx, &outgoing).await?;
        Ok(claimed)
    }

    /// Starts the cycles of recurring duties that have come; returns how many it claimed.
    async fn start_cycles(&self, batch: u64) -> Result<usize, DbErr> {
        let now = self.ctx.clock.now();
        let k = &*self.clocking;
        let tx = self.ctx.db.begin().await?;
        let active = recurrence::Entity::find().filter(recurrence::Column::Active.eq(true));
        let rows = claim_due(active, recurrence::Column::NextCycleAt, now, batch, &tx).await?;
        let claimed = rows.len();
        let (mut outgoing, mut log) = (Vec::new(), Vec::new());
        for row in rows {
            let (mut rec, rev) = store::recurrence_to_domain(row)?;
            // A bounded number of cycles per pass: a long outage of a minutely schedule
            // catches up over several passes instead of in one huge transaction.
            for _ in 0..batch {
                let Some((next, cycle, said)) = domain::start_cycle(&rec, &k.calendar, &k.policy, now) else { break };
                if store::save(&tx, &cycle, None, &k.calendar_version).await? {
                    log.push(store::LogLine {
                        duty_id: cycle.duty.duty_id.clone(),
                        at: now,
                        kind: "cycle_started".into(),
                        due_at: cycle.due_at,
                        note: String::new(),
                    });
                    outgoing.extend(handlers::announce(&cycle, &said, &meta(&cycle.duty.duty_id), now, &mut log));
                }
                rec = next;
            }
            if !store::save_recurrence(&tx, &rec, Some(rev)).await? {
                // Another replica started these cycles: drop ours.
                tx.rollback().await?;
                return Ok(claimed);
            }
        }
        store::append_log(&tx, log).await?;
        self.ctx.commit(tx, &outgoing).await?;
        Ok(claimed)
    }

    /// Counts again, batch by batch, every clock counted with another calendar version.
    async fn reproject_all(&self) -> Result<(), DbErr> {
        let mut pending = self.reprojection.lock().await;
        let Some(reason) = pending.clone() else { return Ok(()) };
        let k = &*self.clocking;
        let batch = self.ctx.settings.deadlines.batch_size;
        let mut moved = 0;
        loop {
            let now = self.ctx.clock.now();
            let tx = self.ctx.db.begin().await?;
            let q = clock::Entity::find()
                .filter(clock::Column::State.ne("closed"))
                .filter(clock::Column::CalendarVersion.ne(&k.calendar_version))
                .limit(batch);
            let rows = claim(q, &tx).all(&tx).await?;
            let claimed = rows.len();
            let (mut outgoing, mut log) = (Vec::new(), Vec::new());
            for row in rows {
                let (c, rev) = store::to_domain(row)?;
                let (next, said) = match domain::schedule(c.clone(), &k.calendar, &k.policy, now, Some(reason.clone()))
                {
                    Change::Update(next, said) => (next, said),
                    Change::Ignore(_) => (c, Vec::new()),
                };
                if store::save(&tx, &next, Some(rev), &k.calendar_version).await? && !said.is_empty() {
                    moved += 1;
                    outgoing.extend(handlers::announce(&next, &said, &meta(&next.duty.duty_id), now, &mut log));
                }
            }
            store::append_log(&tx, log).await?;
            self.ctx.commit(tx, &outgoing).await?;
            if claimed < batch as usize {
                break;
            }
        }
        tracing::info!(moved, reason = %reason.en, "clocks re-projected on the current calendar");
        *pending = None;
        Ok(())
    }

    /// Refreshes the overdue-by gauge, at most once a minute (real time: it is telemetry).
    async fn count_overdue(&self) -> Result<(), DbErr> {
        static LAST: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
        {
            let mut last = LAST.lock().expect("not poisoned");
            if last.is_some_and(|at| at.elapsed() < Duration::from_secs(60)) {
                return Ok(());
            }
            *last = Some(std::time::Instant::now());
        }
        let counted = handlers::overdue_buckets(&self.ctx.db, None, self.ctx.clock.now()).await?;
        *overdue_gauge().lock().expect("not poisoned") = counted;
        Ok(())
    }

    /// Once a day (09:00 Beijing time, one replica), from `calendar.next_year_warning_from`:
    /// if next year's calendar is missing, tells the platform operators
    /// (`calendar.next_year_missing`, which notify delivers to `platform`) how many open
    /// duties will wait on it, and sets the gauge. Returns when to look next.
    async fn next_year_check(&self) -> Result<Option<DateTime<Utc>>, DbErr> {
        let k = &*self.clocking;
        let now = self.ctx.clock.now();
        let tx = self.ctx.db.begin().await?;
        let due = timer::Entity::find_by_id(NEXT_YEAR.to_owned()).one(&tx).await?.map(|r| r.next_at);
        if let Some(at) = due.filter(|at| *at > now) {
            tx.rollback().await?;
            return Ok(Some(at));
        }
        let tomorrow = now.with_timezone(&TIME_ZONE).date_naive() + chrono::Days::new(1);
        let following = k.calendar.start_of(tomorrow) + chrono::Duration::hours(9);
        // Claim this day's check: one replica wins the insert or the conditional update.
        let won = match due {
            None => {
                timer::Entity::insert(timer::ActiveModel {
                    name: sea_orm::Set(NEXT_YEAR.into()),
                    next_at: sea_orm::Set(following),
                })
                .on_conflict(sea_orm::sea_query::OnConflict::column(timer::Column::Name).do_nothing().to_owned())
                .exec_without_returning(&tx)
                .await?
            }
            Some(at) => {
                timer::Entity::update_many()
                    .col_expr(timer::Column::NextAt, sea_orm::sea_query::Expr::value(following))
                    .filter(timer::Column::Name.eq(NEXT_YEAR))
                    .filter(timer::Column::NextAt.eq(at))
                    .exec(&tx)
                    .await?
                    .rows_affected
            }
        } == 1;
        let mut outgoing = Vec::new();
        if won {
            let missing = domain::next_year::missing_next_year(&k.calendar, k.next_year_warning_from, now);
            let mut snapshot = None;
            if let Some(year) = missing {
                let waiting = self.duties_waiting_for(&tx, year).await?;
                tracing::warn!(year, waiting, "no working-day calendar is loaded for next year");
                let event = CalendarNextYearMissing { year, duties_waiting: waiting, at: now };
                outgoing.push(Outgoing::event(&event, &meta(&format!("calendar-{year}")), now));
                snapshot = Some((year, waiting));
            }
            *next_year_gauge().lock().expect("not poisoned") = snapshot;
        }
        self.ctx.commit(tx, &outgoing).await?;
        Ok(Some(following))
    }

    /// Open clocks that will wait on `year`'s calendar ([`domain::next_year::waits_for`]).
    async fn duties_waiting_for(&self, tx: &DatabaseTransaction, year: i32) -> Result<u64, DbErr> {
        let k = &*self.clocking;
        // Only a clock due within the ladder's reach of the year's start can reach into it.
        let longest_rung = k.policy.ladder.iter().map(|r| i64::from(r.after_working_days)).max().unwrap_or(0);
        let start = k.calendar.start_of(chrono::NaiveDate::from_ymd_opt(year, 1, 1).expect("a valid year"));
        let reach = start - chrono::Duration::days(30 + 2 * longest_rung);
        let rows = clock::Entity::find()
            .filter(clock::Column::State.eq("open"))
            .filter(
                sea_orm::Condition::any().add(clock::Column::MissingYear.eq(year)).add(clock::Column::DueAt.gte(reach)),
            )
            .all(tx)
            .await?;
        let mut waiting = 0;
        for row in rows {
            let (c, _) = store::to_domain(row)?;
            if domain::next_year::waits_for(&c, year, &k.calendar, &k.policy) {
                waiting += 1;
            }
        }
        Ok(waiting)
    }

    /// Sends the overdue digest when its time has come (one replica per occurrence);
    /// returns when the next one is due.
    async fn digest(&self) -> Result<Option<DateTime<Utc>>, DbErr> {
        let settings = &self.ctx.settings.deadlines;
        let schedule = match UpdateFrequency::parse(&settings.digest_schedule) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(
                    schedule = settings.digest_schedule,
                    error = e.en,
                    "digest schedule unreadable; no digests"
                );
                return Ok(None);
            }
        };
        let now = self.ctx.clock.now();
        let tx = self.ctx.db.begin().await?;
        let Some(row) = timer::Entity::find_by_id(DIGEST.to_owned()).one(&tx).await? else {
            let first = schedule.next_after(now);
            if let Some(at) = first {
                timer::Entity::insert(timer::ActiveModel {
                    name: sea_orm::Set(DIGEST.into()),
                    next_at: sea_orm::Set(at),
                })
                .on_conflict(sea_orm::sea_query::OnConflict::column(timer::Column::Name).do_nothing().to_owned())
                .exec_without_returning(&tx)
                .await?;
            }
            tx.commit().await?;
            return Ok(first);
        };
        if row.next_at > now {
            tx.rollback().await?;
            return Ok(Some(row.next_at));
        }
        // Claim this occurrence: one replica wins the conditional update.
        let following = schedule.next_after(now).unwrap_or(now + chrono::Duration::days(1));
        let won = timer::Entity::update_many()
            .col_expr(timer::Column::NextAt, sea_orm::sea_query::Expr::value(following))
            .filter(timer::Column::Name.eq(DIGEST))
            .filter(timer::Column::NextAt.eq(row.next_at))
            .exec(&tx)
            .await?
            .rows_affected
            == 1;
        let today = now.with_timezone(&govshare_runtime::calendar::TIME_ZONE).date_naive();
        let working = self.clocking.calendar.is_working_day(today).unwrap_or(true);
        let mut outgoing = Vec::new();
        if won && (working || !settings.digest_on_working_days_only) {
            outgoing = digests(&tx, now).await?;
            tracing::info!(holders = outgoing.len(), "overdue digest sent");
        }
        self.ctx.commit(tx, &outgoing).await?;
        Ok(Some(following))
    }
}

/// One digest per holder with open overdue duties, oldest first.
async fn digests(tx: &DatabaseTransaction, now: DateTime<Utc>) -> Result<Vec<Outgoing>, DbErr> {
    let mut by_holder: BTreeMap<String, Vec<OverdueDuty>> = BTreeMap::new();
    for row in handlers::overdue(now).order_by_asc(clock::Column::DueAt).all(tx).await? {
        let list = by_holder.entry(row.holder.clone()).or_default();
        if list.len() >= DIGEST_LIST {
            continue;
        }
        let (c, _) = store::to_domain(row)?;
        let due = c.due_at.unwrap_or(now);
        list.push(OverdueDuty { duty: c.duty, due_at: due, overdue_seconds: (now - due).num_seconds() });
    }
    Ok(by_holder
        .into_iter()
        .map(|(holder, duties)| {
            let digest = OverdueDigest { holder: holder.clone(), at: now, duties };
            Outgoing::event(&digest, &meta(&format!("digest-{holder}")), now)
        })
        .collect())
}

/// On PostgreSQL, skip rows another replica holds: two replicas split a burst between them.
fn claim<E: EntityTrait>(q: Select<E>, tx: &DatabaseTransaction) -> Select<E> {
    if govshare_runtime::store::is_postgres(tx) {
        q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
    } else {
        q
    }
}

/// Claims up to `batch` rows of `q` whose `col` has come by `now`, earliest first.
async fn claim_due<E: EntityTrait>(
    q: Select<E>,
    col: impl ColumnTrait,
    now: DateTime<Utc>,
    batch: u64,
    tx: &DatabaseTransaction,
) -> Result<Vec<E::Model>, DbErr> {
    claim(q.filter(col.lte(now)).order_by_asc(col).limit(batch), tx).all(tx).await
}

/// The earliest non-null value of `col` in `q`.
async fn head<E: EntityTrait>(
    q: Select<E>,
    col: impl ColumnTrait,
    ctx: &Context,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    q.filter(col.is_not_null())
        .order_by_asc(col)
        .limit(1)
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(&ctx.db)
        .await
        .map(Option::flatten)
}
