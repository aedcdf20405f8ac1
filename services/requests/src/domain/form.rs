//! The request form (Art. 20): parsed at the edge, then checked against the entry and the
//! requester's sharing office, every problem listed at once.
//!
//! Its usage period is bounded where it enters: each date within the years every service can
//! count with (the contract's `Date` type: its schema refuses the rest), not already over, and
//! no longer than the setting `requests.max_usage_period_days` (a setting, so checked here). The period's end becomes a deadlines duty on
//! delivery; a period deadlines could not clock is refused here, to the requester, not there.

use chrono::{DateTime, NaiveDate, Utc};
use govshare_runtime::{Problem, calendar::TIME_ZONE, events::requests::RequestForm, reply::Text};

use super::EntryView;

/// What bounds a usage period when a form is submitted or supplemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageRules {
    /// Today in Beijing: a period that ended before today is already over.
    pub today: NaiveDate,
    /// The longest period, in days counting both ends (`requests.max_usage_period_days`).
    pub max_days: u32,
}

impl UsageRules {
    pub fn new(now: DateTime<Utc>, max_days: u32) -> Self {
        Self { today: now.with_timezone(&TIME_ZONE).date_naive(), max_days }
    }
}

/// What is wrong with a well-formed form for `entry`: items outside the entry (least
/// necessary: a subset of its items), a share method it does not offer, a usage period that
/// ends before it starts, is already over or is longer than `rules` allow, an approver who is
/// not the requester's sharing-office head.
pub fn check_form(form: &RequestForm, entry: &EntryView, office_heads: &[String], rules: &UsageRules) -> Vec<Problem> {
    let mut out = Vec::new();
    if form.items.is_empty() {
        out.push(Problem::new("items", "required", Text::new("至少申请一个数据项", "request at least one data item")));
    }
    for (i, item) in form.items.iter().enumerate() {
        if !entry.items.contains(item) {
            out.push(Problem::new(
                format!("items[{i}]"),
                "unknown",
                Text::new(format!("目录无数据项「{item}」"), format!("the entry has no data item \"{item}\"")),
            ));
        } else if form.items[..i].contains(item) {
            out.push(Problem::new(
                format!("items[{i}]"),
                "duplicate",
                Text::new(format!("数据项「{item}」重复"), format!("data item \"{item}\" is listed twice")),
            ));
        }
    }
    if !entry.share_methods.is_empty() && !entry.share_methods.contains(&form.share_method) {
        out.push(Problem::invalid(
            "share_method",
            "目录未提供该共享方式",
            "the entry does not offer this share method",
        ));
    }
    if form.usage_until < form.usage_from {
        out.push(Problem::invalid("usage_until", "使用期限早于开始日期", "the usage period ends before it starts"));
    } else if form.usage_until < rules.today {
        out.push(Problem::new(
            "usage_until",
            "already_over",
            Text::new(
                format!("使用期限已于 {} 届满，早于申请日 {}", form.usage_until, rules.today),
                format!("the usage period ended on {}, before today ({})", form.usage_until, rules.today),
            ),
        ));
    } else {
        let days = (form.usage_until - form.usage_from).num_days() + 1;
        if days > i64::from(rules.max_days) {
            out.push(Problem::new(
                "usage_until",
                "too_long",
                Text::new(
                    format!("使用期限共 {days} 天，超过上限 {} 天", rules.max_days),
                    format!("the usage period is {days} days, longer than the limit of {} days", rules.max_days),
                ),
            ));
        }
    }
    if !office_heads.contains(&form.approved_by) {
        out.push(Problem::new(
            "approved_by",
            "not_sharing_office_head",
            Text::new(
                format!("{} 不是本部门共享工作机构负责人（第二十条）", form.approved_by),
                format!("{} is not the head of the requesting department's sharing office (Art. 20)", form.approved_by),
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use govshare_runtime::events::{ShareType, catalog::ShareMethod};

    use super::*;

    fn entry() -> EntryView {
        EntryView {
            entry_id: "e1".into(),
            version: 1,
            name: "户籍".into(),
            provider: "gongan".into(),
            share_type: ShareType::Conditional,
            items: vec!["姓名".into(), "公民身份号码".into()],
            share_methods: vec![ShareMethod::Interface],
            not_shared_reason: None,
            legal_basis: None,
        }
    }

    /// Submitted on Monday 23 Nov 2026 (Beijing), with the default limit of 5 years.
    fn rules() -> UsageRules {
        UsageRules::new("2026-11-23T01:30:00Z".parse().unwrap(), 5 * 365 + 1)
    }

    fn form(from: &str, until: &str) -> RequestForm {
        RequestForm {
            items: vec!["姓名".into()],
            legal_basis: "《某条例》".into(),
            scenario: "低保审核".into(),
            scope: "本市".into(),
            share_method: ShareMethod::Interface,
            usage_from: from.parse().unwrap(),
            usage_until: until.parse().unwrap(),
            approved_by: "zhao".into(),
        }
    }

    fn usage_problems(from: &str, until: &str) -> Vec<(String, String)> {
        check_form(&form(from, until), &entry(), &["zhao".into()], &rules())
            .into_iter()
            .map(|p| (p.field, p.code))
            .collect()
    }

    #[test]
    fn a_usage_period_already_over_or_longer_than_the_limit_is_refused_on_its_end() {
        let p = |f, c: &str| vec![(String::from(f), c.to_owned())];
        // A period that ended yesterday is over; one ending today is not.
        assert_eq!(usage_problems("2026-01-01", "2026-11-22"), p("usage_until", "already_over"));
        assert_eq!(usage_problems("2026-01-01", "2026-11-23"), []);
        // Five calendar years (1826 days with 29 Feb 2028) fit; a day more does not.
        assert_eq!(usage_problems("2026-12-01", "2031-11-30"), []);
        assert_eq!(usage_problems("2026-12-01", "2031-12-01"), p("usage_until", "too_long"));
        // A start in the past is fine as long as the period is not over.
        assert_eq!(usage_problems("2025-01-01", "2027-12-31"), []);
    }

    /// The problems of a `submit_request` body, as the service answers them (field, code).
    fn submit_problems(body: serde_json::Value) -> Vec<(String, String)> {
        use govshare_contract::{api::requests::Call, calls::CallKind};
        match govshare_runtime::calls::parse::<Call>(CallKind::Command, "submit_request", &body) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.into_iter().map(|p| (p.field, p.code)).collect(),
        }
    }

    fn submit_body() -> serde_json::Value {
        serde_json::json!({
            "version": 1, "entry_id": "e1", "items": ["姓名"], "legal_basis": "x", "scenario": "x", "scope": "x",
            "share_method": "interface", "usage_from": "2026-12-01", "usage_until": "2027-11-30", "approved_by": "zhao",
        })
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected.iter().map(|(f, c)| (f.to_string(), c.to_string())).collect()
    }

    #[test]
    fn usage_dates_outside_the_sane_range_are_refused_where_they_enter() {
        // Given a form whose usage period starts at chrono's first year and ends at its last
        let mut body = submit_body();
        body["usage_from"] = "-262143-01-01".into();
        body["usage_until"] = "+262142-12-31".into();
        // When it is parsed, Then both dates are problems on their own fields, and nothing else is
        let mut fields: Vec<_> = submit_problems(body.clone()).into_iter().map(|(field, _)| field).collect();
        fields.dedup();
        assert_eq!(fields, ["usage_from", "usage_until"]);
        // And the same dates in range parse
        body["usage_from"] = "2026-12-01".into();
        body["usage_until"] = "2027-11-30".into();
        assert_eq!(submit_problems(body), []);
    }

    #[test]
    fn an_incomplete_form_lists_every_missing_field_at_once() {
        // Given a submission with only its entry, items and scope
        let body = serde_json::json!({"version": 1, "entry_id": "e1", "items": ["姓名"], "scope": "全市"});
        // When it is parsed, Then every missing field is one problem, all at once
        let mut problems = submit_problems(body);
        problems.sort();
        let mut expected = pairs(&[
            ("approved_by", "required"),
            ("legal_basis", "required"),
            ("scenario", "required"),
            ("share_method", "required"),
            ("usage_from", "required"),
            ("usage_until", "required"),
        ]);
        expected.sort();
        assert_eq!(problems, expected);
    }

    #[test]
    fn a_submission_refuses_unknown_fields_and_names_every_problem_at_once() {
        // Given a submission with a field the contract does not have, no items, a blank
        // scope, an unknown share method and an ill-formed entry id
        let mut body = submit_body();
        body["purpose"] = "低保".into();
        body["items"] = serde_json::json!([]);
        body["scope"] = "  ".into();
        body["share_method"] = "fax".into();
        body["entry_id"] = "e 1".into();
        // When it is parsed, Then each is a problem at its path, in one answer
        let mut problems = submit_problems(body);
        problems.sort();
        let mut expected = pairs(&[
            ("entry_id", "invalid"),
            ("items", "too_few"),
            ("purpose", "unknown_field"),
            ("scope", "required"),
            ("share_method", "invalid"),
        ]);
        expected.sort();
        assert_eq!(problems, expected);
    }

    #[test]
    fn a_form_is_checked_against_the_entry_and_the_requesters_sharing_office() {
        let form = RequestForm {
            items: vec!["姓名".into(), "住址".into(), "姓名".into()],
            legal_basis: "《某条例》".into(),
            scenario: "低保审核".into(),
            scope: "本市".into(),
            share_method: ShareMethod::File,
            usage_from: "2026-12-01".parse().unwrap(),
            usage_until: "2026-11-30".parse().unwrap(),
            approved_by: "carol".into(),
        };
        let problems: Vec<_> =
            check_form(&form, &entry(), &["zhao".into()], &rules()).into_iter().map(|p| (p.field, p.code)).collect();
        let expected = [
            ("items[1]", "unknown"),
            ("items[2]", "duplicate"),
            ("share_method", "invalid"),
            ("usage_until", "invalid"),
            ("approved_by", "not_sharing_office_head"),
        ];
        assert_eq!(problems, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    }
}
