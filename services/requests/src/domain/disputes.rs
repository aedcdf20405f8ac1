//! Disputes (Art. 28): departments of the same level in the same region negotiate first; then
//! the same-level authority coordinates, or, across levels or regions, the common superior
//! authority (of the lowest region containing both parties); then the government at that
//! authority's level decides. Each step has a deadline (a setting, default 10 WD) after
//! which the case moves up by itself; every step is recorded.

use chrono::{DateTime, Utc};
use govshare_runtime::{
    Service,
    duty::{About, CloseDuty, Closure, Duty, OpenDuty, Term},
    events::disputes::{DisputeClosed, DisputeEscalated, DisputeOpened, DisputeStep},
    region::RegionCode,
    reply::Text,
};
use serde::{Deserialize, Serialize};

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
    #[error("a department has no dispute with itself")]
    WithItself,
    #[error("only {0} may do this")]
    NotYours(&'static str),
    #[error("the dispute is closed")]
    Closed,
    #[error("the government's decision is the last step: it cannot move up")]
    LastStep,
    #[error("at the {0:?} step this is not possible")]
    NotAtStep(DisputeStep),
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispute {
    pub id: String,
    pub claimant: String,
    pub respondent: String,
    pub about: String,
    pub claim: String,
    pub step: DisputeStep,
    pub handled_by: String,
    /// The coordinating authority (known from the start: the same-level or common superior one).
    pub coordinator: String,
    /// Numbered steps, for the step duties' ids.
    pub step_no: u32,
    pub opened: DisputeOpened,
    pub escalations: Vec<DisputeEscalated>,
    pub closed: Option<DisputeClosed>,
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

/// decide: open a dispute. `coordinator` is the authority of [`common_region`] (or the
/// nearest one above it), looked up by the handler.
#[allow(clippy::too_many_arguments)]
pub fn open_dispute(
    id: String,
    claimant: &Party,
    respondent: &Party,
    coordinator: String,
    about: String,
    claim: String,
    step_days: u32,
    now: DateTime<Utc>,
) -> Result<(Dispute, OpenDuty), DisputeError> {
    if claimant.org == respondent.org {
        return Err(DisputeError::WithItself);
    }
    let step = first_step(claimant, respondent);
    let handled_by = if step == DisputeStep::Negotiation { respondent.org.clone() } else { coordinator.clone() };
    let duty = step_duty(&id, 1, step, &handled_by, step_days, now);
    let opened = DisputeOpened {
        dispute_id: id.clone(),
        claimant: claimant.org.clone(),
        respondent: respondent.org.clone(),
        about: about.clone(),
        claim: claim.clone(),
        step,
        handled_by: handled_by.clone(),
        duty_id: duty.duty.duty_id.clone(),
        at: now,
    };
    let dispute = Dispute {
        id,
        claimant: claimant.org.clone(),
        respondent: respondent.org.clone(),
        about,
        claim,
        step,
        handled_by,
        coordinator,
        step_no: 1,
        opened,
        escalations: Vec::new(),
        closed: None,
    };
    Ok((dispute, duty))
}

/// What a dispute command does: the event, and the duties to open and close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisputeChange {
    Escalated(DisputeEscalated, CloseDuty, OpenDuty),
    Closed(DisputeClosed, CloseDuty),
}

/// decide: move the case up a step, asked by a party (`by_deadline` false) or because the
/// step's time ran out.
pub fn escalate(
    d: &Dispute,
    by: &str,
    by_deadline: bool,
    reason: String,
    step_days: u32,
    now: DateTime<Utc>,
) -> Result<DisputeChange, DisputeError> {
    if d.closed.is_some() {
        return Err(DisputeError::Closed);
    }
    if !by_deadline && by != d.claimant && by != d.respondent {
        return Err(DisputeError::NotYours("a party to the dispute"));
    }
    let to = match d.step {
        DisputeStep::Negotiation => DisputeStep::Coordination,
        DisputeStep::Coordination => DisputeStep::Decision,
        DisputeStep::Decision => return Err(DisputeError::LastStep),
    };
    // The government at the coordinating authority's level decides; its authority records it.
    let handled_by = d.coordinator.clone();
    let next_no = d.step_no + 1;
    let close = CloseDuty {
        duty_id: step_duty_id(&d.id, d.step_no),
        closure: if by_deadline { Closure::Fulfilled } else { Closure::Cancelled },
        reason: format!("moved up to {to:?}"),
        at: now,
    };
    let open = step_duty(&d.id, next_no, to, &handled_by, step_days, now);
    let escalated = DisputeEscalated {
        dispute_id: d.id.clone(),
        from: d.step,
        to,
        handled_by,
        by_deadline,
        reason,
        duty_id: open.duty.duty_id.clone(),
        at: now,
    };
    Ok(DisputeChange::Escalated(escalated, close, open))
}

/// decide: settle (by agreement at negotiation, by the coordinator at coordination) or decide
/// (the government's decision, recorded by the coordinating authority).
pub fn close(d: &Dispute, by: &str, outcome: String, now: DateTime<Utc>) -> Result<DisputeChange, DisputeError> {
    if d.closed.is_some() {
        return Err(DisputeError::Closed);
    }
    let allowed = match d.step {
        DisputeStep::Negotiation => by == d.claimant || by == d.respondent,
        DisputeStep::Coordination | DisputeStep::Decision => by == d.handled_by,
    };
    if !allowed {
        return Err(DisputeError::NotYours(match d.step {
            DisputeStep::Negotiation => "a party to the dispute",
            _ => "the coordinating authority",
        }));
    }
    let closed = DisputeClosed { dispute_id: d.id.clone(), step: d.step, outcome, recorded_by: by.to_owned(), at: now };
    let close = CloseDuty {
        duty_id: step_duty_id(&d.id, d.step_no),
        closure: Closure::Fulfilled,
        reason: "dispute closed".into(),
        at: now,
    };
    Ok(DisputeChange::Closed(closed, close))
}

/// evolve
pub fn evolve_dispute(mut d: Dispute, change: &DisputeChange) -> Dispute {
    match change {
        DisputeChange::Escalated(e, _, _) => {
            d.step = e.to;
            d.handled_by = e.handled_by.clone();
            d.step_no += 1;
            d.escalations.push(e.clone());
        }
        DisputeChange::Closed(c, _) => d.closed = Some(c.clone()),
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(org: &str, region: &str) -> Party {
        Party { org: org.into(), authority: false, region: RegionCode::parse(region).unwrap() }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-23T02:00:00Z".parse().unwrap()
    }

    /// Two departments of Guangzhou, coordinated by its authority.
    fn city_case() -> Dispute {
        let (a, b) = (party("a", "440100"), party("b", "440100"));
        open_dispute("x1".into(), &a, &b, "gz-auth".into(), "r1".into(), "c".into(), 10, now()).unwrap().0
    }

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
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
        let (d, duty) = open_dispute(
            "x1".into(),
            &party("gz-weijian", "440100"),
            &party("gz-gongan", "440100"),
            "gz-auth".into(),
            "r1".into(),
            "拒绝理由不成立".into(),
            10,
            now(),
        )
        .unwrap();
        assert_eq!((d.step, d.handled_by.as_str()), (DisputeStep::Negotiation, "gz-gongan"));
        assert_eq!((duty.duty.article, duty.term.clone()), (28, Term::WorkingDays { days: 10, from: now() }));
        let (cross, _) = open_dispute(
            "x2".into(),
            &party("gd-weijian", "440000"),
            &party("bj-gongan", "110000"),
            "national-auth".into(),
            "r2".into(),
            "c".into(),
            10,
            now(),
        )
        .unwrap();
        assert_eq!((cross.step, cross.handled_by.as_str()), (DisputeStep::Coordination, "national-auth"));
    }

    #[test]
    fn a_step_whose_time_ran_out_moves_up_by_itself_to_the_coordinator_then_to_the_government() {
        let d = city_case();
        let change = escalate(&d, "deadlines", true, "negotiation step deadline passed".into(), 10, now()).unwrap();
        let DisputeChange::Escalated(e, closed, opened) = &change else { panic!() };
        assert_eq!(
            (e.from, e.to, e.handled_by.as_str(), e.by_deadline),
            (DisputeStep::Negotiation, DisputeStep::Coordination, "gz-auth", true)
        );
        assert_eq!((closed.duty_id.as_str(), opened.duty.duty_id.as_str()), ("dispute-x1-step-1", "dispute-x1-step-2"));
        let d = evolve_dispute(d, &change);
        let d = evolve_dispute(d.clone(), &escalate(&d, "a", false, "协调未果".into(), 10, now()).unwrap());
        assert_eq!(d.step, DisputeStep::Decision);
        assert_eq!(escalate(&d, "a", false, "x".into(), 10, now()), Err(DisputeError::LastStep));
        assert_eq!(close(&d, "a", "x".into(), now()), Err(DisputeError::NotYours("the coordinating authority")));
        let d = evolve_dispute(d.clone(), &close(&d, "gz-auth", "市政府决定：予以共享".into(), now()).unwrap());
        assert_eq!(d.closed.as_ref().map(|c| c.step), Some(DisputeStep::Decision));
        assert_eq!(close(&d, "gz-auth", "again".into(), now()), Err(DisputeError::Closed));
    }

    #[test]
    fn only_the_parties_move_a_case_up_and_nobody_disputes_with_itself() {
        let d = city_case();
        assert_eq!(
            escalate(&d, "c", false, "x".into(), 10, now()),
            Err(DisputeError::NotYours("a party to the dispute"))
        );
        let same = open_dispute(
            "x".into(),
            &party("a", "440100"),
            &party("a", "440100"),
            "g".into(),
            "r".into(),
            "c".into(),
            10,
            now(),
        );
        assert_eq!(same.unwrap_err(), DisputeError::WithItself);
    }
}
