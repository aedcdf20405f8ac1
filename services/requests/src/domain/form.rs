//! The request form (Art. 20): parsed at the edge, then checked against the entry and the
//! requester's sharing office, every problem listed at once.

use govshare_shared::{
    Problem,
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
    let usage_from = f.required("usage_from");
    let usage_until = f.required("usage_until");
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

/// What is wrong with a well-formed form for `entry`: items outside the entry (least
/// necessary: a subset of its items), a share method it does not offer, a usage period that
/// ends before it starts, an approver who is not the requester's sharing-office head.
pub fn check_form(form: &RequestForm, entry: &EntryView, office_heads: &[String]) -> Vec<Problem> {
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
    use govshare_shared::events::{ShareType, catalog::ShareMethod};

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
            check_form(&form, &entry(), &["zhao".into()]).into_iter().map(|p| (p.field, p.code)).collect();
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
