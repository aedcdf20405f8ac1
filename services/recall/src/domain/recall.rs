//! Recall and destruction (GB/T 39477-2020 §6.1.4.4; Art. 29 requires destruction to be
//! recorded). A recall reaches every holder of the recalled data: each grant that received it,
//! and, transitively, whoever holds an entry declared derived from a recalled entry, at any
//! depth. Each holder gets one destruction order and answers with one receipt.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet, VecDeque},
    ops::Range,
};

use chrono::{DateTime, Utc};
pub use govshare_contract::api::recall::{Receipt, ReportRow, Scope};
use govshare_runtime::{
    Service,
    duty::{About, CloseDuty, Closure, Duty, OpenDuty, Term},
    events::recall::{DestructionOrdered, DestructionReceipted, Emitted, RecallCompleted, RecallStarted},
    outbox::Decision,
    reply::Text,
};
use serde::{Deserialize, Serialize};

/// What `scope` recalls, in words, for the holders' people.
pub fn scope_text(scope: &Scope) -> Text {
    match scope {
        Scope::Entry => Text::new("该目录的全部共享数据", "all data shared under the entry"),
        Scope::Version { version } => {
            Text::new(format!("第 {version} 版数据"), format!("version {version} of the data"))
        }
        Scope::Records { keys } => {
            Text::new(format!("以下记录：{}", keys.join("、")), format!("these records: {}", keys.join(", ")))
        }
        Scope::Grant { request_id } => Text::new(
            format!("共享申请 {request_id} 所获数据（共享已结束）"),
            format!("the data received under request {request_id} (the grant ended)"),
        ),
    }
}

/// A grant as recall knows it (from the delivery records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub request_id: String,
    pub entry_id: String,
    pub holder: String,
    /// The versions delivered under it.
    pub versions: BTreeSet<u32>,
}

/// The lineage: for each entry, its provider and the entries it declares it is derived from.
#[derive(Debug, Clone, Default)]
pub struct Lineage {
    pub provider: BTreeMap<String, String>,
    /// entry -> the entries derived from it.
    pub derived: BTreeMap<String, Vec<String>>,
}

impl Lineage {
    pub fn add(&mut self, entry: &str, provider: &str, derived_from: &[String]) {
        self.provider.insert(entry.to_owned(), provider.to_owned());
        for source in derived_from {
            let list = self.derived.entry(source.clone()).or_default();
            if !list.iter().any(|e| e == entry) {
                list.push(entry.to_owned());
            }
        }
    }
}

/// One holder's destruction order: who, and the path from the recalled entry to what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub holder: String,
    pub via: Vec<String>,
}

/// Everyone who holds the recalled data, each once, by the shortest path (breadth first):
/// grantees of the recalled entry (for a version: those it was delivered to), then, for every
/// entry derived from it (at any depth, cycle-safe), that entry's provider, who built the
/// derived data, and its grantees. The recalling provider itself is not ordered.
pub fn holders(entry: &str, scope: &Scope, recaller: &str, grants: &[Grant], lineage: &Lineage) -> Vec<Order> {
    let mut orders: Vec<Order> = Vec::new();
    let mut ordered: HashSet<String> = HashSet::from([recaller.to_owned()]);
    let mut add = |holder: &str, via: &[String], orders: &mut Vec<Order>| {
        if ordered.insert(holder.to_owned()) {
            orders.push(Order { holder: holder.to_owned(), via: via.to_vec() });
        }
    };
    if let Scope::Grant { request_id } = scope {
        if let Some(g) = grants.iter().find(|g| &g.request_id == request_id) {
            add(&g.holder, &[entry.to_owned()], &mut orders);
        }
        return orders;
    }
    // Grants by entry, once: the walk visits each entry once and reads only its own grants.
    let mut by_entry: BTreeMap<&str, Vec<&Grant>> = BTreeMap::new();
    for g in grants {
        by_entry.entry(g.entry_id.as_str()).or_default().push(g);
    }
    let mut seen: HashSet<String> = HashSet::from([entry.to_owned()]);
    let mut queue = VecDeque::from([vec![entry.to_owned()]]);
    while let Some(path) = queue.pop_front() {
        let current = path.last().expect("a path has an entry");
        let root = path.len() == 1;
        for g in by_entry.get(current.as_str()).into_iter().flatten() {
            let received = match scope {
                Scope::Version { version } if root => g.versions.contains(version),
                _ => true,
            };
            if received {
                add(&g.holder, &path, &mut orders);
            }
        }
        for derived in lineage.derived.get(current).into_iter().flatten() {
            if !seen.insert(derived.clone()) {
                continue; // a cycle, or reached already by a shorter path
            }
            let mut next = path.clone();
            next.push(derived.clone());
            if let Some(p) = lineage.provider.get(derived) {
                add(p, &next, &mut orders);
            }
            queue.push_back(next);
        }
    }
    orders
}

/// A recall and its orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recall {
    pub id: String,
    pub entry_id: String,
    pub provider: String,
    pub scope: Scope,
    pub reason: String,
    pub started_at: DateTime<Utc>,
    pub orders: Vec<OrderState>,
    /// Stored (and answered) as `completed_at`, a time or `null`.
    #[serde(rename = "completed_at", with = "progress_as_completed_at")]
    pub progress: Progress,
}

/// Where a recall is in its life: waiting for receipts, or every holder has answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Outstanding,
    Complete { at: DateTime<Utc> },
}

impl Progress {
    pub fn completed_at(self) -> Option<DateTime<Utc>> {
        match self {
            Progress::Outstanding => None,
            Progress::Complete { at } => Some(at),
        }
    }
}

mod progress_as_completed_at {
    use super::*;

    pub fn serialize<S: serde::Serializer>(p: &Progress, s: S) -> Result<S::Ok, S::Error> {
        p.completed_at().serialize(s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Progress, D::Error> {
        Ok(match Option::<DateTime<Utc>>::deserialize(d)? {
            None => Progress::Outstanding,
            Some(at) => Progress::Complete { at },
        })
    }
}

/// One holder's order; `receipt` is `None` while it is outstanding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderState {
    pub holder: String,
    pub via: Vec<String>,
    pub duty_id: String,
    pub ordered_at: DateTime<Utc>,
    pub receipt: Option<Receipt>,
}

pub fn order_duty_id(recall_id: &str, holder: &str) -> String {
    format!("recall-{recall_id}-{holder}")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("{0} was not ordered to destroy anything in this recall")]
    NotOrdered(String),
    #[error("{0} has already sent its receipt")]
    AlreadyReceipted(String),
    #[error("the recall is still being issued: {0}'s receipt duty is not open yet; try again shortly")]
    NotYetIssued(String),
}

/// How a recall starts: what, why, and who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub id: String,
    pub entry_id: String,
    pub provider: String,
    pub scope: Scope,
    pub reason: String,
    /// Everyone who holds the recalled data ([`holders`]).
    pub orders: Vec<Order>,
}

/// decide: a recall starts: announced, with one order per holder in its state, and complete
/// at once when nobody holds the data. What tells the holders (a destruction order and a
/// receipt duty each, Art. 29) is issued after, a stretch at a time ([`issue`]): a recall of
/// 100,000 holders is 200,000 messages, too many to build or commit in one piece.
pub fn start(s: Start, now: DateTime<Utc>) -> (Recall, Decision<Emitted>) {
    let started = RecallStarted {
        recall_id: s.id.clone(),
        entry_id: s.entry_id.clone(),
        provider: s.provider.clone(),
        scope: serde_json::to_value(&s.scope).expect("scopes serialize"),
        reason: s.reason.clone(),
        holders: s.orders.len(),
        at: now,
    };
    let mut decision = Decision::event(started);
    if s.orders.is_empty() {
        decision = decision.with(RecallCompleted {
            recall_id: s.id.clone(),
            entry_id: s.entry_id.clone(),
            holders: 0,
            at: now,
        });
    }
    let orders = s
        .orders
        .into_iter()
        .map(|o| OrderState {
            duty_id: order_duty_id(&s.id, &o.holder),
            holder: o.holder,
            via: o.via,
            ordered_at: now,
            receipt: None,
        })
        .collect();
    let recall = decision.events.iter().fold(
        Recall {
            id: s.id,
            entry_id: s.entry_id,
            provider: s.provider,
            scope: s.scope,
            reason: s.reason,
            started_at: now,
            orders,
            progress: Progress::Outstanding,
        },
        evolve,
    );
    (recall, decision)
}

/// How many messages issue `r`'s orders: a destruction order and a receipt duty per holder.
pub fn issue_len(r: &Recall) -> usize {
    2 * r.orders.len()
}

/// decide: the messages at `positions` of those that issue a started recall's orders, numbered
/// `0..issue_len(r)`: first every holder's destruction order, in the order of `r.orders` (so
/// that destruction starts as early as it can), then every holder's receipt duty (Art. 29),
/// each due `receipt_days` working days after the start. The same positions always give the
/// same messages, so an issue cut off half way goes on where it stopped.
pub fn issue(r: &Recall, receipt_days: u32, positions: Range<usize>) -> Decision<Emitted> {
    let n = r.orders.len();
    let end = positions.end.min(2 * n);
    let (start, scope) = (positions.start.min(end), scope_text(&r.scope));
    let mut decision = Decision::none();
    for o in &r.orders[start.min(n)..end.min(n)] {
        decision = decision.with(DestructionOrdered {
            recall_id: r.id.clone(),
            holder: o.holder.clone(),
            entry_id: r.entry_id.clone(),
            scope: scope.clone(),
            reason: r.reason.clone(),
            via: o.via.clone(),
            duty_id: o.duty_id.clone(),
            due_at: None,
            at: o.ordered_at,
        });
    }
    let title = Text::new(
        format!("销毁召回数据并提交销毁回执（召回 {}）", r.id),
        format!("destroy the recalled data and send the receipt (recall {})", r.id),
    );
    for o in &r.orders[start.max(n) - n..end.max(n) - n] {
        decision = decision.with_duty(OpenDuty {
            duty: Duty {
                duty_id: o.duty_id.clone(),
                article: 29,
                holder: o.holder.clone(),
                about: About { kind: "recall".into(), id: r.id.clone() },
                title: title.clone(),
            },
            term: Term::WorkingDays { days: receipt_days, from: r.started_at },
            opened_by: Service::Recall,
        });
    }
    decision
}

/// The id of the message at `position` of `r`'s issue: the same whenever it is built, so a
/// message published again (after a crash part way) is dropped as the duplicate it is. A
/// UUIDv7 of the recall's start, its 12 + 20 "random" bits the position (so a recall's messages
/// sort in issue order) and its last 42 a hash of the recall's id (so two recalls started in
/// one millisecond do not share ids).
pub fn issue_id(r: &Recall, position: usize) -> uuid::Uuid {
    let ms = r.started_at.timestamp_millis().max(0) as u64 & 0xFFFF_FFFF_FFFF;
    let position = position as u64 & 0xFFFF_FFFF;
    let hash = fnv1a(r.id.as_bytes()) & ((1 << 42) - 1);
    let high = (ms << 16) | 0x7000 | (position >> 20);
    let low = (0b10 << 62) | ((position & 0xF_FFFF) << 42) | hash;
    uuid::Uuid::from_u64_pair(high, low)
}

/// FNV-1a, 64 bits: a hash that stays the same across builds and platforms.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Where the receipt duty of the holder at `index` of `r.orders` stands among the messages
/// of [`issue`]: its receipt is taken once the messages up to it are out.
pub fn duty_position(r: &Recall, index: usize) -> usize {
    r.orders.len() + index
}

/// decide: `org`'s destruction receipt: refused if it was never ordered or has answered
/// already; else recorded, its receipt duty closed, and the recall complete with the last one.
///
/// `issued` is how many of the recall's messages ([`issue`]) are out: a receipt that comes
/// before its holder's duty is out is refused for now ([`ReceiptError::NotYetIssued`]), so the
/// duty it closes is always opened first.
pub fn receive(r: &Recall, org: &str, receipt: Receipt, issued: usize) -> Result<Decision<Emitted>, ReceiptError> {
    let (index, order) = r
        .orders
        .iter()
        .enumerate()
        .find(|(_, o)| o.holder == org)
        .ok_or_else(|| ReceiptError::NotOrdered(org.to_owned()))?;
    if order.receipt.is_some() {
        return Err(ReceiptError::AlreadyReceipted(org.to_owned()));
    }
    if issued <= duty_position(r, index) {
        return Err(ReceiptError::NotYetIssued(org.to_owned()));
    }
    let now = receipt.received_at;
    let mut decision = Decision::event(DestructionReceipted {
        recall_id: r.id.clone(),
        holder: org.to_owned(),
        scope: receipt.scope,
        method: receipt.method,
        destroyed_at: receipt.destroyed_at,
        operator: receipt.operator,
        content_hash: receipt.content_hash,
        at: now,
    })
    .with_duty(CloseDuty {
        duty_id: order.duty_id.clone(),
        closure: Closure::Fulfilled,
        reason: "destruction receipt".into(),
        at: now,
    });
    if r.orders.iter().all(|o| o.holder == org || o.receipt.is_some()) {
        decision = decision.with(RecallCompleted {
            recall_id: r.id.clone(),
            entry_id: r.entry_id.clone(),
            holders: r.orders.len(),
            at: now,
        });
    }
    Ok(decision)
}

/// evolve: a recall after one of its events.
pub fn evolve(mut r: Recall, event: &Emitted) -> Recall {
    match event {
        // The orders are in the recall's state from its start; issuing them changes nothing.
        Emitted::RecallStarted(_) | Emitted::DestructionOrdered(_) => {}
        Emitted::DestructionReceipted(e) => {
            if let Some(o) = r.orders.iter_mut().find(|o| o.holder == e.holder) {
                o.receipt = Some(Receipt {
                    scope: e.scope.clone(),
                    method: e.method.clone(),
                    destroyed_at: e.destroyed_at,
                    operator: e.operator.clone(),
                    content_hash: e.content_hash.clone(),
                    received_at: e.at,
                });
            }
        }
        Emitted::RecallCompleted(e) => r.progress = Progress::Complete { at: e.at },
    }
    r
}

impl Recall {
    /// Who has not answered, and since when.
    pub fn outstanding(&self) -> Vec<&OrderState> {
        self.orders.iter().filter(|o| o.receipt.is_none()).collect()
    }

    pub fn is_complete(&self) -> bool {
        matches!(self.progress, Progress::Complete { .. })
    }
}

/// The report of a recall: one row per holder, receipted or outstanding.
pub fn report(r: &Recall) -> Vec<ReportRow> {
    r.orders
        .iter()
        .map(|o| ReportRow {
            holder: o.holder.clone(),
            via: o.via.join(" > "),
            ordered_at: o.ordered_at,
            status: if o.receipt.is_some() { "receipted" } else { "outstanding" }.to_owned(),
            destroyed_at: o.receipt.as_ref().map(|x| x.destroyed_at),
            method: o.receipt.as_ref().map(|x| x.method.clone()),
            operator: o.receipt.as_ref().map(|x| x.operator.clone()),
            content_hash: o.receipt.as_ref().map(|x| x.content_hash.clone()),
            received_at: o.receipt.as_ref().map(|x| x.received_at),
        })
        .collect()
}

/// The report as CSV (RFC 4180, with a header line).
pub fn report_csv(rows: &[ReportRow]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        w.serialize(row).expect("rows serialize to memory");
    }
    String::from_utf8(w.into_inner().expect("memory flushes")).expect("utf-8 in, utf-8 out")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(id: &str, entry: &str, holder: &str, versions: &[u32]) -> Grant {
        Grant {
            request_id: id.into(),
            entry_id: entry.into(),
            holder: holder.into(),
            versions: versions.iter().copied().collect(),
        }
    }

    fn lineage(links: &[(&str, &str, &[&str])]) -> Lineage {
        let mut l = Lineage::default();
        for (entry, provider, from) in links {
            l.add(entry, provider, &from.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        }
        l
    }

    fn holders_of(orders: &[Order]) -> Vec<&str> {
        orders.iter().map(|o| o.holder.as_str()).collect()
    }

    #[test]
    fn a_recall_reaches_a_derived_copy_two_levels_down_and_its_grantees() {
        // e1 (gongan) -> e2 (minzheng, derived from e1) -> e3 (jiaoyu, derived from e2)
        let l = lineage(&[("e1", "gongan", &[]), ("e2", "minzheng", &["e1"]), ("e3", "jiaoyu", &["e2"])]);
        let grants = [grant("g1", "e1", "minzheng", &[1]), grant("g2", "e3", "weijian", &[1])];
        let orders = holders("e1", &Scope::Entry, "gongan", &grants, &l);
        assert_eq!(holders_of(&orders), ["minzheng", "jiaoyu", "weijian"]);
        assert_eq!(orders[2].via, ["e1", "e2", "e3"], "weijian holds e3, two levels down");
    }

    #[test]
    fn lineage_cycles_end_and_a_holder_reached_twice_gets_one_order() {
        let l = lineage(&[("e1", "gongan", &["e2"]), ("e2", "minzheng", &["e1"])]);
        let grants = [
            grant("g1", "e1", "minzheng", &[1]),
            grant("g2", "e2", "minzheng", &[1]),
            grant("g3", "e2", "gongan", &[1]),
        ];
        let orders = holders("e1", &Scope::Entry, "gongan", &grants, &l);
        assert_eq!(holders_of(&orders), ["minzheng"], "once, and never the recaller");
        assert_eq!(orders[0].via, ["e1"], "by the shortest path");
    }

    #[test]
    fn a_version_recall_reaches_only_the_grants_that_received_that_version() {
        let grants = [grant("g1", "e1", "a", &[1]), grant("g2", "e1", "b", &[2]), grant("g3", "e1", "c", &[1, 2])];
        let orders = holders("e1", &Scope::Version { version: 2 }, "p", &grants, &Lineage::default());
        assert_eq!(holders_of(&orders), ["b", "c"]);
    }

    #[test]
    fn a_grants_end_orders_its_holder_only() {
        let grants = [grant("g1", "e1", "a", &[1]), grant("g2", "e1", "b", &[1])];
        let orders = holders("e1", &Scope::Grant { request_id: "g2".into() }, "p", &grants, &Lineage::default());
        assert_eq!(holders_of(&orders), ["b"]);
    }

    fn at(t: &str) -> DateTime<Utc> {
        t.parse().unwrap()
    }

    fn started(holders: &[&str]) -> (Recall, Decision<Emitted>) {
        let orders = holders.iter().map(|h| Order { holder: (*h).into(), via: vec!["e1".into()] }).collect();
        let s = Start {
            id: "r1".into(),
            entry_id: "e1".into(),
            provider: "p".into(),
            scope: Scope::Entry,
            reason: "wrong".into(),
            orders,
        };
        start(s, at("2026-11-23T02:00:00Z"))
    }

    fn receipt() -> Receipt {
        Receipt {
            scope: "all".into(),
            method: "overwrite".into(),
            destroyed_at: at("2026-11-24T02:00:00Z"),
            operator: "op".into(),
            content_hash: "sha256:x".into(),
            received_at: at("2026-11-24T03:00:00Z"),
        }
    }

    fn kinds(d: &Decision<Emitted>) -> Vec<String> {
        use govshare_runtime::envelope::EventSet;
        let events = d.events.iter().map(|e| e.as_any().event_type());
        events.chain(d.duties.iter().map(|m| m.as_any().event_type())).collect()
    }

    #[test]
    fn a_started_recall_orders_each_holder_with_a_receipt_duty() {
        // given holders a and b; when the recall starts
        let (r, d) = started(&["a", "b"]);
        // then it is announced, and issuing it orders each holder and then gives each a duty
        assert_eq!(kinds(&d), ["govshare.recall.recall.started.v1"]);
        assert_eq!(
            kinds(&issue(&r, 5, 0..issue_len(&r))),
            [
                "govshare.recall.destruction.ordered.v1",
                "govshare.recall.destruction.ordered.v1",
                "govshare.duty.opened.v1",
                "govshare.duty.opened.v1",
            ]
        );
        assert_eq!(r.orders.iter().map(|o| o.duty_id.as_str()).collect::<Vec<_>>(), ["recall-r1-a", "recall-r1-b"]);
        assert_eq!(r.progress, Progress::Outstanding);
    }

    #[test]
    fn a_recall_issued_in_stretches_says_what_it_says_in_one_piece() {
        // given a recall of five holders
        let (r, _) = started(&["a", "b", "c", "d", "e"]);
        let whole = issue(&r, 5, 0..issue_len(&r));
        // when it is issued three messages at a time, across the orders and the duties
        let mut pieces = Decision::<Emitted>::none();
        for from in (0..issue_len(&r)).step_by(3) {
            let piece = issue(&r, 5, from..from + 3);
            pieces.events.extend(piece.events);
            pieces.duties.extend(piece.duties);
        }
        // then the same messages come out, each once, and nothing past the end
        assert_eq!(pieces, whole);
        assert_eq!((whole.events.len(), whole.duties.len()), (5, 5));
        assert_eq!(issue(&r, 5, 10..13), Decision::none());
        assert_eq!(issue(&r, 5, 4..6).events.len() + issue(&r, 5, 4..6).duties.len(), 2, "e's order, a's duty");
    }

    #[test]
    fn an_issued_message_has_the_same_id_whenever_it_is_built_and_the_ids_sort_in_issue_order() {
        let (r, _) = started(&["a", "b", "c"]);
        let ids: Vec<_> = (0..issue_len(&r)).map(|p| issue_id(&r, p)).collect();
        assert_eq!(ids, (0..issue_len(&r)).map(|p| issue_id(&r, p)).collect::<Vec<_>>());
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert_eq!(ids[0].get_version_num(), 7);
        assert_eq!(ids[0].get_variant(), uuid::Variant::RFC4122);
        let ms = ids[0].get_timestamp().unwrap().to_unix();
        assert_eq!((ms.0 as i64, ms.1 / 1_000_000), (r.started_at.timestamp(), 0));
        // a position past 2^20 still sorts after the ones before it
        assert!(issue_id(&r, (1 << 20) - 1) < issue_id(&r, 1 << 20));
        // another recall started in the same millisecond has other ids
        let mut other = r.clone();
        other.id = "r2".into();
        assert_ne!(issue_id(&other, 0), ids[0]);
    }

    #[test]
    fn a_receipt_before_its_duty_is_opened_is_refused_for_now() {
        // given a recall of a and b whose orders are issued and whose duties are not yet
        let (r, _) = started(&["a", "b"]);
        // when a sends its receipt: refused for now, nothing said
        assert_eq!(receive(&r, "a", receipt(), 2).unwrap_err(), ReceiptError::NotYetIssued("a".into()));
        // once a's duty is issued (position 2), a's receipt is taken; b's still waits
        assert!(receive(&r, "a", receipt(), 3).is_ok());
        assert_eq!(receive(&r, "b", receipt(), 3).unwrap_err(), ReceiptError::NotYetIssued("b".into()));
        assert!(receive(&r, "b", receipt(), 4).is_ok());
    }

    #[test]
    fn a_recall_nobody_holds_is_complete_at_once() {
        let (r, d) = started(&[]);
        assert_eq!(kinds(&d), ["govshare.recall.recall.started.v1", "govshare.recall.recall.completed.v1"]);
        assert_eq!(r.progress, Progress::Complete { at: at("2026-11-23T02:00:00Z") });
    }

    #[test]
    fn receipts_complete_a_recall_and_others_are_refused() {
        // given a recall of a and b
        let (r, _) = started(&["a", "b"]);
        // when c, never ordered, sends a receipt: refused
        assert_eq!(receive(&r, "c", receipt(), 4).unwrap_err(), ReceiptError::NotOrdered("c".into()));
        // when a sends its receipt: recorded and its duty closed, the recall still open
        let d = receive(&r, "a", receipt(), 4).unwrap();
        assert_eq!(kinds(&d), ["govshare.recall.destruction.receipted.v1", "govshare.duty.closed.v1"]);
        let r = d.events.iter().fold(r, evolve);
        assert_eq!(r.progress, Progress::Outstanding);
        // when a sends it again: refused
        assert_eq!(receive(&r, "a", receipt(), 4).unwrap_err(), ReceiptError::AlreadyReceipted("a".into()));
        assert_eq!(r.outstanding().iter().map(|o| o.holder.as_str()).collect::<Vec<_>>(), ["b"]);
        let csv = report_csv(&report(&r));
        assert!(csv.starts_with("holder,via,ordered_at,status,"), "{csv}");
        assert!(csv.contains("a,e1,2026-11-23T02:00:00Z,receipted"), "{csv}");
        assert!(csv.contains("b,e1,2026-11-23T02:00:00Z,outstanding"), "{csv}");
        // when b sends the last receipt: the recall is complete
        let d = receive(&r, "b", receipt(), 4).unwrap();
        assert!(kinds(&d).contains(&"govshare.recall.recall.completed.v1".to_owned()));
        let r = d.events.iter().fold(r, evolve);
        assert_eq!(r.progress, Progress::Complete { at: at("2026-11-24T03:00:00Z") });
    }

    #[test]
    fn a_recall_is_stored_and_answered_with_completed_at() {
        let (r, _) = started(&[]);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["completed_at"], "2026-11-23T02:00:00Z");
        assert_eq!(serde_json::from_value::<Recall>(v).unwrap(), r);
        let (r, _) = started(&["a"]);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["completed_at"], serde_json::Value::Null);
        assert_eq!(serde_json::from_value::<Recall>(v).unwrap(), r);
    }
}
