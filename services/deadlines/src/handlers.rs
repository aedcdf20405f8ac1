//! Duty-contract messages -> domain -> store + outbox; and the deadlines queries.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use govshare_runtime::{
    ApiError, Context, Envelope, EventMeta, Outgoing, Service,
    app::Call,
    async_trait,
    bus::PLATFORM_ORG,
    calendar::Calendar,
    duty::{CloseDuty, Closure, DutyMessage, ExtendDuty, PauseDuty, RestartDuty, ResumeDuty},
    envelope::{Decoded, EventSet},
    inbox::{EventHandler, HandleError},
    page::{self, Page},
    trust::{Refusals, Refused},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Value, json};

use govshare_contract::{api::deadlines as api, calls::Empty};
use govshare_runtime::config::CallSettings;

use crate::{
    domain::{self, Announce, Change, DutyClock, Policy},
    store::{self, entities::clock},
};

/// What every part of the service needs to count time: the calendar, its version, the policy.
#[derive(Debug, Clone)]
pub struct Clocking {
    pub calendar: Calendar,
    pub calendar_version: String,
    pub policy: Policy,
    /// From which day of the year (month, day) a missing next-year calendar is reported
    /// (`calendar.next_year_warning_from`).
    pub next_year_warning_from: (u32, u32),
}

/// Applies the duty contract.
pub struct DutyContract {
    pub clocking: Arc<Clocking>,
    pub rescan: Arc<crate::scanner::Rescan>,
    /// The service's refusal counts: a message about another service's duty is counted as
    /// a forged event (the evidence that a service tried to speak for another).
    pub refusals: Refusals,
}

/// The service that sent a duty message: the envelope's `source` (`/govshare/<service>`),
/// which the inbox has already checked is a service that opens duties, and which the bus
/// lets each service publish only as itself.
fn sender(event: &Envelope) -> Result<Service, HandleError> {
    event
        .source
        .strip_prefix("/govshare/")
        .and_then(Service::parse)
        .ok_or_else(|| HandleError::Permanent(format!("duty message from unknown source {}", event.source)))
}

#[async_trait]
impl EventHandler for DutyContract {
    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, HandleError> {
        let k = &*self.clocking;
        let (cal, policy) = (&k.calendar, &k.policy);
        let meta = govshare_runtime::telemetry::caused_by(event);
        let op = event.event_type.trim_start_matches("govshare.duty.").split(".v").next().unwrap_or_default();
        let note = event.data.to_string();
        let sender = sender(event)?;
        let message = match DutyMessage::decode(event) {
            Decoded::Event(m) => m,
            // The duty stream carries the duty contract alone: anything else on it is a sender
            // speaking a contract this build does not know, kept as evidence.
            Decoded::Other => {
                return Err(HandleError::Permanent(format!("unsupported event type {}", event.event_type)));
            }
            Decoded::Refused(why) => return Err(HandleError::Permanent(why)),
        };
        let duty_id = event.subject.clone();
        let counted = |r: Result<Change, _>| {
            // Pausing counts the days left up to a due time already counted, so its year is
            // loaded; an error here is a corrupt calendar, for operators.
            r.map_err(|e| HandleError::Permanent(format!("duty {duty_id}: {e}")))
        };
        let change = match message {
            DutyMessage::Open(cmd) => {
                self.refuse(domain::opener(cmd.opened_by, sender))?;
                let existing = store::clock(tx, &cmd.duty.duty_id).await?;
                let change = domain::open(existing.as_ref().map(|(c, _)| c), &cmd, cal, policy, now);
                return self.apply(tx, change, existing.map(|(_, rev)| rev), (op, &note), &meta, now).await;
            }
            DutyMessage::OpenRecurring(cmd) => {
                self.refuse(domain::opener(cmd.opened_by, sender))?;
                let existing = store::recurrence(tx, &cmd.duty.duty_id).await?;
                let opened =
                    domain::open_recurring(existing.as_ref().map(|(r, _)| r), &cmd, policy, now).map_err(|why| {
                        HandleError::Permanent(format!("recurring duty {}: {}", cmd.duty.duty_id, why.en))
                    })?;
                if let Some(rec) = opened {
                    store::save_recurrence(tx, &rec, None).await?;
                    store::log(tx, &rec.duty.duty_id, now, op, None, &note).await?;
                    self.rescan.due(rec.next_cycle_at);
                }
                return Ok(Vec::new());
            }
            DutyMessage::CycleDone(cmd) => {
                let ended = (sender, &meta, now);
                return self.end_cycles(tx, &duty_id, Closure::Fulfilled, Some(cmd.at), (op, &note), None, ended).await;
            }
            DutyMessage::Close(cmd) => {
                if let Some((rec, rev)) = store::recurrence(tx, &duty_id).await? {
                    self.refuse(domain::check_change(&duty_id, rec.opened_by, sender))?;
                    let stopped = domain::Recurrence { active: false, ..rec };
                    if !store::save_recurrence(tx, &stopped, Some(rev)).await? {
                        return Err(HandleError::Transient(format!("recurring duty {duty_id} changed meanwhile")));
                    }
                    let ended = (sender, &meta, now);
                    return self.end_cycles(tx, &duty_id, cmd.closure, None, (op, &note), Some(cmd.at), ended).await;
                }
                ClockChange::Close(cmd)
            }
            DutyMessage::Pause(cmd) => ClockChange::Pause(cmd),
            DutyMessage::Resume(cmd) => ClockChange::Resume(cmd),
            DutyMessage::Restart(cmd) => ClockChange::Restart(cmd),
            DutyMessage::Extend(cmd) => ClockChange::Extend(cmd),
        };
        let Some((clock, rev)) = store::clock(tx, &duty_id).await? else {
            // The open may not have been handled yet: retry, dead-letter if it never comes.
            return Err(HandleError::Transient(format!("no clock for duty {duty_id} yet")));
        };
        self.refuse(domain::check_change(&duty_id, clock.opened_by, sender))?;
        let change = match change {
            ClockChange::Close(cmd) => domain::close(&clock, &cmd),
            ClockChange::Pause(cmd) => counted(domain::pause(&clock, &cmd, cal))?,
            ClockChange::Resume(cmd) => domain::resume(&clock, &cmd, cal, policy, now),
            ClockChange::Restart(cmd) => domain::restart(&clock, &cmd, cal, policy, now),
            ClockChange::Extend(cmd) => domain::extend(&clock, &cmd, cal, policy, now),
        };
        self.apply(tx, change, Some(rev), (op, &note), &meta, now).await
    }
}

/// A duty message that changes one clock.
enum ClockChange {
    Close(CloseDuty),
    Pause(PauseDuty),
    Resume(ResumeDuty),
    Restart(RestartDuty),
    Extend(ExtendDuty),
}

impl DutyContract {
    /// A message the sender may not send is counted, and dead-lettered with the reason (the
    /// inbox logs it): a permanent error changes nothing, as the transaction is not kept.
    fn refuse<T>(&self, decided: Result<T, domain::Refusal>) -> Result<T, HandleError> {
        decided.map_err(|why| {
            self.refusals.count(Service::Deadlines, Refused::ForgedEvent);
            HandleError::Permanent(why.to_string())
        })
    }

    async fn apply(
        &self,
        tx: &DatabaseTransaction,
        change: Change,
        read_revision: Option<i32>,
        (op, note): (&str, &str),
        meta: &EventMeta,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, HandleError> {
        match change {
            Change::Ignore(why) => {
                tracing::info!(op, why, "duty message changes nothing");
                Ok(Vec::new())
            }
            Change::Update(next, said) => {
                if !store::save(tx, &next, read_revision, &self.clocking.calendar_version).await? {
                    // The scanner fired an alarm of this clock meanwhile: read it again.
                    return Err(HandleError::Transient(format!("clock {} changed meanwhile", next.duty.duty_id)));
                }
                store::log(tx, &next.duty.duty_id, now, op, next.due_at, note).await?;
                self.rescan.due(next.next_alarm_at);
                let mut log = Vec::new();
                let out = announce(&next, &said, meta, now, &mut log);
                store::append_log(tx, log).await?;
                Ok(out)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    /// Ends the open cycles of a recurring duty (those started by `started_by`, if given).
    async fn end_cycles(
        &self,
        tx: &DatabaseTransaction,
        recurrence_id: &str,
        closure: Closure,
        started_by: Option<DateTime<Utc>>,
        (op, note): (&str, &str),
        at: Option<DateTime<Utc>>,
        (sender, meta, now): (Service, &EventMeta, DateTime<Utc>),
    ) -> Result<Vec<Outgoing>, HandleError> {
        let Some((mut rec, rev)) = store::recurrence(tx, recurrence_id).await? else {
            return Err(HandleError::Transient(format!("no recurring duty {recurrence_id} yet")));
        };
        self.refuse(domain::check_change(recurrence_id, rec.opened_by, sender))?;
        let at = started_by.or(at).expect("a cycle end has a time");
        store::log(tx, recurrence_id, at, op, None, note).await?;
        // A cycle done before the scanner has started it (right after the duty was opened) is
        // still this cycle: start what has come by `at` here, so the done closes it.
        let (mut out, mut log) = (Vec::new(), Vec::new());
        if let Some(done) = started_by {
            let k = &*self.clocking;
            let mut started = false;
            while let Some((next, cycle, said)) = domain::start_cycle(&rec, &k.calendar, &k.policy, done.min(now)) {
                if store::save(tx, &cycle, None, &k.calendar_version).await? {
                    out.extend(announce(&cycle, &said, meta, now, &mut log));
                }
                rec = next;
                started = true;
            }
            if started && !store::save_recurrence(tx, &rec, Some(rev)).await? {
                return Err(HandleError::Transient(format!("recurring duty {recurrence_id} changed meanwhile")));
            }
            store::append_log(tx, log).await?;
        }
        for (cycle, rev) in store::open_cycles(tx, recurrence_id).await? {
            if started_by.is_some_and(|done| cycle.opened_at > done) {
                continue;
            }
            let cmd = CloseDuty { duty_id: cycle.duty.duty_id.clone(), closure, reason: op.to_owned(), at };
            if let Change::Update(next, _) = domain::close(&cycle, &cmd) {
                if !store::save(tx, &next, Some(rev), &self.clocking.calendar_version).await? {
                    return Err(HandleError::Transient(format!("clock {} changed meanwhile", next.duty.duty_id)));
                }
                store::log(tx, &next.duty.duty_id, at, "closed", next.due_at, note).await?;
            }
        }
        Ok(out)
    }
}

/// Turns each announcement into an outgoing event, and a line of the clock's log.
pub fn announce(
    clock: &DutyClock,
    said: &[Announce],
    meta: &EventMeta,
    now: DateTime<Utc>,
    log: &mut Vec<store::LogLine>,
) -> Vec<Outgoing> {
    let mut out = Vec::with_capacity(said.len());
    for a in said {
        let note = match a {
            Announce::Scheduled(s) => s.reason.as_ref().map(|r| r.en.clone()).unwrap_or_default(),
            Announce::Unschedulable(u) => u.reason.en.clone(),
            Announce::Escalated(e) => format!("rung {}: {:?}", e.rung, e.step),
            Announce::Skipped { reason, .. } => reason.en.clone(),
            _ => String::new(),
        };
        log.push(store::LogLine {
            duty_id: clock.duty.duty_id.clone(),
            at: now,
            kind: a.name().to_owned(),
            due_at: clock.due_at,
            note,
        });
        out.extend(a.event().map(|e| Outgoing::of(e, meta, now)));
    }
    out
}

#[tracing::instrument(skip_all, fields(call = %call.name, org = %call.org))]
pub async fn call(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    match call.parse::<api::Call>()? {
        api::Call::GetDuty(body) => Ok(answer(get_duty(ctx, &call, body).await?)),
        api::Call::ListOpen(body) => list_open(ctx, &call, body).await,
        api::Call::ListOverdue(body) => list_overdue(ctx, &call, body).await,
        api::Call::OverdueHistogram(Empty {}) => Ok(answer(overdue_histogram(ctx, &call).await?)),
    }
}

/// The JSON of an answer.
fn answer<T: serde::Serialize>(t: T) -> Value {
    serde_json::to_value(t).expect("answers serialize")
}

/// A page of a list, as asked for by `after` and `limit` (see `govshare_runtime::page`).
fn page(
    after: Option<&api::Cursor>,
    limit: Option<u64>,
    settings: &CallSettings,
    parts: usize,
) -> Result<Page, ApiError> {
    Page::new(after.map(|a| a.as_str()), limit, settings, parts)
}

fn overdue_by(row: &clock::Model, now: DateTime<Utc>) -> Option<i64> {
    row.due_at.filter(|d| row.state == "open" && !row.expires && *d <= now).map(|d| (now - d).num_seconds())
}

fn render(row: clock::Model, now: DateTime<Utc>) -> api::Duty {
    let overdue_by_seconds = overdue_by(&row, now);
    api::Duty {
        title: serde_json::from_str(&row.title).ok(),
        about: api::About { kind: row.about_kind, id: row.about_id },
        duty_id: row.duty_id,
        article: row.article,
        holder: row.holder,
        state: row.state,
        opened_at: row.opened_at,
        due_at: row.due_at,
        remaining_days: row.remaining_days,
        extended_days: row.extended_days,
        next_alarm_at: row.next_alarm_at,
        waiting_for_calendar_year: row.missing_year,
        breached_at: row.breached_at,
        closed_at: row.closed_at,
        closure: row.closure,
        recurrence: row.recurrence,
        opened_by: row.opened_by,
        expires: row.expires,
        overdue_by_seconds,
    }
}

/// The holder sees its own clocks; the platform sees every clock.
fn visible(org: &str, holder: &str) -> bool {
    org == PLATFORM_ORG || org == holder
}

async fn get_duty(ctx: &Context, call: &Call, body: api::GetDuty) -> Result<api::DutyWithLog, ApiError> {
    let id = body.id;
    // The clock and its log from one snapshot: read apart, a move committed in between would
    // show a log already at the new due time beside the old `due_at`.
    let (row, log) = store::clock_with_log(&ctx.db, &id).await?.unzip();
    match row {
        Some(r) if visible(&call.org, &r.holder) => {
            let log = log.unwrap_or_default().into_iter().map(|l| api::LogLine {
                note: serde_json::from_str(&l.note).unwrap_or(Value::String(l.note)),
                at: l.at,
                kind: l.kind,
                due_at: l.due_at,
            });
            Ok(api::DutyWithLog { duty: render(r, ctx.clock.now()), log: log.collect() })
        }
        _ => Err(ApiError::not_found("duty", &id)),
    }
}

/// A page of clocks in the order of their due time, then id; the clocks with no due time
/// (waiting for a calendar year) come after all the others, by id. The cursor is
/// `<due_at or ->|<duty_id>` of the last clock answered.
async fn due_page(
    db: &impl ConnectionTrait,
    base: sea_orm::Select<clock::Entity>,
    page: &Page,
) -> Result<Vec<clock::Model>, ApiError> {
    use clock::Column;
    let untimed = |after: Option<&str>| {
        let mut q = base.clone().filter(Column::DueAt.is_null());
        if let Some(id) = after {
            q = q.filter(Column::DutyId.gt(id));
        }
        q.order_by_asc(Column::DutyId)
    };
    let after = match page.after() {
        None => None,
        Some([at, id]) if at == "-" => return Ok(untimed(Some(id)).limit(page.fetch()).all(db).await?),
        Some([at, id]) => {
            let at = DateTime::parse_from_rfc3339(at).map_err(|_| page::bad_cursor())?.with_timezone(&Utc);
            Some((at, id.clone()))
        }
        Some(_) => return Err(page::bad_cursor()),
    };
    let mut q = base.clone().filter(Column::DueAt.is_not_null());
    if let Some((at, id)) = after {
        q = q.filter(page::keyset(vec![(Column::DueAt, at.into()), (Column::DutyId, id.into())], false));
    }
    let mut rows = q.order_by_asc(Column::DueAt).order_by_asc(Column::DutyId).limit(page.fetch()).all(db).await?;
    if (rows.len() as u64) < page.fetch() {
        rows.extend(untimed(None).limit(page.fetch() - rows.len() as u64).all(db).await?);
    }
    Ok(rows)
}

/// The cursor keys of a clock in [`due_page`]'s order.
fn due_key(r: &clock::Model) -> Vec<String> {
    let at = r.due_at.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    vec![at, r.duty_id.clone()]
}

async fn list_open(ctx: &Context, call: &Call, body: api::ListOpen) -> Result<Value, ApiError> {
    // The platform sees every clock (without `holder`: all of them); an organisation its own.
    let holder = body.holder.map(String::from).or_else(|| (call.org != PLATFORM_ORG).then(|| call.org.clone()));
    let page = page(body.after.as_ref(), body.limit, &ctx.settings.calls, 2)?;
    if let Some(h) = &holder
        && !visible(&call.org, h)
    {
        return Err(ApiError::new(govshare_runtime::ErrorCode::Forbidden));
    }
    let mut q = clock::Entity::find().filter(clock::Column::State.ne("closed"));
    if let Some(h) = holder {
        q = q.filter(clock::Column::Holder.eq(h));
    }
    let rows = due_page(&ctx.db, q, &page).await?;
    let now = ctx.clock.now();
    Ok(page.answer("duties", rows, due_key, |r| json!(render(r, now))))
}

/// Everything overdue (breached and still open), oldest first, with overdue-by, a page at a time.
async fn list_overdue(ctx: &Context, call: &Call, body: api::ListOverdue) -> Result<Value, ApiError> {
    let org = call.org.clone();
    let page = page(body.after.as_ref(), body.limit, &ctx.settings.calls, 2)?;
    let now = ctx.clock.now();
    let mut q = overdue(now);
    if org != PLATFORM_ORG {
        q = q.filter(clock::Column::Holder.eq(&org));
    }
    let rows = due_page(&ctx.db, q, &page).await?;
    Ok(page.answer("duties", rows, due_key, |r| json!(render(r, now))))
}

/// Open clocks past their due time at `now`, found by the `clocks_open_due` partial index.
/// (Not "breached": a digest must not depend on which replica has fired which breach yet.)
/// An end that has come (an expiring clock, a usage period) is not overdue: nobody is late.
pub fn overdue(now: DateTime<Utc>) -> sea_orm::Select<clock::Entity> {
    clock::Entity::find()
        .filter(clock::Column::State.eq("open"))
        .filter(clock::Column::DueAt.lte(now))
        .filter(clock::Column::Expires.eq(false))
}

/// Upper bounds of the overdue-by buckets, in working-time-agnostic hours.
pub const OVERDUE_BUCKETS_HOURS: [i64; 7] = [1, 8, 24, 72, 168, 720, 2160];

/// How overdue the open duties are: a histogram (cumulative counts per upper bound, as
/// Prometheus has it), for dashboards and alerts; the platform sees all holders.
async fn overdue_histogram(ctx: &Context, call: &Call) -> Result<api::OverdueHistogram, ApiError> {
    let now = ctx.clock.now();
    let holder = (call.org != PLATFORM_ORG).then_some(call.org.as_str());
    let (buckets, total) = overdue_buckets(&ctx.db, holder, now).await?;
    let mut out: Vec<_> =
        buckets.into_iter().map(|(h, count)| api::Bucket { le_hours: api::Bound::Hours(h), count }).collect();
    out.push(api::Bucket { le_hours: api::Bound::Infinity(api::Infinity::Inf), count: total });
    Ok(api::OverdueHistogram { at: now, buckets: out, count: total })
}

/// Cumulative counts of open overdue duties (of `holder`, or all) per bound in
/// [`OVERDUE_BUCKETS_HOURS`], and the total.
pub async fn overdue_buckets(
    db: &impl ConnectionTrait,
    holder: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Vec<(i64, u64)>, u64), DbErr> {
    use sea_orm::PaginatorTrait;
    let scoped = || match holder {
        Some(h) => overdue(now).filter(clock::Column::Holder.eq(h)),
        None => overdue(now),
    };
    let mut buckets = Vec::new();
    for hours in OVERDUE_BUCKETS_HOURS {
        let since = now - chrono::Duration::hours(hours);
        buckets.push((hours, scoped().filter(clock::Column::DueAt.gte(since)).count(db).await?));
    }
    Ok((buckets, scoped().count(db).await?))
}

#[cfg(test)]
mod tests {
    use govshare_contract::calls::CallKind;
    use govshare_runtime::envelope::{EventMeta, EventPayload};
    use sea_orm::TransactionTrait;

    use super::*;

    fn problems(name: &str, body: Value) -> Vec<String> {
        let err = govshare_runtime::calls::parse::<api::Call>(CallKind::Query, name, &body).unwrap_err();
        let mut found: Vec<String> = err.problems.iter().map(|p| format!("{}:{}", p.field, p.code)).collect();
        found.sort();
        found
    }

    #[test]
    fn a_list_with_an_unknown_field_and_bad_fields_is_refused_with_every_problem_at_once() {
        // given a holder that is no organisation id, a cursor of the wrong type and a field
        // no list has; when it is read; then every problem is named at its field
        let body = json!({"version": 1, "holder": "not an id!", "after": 7, "state": "open"});
        assert_eq!(problems("list_open", body), ["after:invalid", "holder:invalid", "state:unknown_field"]);
        assert_eq!(problems("overdue_histogram", json!({"version": 1, "holder": "x"})), ["holder:unknown_field"]);
    }

    fn contract() -> DutyContract {
        let clocking = Clocking {
            calendar: Calendar::official(),
            calendar_version: "test".into(),
            policy: Policy::default(),
            next_year_warning_from: (10, 1),
        };
        DutyContract { clocking: Arc::new(clocking), rescan: Default::default(), refusals: Default::default() }
    }

    async fn handled(event: &Envelope) -> Result<Vec<Outgoing>, HandleError> {
        let db = govshare_runtime::store::connect_and_migrate::<store::Migrator>("sqlite::memory:", 1).await.unwrap();
        let tx = db.begin().await.unwrap();
        contract().handle(&tx, event, Utc::now()).await
    }

    fn envelope_of(event_type: String) -> Envelope {
        let pause = PauseDuty { duty_id: "d1".into(), reason: "supplement".into(), at: Utc::now() };
        let mut env = Envelope::new(uuid::Uuid::now_v7(), &pause, &EventMeta::default(), Utc::now());
        env.source = Service::Requests.source();
        env.event_type = event_type;
        env
    }

    #[tokio::test]
    async fn a_duty_message_in_an_unknown_version_or_of_an_unknown_kind_is_dead_lettered() {
        // given a pause in a version this build does not know: refused, permanently
        let v2 = envelope_of(PauseDuty::event_type().replace(".v1", ".v2"));
        assert!(matches!(handled(&v2).await, Err(HandleError::Permanent(_))));
        // given a message on the duty stream that is no part of the duty contract: the stream
        // carries the contract alone, so it is kept as evidence, permanently, as before
        let unknown = envelope_of("govshare.duty.frozen.v1".into());
        assert!(matches!(handled(&unknown).await, Err(HandleError::Permanent(_))));
        // given a pause of a clock not opened yet: retried
        let pause = envelope_of(PauseDuty::event_type());
        assert!(matches!(handled(&pause).await, Err(HandleError::Transient(_))));
    }
}
