//! Disputes (Art. 28): departments of the same level in the same region negotiate first; then
//! the same-level authority coordinates, or, across levels or regions, the common superior
//! authority (of the lowest region containing both parties); then the government at that
//! authority's level decides. Each step has a deadline (a setting, default 10 WD) after
//! which the case moves up by itself; every step is recorded.
//!
//! The aggregate has the shape of every other: [`open`] makes a case (with its first
//! decision), [`decide`] answers a command on it with a [`Decision`], [`evolve`] applies the
//! events, and its life is the enum [`Stage`].

use chrono::{DateTime, Utc};
use govshare_runtime::{
    ApiError, ErrorCode, Problem, Service,
    duty::{About, CloseDuty, Closure, Duty, OpenDuty, Term},
    events::{
        disputes::{DisputeClosed, DisputeEscalated, DisputeOpened, DisputeStep},
        violations::ViolationDetected,
    },
    outbox,
    region::RegionCode,
    reply::Text,
};
use serde::{Deserialize, Serialize};

govshare_contract::events! {
    /// What a dispute says: its own events, and the violation of an authority that let its
    /// step pass without acting (Art. 41).
    pub enum Said {
        Opened(DisputeOpened),
        Escalated(DisputeEscalated),
        Closed(DisputeClosed),
        Violation(ViolationDetected),
    }
}

/// What a dispute decides to say: its events and the step duties it opens and closes.
pub type Decision = outbox::Decision<Said>;

/// A party as the directory knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub org: String,
    pub authority: bool,
    pub region: RegionCode,
}

/// Why a dispute command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisputeError {
    #[error("the dispute cannot be opened as asked")]
    Invalid(Vec<Problem>),
    #[error("no sharing authority is registered at {0} or above to coordinate")]
    NoCoordinator(RegionCode),
    #[error("only {0} may do this")]
    NotYours(&'static str),
    #[error("the dispute is closed")]
    Closed,
    #[error("the government's decision is the last step: it cannot move up")]
    LastStep,
    #[error("at the {0:?} step this is not possible")]
    NotAtStep(DisputeStep),
}

impl From<DisputeError> for ApiError {
    fn from(err: DisputeError) -> Self {
        let (code, zh) = match &err {
            DisputeError::Invalid(problems) => return ApiError::validation(problems.clone()),
            DisputeError::NoCoordinator(region) => {
                (ErrorCode::NotAllowed, format!("{region} 及其上级均无登记的共享主管部门，无法协调"))
            }
            DisputeError::NotYours(who) => (
                ErrorCode::Forbidden,
                format!("仅{}可执行此操作", if who.contains("party") { "争议当事方" } else { "协调的主管部门" }),
            ),
            DisputeError::Closed => (ErrorCode::NotAllowed, "争议已结案".to_owned()),
            DisputeError::LastStep => (ErrorCode::NotAllowed, "本级人民政府决定是最后一步，不能再上移".to_owned()),
            DisputeError::NotAtStep(_) => (ErrorCode::NotAllowed, "当前步骤不允许此操作".to_owned()),
        };
        ApiError::with_text(code, zh, err.to_string())
    }
}

/// The lowest region containing both (GB/T 2260 digits): the same region, their city, their
/// province, or the national level.
pub fn common_region(a: RegionCode, b: RegionCode) -> RegionCode {
    let up = |r: RegionCode| std::iter::once(r).chain(r.ancestors()).collect::<Vec<_>>();
    let theirs = up(b);
    up(a).into_iter().find(|r| theirs.contains(r)).unwrap_or(RegionCode::NATIONAL)
}

/// Where a dispute starts: two departments of one region negotiate; anything else goes to
/// coordination at once.
pub fn first_step(claimant: &Party, respondent: &Party) -> DisputeStep {
    if claimant.region == respondent.region && !claimant.authority && !respondent.authority {
        DisputeStep::Negotiation
    } else {
        DisputeStep::Coordination
    }
}

/// Where a case is in its life: at one of the steps of Art. 28, or closed (at the step named
/// by its closing record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Negotiation,
    Coordination,
    Decision,
    Closed(DisputeClosed),
}

impl Stage {
    fn at(step: DisputeStep) -> Self {
        match step {
            DisputeStep::Negotiation => Stage::Negotiation,
            DisputeStep::Coordination => Stage::Coordination,
            DisputeStep::Decision => Stage::Decision,
        }
    }
}

/// A dispute. Stored as [`Stored`] (the shape `get_dispute` shows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Stored", try_from = "Stored")]
pub struct Dispute {
    pub id: String,
    pub claimant: String,
    pub respondent: String,
    pub about: String,
    pub claim: String,
    /// Who must act at the current step (the last one, once closed).
    pub handled_by: String,
    /// The coordinating authority (known from the start: the same-level or common superior one).
    pub coordinator: String,
    /// Numbered steps, for the step duties' ids.
    pub step_no: u32,
    pub opened: DisputeOpened,
    pub escalations: Vec<DisputeEscalated>,
    pub stage: Stage,
}

impl Dispute {
    /// The current step; once closed, the step it closed at.
    pub fn step(&self) -> DisputeStep {
        match &self.stage {
            Stage::Negotiation => DisputeStep::Negotiation,
            Stage::Coordination => DisputeStep::Coordination,
            Stage::Decision => DisputeStep::Decision,
            Stage::Closed(c) => c.step,
        }
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.stage, Stage::Closed(_))
    }

    /// The current step's clock.
    pub fn duty_id(&self) -> String {
        step_duty_id(&self.id, self.step_no)
    }
}

/// A dispute as stored (a row's `state`): the step beside an optional closing record, the
/// shape kept since the first release, so stored rows read as they are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    pub id: String,
    pub claimant: String,
    pub respondent: String,
    pub about: String,
    pub claim: String,
    pub step: DisputeStep,
    pub handled_by: String,
    pub coordinator: String,
    pub step_no: u32,
    pub opened: DisputeOpened,
    pub escalations: Vec<DisputeEscalated>,
    pub closed: Option<DisputeClosed>,
}

impl From<Dispute> for Stored {
    fn from(d: Dispute) -> Self {
        let step = d.step();
        let closed = match d.stage {
            Stage::Closed(c) => Some(c),
            _ => None,
        };
        Stored {
            id: d.id,
            claimant: d.claimant,
            respondent: d.respondent,
            about: d.about,
            claim: d.claim,
            step,
            handled_by: d.handled_by,
            coordinator: d.coordinator,
            step_no: d.step_no,
            opened: d.opened,
            escalations: d.escalations,
            closed,
        }
    }
}

impl TryFrom<Stored> for Dispute {
    type Error = String;
    fn try_from(s: Stored) -> Result<Self, String> {
        let stage = match s.closed {
            Some(c) if c.step != s.step => {
                return Err(format!("dispute {} closed at {:?} but stored at {:?}", s.id, c.step, s.step));
            }
            Some(c) => Stage::Closed(c),
            None => Stage::at(s.step),
        };
        Ok(Dispute {
            id: s.id,
            claimant: s.claimant,
            respondent: s.respondent,
            about: s.about,
            claim: s.claim,
            handled_by: s.handled_by,
            coordinator: s.coordinator,
            step_no: s.step_no,
            opened: s.opened,
            escalations: s.escalations,
            stage,
        })
    }
}

pub fn step_duty_id(dispute_id: &str, step_no: u32) -> String {
    format!("dispute-{dispute_id}-step-{step_no}")
}

fn step_duty(id: &str, step_no: u32, step: DisputeStep, holder: &str, days: u32, now: DateTime<Utc>) -> OpenDuty {
    let (zh, en) = match step {
        DisputeStep::Negotiation => ("协商解决争议", "negotiate the dispute"),
        DisputeStep::Coordination => ("协调解决争议", "coordinate the dispute"),
        DisputeStep::Decision => ("报请本级人民政府决定争议", "have the government decide the dispute"),
    };
    OpenDuty {
        duty: Duty {
            duty_id: step_duty_id(id, step_no),
            article: 28,
            holder: holder.to_owned(),
            about: About { kind: "dispute".into(), id: id.to_owned() },
            title: Text::new(format!("{zh}（{id}）"), format!("{en} ({id})")),
        },
        term: Term::WorkingDays { days, from: now },
        opened_by: Service::Requests,
    }
}

/// A dispute as asked for: the call's fields, whose shape the contract has checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub respondent: String,
    pub about: String,
    pub claim: String,
}

/// What the handler looked up to open a dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFacts {
    /// The acting organisation.
    pub org: String,
    /// The claimant and the respondent in the directory; `None`: not there.
    pub claimant: Option<Party>,
    pub respondent: Option<Party>,
    /// The authority at [`common_region`] of the two, or the nearest one above it; `None`:
    /// none is registered (or a party is unknown).
    pub coordinator: Option<String>,
    /// `[requests] dispute_step_working_days`.
    pub step_days: u32,
    pub now: DateTime<Utc>,
}

/// decide, for a case not yet opened: the dispute `id`, and its first step's duty. Every
/// problem of the parties at once; then a case nobody can coordinate is refused.
pub fn open(id: String, cmd: Open, f: &OpenFacts) -> Result<(Dispute, Decision), DisputeError> {
    let mut problems = Vec::new();
    if f.claimant.is_none() {
        problems.push(Problem::new(
            "org",
            "unknown",
            Text::new("申请方不在目录中", "the claimant is not in the directory"),
        ));
    }
    if cmd.respondent == f.org {
        problems.push(Problem::new(
            "respondent",
            "same_as_claimant",
            Text::new("部门不能与自身发生争议", "a department has no dispute with itself"),
        ));
    } else if f.respondent.is_none() {
        problems.push(Problem::new(
            "respondent",
            "unknown",
            Text::new("被申请方不在目录中", "the respondent is not in the directory"),
        ));
    }
    let (Some(claimant), Some(respondent), true) = (&f.claimant, &f.respondent, problems.is_empty()) else {
        return Err(DisputeError::Invalid(problems));
    };
    let Some(coordinator) = f.coordinator.clone() else {
        return Err(DisputeError::NoCoordinator(common_region(claimant.region, respondent.region)));
    };
    let step = first_step(claimant, respondent);
    let handled_by = if step == DisputeStep::Negotiation { respondent.org.clone() } else { coordinator.clone() };
    let duty = step_duty(&id, 1, step, &handled_by, f.step_days, f.now);
    let opened = DisputeOpened {
        dispute_id: id.clone(),
        claimant: claimant.org.clone(),
        respondent: respondent.org.clone(),
        about: cmd.about.clone(),
        claim: cmd.claim.clone(),
        step,
        handled_by: handled_by.clone(),
        duty_id: duty.duty.duty_id.clone(),
        at: f.now,
    };
    let dispute = Dispute {
        id,
        claimant: claimant.org.clone(),
        respondent: respondent.org.clone(),
        about: cmd.about,
        claim: cmd.claim,
        handled_by,
        coordinator,
        step_no: 1,
        opened: opened.clone(),
        escalations: Vec::new(),
        stage: Stage::at(step),
    };
    Ok((dispute, Decision::event(opened).with_duty(duty)))
}

/// What may be done to an open case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A party moves the case up a step.
    Escalate { reason: String },
    /// Settled: by agreement at negotiation, by the coordinator at coordination.
    Settle { outcome: String },
    /// The government's decision, recorded by the coordinating authority.
    Decide { decision: String },
    /// The step duty `duty_id` was breached: the case moves up by itself.
    StepDeadlinePassed { duty_id: String },
}

/// Who acts, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub org: String,
    /// `[requests] dispute_step_working_days`.
    pub step_days: u32,
    /// The id of a violation this decision may announce.
    pub violation_id: String,
    pub now: DateTime<Utc>,
}

const A_PARTY: &str = "a party to the dispute";
const THE_COORDINATOR: &str = "the coordinating authority";

/// decide: what `f.org` may do to the case at `f.now`.
pub fn decide(d: &Dispute, cmd: Command, f: &Facts) -> Result<Decision, DisputeError> {
    let party = f.org == d.claimant || f.org == d.respondent;
    let handler = f.org == d.handled_by;
    match (&d.stage, cmd) {
        // A breach of a step already left (or of a closed case) changes nothing.
        (Stage::Closed(_), Command::StepDeadlinePassed { .. }) => Ok(Decision::none()),
        (_, Command::StepDeadlinePassed { duty_id }) if duty_id != d.duty_id() => Ok(Decision::none()),
        (Stage::Closed(_), _) => Err(DisputeError::Closed),
        (_, Command::StepDeadlinePassed { .. }) => Ok(deadline_passed(d, f)),
        (_, Command::Escalate { .. }) if !party => Err(DisputeError::NotYours(A_PARTY)),
        (Stage::Decision, Command::Escalate { .. }) => Err(DisputeError::LastStep),
        (_, Command::Escalate { reason }) => Ok(escalate(d, false, reason, f)),
        (Stage::Negotiation, Command::Settle { outcome }) if party => Ok(close(d, outcome, f)),
        (Stage::Negotiation, Command::Settle { .. }) => Err(DisputeError::NotYours(A_PARTY)),
        (Stage::Coordination, Command::Settle { outcome }) if handler => Ok(close(d, outcome, f)),
        (Stage::Coordination, Command::Settle { .. }) => Err(DisputeError::NotYours(THE_COORDINATOR)),
        (Stage::Decision, Command::Settle { .. }) => Err(DisputeError::NotAtStep(DisputeStep::Decision)),
        (Stage::Decision, Command::Decide { decision }) if handler => Ok(close(d, decision, f)),
        (Stage::Decision, Command::Decide { .. }) => Err(DisputeError::NotYours(THE_COORDINATOR)),
        (_, Command::Decide { .. }) => Err(DisputeError::NotAtStep(d.step())),
    }
}

/// The case moves up a step, asked by a party or because the step's time ran out. Only
/// called below the last step.
fn escalate(d: &Dispute, by_deadline: bool, reason: String, f: &Facts) -> Decision {
    let to = match d.stage {
        Stage::Negotiation => DisputeStep::Coordination,
        _ => DisputeStep::Decision,
    };
    // The government at the coordinating authority's level decides; its authority records it.
    let handled_by = d.coordinator.clone();
    let close = CloseDuty {
        duty_id: d.duty_id(),
        closure: if by_deadline { Closure::Fulfilled } else { Closure::Cancelled },
        reason: format!("moved up to {to:?}"),
        at: f.now,
    };
    let open = step_duty(&d.id, d.step_no + 1, to, &handled_by, f.step_days, f.now);
    let escalated = DisputeEscalated {
        dispute_id: d.id.clone(),
        from: d.step(),
        to,
        handled_by,
        by_deadline,
        reason,
        duty_id: open.duty.duty_id.clone(),
        at: f.now,
    };
    Decision::event(escalated).with_duty(close).with_duty(open)
}

/// Settled at a step, or decided by the government.
fn close(d: &Dispute, outcome: String, f: &Facts) -> Decision {
    let closed =
        DisputeClosed { dispute_id: d.id.clone(), step: d.step(), outcome, recorded_by: f.org.clone(), at: f.now };
    let close =
        CloseDuty { duty_id: d.duty_id(), closure: Closure::Fulfilled, reason: "dispute closed".into(), at: f.now };
    Decision::event(closed).with_duty(close)
}

/// A step's time ran out (its duty breached): the case moves up by itself; a coordinator or
/// government that lets its step pass without acting is in breach (Art. 41). The decision
/// step has nowhere to go: the case stays with the government.
fn deadline_passed(d: &Dispute, f: &Facts) -> Decision {
    let mut decision = Decision::none();
    if let Stage::Coordination | Stage::Decision = d.stage {
        let at_decision = d.stage == Stage::Decision;
        decision = decision.with(ViolationDetected {
            violation_id: f.violation_id.clone(),
            article: 41,
            party: d.handled_by.clone(),
            kind: "dispute_not_coordinated".into(),
            facts: Text::new(
                format!("主管部门未在期限内完成争议（{}）的{}", d.id, if at_decision { "决定报请" } else { "协调" }),
                format!("the authority let the {:?} step of dispute {} pass without acting", d.step(), d.id),
            ),
            about: d.id.clone(),
            duty_id: Some(d.duty_id()),
            at: f.now,
        });
    }
    if d.stage == Stage::Decision {
        return decision;
    }
    let moved = escalate(d, true, "the step's deadline passed".into(), f);
    decision.events.extend(moved.events);
    decision.duties.extend(moved.duties);
    decision
}

/// evolve: applies an event. Never fails: `decide` has checked it.
pub fn evolve(mut d: Dispute, event: &Said) -> Dispute {
    match event {
        Said::Escalated(e) => {
            d.stage = Stage::at(e.to);
            d.handled_by = e.handled_by.clone();
            d.step_no += 1;
            d.escalations.push(e.clone());
        }
        Said::Closed(c) => d.stage = Stage::Closed(c.clone()),
        // Made by `open`; a violation is about the case, not a change of it.
        Said::Opened(_) | Said::Violation(_) => {}
    }
    d
}

#[cfg(test)]
mod tests {
    use govshare_runtime::duty::DutyMessage;

    use super::*;

    fn party(org: &str, region: &str) -> Party {
        Party { org: org.into(), authority: false, region: RegionCode::parse(region).unwrap() }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-23T02:00:00Z".parse().unwrap()
    }

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    fn asked(respondent: &str) -> Open {
        Open { respondent: respondent.into(), about: "r1".into(), claim: "拒绝理由不成立".into() }
    }

    fn facts(claimant: Party, respondent: Party, coordinator: &str) -> OpenFacts {
        OpenFacts {
            org: claimant.org.clone(),
            claimant: Some(claimant),
            respondent: Some(respondent),
            coordinator: Some(coordinator.into()),
            step_days: 10,
            now: now(),
        }
    }

    fn by(org: &str) -> Facts {
        Facts { org: org.into(), step_days: 10, violation_id: "v1".into(), now: now() }
    }

    /// Two departments of Guangzhou, coordinated by its authority.
    fn city_case() -> Dispute {
        open("x1".into(), asked("b"), &facts(party("a", "440100"), party("b", "440100"), "gz-auth")).unwrap().0
    }

    /// `cmd` by `org` on `d`, applied.
    fn step(d: Dispute, org: &str, cmd: Command) -> Dispute {
        let decision = decide(&d, cmd, &by(org)).unwrap();
        decision.events.iter().fold(d, evolve)
    }

    fn escalation() -> Command {
        Command::Escalate { reason: "协商未果".into() }
    }

    #[test]
    fn the_common_region_is_the_lowest_one_containing_both() {
        assert_eq!(common_region(code("440106"), code("440106")), code("440106"));
        assert_eq!(common_region(code("440106"), code("440104")), code("440100"), "two districts of Guangzhou");
        assert_eq!(common_region(code("440106"), code("440300")), code("440000"), "Guangzhou and Shenzhen");
        assert_eq!(common_region(code("440000"), code("110000")), RegionCode::NATIONAL, "across provinces");
    }

    #[test]
    fn two_departments_of_one_region_negotiate_first_and_anything_else_goes_to_coordination() {
        // Given two departments of Guangzhou, When one opens a dispute
        let f = facts(party("gz-weijian", "440100"), party("gz-gongan", "440100"), "gz-auth");
        let (d, decision) = open("x1".into(), asked("gz-gongan"), &f).unwrap();
        // Then they negotiate, the respondent holding the step's clock
        assert_eq!((d.step(), d.handled_by.as_str()), (DisputeStep::Negotiation, "gz-gongan"));
        let [Said::Opened(e)] = decision.events.as_slice() else { panic!("{decision:?}") };
        assert_eq!(e.duty_id, "dispute-x1-step-1");
        let [DutyMessage::Open(duty)] = decision.duties.as_slice() else { panic!("{decision:?}") };
        assert_eq!((duty.duty.article, duty.term.clone()), (28, Term::WorkingDays { days: 10, from: now() }));
        // And across provinces, the national authority coordinates at once
        let f = facts(party("gd-weijian", "440000"), party("bj-gongan", "110000"), "national-auth");
        let (cross, _) = open("x2".into(), asked("bj-gongan"), &f).unwrap();
        assert_eq!((cross.step(), cross.handled_by.as_str()), (DisputeStep::Coordination, "national-auth"));
    }

    #[test]
    fn every_problem_of_an_opening_comes_at_once_and_nobody_disputes_with_itself() {
        // Given a claimant not in the directory naming itself as respondent
        let f = OpenFacts {
            claimant: None,
            respondent: None,
            coordinator: None,
            ..facts(party("a", "440100"), party("a", "440100"), "g")
        };
        // Then both problems come in one answer
        let Err(DisputeError::Invalid(p)) = open("x".into(), asked("a"), &f) else { panic!() };
        let found: Vec<_> = p.iter().map(|p| (p.field.as_str(), p.code.as_str())).collect();
        assert_eq!(found, [("org", "unknown"), ("respondent", "same_as_claimant")]);
        // And a respondent not in the directory is named as such
        let f = OpenFacts { respondent: None, ..facts(party("a", "440100"), party("b", "440100"), "g") };
        let Err(DisputeError::Invalid(p)) = open("x".into(), asked("b"), &f) else { panic!() };
        assert_eq!((p[0].field.as_str(), p[0].code.as_str()), ("respondent", "unknown"));
        assert_eq!(ApiError::from(DisputeError::Invalid(p)).code, ErrorCode::ValidationFailed);
        // And a case nobody can coordinate is not allowed
        let f = OpenFacts { coordinator: None, ..facts(party("a", "440106"), party("b", "440104"), "g") };
        assert_eq!(open("x".into(), asked("b"), &f).unwrap_err(), DisputeError::NoCoordinator(code("440100")));
    }

    #[test]
    fn a_step_whose_time_ran_out_moves_up_by_itself_to_the_coordinator_then_to_the_government() {
        // Given a case at negotiation, When its step's clock runs out
        let d = city_case();
        let passed = |d: &Dispute| Command::StepDeadlinePassed { duty_id: d.duty_id() };
        let decision = decide(&d, passed(&d), &by("deadlines")).unwrap();
        // Then it moves up to the coordinator, closing the old clock and opening the next
        let [Said::Escalated(e)] = decision.events.as_slice() else { panic!("{decision:?}") };
        assert_eq!(
            (e.from, e.to, e.handled_by.as_str(), e.by_deadline),
            (DisputeStep::Negotiation, DisputeStep::Coordination, "gz-auth", true)
        );
        let [DutyMessage::Close(closed), DutyMessage::Open(opened)] = decision.duties.as_slice() else { panic!() };
        assert_eq!((closed.duty_id.as_str(), opened.duty.duty_id.as_str()), ("dispute-x1-step-1", "dispute-x1-step-2"));
        let d = decision.events.iter().fold(d, evolve);
        // And a breach of the step already left changes nothing
        let stale = Command::StepDeadlinePassed { duty_id: "dispute-x1-step-1".into() };
        assert_eq!(decide(&d, stale, &by("deadlines")).unwrap(), Decision::none());
        // When the coordinator lets its time pass too, it is in breach and the case goes up
        let decision = decide(&d, passed(&d), &by("deadlines")).unwrap();
        let [Said::Violation(v), Said::Escalated(e)] = decision.events.as_slice() else { panic!("{decision:?}") };
        assert_eq!((v.article, v.party.as_str(), e.to), (41, "gz-auth", DisputeStep::Decision));
        let d = decision.events.iter().fold(d, evolve);
        // And at the decision step a passed deadline is a violation only: the case stays
        let decision = decide(&d, passed(&d), &by("deadlines")).unwrap();
        assert!(matches!(decision.events.as_slice(), [Said::Violation(_)]) && decision.duties.is_empty());
        // Then the government's decision, recorded by the coordinator, closes it
        let d = step(d, "gz-auth", Command::Decide { decision: "市政府决定：予以共享".into() });
        let Stage::Closed(c) = &d.stage else { panic!("{d:?}") };
        assert_eq!((c.step, c.recorded_by.as_str()), (DisputeStep::Decision, "gz-auth"));
    }

    #[test]
    fn impossible_transitions_are_refused() {
        // Given a case at negotiation
        let d = city_case();
        let decide_it = Command::Decide { decision: "x".into() };
        // Then nobody decides before the decision step, and only the parties move it up
        assert_eq!(
            decide(&d, decide_it.clone(), &by("gz-auth")),
            Err(DisputeError::NotAtStep(DisputeStep::Negotiation))
        );
        assert_eq!(decide(&d, escalation(), &by("c")), Err(DisputeError::NotYours(A_PARTY)));
        // When it is at the decision step
        let d = step(step(d, "a", escalation()), "b", escalation());
        assert_eq!(d.step(), DisputeStep::Decision);
        // Then it cannot move up, nor be settled, and only the coordinator records the decision
        assert_eq!(decide(&d, escalation(), &by("a")), Err(DisputeError::LastStep));
        let settle = Command::Settle { outcome: "x".into() };
        assert_eq!(decide(&d, settle.clone(), &by("gz-auth")), Err(DisputeError::NotAtStep(DisputeStep::Decision)));
        assert_eq!(decide(&d, decide_it.clone(), &by("a")), Err(DisputeError::NotYours(THE_COORDINATOR)));
        // And once closed, nothing more happens to it
        let d = step(d, "gz-auth", decide_it.clone());
        assert_eq!(decide(&d, decide_it, &by("gz-auth")), Err(DisputeError::Closed));
        assert_eq!(decide(&d, settle, &by("a")), Err(DisputeError::Closed));
        assert_eq!(ApiError::from(DisputeError::Closed).code, ErrorCode::NotAllowed);
    }

    #[test]
    fn at_coordination_only_the_coordinator_settles() {
        let d = step(city_case(), "a", escalation());
        let settle = Command::Settle { outcome: "协调后同意共享".into() };
        assert_eq!(decide(&d, settle.clone(), &by("b")), Err(DisputeError::NotYours(THE_COORDINATOR)));
        let d = step(d, "gz-auth", settle);
        assert!(d.is_closed());
        assert_eq!(d.step(), DisputeStep::Coordination);
    }

    #[test]
    fn a_dispute_survives_its_storage_in_the_shape_stored_rows_have() {
        // Given a settled case, When stored and read back, Then it is the same
        let d = step(city_case(), "a", Command::Settle { outcome: "达成一致".into() });
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(
            (json["step"].as_str(), json["closed"]["outcome"].as_str()),
            (Some("negotiation"), Some("达成一致"))
        );
        assert_eq!(serde_json::from_value::<Dispute>(json.clone()).unwrap(), d);
        // And an open case is stored with `closed: null`, as before
        let open_json = serde_json::to_value(city_case()).unwrap();
        assert!(open_json["closed"].is_null());
        assert_eq!(serde_json::from_value::<Dispute>(open_json).unwrap().stage, Stage::Negotiation);
    }
}
