//! A requests event that a party of the request must hear of, the organisations it concerns,
//! who hears it and what it says. Pure: the handler finds the parties (in the event, or in
//! what notify recorded when the request was submitted), loads them from the directory copy
//! as a [`Cast`] and asks here.

use govshare_runtime::events::requests::{
    DataDelivered, ExtensionDecided, ExtensionRequested, GrantChanged, GrantEnded, GrantResumed, GrantSuspended,
    RequestApproved, RequestRefused, SupplementRequested, VerificationAnswered, VerificationRequested,
};

use super::{
    Message, Org, Recipient,
    message::MissingLine,
    recipients::{administrators, administrators_and_sharing_office, each_once},
};

/// The two parties of a request, by organisation id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parties {
    pub requester: String,
    pub provider: String,
}

/// The organisations a notice concerns, as the directory copy has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cast {
    pub requester: Org,
    pub provider: Org,
    /// The organisation [`RequestNotice::other`] names, if it names one.
    pub other: Option<Org>,
}

/// A requests event that someone must hear of. (Submissions, supplements and usage records
/// are not: the provider's reply duty reminds it of a submission.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestNotice {
    SupplementRequested(SupplementRequested),
    ExtensionRequested(ExtensionRequested),
    ExtensionDecided(ExtensionDecided),
    Approved(RequestApproved),
    Refused(RequestRefused),
    Delivered(DataDelivered),
    Suspended(GrantSuspended),
    Resumed(GrantResumed),
    Ended(GrantEnded),
    Changed(GrantChanged),
    VerificationRequested(VerificationRequested),
    VerificationAnswered(VerificationAnswered),
}

impl RequestNotice {
    pub fn request_id(&self) -> &str {
        match self {
            RequestNotice::SupplementRequested(e) => &e.request_id,
            RequestNotice::ExtensionRequested(e) => &e.request_id,
            RequestNotice::ExtensionDecided(e) => &e.request_id,
            RequestNotice::Approved(e) => &e.request_id,
            RequestNotice::Refused(e) => &e.request_id,
            RequestNotice::Delivered(e) => &e.request_id,
            RequestNotice::Suspended(e) => &e.request_id,
            RequestNotice::Resumed(e) => &e.request_id,
            RequestNotice::Ended(e) => &e.request_id,
            RequestNotice::Changed(e) => &e.request_id,
            RequestNotice::VerificationRequested(e) => &e.request_id,
            RequestNotice::VerificationAnswered(e) => &e.request_id,
        }
    }

    /// The parties, when the event names both; otherwise the handler looks them up in what
    /// notify recorded when the request was submitted.
    pub fn parties(&self) -> Option<Parties> {
        let both = |requester: &str, provider: &str| {
            Some(Parties { requester: requester.to_owned(), provider: provider.to_owned() })
        };
        match self {
            RequestNotice::Approved(e) => both(&e.requester, &e.provider),
            RequestNotice::Refused(e) => both(&e.requester, &e.provider),
            RequestNotice::Delivered(e) => both(&e.requester, &e.provider),
            RequestNotice::Ended(e) => both(&e.requester, &e.provider),
            _ => None,
        }
    }

    /// The organisation the event names besides the parties: the authority asked for an
    /// extension or a termination or change was filed with, or whoever decided an extension or
    /// suspended or resumed a grant. The handler loads it into [`Cast::other`].
    pub fn other(&self) -> Option<&str> {
        match self {
            RequestNotice::ExtensionRequested(e) => Some(&e.authority),
            RequestNotice::ExtensionDecided(e) => Some(&e.decided_by),
            RequestNotice::Suspended(e) => Some(&e.by),
            RequestNotice::Resumed(e) => Some(&e.by),
            RequestNotice::Ended(e) => e.filed_with.as_deref(),
            RequestNotice::Changed(e) => Some(&e.filed_with),
            _ => None,
        }
    }

    /// Who hears of it, each once:
    ///
    /// | event | recipients |
    /// |---|---|
    /// | supplement requested (一次性告知) | the requester's administrators and sharing office |
    /// | extension requested | the administrators of the authority asked |
    /// | extension decided (Art. 21: the requester is told) | the requester's administrators and sharing office |
    /// | approved, refused | the requester's administrators and sharing office |
    /// | delivered | the requester's administrators |
    /// | suspended, resumed | the requester's administrators and sharing office |
    /// | ended | the requester's administrators and sharing office, the provider's administrators, and the administrators of the authority it was filed with, if any |
    /// | changed | the requester's administrators and the administrators of the authority it was filed with |
    /// | verification requested | the provider's administrators and sharing office |
    /// | verification answered | the requester's administrators |
    pub fn recipients(&self, cast: &Cast) -> Vec<Recipient> {
        let requester_and_office = || administrators_and_sharing_office(&cast.requester);
        match self {
            RequestNotice::SupplementRequested(_)
            | RequestNotice::ExtensionDecided(_)
            | RequestNotice::Approved(_)
            | RequestNotice::Refused(_)
            | RequestNotice::Suspended(_)
            | RequestNotice::Resumed(_) => requester_and_office(),
            RequestNotice::ExtensionRequested(_) => self.other_administrators(cast),
            RequestNotice::Delivered(_) | RequestNotice::VerificationAnswered(_) => administrators(&cast.requester),
            RequestNotice::Ended(_) => {
                each_once([requester_and_office(), administrators(&cast.provider), self.other_administrators(cast)])
            }
            RequestNotice::Changed(_) => each_once([administrators(&cast.requester), self.other_administrators(cast)]),
            RequestNotice::VerificationRequested(_) => administrators_and_sharing_office(&cast.provider),
        }
    }

    /// The administrators of the organisation [`RequestNotice::other`] names; its own inbox
    /// if the cast lacks it (the handler always loads it); nobody if none is named.
    fn other_administrators(&self, cast: &Cast) -> Vec<Recipient> {
        match (self.other(), &cast.other) {
            (Some(_), Some(org)) => administrators(org),
            (Some(id), None) => vec![Recipient::new(id, id)],
            (None, _) => Vec::new(),
        }
    }

    /// What they read: the same message for every recipient, naming the organisations.
    pub fn message(&self, cast: &Cast) -> Message {
        let request_id = self.request_id().to_owned();
        let provider = cast.provider.name.clone();
        let requester = cast.requester.name.clone();
        let other = || match (&cast.other, self.other()) {
            (Some(org), _) => org.name.clone(),
            (None, id) => id.unwrap_or_default().to_owned(),
        };
        match self {
            RequestNotice::SupplementRequested(e) => Message::SupplementRequested {
                request_id,
                provider,
                missing: e
                    .missing
                    .iter()
                    .map(|m| MissingLine { field: m.field.clone(), note: m.note.clone() })
                    .collect(),
            },
            RequestNotice::ExtensionRequested(e) => Message::ExtensionRequested {
                request_id,
                provider,
                working_days: e.working_days,
                reason: e.reason.clone(),
            },
            RequestNotice::ExtensionDecided(e) => Message::ExtensionDecided {
                request_id,
                provider,
                authority: other(),
                approved: e.approved,
                working_days: e.working_days,
            },
            RequestNotice::Approved(e) => Message::RequestApproved {
                request_id,
                provider,
                items: e.items.clone(),
                narrowing_reason: e.narrowing_reason.clone(),
            },
            RequestNotice::Refused(e) => Message::RequestRefused {
                request_id,
                provider,
                reason: e.reason.clone(),
                legal_basis: e.legal_basis.clone(),
            },
            RequestNotice::Delivered(e) => Message::DataDelivered {
                request_id,
                provider,
                record_count: e.record_count,
                active_until: e.active_until,
            },
            RequestNotice::Suspended(e) => {
                Message::GrantSuspended { request_id, provider, by: other(), reason: e.reason.clone() }
            }
            RequestNotice::Resumed(e) => {
                Message::GrantResumed { request_id, provider, by: other(), note: e.note.clone() }
            }
            RequestNotice::Ended(e) => Message::GrantEnded {
                request_id,
                provider,
                requester,
                end: e.end,
                reason: e.reason.clone(),
                filed_with: e.filed_with.as_ref().map(|_| other()),
            },
            RequestNotice::Changed(e) => Message::GrantChanged {
                request_id,
                provider,
                requester,
                change: e.change.clone(),
                reason: e.reason.clone(),
                negotiation: e.negotiation.clone().filter(|n| !n.trim().is_empty()),
                filed_with: other(),
            },
            RequestNotice::VerificationRequested(e) => Message::VerificationRequested {
                request_id,
                requester,
                items: e.items.clone(),
                problem: e.problem.clone(),
            },
            RequestNotice::VerificationAnswered(e) => Message::VerificationAnswered {
                request_id,
                provider,
                corrected: e.corrected,
                record_count: e.record_count,
                reason: e.reason.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use govshare_runtime::{
        events::{
            OrgKind,
            catalog::Roles,
            requests::{GrantEnd, MissingItem},
        },
        region::RegionCode,
        reply::Lang,
    };

    use super::*;
    use crate::domain::Place;

    fn at() -> DateTime<Utc> {
        "2026-11-24T02:00:00Z".parse().unwrap()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn org(id: &str, name: &str, kind: OrgKind, admins: &[&str], office_head: &[&str], office: &[&str]) -> Org {
        Org {
            id: id.into(),
            name: name.into(),
            place: Some(Place { kind, region: RegionCode::parse("440000").unwrap() }),
            roles: Roles {
                administrators: names(admins),
                head: names(&["boss"]),
                sharing_office: names(office),
                sharing_office_head: names(office_head),
            },
        }
    }

    /// The requester (weijian), the provider (gongan) and, when the notice names one, the
    /// authority (gd-auth), as the handler would load them.
    fn cast(notice: &RequestNotice) -> Cast {
        Cast {
            requester: org("weijian", "广东省卫生健康委员会", OrgKind::Department, &["carol"], &["zhao"], &["xu"]),
            provider: org("gongan", "广东省公安厅", OrgKind::Department, &["alice", "bob"], &["li"], &[]),
            other: notice.other().map(|id| {
                assert_eq!(id, "gd-auth", "the only other organisation in these tests");
                org("gd-auth", "广东省政务服务和数据管理局", OrgKind::Authority, &["dora"], &[], &["staff"])
            }),
        }
    }

    /// Who hears, as `org/account`.
    fn heard(notice: &RequestNotice) -> Vec<String> {
        notice.recipients(&cast(notice)).into_iter().map(|r| format!("{}/{}", r.org, r.account)).collect()
    }

    const REQUESTER_AND_OFFICE: [&str; 3] = ["weijian/carol", "weijian/zhao", "weijian/xu"];

    fn supplement() -> RequestNotice {
        RequestNotice::SupplementRequested(SupplementRequested {
            request_id: "r1".into(),
            missing: vec![
                MissingItem { field: "legal_basis".into(), note: "请附具体条款".into() },
                MissingItem { field: "scope".into(), note: "请说明人员范围".into() },
            ],
            signed_off_by: "li".into(),
            at: at(),
        })
    }

    fn ended(filed_with: Option<&str>) -> RequestNotice {
        RequestNotice::Ended(GrantEnded {
            request_id: "r1".into(),
            entry_id: "e1".into(),
            provider: "gongan".into(),
            requester: "weijian".into(),
            end: GrantEnd::Terminated,
            reason: "整改期满未整改".into(),
            negotiation: filed_with.map(|_| "2026-11-20 会商纪要".into()),
            filed_with: filed_with.map(Into::into),
            at: at(),
        })
    }

    #[test]
    fn the_one_time_supplement_notice_reaches_the_requesters_administrators_and_sharing_office() {
        let n = supplement();
        assert_eq!(n.parties(), None, "it names neither party: the handler looks them up");
        assert_eq!(n.other(), None);
        assert_eq!(heard(&n), REQUESTER_AND_OFFICE);
        let text = n.message(&cast(&n)).render(Lang::ZhCn);
        assert!(text.starts_with("【申请需补正】广东省公安厅就共享申请 r1 一次性告知"), "{text}");
        assert!(text.ends_with("\n1. 法律依据：请附具体条款\n2. 使用范围：请说明人员范围"), "{text}");
    }

    #[test]
    fn an_extension_request_reaches_the_administrators_of_the_authority_asked() {
        let n = RequestNotice::ExtensionRequested(ExtensionRequested {
            request_id: "r1".into(),
            working_days: 6,
            reason: "数据量大".into(),
            authority: "gd-auth".into(),
            at: at(),
        });
        assert_eq!(n.other(), Some("gd-auth"));
        assert_eq!(heard(&n), ["gd-auth/dora"]);
        assert!(
            matches!(n.message(&cast(&n)), Message::ExtensionRequested { provider, .. } if provider == "广东省公安厅")
        );
    }

    #[test]
    fn the_extension_decision_reaches_the_requester_and_names_the_authority() {
        let n = RequestNotice::ExtensionDecided(ExtensionDecided {
            request_id: "r1".into(),
            requester: "weijian".into(),
            approved: false,
            working_days: 6,
            decided_by: "gd-auth".into(),
            at: at(),
        });
        assert_eq!(heard(&n), REQUESTER_AND_OFFICE);
        let en = n.message(&cast(&n)).render(Lang::En);
        assert!(en.starts_with("Extension denied: 广东省公安厅 asked 广东省政务服务和数据管理局"), "{en}");
    }

    #[test]
    fn the_reply_and_the_grants_suspension_and_resumption_reach_the_requester_and_its_sharing_office() {
        let approved = RequestNotice::Approved(RequestApproved {
            request_id: "r1".into(),
            provider: "gongan".into(),
            requester: "weijian".into(),
            items: names(&["姓名"]),
            narrowing_reason: Some("最少够用".into()),
            signed_off_by: Some("li".into()),
            at: at(),
            delivery_duty_id: "request-r1-delivery".into(),
        });
        let refused = RequestNotice::Refused(RequestRefused {
            request_id: "r1".into(),
            provider: "gongan".into(),
            requester: "weijian".into(),
            reason: "不予共享".into(),
            legal_basis: None,
            signed_off_by: Some("li".into()),
            at: at(),
        });
        let suspended = RequestNotice::Suspended(GrantSuspended {
            request_id: "r1".into(),
            requester: "weijian".into(),
            by: "gd-auth".into(),
            reason: "超范围使用".into(),
            fix_duty_id: "request-r1-fix-1".into(),
            at: at(),
        });
        let resumed = RequestNotice::Resumed(GrantResumed {
            request_id: "r1".into(),
            by: "gd-auth".into(),
            note: "已整改".into(),
            at: at(),
        });
        for n in [&approved, &refused] {
            assert!(n.parties().is_some(), "a reply names both parties");
        }
        for n in [approved, refused, suspended, resumed] {
            assert_eq!(heard(&n), REQUESTER_AND_OFFICE, "{n:?}");
        }
    }

    #[test]
    fn a_delivery_reaches_the_requesters_administrators_only() {
        let n = RequestNotice::Delivered(DataDelivered {
            request_id: "r1".into(),
            entry_id: "e1".into(),
            entry_version: 1,
            provider: "gongan".into(),
            requester: "weijian".into(),
            method: govshare_runtime::events::catalog::ShareMethod::Interface,
            content_hash: "sha256:00".into(),
            record_count: 12,
            active_until: "2027-11-30".parse().unwrap(),
            at: at(),
        });
        assert_eq!(n.parties(), Some(Parties { requester: "weijian".into(), provider: "gongan".into() }));
        assert_eq!(heard(&n), ["weijian/carol"]);
    }

    #[test]
    fn an_ended_grant_reaches_both_parties_and_the_authority_it_was_filed_with() {
        assert_eq!(
            heard(&ended(Some("gd-auth"))),
            ["weijian/carol", "weijian/zhao", "weijian/xu", "gongan/alice", "gongan/bob", "gd-auth/dora"]
        );
        let n = ended(Some("gd-auth"));
        let zh = n.message(&cast(&n)).render(Lang::ZhCn);
        assert!(zh.contains("广东省卫生健康委员会须按广东省公安厅的要求处置已获取的数据"), "{zh}");
        assert!(zh.ends_with("终止已经协商并报广东省政务服务和数据管理局备案。"), "{zh}");
    }

    #[test]
    fn an_ended_grant_filed_with_nobody_reaches_the_parties_only() {
        let n = ended(None);
        assert_eq!(n.other(), None);
        assert_eq!(heard(&n), ["weijian/carol", "weijian/zhao", "weijian/xu", "gongan/alice", "gongan/bob"]);
        assert!(matches!(n.message(&cast(&n)), Message::GrantEnded { filed_with: None, .. }));
    }

    #[test]
    fn a_change_reaches_the_requesters_administrators_and_the_authority_it_was_filed_with() {
        let n = RequestNotice::Changed(GrantChanged {
            request_id: "r1".into(),
            change: "改为每周批量交换".into(),
            reason: "接口改造".into(),
            negotiation: Some("已会商".into()),
            filed_with: "gd-auth".into(),
            at: at(),
        });
        assert_eq!(n.parties(), None);
        assert_eq!(heard(&n), ["weijian/carol", "gd-auth/dora"]);
    }

    #[test]
    fn a_verification_request_reaches_the_provider_and_its_answer_the_requester() {
        let asked = RequestNotice::VerificationRequested(VerificationRequested {
            request_id: "r1".into(),
            verification_id: "v1".into(),
            provider: "gongan".into(),
            items: names(&["姓名"]),
            problem: "姓名有误".into(),
            duty_id: "request-r1-verify-v1".into(),
            at: at(),
        });
        let answered = RequestNotice::VerificationAnswered(VerificationAnswered {
            request_id: "r1".into(),
            verification_id: "v1".into(),
            requester: "weijian".into(),
            corrected: true,
            content_hash: Some("sha256:01".into()),
            record_count: Some(12),
            reason: None,
            at: at(),
        });
        assert_eq!(heard(&asked), ["gongan/alice", "gongan/bob", "gongan/li"]);
        assert_eq!(heard(&answered), ["weijian/carol"]);
    }

    #[test]
    fn a_party_with_nobody_on_record_hears_in_its_own_inbox() {
        let n = supplement();
        let mut c = cast(&n);
        c.requester.roles = Roles::default();
        assert_eq!(n.recipients(&c), [Recipient::new("weijian", "weijian")]);
    }

    #[test]
    fn an_authority_without_administrators_hears_in_its_own_inbox() {
        let n = RequestNotice::ExtensionRequested(ExtensionRequested {
            request_id: "r1".into(),
            working_days: 2,
            reason: "x".into(),
            authority: "gd-auth".into(),
            at: at(),
        });
        let mut c = cast(&n);
        c.other.as_mut().unwrap().roles.administrators.clear();
        assert_eq!(n.recipients(&c), [Recipient::new("gd-auth", "gd-auth")]);
    }
}
