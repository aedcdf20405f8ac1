//! Catalog search: the posting lists it reads and how a page is found.
//!
//! A listed entry (published, not withdrawn) is filed under its search keys: its classification
//! and every ancestor path (`c:基础信息`, `c:基础信息/人口`) and the bigrams and trigrams of its
//! name and summary (`t:户籍`, `t:户籍登`; Chinese text has no spaces, so n-grams are the usual
//! unit). Each key's
//! posting list, `entry_postings (key, code, entry_id)`, is kept in the answer's order (entry
//! code), so a page is a range of one index read in order, never a sort of every match, and
//! `search_key_counts` holds how many entries each key has, exactly, so the rarest keys drive a
//! search (a key 3,970 entries hold and one all 100,000 hold are told apart).
//!
//! A search finds its page in three steps inside one read-only snapshot: the counts of its
//! keys; the ids of the matches in code order from indexes alone (the posting lists, or the
//! covering `entries_listed_*` indexes when no key is asked for), up to the counting cap; then
//! the stored state of only the page's entries (about 1 KB each, never read for a match that
//! is not shown). The statements are the same sea-query on PostgreSQL and SQLite; what differs
//! is in the migration (`m20261204_100006_search_postings`) and in how the snapshot is opened.

use std::collections::{BTreeSet, HashMap};

use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, IsolationLevel, QueryFilter,
    TransactionTrait,
    sea_query::{Alias, Condition, Expr, ExprTrait, JoinType, OnConflict, Order, Query, SelectStatement},
};
use sea_orm::{ActiveValue::Set, ColumnTrait, QuerySelect};

use super::entities::{entry, key_count, posting};
use crate::domain::entry::Entry;

/// Listed entries: published and not withdrawn (the partial indexes' predicate, as literal SQL
/// of the same text so that both databases use them).
pub const LISTED: &str = "published_version IS NOT NULL AND status <> 'withdrawn'";

/// What a search asks for; every filter given must match.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub provider: Option<String>,
    pub region: Option<String>,
    pub share_type: Option<String>,
    /// A classification or one of its ancestors.
    pub classification: Option<String>,
    /// Contained in the name or summary, case aside.
    pub text: Option<String>,
}

/// One page of a search.
#[derive(Debug, Default)]
pub struct Found {
    /// How many entries match, counted up to the cap asked for plus one.
    pub counted: u64,
    /// The page's entries, in code order.
    pub entries: Vec<Entry>,
}

/// The search keys of a listed entry, from its classification and its search text (the
/// lower-cased name and summary, `entries.search_text`): the classification and every ancestor
/// path (`c:基础信息`, `c:基础信息/人口`), and the bigrams and trigrams of the text (`t:户籍`,
/// `t:户籍登`). Trigrams make a longer text's lists short: `编号12345`'s rarest bigram is held by
/// 4% of entries, its rarest trigram by 0.3%.
pub fn search_keys(classification: &str, search_text: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    let mut path = String::new();
    for part in classification.split('/') {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(part);
        keys.push(format!("c:{path}"));
    }
    for n in [2, 3] {
        keys.extend(grams(search_text, n).into_iter().map(|g| format!("t:{g}")));
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Lower-cased character bigrams, not spanning white space.
pub fn bigrams(text: &str) -> Vec<String> {
    grams(text, 2)
}

/// Lower-cased runs of `n` characters, not spanning white space, each once.
pub fn grams(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.to_lowercase().chars().collect();
    let mut out: Vec<String> =
        chars.windows(n).filter(|w| !w.iter().any(|c| c.is_whitespace())).map(|w| w.iter().collect()).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Files an entry under `keys` at `code` (its sort position), replacing what it was filed
/// under; no keys: it is not listed. Only the difference is written, and each changed key's
/// count moves by one, so a save that leaves the listed version alone writes nothing here.
///
/// The counts are upserted in key order in one statement: two saves changing the same keys
/// wait for each other on those rows and cannot deadlock.
pub(super) async fn file_entry(
    db: &impl ConnectionTrait,
    entry_id: &str,
    code: &str,
    keys: Vec<String>,
) -> Result<(), DbErr> {
    use posting::{ActiveModel, Column, Entity};
    let filed: Vec<(String, String)> = Entity::find()
        .select_only()
        .column(Column::Key)
        .column(Column::Code)
        .filter(Column::EntryId.eq(entry_id))
        .into_tuple()
        .all(db)
        .await?;
    let old: BTreeSet<&str> = filed.iter().map(|(k, _)| k.as_str()).collect();
    let new: BTreeSet<&str> = keys.iter().map(String::as_str).collect();
    let removed: Vec<&str> = old.difference(&new).copied().collect();
    let added: Vec<&str> = new.difference(&old).copied().collect();
    for chunk in removed.chunks(500) {
        Entity::delete_many()
            .filter(Column::EntryId.eq(entry_id))
            .filter(Column::Key.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    // A new version's classification moves the entry (its code is its sort position).
    let moved = filed.iter().any(|(k, c)| c != code && new.contains(k.as_str()));
    if moved {
        Entity::update_many()
            .col_expr(Column::Code, Expr::value(code))
            .filter(Column::EntryId.eq(entry_id))
            .exec(db)
            .await?;
    }
    for chunk in added.chunks(300) {
        let rows = chunk.iter().map(|k| ActiveModel {
            key: Set((*k).to_owned()),
            code: Set(code.to_owned()),
            entry_id: Set(entry_id.to_owned()),
        });
        Entity::insert_many(rows).exec_without_returning(db).await?;
    }
    let mut deltas: Vec<(&str, i32)> = removed.iter().map(|k| (*k, -1)).chain(added.iter().map(|k| (*k, 1))).collect();
    deltas.sort_unstable();
    for chunk in deltas.chunks(300) {
        let rows = chunk.iter().map(|(k, d)| key_count::ActiveModel { key: Set((*k).to_owned()), holders: Set(*d) });
        key_count::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(key_count::Column::Key)
                    .value(key_count::Column::Holders, Expr::cust("search_key_counts.holders + excluded.holders"))
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// The page at `offset` (at most `limit` entries) of the listed entries matching `filter`, in
/// code order, and how many match, counted up to `cap` + 1.
///
/// The same statements run on both databases; only the snapshot differs: PostgreSQL is asked
/// for `REPEATABLE READ, READ ONLY` (its default, READ COMMITTED, would give each statement its
/// own snapshot), SQLite's transaction is one snapshot already and takes no such options.
pub async fn search(
    db: &DatabaseConnection,
    filter: &Filter,
    offset: u64,
    limit: u64,
    cap: u64,
) -> Result<Found, DbErr> {
    let tx = match db.get_database_backend() {
        DbBackend::Postgres => {
            db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?
        }
        _ => db.begin().await?,
    };
    let found = search_in(&tx, filter, offset, limit, cap).await?;
    tx.commit().await?;
    Ok(found)
}

async fn search_in(db: &impl ConnectionTrait, f: &Filter, offset: u64, limit: u64, cap: u64) -> Result<Found, DbErr> {
    let text = f.text.as_deref().map(str::to_lowercase);
    let class_key = f.classification.as_ref().map(|c| format!("c:{c}"));
    // A LIKE wildcard in the text keeps the rule from before trigrams: the bigrams only.
    let literal = text.as_deref().is_some_and(|t| !t.contains(['%', '_']));
    let text_keys = text.as_deref().map_or_else(Vec::new, |t| {
        let mut keys = bigrams(t);
        if literal {
            keys.extend(grams(t, 3));
        }
        keys
    });
    let keys: Vec<String> = class_key.iter().cloned().chain(text_keys.iter().map(|g| format!("t:{g}"))).collect();
    let drivers = match drivers(db, keys, class_key.as_deref(), literal).await? {
        Drivers::None => Vec::new(),
        Drivers::Unheld => return Ok(Found::default()),
        Drivers::Keys(keys) => keys,
    };
    // The text itself is then matched on the candidates, unless it is a key that drives the
    // search: a two- or three-character text occurs exactly where its key is held.
    let text = text.filter(|t| !drivers.contains(&format!("t:{t}")));
    let (matches, code) = matches(drivers, f, text);

    let (counted, page) = if offset + limit <= cap + 1 {
        // The page lies within the counted matches: one read gives both.
        let ids = ids(db, matches.clone().order_by(code, Order::Asc).limit(cap + 1).to_owned()).await?;
        let counted = ids.len() as u64;
        let page = ids.into_iter().skip(offset as usize).take(limit as usize).collect();
        (counted, page)
    } else {
        let counted = count(db, matches.clone().limit(cap + 1).to_owned()).await?;
        let page = matches.clone().order_by(code, Order::Asc).limit(limit).offset(offset).to_owned();
        (counted, ids(db, page).await?)
    };
    Ok(Found { counted, entries: states(db, page).await? })
}

/// Which posting lists a search reads.
enum Drivers {
    /// No key asked for: the field filters alone.
    None,
    /// A key no entry holds: nothing matches.
    Unheld,
    /// These keys' lists, rarest first, joined on code.
    Keys(Vec<String>),
}

/// The keys whose posting lists drive a search, of the `keys` asked for (the classification's,
/// then the text's bigrams and, for a `literal` text, trigrams).
///
/// As before, the two held by the fewest entries (ties: by key), now counted exactly; and the
/// classification's key always (it is a filter, not only a hint). A literal text (no LIKE
/// wildcard `%` or `_`) implies its every bigram and trigram, and is matched on the candidates
/// anyway, so up to two more of its keys join the lists, those nearly as rare as the rarest
/// (held by at most 4 times as many entries): merging a few short sorted lists costs less than
/// reading the rows of the candidates that one list more would rule out.
async fn drivers(
    db: &impl ConnectionTrait,
    keys: Vec<String>,
    class_key: Option<&str>,
    literal: bool,
) -> Result<Drivers, DbErr> {
    use key_count::{Column, Entity};
    if keys.is_empty() {
        return Ok(Drivers::None);
    }
    let counts: HashMap<String, i32> = Entity::find()
        .select_only()
        .column(Column::Key)
        .column(Column::Holders)
        .filter(Column::Key.is_in(keys.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut ranked: Vec<(i32, String)> = keys.into_iter().map(|k| (counts.get(&k).copied().unwrap_or(0), k)).collect();
    ranked.sort();
    let rarest = ranked[0].0;
    if rarest <= 0 {
        return Ok(Drivers::Unheld);
    }
    let mut chosen: Vec<&(i32, String)> = ranked.iter().take(2).collect();
    if let Some(c) = ranked.iter().find(|(_, k)| Some(k.as_str()) == class_key)
        && !chosen.contains(&c)
    {
        chosen.push(c);
    }
    if literal {
        for k in ranked.iter().skip(2) {
            if chosen.len() >= 4 || k.0 > rarest.saturating_mul(4) {
                break;
            }
            if !chosen.contains(&k) {
                chosen.push(k);
            }
        }
    }
    chosen.sort();
    Ok(Drivers::Keys(chosen.into_iter().map(|(_, k)| k.clone()).collect()))
}

/// `SELECT id FROM ...`: the matching entries' ids, unordered, and the column that orders
/// them (the first posting list's code, or the entry's).
///
/// With keys, the first key's posting list is read in code order and the others joined on
/// code (PostgreSQL merges the lists, SQLite probes the others' keys); `entries` is joined only
/// to check a field filter or the text. Without keys, the covering partial
/// indexes `entries_listed_*` (their filters, code, id) answer it.
fn matches(drivers: Vec<String>, f: &Filter, text: Option<String>) -> (SelectStatement, (Alias, Alias)) {
    use entry::Column as E;
    let e = Alias::new("e");
    let mut fields = Condition::all();
    if let Some(p) = &f.provider {
        fields = fields.add(Expr::col((e.clone(), E::Provider)).eq(p.as_str()));
    }
    if let Some(r) = &f.region {
        fields = fields.add(Expr::col((e.clone(), E::Region)).eq(r.as_str()));
    }
    if let Some(s) = &f.share_type {
        fields = fields.add(Expr::col((e.clone(), E::ShareType)).eq(s.as_str()));
    }
    if let Some(t) = text {
        // As `ColumnTrait::contains` wrote it before: `%` and `_` in the text are wildcards.
        fields = fields.add(Expr::col((e.clone(), E::SearchText)).like(format!("%{t}%")));
    }
    let mut q = Query::select();
    let mut drivers = drivers.into_iter();
    let Some(first) = drivers.next() else {
        q.column((e.clone(), E::Id)).from_as(entry::Entity, e.clone()).and_where(Expr::cust(LISTED)).cond_where(fields);
        return (q, (e, Alias::new("code")));
    };
    // CROSS JOIN with the join conditions in WHERE, for SQLite: it then keeps the written
    // order, the rarest list outermost, the others probed by (key, code), and the entry's row
    // read last, only for a candidate that is in every list (an inner join lets it probe the
    // row first, once per entry of the rarest list). PostgreSQL plans a CROSS JOIN with its
    // conditions as the inner join it is, ordered by cost, and merges the lists.
    use posting::Column as P;
    let p0 = Alias::new("p0");
    q.expr_as(Expr::col((p0.clone(), P::EntryId)), Alias::new("id"))
        .from_as(posting::Entity, p0.clone())
        .and_where(Expr::col((p0.clone(), P::Key)).eq(first));
    for (i, key) in drivers.enumerate() {
        let pi = Alias::new(format!("p{}", i + 1));
        q.join_as(JoinType::CrossJoin, posting::Entity, pi.clone(), Condition::all())
            .and_where(Expr::col((pi.clone(), P::Key)).eq(key))
            .and_where(Expr::col((pi.clone(), P::Code)).equals((p0.clone(), P::Code)));
    }
    if !fields.is_empty() {
        // Postings exist for listed entries only; LISTED is checked again on the row that is
        // read anyway.
        q.join_as(JoinType::CrossJoin, entry::Entity, e.clone(), Condition::all())
            .and_where(Expr::col((e.clone(), E::Id)).equals((p0.clone(), P::EntryId)))
            .and_where(Expr::cust(LISTED))
            .cond_where(fields);
    }
    (q, (Alias::new("p0"), Alias::new("code")))
}

async fn ids(db: &impl ConnectionTrait, q: SelectStatement) -> Result<Vec<String>, DbErr> {
    db.query_all(&q).await?.iter().map(|r| r.try_get::<String>("", "id")).collect()
}

/// `SELECT COUNT(*) FROM (q) m`.
async fn count(db: &impl ConnectionTrait, q: SelectStatement) -> Result<u64, DbErr> {
    let n = Alias::new("n");
    let count = Query::select().expr_as(Expr::cust("COUNT(*)"), n).from_subquery(q, Alias::new("m")).to_owned();
    let row = db.query_one(&count).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0) as u64)
}

/// The stored entries of `ids`, in that order (an entry whose state does not read is left
/// out, as before).
async fn states(db: &impl ConnectionTrait, ids: Vec<String>) -> Result<Vec<Entry>, DbErr> {
    use entry::{Column, Entity};
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows: HashMap<String, String> = Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::State)
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(ids.iter().filter_map(|id| rows.remove(id)).filter_map(|s| serde_json::from_str(&s).ok()).collect())
}

#[cfg(test)]
mod tests {
    use govshare_contract::api::catalog::{Stage, Working};
    use govshare_runtime::{
        events::{
            ShareType,
            catalog::{EntryVersion, OpenType, ShareMethod},
        },
        revision::Read,
    };
    use sea_orm::Statement;

    use super::*;
    use crate::domain::entry::Lifecycle;

    #[test]
    fn bigrams_are_lower_cased_pairs_that_do_not_span_white_space() {
        assert_eq!(bigrams("户籍人口"), ["人口", "户籍", "籍人"]);
        assert_eq!(bigrams("Ab c"), ["ab"]);
        assert!(bigrams("户").is_empty());
    }

    #[test]
    fn an_entry_is_filed_under_its_classification_paths_and_the_bigrams_and_trigrams_of_its_text() {
        assert_eq!(
            search_keys("基础信息/人口", "户籍登\n编号 1"),
            ["c:基础信息", "c:基础信息/人口", "t:户籍", "t:户籍登", "t:籍登", "t:编号"].map(String::from)
        );
    }

    const TOPICS: [&str; 5] = ["户籍", "婚姻", "社保", "不动产", "Tax"];
    const KINDS: [&str; 3] = ["登记", "证明", "信息"];
    const CLASSES: [&str; 4] = ["基础信息/人口", "基础信息/人口/迁移", "主题信息/社保", "基础信息"];

    fn version(i: u32, v: u32) -> EntryVersion {
        EntryVersion {
            entry_id: format!("e-{i:03}"),
            version: v,
            classification_code: format!("A{:02}", (i * 7 + v) % 5),
            sequence_code: format!("{:06}", (i * 37) % 211),
            name: format!("{}{} {}", TOPICS[((i + v) % 5) as usize], KINDS[(i % 3) as usize], i % 13),
            provider: format!("dept-{}", i % 4),
            region: ["440100", "440300"][((i + v) % 2) as usize].into(),
            summary: format!("依法采集的{}数据，编号{i}{v}", TOPICS[(i % 5) as usize]),
            items: vec![],
            format: "json".into(),
            update_frequency: "daily".into(),
            share_type: [ShareType::Unconditional, ShareType::Conditional, ShareType::NotShared][(i % 3) as usize],
            share_methods: vec![ShareMethod::Interface],
            conditions: None,
            not_shared_reason: None,
            legal_basis: None,
            open_type: OpenType::NotOpen,
            classification: CLASSES[((i + v) % 4) as usize].into(),
            level: "一般".into(),
            related_entries: vec![],
            derived_from: vec![],
        }
    }

    fn entry(id: u32, lifecycle: Lifecycle) -> Entry {
        Entry {
            id: format!("e-{id:03}"),
            provider: format!("dept-{}", id % 4),
            lifecycle,
            update_duty: None,
            review_duty: None,
            refresh_duty: None,
            updates_required: 0,
        }
    }

    /// Entries in every lifecycle, saved and saved again the way commands move them: drafts,
    /// first publication, a next version in progress under another classification (its code
    /// moves), a second version published, withdrawal.
    async fn catalog(db: &DatabaseConnection) -> Vec<Entry> {
        let mut out = Vec::new();
        for i in 0..120u32 {
            let draft = Working { version: version(i, 1), stage: Stage::Draft };
            let mut e = entry(i, Lifecycle::Unpublished(draft));
            save(db, &e, Read::New).await;
            if i % 10 == 9 {
                out.push(e);
                continue;
            }
            e.lifecycle = Lifecycle::Published { published: version(i, 1), next: None };
            save(db, &e, Read::At(0)).await;
            let mut revision = 1;
            if i % 3 == 0 {
                let next = Working { version: version(i, 2), stage: Stage::Draft };
                e.lifecycle = Lifecycle::Published { published: version(i, 1), next: Some(next) };
                save(db, &e, Read::At(revision)).await;
                revision += 1;
            }
            if i % 6 == 0 {
                e.lifecycle = Lifecycle::Published { published: version(i, 2), next: None };
                save(db, &e, Read::At(revision)).await;
                revision += 1;
            }
            if i % 7 == 0 {
                e.lifecycle = Lifecycle::Withdrawn { was: Box::new(e.lifecycle.clone()) };
                save(db, &e, Read::At(revision)).await;
            }
            out.push(e);
        }
        out
    }

    async fn save(db: &DatabaseConnection, e: &Entry, read: Read) {
        let tx = db.begin().await.unwrap();
        crate::store::save_entry(&tx, e, read).await.unwrap();
        tx.commit().await.unwrap();
    }

    /// The search worked out in memory from what each entry is, as `search_entries` has
    /// answered it: listed entries, the provider's and latest version's region, the published
    /// version's share type, classification (or an ancestor) and text, by latest code.
    fn expected(all: &[Entry], f: &Filter, offset: usize, limit: usize, cap: u64) -> (u64, Vec<String>) {
        let mut hits: Vec<(String, String)> = all
            .iter()
            .filter(|e| !e.is_withdrawn())
            .filter_map(|e| e.published().map(|p| (e, p)))
            .filter(|(e, _)| f.provider.as_ref().is_none_or(|x| &e.provider == x))
            .filter(|(e, _)| f.region.as_ref().is_none_or(|x| &e.latest().region == x))
            .filter(|(_, p)| f.share_type.as_ref().is_none_or(|x| serde_json::to_value(p.share_type).unwrap() == *x))
            .filter(|(_, p)| {
                f.classification
                    .as_ref()
                    .is_none_or(|c| &p.classification == c || p.classification.starts_with(&format!("{c}/")))
            })
            .filter(|(_, p)| {
                f.text
                    .as_ref()
                    .is_none_or(|t| format!("{}\n{}", p.name, p.summary).to_lowercase().contains(&t.to_lowercase()))
            })
            .map(|(e, _)| (e.latest().code(), e.id.clone()))
            .collect();
        hits.sort();
        let counted = std::cmp::min(hits.len() as u64, cap + 1);
        (counted, hits.into_iter().skip(offset).take(limit).map(|(_, id)| id).collect())
    }

    fn filters() -> Vec<Filter> {
        let text = |t: &str| Filter { text: Some(t.into()), ..Filter::default() };
        let class = |c: &str| Filter { classification: Some(c.into()), ..Filter::default() };
        let mut out = vec![
            Filter::default(),
            Filter { provider: Some("dept-1".into()), ..Filter::default() },
            Filter { region: Some("440300".into()), share_type: Some("conditional".into()), ..Filter::default() },
            Filter { share_type: Some("not_shared".into()), ..Filter::default() },
            class("基础信息"),
            class("基础信息/人口"),
            class("基础信息/人口/迁移"),
            class("主题信息"),
            class("基础"),
            class("无此分类"),
            Filter { classification: Some("基础信息".into()), text: Some("户籍".into()), ..Filter::default() },
            Filter {
                classification: Some("主题信息".into()), provider: Some("dept-2".into()), ..Filter::default()
            },
            Filter { text: Some("证明".into()), provider: Some("dept-3".into()), ..Filter::default() },
            // The text's bigrams are rarer than the classification, which still filters.
            Filter { classification: Some("基础信息".into()), text: Some("编号11".into()), ..Filter::default() },
            Filter {
                classification: Some("主题信息".into()), text: Some("依法采集".into()), ..Filter::default()
            },
        ];
        for t in [
            "户籍",
            "户籍登记",
            "籍登",
            "TAX",
            "tax信息",
            "编号1",
            "编号11",
            "编号1011",
            "不动产证明 1",
            "号",
            "数据，编",
            "没有",
        ] {
            out.push(text(t));
        }
        out
    }

    async fn answers_match_the_search_worked_out_in_memory(db: &DatabaseConnection) {
        let all = catalog(db).await;
        for f in filters() {
            for (offset, limit, cap) in
                [(0, 20, 1000), (0, 5, 1000), (5, 5, 1000), (40, 7, 1000), (0, 3, 7), (6, 3, 7), (9, 4, 7), (200, 5, 7)]
            {
                let found = search(db, &f, offset, limit, cap).await.unwrap();
                let ids: Vec<String> = found.entries.iter().map(|e| e.id.clone()).collect();
                let (counted, want) = expected(&all, &f, offset as usize, limit as usize, cap);
                assert_eq!((found.counted, &ids), (counted, &want), "{f:?} offset {offset} limit {limit} cap {cap}");
            }
        }
        // The counts are the postings'.
        let drift = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM search_key_counts c FULL OUTER JOIN \
                 (SELECT key, COUNT(*) AS holders FROM entry_postings GROUP BY key) p ON p.key = c.key \
                 WHERE COALESCE(c.holders, 0) <> COALESCE(p.holders, 0)",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        assert_eq!(drift, 0);
    }

    #[tokio::test]
    async fn a_search_on_sqlite_answers_what_the_entries_say_page_by_page() {
        let db =
            govshare_runtime::store::connect_and_migrate::<crate::store::Migrator>("sqlite::memory:", 1).await.unwrap();
        answers_match_the_search_worked_out_in_memory(&db).await;
    }

    /// The same on PostgreSQL, in a database of its own (`GOVSHARE_TEST_PG`, or the local
    /// server the system tests use); skipped with a note when there is none.
    #[tokio::test]
    async fn a_search_on_postgres_answers_what_the_entries_say_page_by_page() {
        let admin_url =
            std::env::var("GOVSHARE_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let Ok(admin) = sea_orm::Database::connect(&admin_url).await else {
            eprintln!("no PostgreSQL at {admin_url}: skipped");
            return;
        };
        let name = format!("gs_catalog_search_{}", uuid::Uuid::now_v7().simple());
        admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
        let url = format!("{}/{name}", admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b));
        let db = govshare_runtime::store::connect_and_migrate::<crate::store::Migrator>(&url, 2).await.unwrap();
        answers_match_the_search_worked_out_in_memory(&db).await;
        db.close().await.unwrap();
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.unwrap();
    }
}
