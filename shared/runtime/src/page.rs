//! Every list is paged, one way (issue 13 item 6): a list query takes
//! `{after?: <cursor>, limit?: 1..=calls.max_page_size}` and answers
//! `{<items>: [...], next_after: <cursor> | null}`.
//!
//! The cursor is the ordering key of the last row answered, opaque to callers: pass
//! `next_after` back as `after` for the next page; `null` means there is no next page.
//! Rows are ordered by a unique key (an id, or a time and the id), so a row is answered
//! exactly once however the pages fall, and a row inserted meanwhile shows up on a later page
//! or not at all, never twice.
//!
//! Why keyset and not offset: an offset moves when rows are inserted in front of it (a
//! department's inbox grows while it reads), and the database still reads every skipped row.
//!
//! A page's size bounds its rows; the bytes of any answer are bounded once more where it is
//! sent (`calls.max_answer_bytes`, see [`crate::app`]), so no answer can exceed NATS's
//! `max_payload`.

use sea_orm::{ColumnTrait, Condition};
use serde_json::{Value, json};

use crate::{
    config::CallSettings,
    reply::{ApiError, Problem, Text},
};

/// The rows a page has when the caller names no `limit`.
pub const DEFAULT_LIMIT: u64 = 100;

/// Separates the parts of a cursor made of more than one key (e.g. a time and an id).
const SEP: char = '|';

/// A page a caller asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    after: Option<Vec<String>>,
    /// Rows in this page, 1..=`calls.max_page_size`.
    pub limit: u64,
}

impl Page {
    /// A page from a typed call's `after` and `limit` (their shape already checked by the
    /// schema): a limit over `calls.max_page_size` or a cursor that is not this list's is a
    /// problem on its field, both at once.
    pub fn new(
        after: Option<&str>,
        limit: Option<u64>,
        settings: &CallSettings,
        parts: usize,
    ) -> Result<Self, ApiError> {
        let max = settings.max_page_size.max(1);
        let mut problems = Vec::new();
        if limit.is_some_and(|l| l == 0 || l > max) {
            problems.push(Problem::new(
                "limit",
                "out_of_range",
                Text::new(format!("limit 应在 1 到 {max} 之间"), format!("limit must be between 1 and {max}")),
            ));
        }
        let after = match after.map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(raw) => match split(raw, parts) {
                Some(keys) => Some(keys),
                None => {
                    problems.push(bad_cursor_problem());
                    None
                }
            },
        };
        if !problems.is_empty() {
            return Err(ApiError::validation(problems));
        }
        Ok(Self { after, limit: limit.unwrap_or(DEFAULT_LIMIT).clamp(1, max) })
    }

    /// A page from the start (tests, and lists read whole inside a service).
    pub fn first(limit: u64) -> Self {
        Self { after: None, limit: limit.max(1) }
    }

    /// The keys of the last row the caller has seen, if any.
    pub fn after(&self) -> Option<&[String]> {
        self.after.as_deref()
    }

    /// The id of the last row the caller has seen, for a list ordered by id alone.
    pub fn after_id(&self) -> Option<&str> {
        self.after.as_ref().and_then(|k| k.first()).map(String::as_str)
    }

    /// How many rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch(&self) -> u64 {
        self.limit + 1
    }

    /// Ends a page read with [`Page::fetch`] rows: keeps at most `limit`, names the cursor of
    /// the last one kept if more followed, and renders each row.
    /// Answers `{<items>: [...], next_after}`.
    pub fn answer<T>(
        &self,
        items: &str,
        mut rows: Vec<T>,
        key: impl Fn(&T) -> Vec<String>,
        render: impl FnMut(T) -> Value,
    ) -> Value {
        let more = rows.len() as u64 > self.limit;
        rows.truncate(self.limit as usize);
        let next = if more { rows.last().map(|r| cursor(&key(r))) } else { None };
        let rendered: Vec<Value> = rows.into_iter().map(render).collect();
        json!({ items: rendered, "next_after": next })
    }

    /// Pages a list held in memory, already sorted by `key` ascending (a single, unique key).
    pub fn slice<T>(&self, sorted: Vec<T>, key: impl Fn(&T) -> String) -> Vec<T> {
        let after = self.after_id().map(str::to_owned);
        sorted
            .into_iter()
            .filter(|r| after.as_deref().is_none_or(|a| key(r).as_str() > a))
            .take(self.fetch() as usize)
            .collect()
    }
}

/// The cursor for a row with these ordering keys.
pub fn cursor<S: AsRef<str>>(keys: &[S]) -> String {
    keys.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(&SEP.to_string())
}

fn split(raw: &str, parts: usize) -> Option<Vec<String>> {
    let keys: Vec<String> = raw.splitn(parts.max(1), SEP).map(str::to_owned).collect();
    (keys.len() == parts.max(1) && keys.iter().all(|k| !k.is_empty()) && raw.len() <= 512).then_some(keys)
}

fn bad_cursor_problem() -> Problem {
    Problem::invalid("after", "不是此列表答复中的 next_after", "not a next_after this list answered")
}

/// The error for a cursor whose keys do not read (e.g. a time that is not a time).
pub fn bad_cursor() -> ApiError {
    ApiError::validation(vec![bad_cursor_problem()])
}

/// Rows after the cursor `keys`, in the order of `columns` (each with the cursor's value for
/// it), ascending or descending: `(a > x) OR (a = x AND b > y) ...`. The last column must make
/// the order unique (an id).
pub fn keyset<C: ColumnTrait>(keys: Vec<(C, sea_orm::Value)>, descending: bool) -> Condition {
    let mut any = Condition::any();
    for i in 0..keys.len() {
        let mut all = Condition::all();
        for (column, value) in &keys[..i] {
            all = all.add(column.eq(value.clone()));
        }
        let (column, value) = &keys[i];
        all = all.add(if descending { column.lt(value.clone()) } else { column.gt(value.clone()) });
        any = any.add(all);
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CallSettings {
        CallSettings::default()
    }

    #[test]
    fn a_page_without_paging_fields_is_the_first_page_of_the_default_size() {
        let page = Page::new(None, None, &settings(), 1).unwrap();
        assert_eq!((page.after(), page.limit, page.fetch()), (None, DEFAULT_LIMIT, DEFAULT_LIMIT + 1));
    }

    #[test]
    fn a_limit_out_of_range_and_a_foreign_cursor_are_each_a_problem_on_their_field() {
        let err = Page::new(Some("only-one-part"), Some(201), &settings(), 2).unwrap_err();
        let problems: Vec<_> = err.problems.into_iter().map(|p| format!("{}:{}", p.field, p.code)).collect();
        assert_eq!(problems, ["limit:out_of_range", "after:invalid"]);
        let err = Page::new(None, Some(0), &settings(), 1).unwrap_err();
        assert_eq!(err.problems[0].field, "limit");
    }

    #[test]
    fn the_next_cursor_is_the_last_kept_rows_key_and_null_on_the_last_page() {
        let page = Page::first(2);
        let v = page.answer("ids", vec![1, 2, 3], |n| vec![format!("t{n}"), n.to_string()], |n| json!(n));
        assert_eq!(v, json!({"ids": [1, 2], "next_after": "t2|2"}));
        let v = page.answer("ids", vec![1, 2], |n| vec![n.to_string()], |n| json!(n));
        assert_eq!(v, json!({"ids": [1, 2], "next_after": null}));
    }

    #[test]
    fn a_cursor_reads_back_into_its_keys() {
        let after = cursor(&["2026-12-01T00:00:00Z", "01abc"]);
        let page = Page::new(Some(&after), None, &settings(), 2).unwrap();
        assert_eq!(page.after().unwrap(), ["2026-12-01T00:00:00Z", "01abc"]);
    }

    #[test]
    fn walking_an_in_memory_list_answers_every_row_once_in_order() {
        let all: Vec<String> = (0..25).map(|n| format!("{n:03}")).collect();
        let (mut seen, mut after) = (Vec::new(), None::<String>);
        loop {
            let page = Page::new(after.as_deref(), Some(10), &settings(), 1).unwrap();
            let v = page.answer("rows", page.slice(all.clone(), Clone::clone), |r| vec![r.clone()], |r| json!(r));
            seen.extend(v["rows"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()));
            match v["next_after"].as_str() {
                Some(next) => after = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, all);
    }
}
