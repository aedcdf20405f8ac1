//! Downward return (数据回流, Art. 24), pure: an upper-level department returns the data about
//! a lower government's region to that government, timely and completely, with no extra
//! conditions. The lower government's sharing authority subscribes to an upper-level entry for
//! its own region (or a region under it); the subscription is granted at once. Each cycle of
//! its schedule is one clock of the provider's recurring duty `return-<id>`, fulfilled by a
//! delivery; the subscriber may cancel, which stops the clocks.

use chrono::{DateTime, Utc};
use govshare_contract::api::returns::ReturnState;
use govshare_runtime::{
    ApiError, ErrorCode, Problem, Service,
    duty::{About, CloseDuty, Closure, CycleDone, Duty, OpenRecurringDuty},
    events::returns::{Emitted, ReturnCancelled, ReturnDelivered, ReturnSubscribed},
    outbox,
    region::RegionCode,
    reply::Text,
    schedule::UpdateFrequency,
};
use serde::{Deserialize, Serialize};

use super::EntryView;

/// Art. 24.
pub const ARTICLE: u16 = 24;

/// `about.kind` of a return duty: what a breached cycle is about.
pub const ABOUT_KIND: &str = "return_subscription";

/// The recurring duty of a subscription; deadlines clocks each cycle as
/// `return-<id>@<cycle start, YYYYMMDDTHHMM Beijing time>`.
pub fn duty_id(subscription_id: &str) -> String {
    format!("return-{subscription_id}")
}

/// How often the data is returned: a frequency word (每日, 每周, ...) or a crontab, in
/// Beijing time. Never real-time: a return is owed once per cycle, and real-time has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule(UpdateFrequency);

impl Schedule {
    pub fn parse(raw: &str) -> Result<Self, Text> {
        let frequency = UpdateFrequency::parse(raw)?;
        if frequency.cron().is_none() {
            return Err(Text::new(
                "实时没有周期：数据回流须按周期（每日、每周……或 crontab 表达式）",
                "real-time has no cycles: a return needs a schedule with cycles (daily, weekly, ... or a crontab)",
            ));
        }
        Ok(Self(frequency))
    }

    /// As [`Self::parse`], and refuses a schedule deadlines could not clock: one that never
    /// fires, or fires more often than `min_interval_secs` (`deadlines.min_schedule_interval_secs`).
    pub fn parse_checked(raw: &str, min_interval_secs: u64, now: DateTime<Utc>) -> Result<Self, Text> {
        let schedule = Self::parse(raw)?;
        schedule.0.check(min_interval_secs, now)?;
        Ok(schedule)
    }

    /// The canonical form kept and announced: the word (`weekly`) or `cron:<six fields>`.
    pub fn canonical(&self) -> String {
        self.0.canonical()
    }

    /// As the duty contract takes it: the word, or the six cron fields without `cron:`.
    pub fn for_duty(&self) -> String {
        let canonical = self.canonical();
        canonical.strip_prefix("cron:").unwrap_or(&canonical).to_owned()
    }
}

/// What a subscription decides to say: its events (`events::returns::Emitted`) and the
/// provider's duty messages.
pub type Decision = outbox::Decision<Emitted>;

/// Where an organisation sits, from the directory copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub authority: bool,
    /// `None` when the directory copy does not know it (yet).
    pub region: Option<RegionCode>,
}

/// A subscription as asked for: the call's fields, whose shape the contract has checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub entry_id: String,
    /// Six digits; which codes exist is checked here, with the other rules.
    pub region: String,
    /// A frequency word or a crontab, as written.
    pub schedule: String,
}

/// What the handler looked up for a subscription.
#[derive(Debug, Clone)]
pub struct SubscribeFacts {
    /// The calling organisation.
    pub org: String,
    /// The caller in the directory; `None`: not registered.
    pub subscriber: Option<Place>,
    /// The entry asked for; `None`: not published.
    pub entry: Option<EntryView>,
    /// The entry provider's region; `None`: not known.
    pub provider_region: Option<RegionCode>,
    /// `deadlines.min_schedule_interval_secs`: the shortest cycle deadlines clocks.
    pub min_interval_secs: u64,
    pub now: DateTime<Utc>,
}

/// Where a subscription is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Life {
    /// Each cycle is owed.
    Active,
    /// The subscriber ended it; nothing more is owed.
    Cancelled(ReturnCancelled),
}

impl Life {
    pub fn state(&self) -> ReturnState {
        match self {
            Life::Active => ReturnState::Active,
            Life::Cancelled(_) => ReturnState::Cancelled,
        }
    }
}

/// A return subscription. Its deliveries are records of their own (one per delivery), not
/// part of this state. Stored as [`Stored`] (the shape `get_return` shows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Stored", try_from = "Stored")]
pub struct Subscription {
    pub id: String,
    pub entry_id: String,
    pub entry_name: String,
    /// The upper-level department that owes each cycle.
    pub provider: String,
    /// The lower government's sharing authority.
    pub subscriber: String,
    /// The region returned: the subscriber's own or one under it.
    pub region: RegionCode,
    /// Canonical: a frequency word or `cron:<six fields>`.
    pub schedule: String,
    pub duty_id: String,
    pub subscribed_at: DateTime<Utc>,
    pub life: Life,
}

/// A subscription as stored (a row's `body`): a state name beside an optional cancellation,
/// the shape kept since the first release, so stored rows read as they are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    pub id: String,
    pub entry_id: String,
    pub entry_name: String,
    pub provider: String,
    pub subscriber: String,
    pub region: RegionCode,
    pub schedule: String,
    pub duty_id: String,
    pub state: ReturnState,
    pub subscribed_at: DateTime<Utc>,
    pub cancelled: Option<ReturnCancelled>,
}

impl From<Subscription> for Stored {
    fn from(s: Subscription) -> Self {
        let state = s.life.state();
        let cancelled = match s.life {
            Life::Active => None,
            Life::Cancelled(c) => Some(c),
        };
        Stored {
            id: s.id,
            entry_id: s.entry_id,
            entry_name: s.entry_name,
            provider: s.provider,
            subscriber: s.subscriber,
            region: s.region,
            schedule: s.schedule,
            duty_id: s.duty_id,
            state,
            subscribed_at: s.subscribed_at,
            cancelled,
        }
    }
}

impl TryFrom<Stored> for Subscription {
    type Error = String;
    fn try_from(s: Stored) -> Result<Self, String> {
        let life = match (s.state, s.cancelled) {
            (ReturnState::Active, _) => Life::Active,
            (ReturnState::Cancelled, Some(c)) => Life::Cancelled(c),
            (ReturnState::Cancelled, None) => return Err(format!("subscription {} cancelled without a record", s.id)),
        };
        Ok(Subscription {
            id: s.id,
            entry_id: s.entry_id,
            entry_name: s.entry_name,
            provider: s.provider,
            subscriber: s.subscriber,
            region: s.region,
            schedule: s.schedule,
            duty_id: s.duty_id,
            subscribed_at: s.subscribed_at,
            life,
        })
    }
}

/// What may be done to a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The provider returns one cycle's data.
    Deliver { content_hash: String, record_count: u64 },
    /// The subscriber ends the subscription.
    Cancel { reason: String },
}

/// Who acts, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub org: String,
    pub now: DateTime<Utc>,
}

/// Why a call is refused. Each says what the caller can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReturnError {
    #[error(
        "only a lower government's sharing authority subscribes to a downward return (Art. 24); {0} is not an authority in the directory"
    )]
    NotAnAuthority(String),
    #[error("only the {0} may do this")]
    NotYours(&'static str),
    #[error("not allowed while the subscription is {state}: {why}")]
    NotNow { state: &'static str, why: &'static str },
    #[error("the subscription breaks Art. 24")]
    Invalid(Vec<Problem>),
}

impl From<ReturnError> for ApiError {
    fn from(err: ReturnError) -> Self {
        let (code, zh) = match &err {
            ReturnError::Invalid(problems) => return ApiError::validation(problems.clone()),
            ReturnError::NotAnAuthority(org) => (
                ErrorCode::Forbidden,
                format!("仅下级政府的共享主管部门可订阅数据回流（第二十四条）；{org} 不是主管部门"),
            ),
            ReturnError::NotYours(who) => (
                ErrorCode::Forbidden,
                format!("仅{}可执行此操作", if *who == "provider" { "提供部门" } else { "订阅方" }),
            ),
            ReturnError::NotNow { state, .. } => {
                (ErrorCode::NotAllowed, format!("回流订阅当前状态（{state}）下不允许此操作"))
            }
        };
        ApiError::with_text(code, zh, err.to_string())
    }
}

/// Is `region` `ancestor` itself or a region under it, by its GB/T 2260 digits?
fn within(region: RegionCode, ancestor: RegionCode) -> bool {
    region == ancestor || region.ancestors().any(|a| a == ancestor)
}

/// Art. 24: the subscriber is a sharing authority, of a known region. Answers that region.
pub fn check_subscriber(f: &SubscribeFacts) -> Result<RegionCode, ReturnError> {
    match f.subscriber {
        Some(Place { authority: true, region: Some(own) }) => Ok(own),
        _ => Err(ReturnError::NotAnAuthority(f.org.clone())),
    }
}

/// Art. 24, every broken rule at once: the entry's provider sits at an upper level than the
/// subscriber (its region strictly contains the subscriber's), and `region` (when it parsed)
/// is the subscriber's own region or one under it, within the provider's region. A caller
/// that is not an authority is refused before anything else.
pub fn check_subscription(
    entry: &EntryView,
    region: Option<RegionCode>,
    f: &SubscribeFacts,
) -> Result<Vec<Problem>, ReturnError> {
    let own = check_subscriber(f)?;
    let mut out = Vec::new();
    match f.provider_region {
        Some(upper) if own.ancestors().any(|a| a == upper) => {}
        Some(upper) => out.push(Problem::new(
            "entry_id",
            "not_upper_level",
            Text::new(
                format!(
                    "第二十四条：数据回流由上级部门提供；提供部门 {} 所在区划 {upper} 不是本区划 {own} 的上级",
                    entry.provider
                ),
                format!(
                    "Art. 24: data is returned by an upper-level department; the region {upper} of the provider {} is not above {own}",
                    entry.provider
                ),
            ),
        )),
        None => out.push(Problem::new(
            "entry_id",
            "provider_unknown",
            Text::new(
                format!("目录提供部门 {} 不在目录体系中，无法确定其层级", entry.provider),
                format!("the entry's provider {} is not in the directory: its level is unknown", entry.provider),
            ),
        )),
    }
    if let Some(region) = region {
        if !within(region, own) {
            out.push(Problem::new(
                "region",
                "outside_subscriber",
                Text::new(
                    format!("区划 {region} 不是本区划 {own} 或其下级区划"),
                    format!("region {region} is neither the subscriber's region {own} nor under it"),
                ),
            ));
        } else if let Some(upper) = f.provider_region
            && !within(region, upper)
        {
            out.push(Problem::new(
                "region",
                "outside_provider",
                Text::new(
                    format!("区划 {region} 不在提供部门所在区划 {upper} 内"),
                    format!("region {region} is not within the provider's region {upper}"),
                ),
            ));
        }
    }
    Ok(out)
}

/// decide, for a subscription not yet made: `id` to the entry asked for, granted at once
/// (Art. 24: no conditions, no approval); opens the provider's recurring duty from now on.
/// Who first (anyone but an authority learns nothing about entries or regions), then every
/// problem at once: the region and schedule as written, the entry, the rules of Art. 24.
pub fn subscribe(id: String, cmd: Subscribe, f: &SubscribeFacts) -> Result<(Subscription, Decision), ReturnError> {
    check_subscriber(f)?;
    let mut problems = Vec::new();
    let region =
        RegionCode::parse(&cmd.region).map_err(|why| problems.push(Problem::invalid("region", &why.zh, &why.en))).ok();
    let schedule = Schedule::parse_checked(&cmd.schedule, f.min_interval_secs, f.now)
        .map_err(|why| problems.push(Problem::invalid("schedule", &why.zh, &why.en)))
        .ok();
    match &f.entry {
        Some(entry) => problems.extend(check_subscription(entry, region, f)?),
        None => problems.push(Problem::new(
            "entry_id",
            "unknown",
            Text::new(
                format!("目录 {} 未发布", cmd.entry_id),
                format!("catalog entry {} is not published", cmd.entry_id),
            ),
        )),
    }
    let (Some(entry), Some(region), Some(schedule), true) = (&f.entry, region, schedule, problems.is_empty()) else {
        return Err(ReturnError::Invalid(problems));
    };
    let duty_id = duty_id(&id);
    let subscribed = ReturnSubscribed {
        subscription_id: id.clone(),
        entry_id: entry.entry_id.clone(),
        provider: entry.provider.clone(),
        subscriber: f.org.clone(),
        region: region.to_string(),
        schedule: schedule.canonical(),
        duty_id: duty_id.clone(),
        at: f.now,
    };
    let open = OpenRecurringDuty {
        duty: Duty {
            duty_id: duty_id.clone(),
            article: ARTICLE,
            holder: entry.provider.clone(),
            about: About { kind: ABOUT_KIND.into(), id: id.clone() },
            title: Text::new(
                format!("向区划 {region} 回流《{}》的数据（订阅 {id}）", entry.name),
                format!("return the data of \"{}\" for region {region} (subscription {id})", entry.name),
            ),
        },
        schedule: schedule.for_duty(),
        from: f.now,
        opened_by: Service::Requests,
    };
    let subscription = Subscription {
        id,
        entry_id: entry.entry_id.clone(),
        entry_name: entry.name.clone(),
        provider: entry.provider.clone(),
        subscriber: f.org.clone(),
        region,
        schedule: subscribed.schedule.clone(),
        duty_id,
        subscribed_at: f.now,
        life: Life::Active,
    };
    Ok((subscription, Decision::event(subscribed).with_duty(open)))
}

/// decide: what `f.org` may do to a subscription at `f.now`.
pub fn decide(s: &Subscription, cmd: Command, f: &Facts) -> Result<Decision, ReturnError> {
    match (&s.life, cmd) {
        (Life::Active, Command::Deliver { content_hash, record_count }) => {
            if f.org != s.provider {
                return Err(ReturnError::NotYours("provider"));
            }
            let delivered = ReturnDelivered {
                subscription_id: s.id.clone(),
                entry_id: s.entry_id.clone(),
                region: s.region.to_string(),
                content_hash,
                record_count,
                at: f.now,
            };
            // Fulfils every cycle started by now: a late delivery also settles the cycle it
            // was late for (its breach was already announced).
            Ok(Decision::event(delivered).with_duty(CycleDone { duty_id: s.duty_id.clone(), at: f.now }))
        }
        (Life::Active, Command::Cancel { reason }) => {
            if f.org != s.subscriber {
                return Err(ReturnError::NotYours("subscriber"));
            }
            let cancelled = ReturnCancelled { subscription_id: s.id.clone(), reason: reason.clone(), at: f.now };
            let close = CloseDuty { duty_id: s.duty_id.clone(), closure: Closure::Cancelled, reason, at: f.now };
            Ok(Decision::event(cancelled).with_duty(close))
        }
        (Life::Cancelled(_), Command::Deliver { .. }) => {
            if f.org != s.provider {
                return Err(ReturnError::NotYours("provider"));
            }
            Err(ReturnError::NotNow { state: "cancelled", why: "a cancelled subscription is owed nothing" })
        }
        (Life::Cancelled(_), Command::Cancel { .. }) => {
            if f.org != s.subscriber {
                return Err(ReturnError::NotYours("subscriber"));
            }
            Err(ReturnError::NotNow { state: "cancelled", why: "it is cancelled already" })
        }
    }
}

/// evolve: applies an event. Never fails: `decide` has checked it.
pub fn evolve(mut s: Subscription, event: &Emitted) -> Subscription {
    match event {
        Emitted::ReturnSubscribed(_) => s.life = Life::Active,
        // Deliveries are kept as records of their own.
        Emitted::ReturnDelivered(_) => {}
        Emitted::ReturnCancelled(e) => s.life = Life::Cancelled(e.clone()),
    }
    s
}

#[cfg(test)]
mod tests {
    use govshare_runtime::{
        duty::DutyMessage,
        events::{ShareType, catalog::ShareMethod},
    };

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    /// An entry of the provincial public-security department `gongan` (440000).
    fn entry() -> EntryView {
        EntryView {
            entry_id: "e1".into(),
            version: 1,
            name: "居民户籍信息".into(),
            provider: "gongan".into(),
            share_type: ShareType::Conditional,
            items: vec!["姓名".into()],
            share_methods: vec![ShareMethod::Interface],
            not_shared_reason: None,
            legal_basis: None,
        }
    }

    /// The Tianhe district authority (440106) asking, the provider at 440000.
    fn facts() -> SubscribeFacts {
        SubscribeFacts {
            org: "tianhe-auth".into(),
            subscriber: Some(Place { authority: true, region: Some(code("440106")) }),
            entry: Some(entry()),
            provider_region: Some(code("440000")),
            min_interval_secs: 60,
            now: t("2026-11-23T01:30:00Z"),
        }
    }

    fn weekly(region: &str) -> Subscribe {
        Subscribe { entry_id: "e1".into(), region: region.into(), schedule: "每周".into() }
    }

    fn subscribed() -> Subscription {
        subscribe("s1".into(), weekly("440106"), &facts()).unwrap().0
    }

    fn by(org: &str) -> Facts {
        Facts { org: org.into(), now: t("2026-11-25T02:00:00Z") }
    }

    fn problems(result: Result<(Subscription, Decision), ReturnError>) -> Vec<(String, String)> {
        match result {
            Err(ReturnError::Invalid(p)) => p.into_iter().map(|p| (p.field, p.code)).collect(),
            other => panic!("expected problems: {other:?}"),
        }
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn a_county_authority_is_granted_a_weekly_return_at_once_and_the_provider_owes_each_cycle() {
        // Given the Tianhe authority and gongan's entry, When it subscribes weekly for its region
        let (s, d) = subscribe("s1".into(), weekly("440106"), &facts()).unwrap();
        // Then it is active at once, announced, and the provider owes each cycle
        assert_eq!(
            (s.life.state(), s.provider.as_str(), s.subscriber.as_str()),
            (ReturnState::Active, "gongan", "tianhe-auth")
        );
        let [Emitted::ReturnSubscribed(e)] = d.events.as_slice() else { panic!("{d:?}") };
        assert_eq!((e.region.as_str(), e.schedule.as_str(), e.duty_id.as_str()), ("440106", "weekly", "return-s1"));
        let [DutyMessage::OpenRecurring(open)] = d.duties.as_slice() else { panic!("{d:?}") };
        assert_eq!((open.duty.article, open.duty.holder.as_str()), (24, "gongan"));
        assert_eq!(open.duty.about, About { kind: "return_subscription".into(), id: "s1".into() });
        assert_eq!((open.schedule.as_str(), open.from), ("weekly", t("2026-11-23T01:30:00Z")));
        assert!(open.duty.title.zh.contains("居民户籍信息") && open.duty.title.zh.contains("440106"));
        assert!(open.duty.title.en.contains("居民户籍信息") && open.duty.title.en.contains("440106"));
    }

    #[test]
    fn a_subscription_may_cover_a_region_under_the_subscribers_own() {
        let city =
            SubscribeFacts { subscriber: Some(Place { authority: true, region: Some(code("440100")) }), ..facts() };
        assert!(subscribe("s1".into(), weekly("440106"), &city).is_ok());
    }

    #[test]
    fn only_a_sharing_authority_subscribes() {
        let department =
            SubscribeFacts { subscriber: Some(Place { authority: false, region: Some(code("440106")) }), ..facts() };
        let err = subscribe("s1".into(), weekly("440106"), &department).unwrap_err();
        assert_eq!(err, ReturnError::NotAnAuthority("tianhe-auth".into()));
        // Before anything else: a department learns nothing about entries or regions
        let unknown = SubscribeFacts { subscriber: None, entry: None, ..facts() };
        assert!(matches!(subscribe("s1".into(), weekly("99"), &unknown), Err(ReturnError::NotAnAuthority(_))));
        assert_eq!(ApiError::from(err).code, ErrorCode::Forbidden);
    }

    #[test]
    fn the_provider_must_sit_strictly_above_the_subscriber() {
        let same_level =
            SubscribeFacts { subscriber: Some(Place { authority: true, region: Some(code("440000")) }), ..facts() };
        assert_eq!(
            problems(subscribe("s1".into(), weekly("440000"), &same_level)),
            pairs(&[("entry_id", "not_upper_level")])
        );
        let other_province = SubscribeFacts { provider_region: Some(code("450000")), ..facts() };
        assert_eq!(
            problems(subscribe("s1".into(), weekly("440106"), &other_province)),
            pairs(&[("entry_id", "not_upper_level"), ("region", "outside_provider")])
        );
        let national = SubscribeFacts { provider_region: Some(RegionCode::NATIONAL), ..facts() };
        assert!(subscribe("s1".into(), weekly("440106"), &national).is_ok());
    }

    #[test]
    fn a_region_outside_the_subscribers_own_is_refused() {
        // 越秀区 is a sibling of 天河区; 440100 is above it.
        for region in ["440104", "440100", "000000"] {
            assert_eq!(
                problems(subscribe("s1".into(), weekly(region), &facts())),
                pairs(&[("region", "outside_subscriber")]),
                "{region}"
            );
        }
    }

    #[test]
    fn an_unknown_provider_region_is_a_problem_not_a_guess() {
        let unknown = SubscribeFacts { provider_region: None, ..facts() };
        assert_eq!(
            problems(subscribe("s1".into(), weekly("440106"), &unknown)),
            pairs(&[("entry_id", "provider_unknown")])
        );
    }

    #[test]
    fn every_problem_of_a_subscription_comes_at_once() {
        // Given a region that is no code, a real-time schedule and an entry not published
        let cmd = Subscribe { entry_id: "e9".into(), region: "990000".into(), schedule: "实时".into() };
        let nothing = SubscribeFacts { entry: None, ..facts() };
        // Then each is its own problem, in one answer
        assert_eq!(
            problems(subscribe("s1".into(), cmd, &nothing)),
            pairs(&[("region", "invalid"), ("schedule", "invalid"), ("entry_id", "unknown")])
        );
        // And a schedule firing more often than deadlines clocks is refused too
        let busy = Subscribe { schedule: "* * * * *".into(), ..weekly("440104") };
        let tight = SubscribeFacts { min_interval_secs: 3600, ..facts() };
        assert_eq!(
            problems(subscribe("s1".into(), busy, &tight)),
            pairs(&[("schedule", "invalid"), ("region", "outside_subscriber")])
        );
    }

    #[test]
    fn a_schedule_is_a_frequency_word_or_a_crontab_never_real_time() {
        assert_eq!(Schedule::parse("每周").unwrap().for_duty(), "weekly");
        let cron = Schedule::parse("0 2 * * 1").unwrap();
        assert_eq!((cron.canonical().as_str(), cron.for_duty().as_str()), ("cron:0 0 2 * * MON", "0 0 2 * * MON"));
        assert!(UpdateFrequency::parse(&cron.for_duty()).is_ok(), "deadlines reads it back");
        assert!(Schedule::parse("实时").unwrap_err().en.contains("real-time"));
        assert!(Schedule::parse("every day").is_err());
    }

    #[test]
    fn the_provider_delivers_a_cycle_which_fulfils_the_running_cycles() {
        // Given an active subscription, When the provider delivers
        let deliver = Command::Deliver { content_hash: "sha256:ab".into(), record_count: 0 };
        let d = decide(&subscribed(), deliver.clone(), &by("gongan")).unwrap();
        // Then the delivery is announced and the running cycles are done
        let now = by("gongan").now;
        let [Emitted::ReturnDelivered(e)] = d.events.as_slice() else { panic!("{d:?}") };
        assert_eq!((e.region.as_str(), e.record_count, e.at), ("440106", 0, now));
        assert_eq!(d.duties, [DutyMessage::CycleDone(CycleDone { duty_id: "return-s1".into(), at: now })]);
        // And only the provider delivers
        assert_eq!(decide(&subscribed(), deliver, &by("tianhe-auth")), Err(ReturnError::NotYours("provider")));
    }

    #[test]
    fn the_subscriber_cancels_which_stops_the_clocks_and_nothing_more_is_delivered() {
        let cancel = Command::Cancel { reason: "不再需要".into() };
        assert_eq!(decide(&subscribed(), cancel.clone(), &by("gongan")), Err(ReturnError::NotYours("subscriber")));
        // When the subscriber cancels
        let d = decide(&subscribed(), cancel.clone(), &by("tianhe-auth")).unwrap();
        let [DutyMessage::Close(close)] = d.duties.as_slice() else { panic!("{d:?}") };
        assert_eq!((close.duty_id.as_str(), close.closure), ("return-s1", Closure::Cancelled));
        let s = d.events.iter().fold(subscribed(), evolve);
        let Life::Cancelled(c) = &s.life else { panic!("{s:?}") };
        assert_eq!(c.reason, "不再需要");
        // Then neither a delivery nor a second cancellation is possible: impossible transitions
        let deliver = Command::Deliver { content_hash: "sha256:ab".into(), record_count: 1 };
        let err = decide(&s, deliver, &by("gongan")).unwrap_err();
        assert!(matches!(err, ReturnError::NotNow { state: "cancelled", .. }));
        assert_eq!(ApiError::from(err).code, ErrorCode::NotAllowed);
        assert!(matches!(decide(&s, cancel, &by("tianhe-auth")), Err(ReturnError::NotNow { .. })));
    }

    #[test]
    fn a_subscription_survives_its_storage_in_the_shape_stored_rows_have() {
        // Given a cancelled subscription, When stored and read back, Then it is the same
        let s = decide(&subscribed(), Command::Cancel { reason: "r".into() }, &by("tianhe-auth"))
            .unwrap()
            .events
            .iter()
            .fold(subscribed(), evolve);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!((json["state"].as_str(), json["cancelled"]["reason"].as_str()), (Some("cancelled"), Some("r")));
        assert_eq!(serde_json::from_value::<Subscription>(json).unwrap(), s);
        // And a row written before the lifecycle enum reads as it is
        let old = serde_json::json!({"id": "s1", "entry_id": "e1", "entry_name": "n", "provider": "gongan",
            "subscriber": "tianhe-auth", "region": "440106", "schedule": "weekly", "duty_id": "return-s1",
            "state": "active", "subscribed_at": "2026-11-23T01:30:00Z", "cancelled": null});
        assert_eq!(serde_json::from_value::<Subscription>(old).unwrap().life, Life::Active);
        let broken = serde_json::json!({"id": "s1", "entry_id": "e1", "entry_name": "n", "provider": "gongan",
            "subscriber": "tianhe-auth", "region": "440106", "schedule": "weekly", "duty_id": "return-s1",
            "state": "cancelled", "subscribed_at": "2026-11-23T01:30:00Z", "cancelled": null});
        assert!(serde_json::from_value::<Subscription>(broken).is_err());
    }
}
