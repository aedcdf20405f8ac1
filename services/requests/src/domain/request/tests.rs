//! Given / when / then: the request's lifecycle, phase by phase.

use govshare_runtime::duty::DutyMessage;

use super::*;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn entry(share_type: ShareType) -> EntryView {
    EntryView {
        entry_id: "e1".into(),
        version: 2,
        name: "户籍".into(),
        provider: "gongan".into(),
        share_type,
        items: vec!["姓名".into(), "公民身份号码".into(), "住址".into()],
        share_methods: vec![ShareMethod::Interface],
        not_shared_reason: Some("涉及国家秘密以外的敏感信息".into()),
        legal_basis: Some("《某法》第十条".into()),
    }
}

fn form() -> RequestForm {
    RequestForm {
        items: vec!["姓名".into(), "公民身份号码".into()],
        legal_basis: "《社会救助暂行办法》".into(),
        scenario: "低保资格核验".into(),
        scope: "本市".into(),
        share_method: ShareMethod::Interface,
        usage_from: "2026-12-01".parse().unwrap(),
        usage_until: "2027-11-30".parse().unwrap(),
        approved_by: "zhao".into(),
    }
}

fn facts(org: &str) -> Facts {
    Facts {
        org: org.into(),
        now: t("2026-11-23T02:00:00Z"),
        provider_office_heads: vec!["li".into()],
        provider_authority: Some("gd-auth".into()),
        auto_approve: false,
        extended_grant_in_force: false,
        supplement_restarts: true,
        violation_id: "v-1".into(),
    }
}

fn submitted(share_type: ShareType) -> (Request, Decision) {
    decide_submit("r1".into(), &entry(share_type), form(), None, &facts("minzheng")).unwrap()
}

/// Applies a command and returns the request after it, and the decision.
fn then(r: Request, cmd: Command, org: &str) -> (Request, Decision) {
    let d = decide(&r, cmd, &facts(org)).unwrap();
    (d.events.iter().fold(r, evolve), d)
}

fn approve() -> Command {
    Command::Approve { items: None, narrowing_reason: None, signed_off_by: "li".into() }
}

fn delivered() -> Request {
    let (r, _) = submitted(ShareType::Conditional);
    let (r, _) = then(r, approve(), "gongan");
    let deliver = Command::Deliver {
        method: ShareMethod::Interface,
        entry_version: 2,
        content_hash: "sha256:ab".into(),
        record_count: 10,
    };
    then(r, deliver, "gongan").0
}

#[test]
fn a_conditional_request_gives_the_provider_ten_working_days_to_reply() {
    let (r, d) = submitted(ShareType::Conditional);
    assert_eq!(r.status(), Status::Received);
    let [DutyMessage::Open(duty)] = d.duties.as_slice() else { panic!("{d:?}") };
    assert_eq!((duty.duty.article, duty.duty.holder.as_str()), (21, "gongan"));
    assert_eq!(duty.term, Term::WorkingDays { days: 10, from: t("2026-11-23T02:00:00Z") });
}

#[test]
fn an_unconditional_request_is_due_in_one_working_day_or_approved_at_once_when_the_provider_chose_so() {
    let (_, d) = submitted(ShareType::Unconditional);
    let [DutyMessage::Open(duty)] = d.duties.as_slice() else { panic!("{d:?}") };
    assert_eq!(duty.term, Term::WorkingDays { days: 1, from: t("2026-11-23T02:00:00Z") });
    let auto = Facts { auto_approve: true, ..facts("minzheng") };
    let (r, d) = decide_submit("r1".into(), &entry(ShareType::Unconditional), form(), None, &auto).unwrap();
    assert_eq!(r.status(), Status::Approved);
    assert!(matches!(r.state, State::Approved(a) if a.signed_off_by.is_none()));
    assert!(matches!(d.duties.as_slice(), [DutyMessage::Open(o)] if o.duty.article == 22), "delivery clock");
}

#[test]
fn a_not_shared_entry_is_refused_at_once_with_its_reason_and_legal_basis() {
    let (r, d) = submitted(ShareType::NotShared);
    assert_eq!(r.status(), Status::Refused);
    let State::Refused(refused) = r.state else { panic!("{r:?}") };
    assert_eq!(refused.legal_basis.as_deref(), Some("《某法》第十条"));
    assert!(refused.reason.contains("敏感"));
    assert!(d.duties.is_empty(), "no reply clock for a refusal given at once");
}

#[test]
fn an_incomplete_request_gets_one_notice_listing_everything_and_its_supplement_restarts_the_clock() {
    let (r, _) = submitted(ShareType::Conditional);
    let missing = vec![
        MissingItem { field: "legal_basis".into(), note: "请附条款原文".into() },
        MissingItem { field: "scope".into(), note: "请说明人员范围".into() },
    ];
    let ask = Command::AskSupplement { missing, signed_off_by: "li".into() };
    let (r, d) = then(r, ask.clone(), "gongan");
    assert_eq!(r.status(), Status::AwaitingSupplement);
    assert!(matches!(d.duties.as_slice(), [DutyMessage::Pause(_)]));
    let (r, d) = then(r, Command::Supplement { form: form() }, "minzheng");
    assert_eq!(r.status(), Status::Received);
    assert!(matches!(d.duties.as_slice(), [DutyMessage::Restart(x)] if x.from == t("2026-11-23T02:00:00Z")));
    assert_eq!(decide(&r, ask, &facts("gongan")), Err(RequestError::SecondSupplementNotice));
}

#[test]
fn a_request_is_not_refused_for_being_incomplete() {
    let (r, _) = submitted(ShareType::Conditional);
    let refuse = Command::Refuse { reason: "材料不全".into(), incomplete: true, signed_off_by: "li".into() };
    assert_eq!(decide(&r, refuse, &facts("gongan")), Err(RequestError::RefusedForIncompleteness));
}

#[test]
fn an_approval_that_narrows_the_items_says_why_and_is_signed_off_by_the_sharing_office_head() {
    let (r, _) = submitted(ShareType::Conditional);
    let narrow = |reason: Option<&str>, by: &str| Command::Approve {
        items: Some(vec!["姓名".into()]),
        narrowing_reason: reason.map(str::to_owned),
        signed_off_by: by.into(),
    };
    assert_eq!(decide(&r, narrow(None, "li"), &facts("gongan")), Err(RequestError::NarrowingWithoutReason));
    assert_eq!(
        decide(&r, narrow(Some("最小必要"), "wang"), &facts("gongan")),
        Err(RequestError::NotSharingOfficeHead("wang".into()))
    );
    let widen =
        Command::Approve { items: Some(vec!["住址".into()]), narrowing_reason: None, signed_off_by: "li".into() };
    assert_eq!(decide(&r, widen, &facts("gongan")), Err(RequestError::ItemsNotRequested(vec!["住址".into()])));
    let (r, d) = then(r, narrow(Some("最小必要"), "li"), "gongan");
    assert!(matches!(r.state, State::Approved(a) if a.items == ["姓名"]));
    assert!(matches!(d.duties.as_slice(), [DutyMessage::Close(c), DutyMessage::Open(o)]
        if c.duty_id == "request-r1-reply" && o.duty.duty_id == "request-r1-delivery"));
    assert_eq!(
        decide(&submitted(ShareType::Conditional).0, approve(), &facts("weijian")),
        Err(RequestError::NotYours("provider"))
    );
}

#[test]
fn extensions_are_approved_by_the_same_level_authority_and_total_at_most_ten_working_days() {
    let (r, _) = submitted(ShareType::Conditional);
    let ask = |days| Command::RequestExtension { working_days: days, reason: "数据量大".into() };
    assert_eq!(decide(&r, ask(11), &facts("gongan")), Err(RequestError::ExtensionTooLong(10)));
    let (r, _) = then(r, ask(6), "gongan");
    assert_eq!(decide(&r, ask(1), &facts("gongan")), Err(RequestError::ExtensionPending), "one at a time, and said so");
    assert_eq!(
        decide(&r, Command::DecideExtension { approved: true }, &facts("gongan")),
        Err(RequestError::NotYours("authority"))
    );
    let (r, d) = then(r, Command::DecideExtension { approved: true }, "gd-auth");
    assert!(
        matches!(d.duties.as_slice(), [DutyMessage::Extend(x)] if x.working_days == 6 && x.approved_by == "gd-auth")
    );
    assert!(
        matches!(&d.events[..], [Event::ExtensionDecided(e)] if e.requester == "minzheng"),
        "the requester is told"
    );
    assert_eq!(decide(&r, ask(5), &facts("gongan")), Err(RequestError::ExtensionTooLong(4)));
}

#[test]
fn delivery_activates_the_grant_until_the_end_of_its_usage_period() {
    let r = delivered();
    assert_eq!(r.status(), Status::Active);
    let d = &r.state.grant().unwrap().delivered;
    assert_eq!((d.entry_version, d.record_count, d.active_until.to_string().as_str()), (2, 10, "2027-11-30"));
    assert_eq!(end_of_day("2027-11-30".parse().unwrap()), t("2027-11-30T16:00:00Z"));
}

#[test]
fn delivery_opens_the_usage_period_as_an_end_the_requester_holds_not_a_deadline() {
    let (r, _) = submitted(ShareType::Conditional);
    let (r, _) = then(r, approve(), "gongan");
    let deliver = Command::Deliver {
        method: ShareMethod::Interface,
        entry_version: 2,
        content_hash: "sha256:ab".into(),
        record_count: 10,
    };
    let (_, d) = then(r, deliver, "gongan");
    let [DutyMessage::Close(_), DutyMessage::Open(usage)] = d.duties.as_slice() else { panic!("{d:?}") };
    assert_eq!((usage.duty.duty_id.as_str(), usage.duty.article), ("request-r1-usage-period", 27));
    assert_eq!(usage.duty.holder, "minzheng");
    assert_eq!(usage.term, Term::Expires { at: t("2027-11-30T16:00:00Z") }, "an end: never escalated");
}

#[test]
fn a_suspended_grant_not_fixed_may_be_terminated_but_one_in_force_only_after_negotiation() {
    let r = delivered();
    let terminate =
        |n: Option<&str>| Command::Terminate { reason: "违规使用".into(), negotiation: n.map(str::to_owned) };
    let (s, d) = then(r, Command::Suspend { reason: "超范围使用".into(), fix_days: 10 }, "gongan");
    assert_eq!(s.status(), Status::Suspended);
    assert!(
        matches!(d.duties.as_slice(), [DutyMessage::Open(o)] if o.duty.holder == "minzheng" && o.duty.article == 27)
    );
    let (ended, d) = then(s, terminate(None), "gongan");
    assert_eq!(ended.status(), Status::Ended);
    assert!(matches!(ended.state, State::Ended(_, e) if e.end == GrantEnd::Terminated));
    assert_eq!(d.duties.len(), 2, "the usage and fix clocks stop (recall orders the destruction)");
    assert!(!d.events.iter().any(|e| matches!(e, Event::Violation(_))), "terminating an unfixed suspension is allowed");
    let (ended, d) = then(delivered(), terminate(Some("2026-11-20 协商纪要")), "gongan");
    assert!(
        matches!(ended.state, State::Ended(_, e) if e.filed_with.as_deref() == Some("gd-auth")),
        "filed with the same-level authority"
    );
    assert!(!d.events.iter().any(|e| matches!(e, Event::Violation(_))));
}

#[test]
fn ending_or_changing_a_grant_in_force_without_negotiating_is_recorded_as_a_violation() {
    let terminate = Command::Terminate { reason: "不再提供".into(), negotiation: None };
    let (ended, d) = then(delivered(), terminate, "gongan");
    assert_eq!(ended.status(), Status::Ended);
    let Some(Event::Violation(v)) = d.events.last() else { panic!("{d:?}") };
    assert_eq!((v.article, v.party.as_str(), v.kind.as_str()), (39, "gongan", "unilateral_termination"));
    let change =
        Command::Change { change: "改为按月批量".into(), reason: "系统升级".into(), negotiation: None };
    let (_, d) = then(delivered(), change, "gongan");
    assert!(matches!(&d.events[..], [Event::Changed(_), Event::Violation(v)] if v.kind == "unilateral_change"));
}

#[test]
fn a_late_reply_is_a_violation_unless_its_reason_was_recorded() {
    let (r, _) = submitted(ShareType::Conditional);
    let v = violation_for_breach(&r, "request-r1-reply", &facts("deadlines"));
    assert!(matches!(v, Some(Event::Violation(v)) if v.kind == "late_reply" && v.party == "gongan" && v.article == 39));
    let explained = explain_delay(&r, DelayedDuty::Reply, "数据源系统故障".into(), &facts("gongan")).unwrap();
    let r = r.note_delay(explained);
    assert_eq!(violation_for_breach(&r, "request-r1-reply", &facts("deadlines")), None);
}

#[test]
fn a_verification_request_is_answered_with_a_correction_within_ten_working_days() {
    let verify = Command::RequestVerification {
        verification_id: "v1".into(),
        items: vec!["住址".into()],
        problem: "地址过期".into(),
    };
    let (r, d) = then(delivered(), verify, "minzheng");
    assert!(matches!(d.duties.as_slice(), [DutyMessage::Open(o)]
        if o.duty.article == 26 && o.duty.holder == "gongan" && o.term == Term::WorkingDays { days: 10, from: t("2026-11-23T02:00:00Z") }));
    let answer = Command::AnswerVerification {
        verification_id: "v1".into(),
        correction: Some(("sha256:cd".into(), 10)),
        reason: None,
    };
    let (r, d) = then(r, answer.clone(), "gongan");
    assert!(r.state.grant().unwrap().verifications[0].answered.as_ref().unwrap().corrected);
    assert!(matches!(d.duties.as_slice(), [DutyMessage::Close(c)] if c.duty_id == "request-r1-verify-v1"));
    assert_eq!(
        decide(&r, answer, &facts("gongan")),
        Err(RequestError::VerificationAlreadyAnswered("v1".into())),
        "answered once, and the refusal says so"
    );
}

#[test]
fn passing_data_on_needs_a_linked_request_for_a_grant_in_force_which_is_never_approved_automatically() {
    let onward = Extends::OnwardTransfer { grant: "r0".into(), third_party: "jiaoyu".into() };
    let auto = Facts { auto_approve: true, ..facts("minzheng") };
    assert_eq!(
        decide_submit("r2".into(), &entry(ShareType::Unconditional), form(), Some(onward.clone()), &auto),
        Err(RequestError::ConsentNeeded("r0".into()))
    );
    let holding = Facts { extended_grant_in_force: true, ..auto };
    let (r, _) = decide_submit("r2".into(), &entry(ShareType::Unconditional), form(), Some(onward), &holding).unwrap();
    assert_eq!(r.status(), Status::Received, "waits for the provider's consent");
}

#[test]
fn a_command_out_of_the_lifecycles_order_is_refused_and_changes_nothing() {
    // Given a request still waiting for its reply
    let (r, _) = submitted(ShareType::Conditional);
    let deliver = Command::Deliver {
        method: ShareMethod::Interface,
        entry_version: 2,
        content_hash: "sha256:ab".into(),
        record_count: 10,
    };
    // When the provider delivers before approving, Then it is refused, naming where the request stands
    let refused = decide(&r, deliver, &facts("gongan")).unwrap_err();
    assert!(matches!(refused, RequestError::NotNow { state: Status::Received, .. }), "{refused:?}");
    // And a supplement nobody asked for, a resumption of a grant never suspended, a
    // verification before any delivery are refused the same way
    for (cmd, org) in [
        (Command::Supplement { form: form() }, "minzheng"),
        (Command::Resume { note: "已整改".into() }, "gongan"),
        (
            Command::RequestVerification {
                verification_id: "v1".into(),
                items: vec!["姓名".into()],
                problem: "x".into(),
            },
            "minzheng",
        ),
    ] {
        assert!(matches!(decide(&r, cmd.clone(), &facts(org)), Err(RequestError::NotNow { .. })), "{cmd:?}");
    }
    // And an event that does not apply leaves the request as it was
    let stray = Event::Resumed(GrantResumed {
        request_id: "r1".into(),
        by: "gongan".into(),
        note: "x".into(),
        at: t("2026-11-23T02:00:00Z"),
    });
    assert_eq!(evolve(r.clone(), &stray), r);
}

#[test]
fn a_grant_in_force_is_the_only_state_with_a_delivery_and_a_suspension_is_kept_once_lifted() {
    // Given a delivered grant, suspended then resumed
    let (s, _) = then(delivered(), Command::Suspend { reason: "超范围使用".into(), fix_days: 10 }, "gongan");
    let (r, _) = then(s, Command::Resume { note: "已整改".into() }, "gongan");
    // Then it is active, with its delivery, one suspension counted and kept on record
    let State::Active(grant) = &r.state else { panic!("{r:?}") };
    assert_eq!((grant.suspensions, grant.delivered.record_count), (1, 10));
    assert_eq!(grant.last_suspension.as_ref().map(|s| s.fix_duty_id.as_str()), Some("request-r1-fix-1"));
    // And a second suspension is numbered after it
    let (_, d) = then(r, Command::Suspend { reason: "再次违规".into(), fix_days: 5 }, "gongan");
    assert!(matches!(d.duties.as_slice(), [DutyMessage::Open(o)] if o.duty.duty_id == "request-r1-fix-2"));
}

#[test]
fn a_request_is_stored_and_answered_as_the_flat_record_rows_were_written_in() {
    // Given a request at each stage of its life
    let (received, _) = submitted(ShareType::Conditional);
    let (ended, _) =
        then(delivered(), Command::End { end: GrantEnd::PurposeAchieved, reason: "已完成".into() }, "minzheng");
    for r in [received, delivered(), ended] {
        // When it is written and read back, Then it is the same request, with the old field names
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["status"], r.status().name());
        for field in
            ["supplement_notice", "pending_extension", "approved", "refused", "delivered", "suspended", "ended"]
        {
            assert!(json.get(field).is_some(), "{field} is written, null until it happened");
        }
        assert_eq!(serde_json::from_value::<Request>(json).unwrap(), r);
    }
}

#[test]
fn a_stored_status_without_what_it_implies_is_not_read_as_a_request() {
    // Given a stored grant said to be active but with no delivery
    let mut json = serde_json::to_value(delivered()).unwrap();
    json["delivered"] = serde_json::Value::Null;
    // When it is read, Then it is refused, saying what is missing
    let err = serde_json::from_value::<Request>(json).unwrap_err().to_string();
    assert!(err.contains("active without its delivery"), "{err}");
}

#[test]
fn a_delay_is_explained_only_for_the_reply_or_delivery_still_due_and_only_by_the_provider() {
    // Given a request waiting for its reply
    let (r, _) = submitted(ShareType::Conditional);
    // When the requester explains, or the provider explains a delivery not yet due, Then both are refused
    assert_eq!(
        explain_delay(&r, DelayedDuty::Reply, "x".into(), &facts("minzheng")),
        Err(RequestError::NotYours("provider"))
    );
    assert!(matches!(
        explain_delay(&r, DelayedDuty::Delivery, "x".into(), &facts("gongan")),
        Err(RequestError::NotNow { state: Status::Received, .. })
    ));
}
