//! The request form (Art. 20): parsed at the edge, then checked against the entry and the
//! requester's sharing office, every problem listed at once.
//!
//! Its usage period is bounded where it enters: each date within the years every service can
//! count with ([`govshare_runtime::validate::dates`]), not already over, and no longer than the
//! setting `requests.max_usage_period_days`. The period's end becomes a deadlines duty on
//! delivery; a period deadlines could not clock is refused here, to the requester, not there.

use chrono::{DateTime, NaiveDate, Utc};
use govshare_runtime::{
    Problem,
    calendar::TIME_ZONE,
    events::requests::{MissingItem, RequestForm},
    reply::Text,
    validate::Fields,
};

use super::EntryView;

/// Reads a form from a call's fields; each missing or ill-typed field is one problem.
pub fn parse_form(f: &mut Fields) -> Option<RequestForm> {
    let items: Option<Vec<String>> = f.required("items");
    let legal_basis = f.required_str("legal_basis");
    let scenario = f.required_str("scenario");
    let scope = f.required_str("scope");
    let share_method = f.required("share_method");
    let usage_from = f.required_date("usage_from");
    let usage_until = f.required_date("usage_until");
    let approved_by = f.required_str("approved_by");
    Some(RequestForm {
        items: items?,
        legal_basis: legal_basis?,
        scenario: scenario?,
        scope: scope?,
        share_method: share_method?,
        usage_from: usage_from?,
        usage_until: usage_until?,
        approved_by: approved_by?,
    })
}

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

/// Reads a supplement notice's list of missing items: at least one, each with a field and a
/// note (一次性告知: the notice is the whole list).
pub fn parse_missing(f: &mut Fields) -> Option<Vec<MissingItem>> {
    let missing: Vec<MissingItem> = f.required("missing")?;
    if missing.is_empty() {
        f.problem(Problem::new(
            "missing",
            "required",
            Text::new("补正通知须列明全部需补充的内容", "a supplement notice lists every missing item"),
        ));
        return None;
    }
    Some(missing)
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

    #[test]
    fn usage_dates_outside_the_sane_range_are_refused_where_they_enter() {
        // Given a form whose usage period starts at chrono's first year
        let mut body = serde_json::json!({
            "items": ["姓名"], "legal_basis": "x", "scenario": "x", "scope": "x", "share_method": "interface",
            "usage_from": "-262143-01-01", "usage_until": "+262142-12-31", "approved_by": "zhao",
        });
        let mut f = Fields::from_map(body.as_object().unwrap().clone());
        // When it is parsed, Then both dates are problems on their own fields, in both languages
        assert!(parse_form(&mut f).is_none());
        let err = f.finish().unwrap_err();
        let fields: Vec<_> = err.problems.iter().map(|p| (p.field.as_str(), p.code.as_str())).collect();
        assert_eq!(fields, [("usage_from", "out_of_range"), ("usage_until", "out_of_range")]);
        assert!(err.problems[0].text.en.starts_with("usage_from: the date -262143-01-01 is outside"));
        assert!(err.problems[0].text.zh.contains("超出可接受的范围（2000 年至 2100 年）"));
        // And the same dates in range parse
        body["usage_from"] = "2026-12-01".into();
        body["usage_until"] = "2027-11-30".into();
        let mut f = Fields::from_map(body.as_object().unwrap().clone());
        assert!(parse_form(&mut f).is_some());
    }

    #[test]
    fn an_incomplete_form_lists_every_missing_field_at_once() {
        let mut f =
            Fields::from_map(serde_json::json!({"items": ["姓名"], "scope": "全市"}).as_object().unwrap().clone());
        assert!(parse_form(&mut f).is_none());
        let err = f.finish().unwrap_err();
        let fields: Vec<_> = err.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["legal_basis", "scenario", "share_method", "usage_from", "usage_until", "approved_by"]);
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
