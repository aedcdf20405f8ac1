//! Recall and destruction (GB/T 39477-2020 §6.1.4.4; Art. 29 requires destruction to be
//! recorded). A recall reaches every holder of the recalled data: each grant that received it,
//! and, transitively, whoever holds an entry declared derived from a recalled entry, at any
//! depth. Each holder gets one destruction order and answers with one receipt.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use govshare_runtime::reply::Text;
use serde::{Deserialize, Serialize};

/// What is recalled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// The whole entry, every version.
    Entry,
    /// One data version (e.g. found wrong by a verification request).
    Version { version: u32 },
    /// Given records, by key.
    Records { keys: Vec<String> },
    /// What one grant received, because the grant ended (usage period over, purpose ended,
    /// terminated): ordered by the service itself.
    Grant { request_id: String },
}

impl Scope {
    pub fn text(&self) -> Text {
        match self {
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

/// A holder's answer (Art. 29: destruction is recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub scope: String,
    pub method: String,
    pub destroyed_at: DateTime<Utc>,
    pub operator: String,
    /// A hash of what was destroyed.
    pub content_hash: String,
    pub received_at: DateTime<Utc>,
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
    pub completed_at: Option<DateTime<Utc>>,
}

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
}

impl Recall {
    pub fn start(
        id: String,
        entry_id: &str,
        provider: &str,
        scope: Scope,
        reason: String,
        orders: Vec<Order>,
        now: DateTime<Utc>,
    ) -> Self {
        let orders = orders
            .into_iter()
            .map(|o| OrderState {
                duty_id: order_duty_id(&id, &o.holder),
                holder: o.holder,
                via: o.via,
                ordered_at: now,
                receipt: None,
            })
            .collect::<Vec<_>>();
        let completed_at = orders.is_empty().then_some(now);
        Self {
            id,
            entry_id: entry_id.to_owned(),
            provider: provider.to_owned(),
            scope,
            reason,
            started_at: now,
            orders,
            completed_at,
        }
    }

    /// decide + evolve: a receipt from `org`. Returns whether it completed the recall.
    pub fn receive(&mut self, org: &str, receipt: Receipt) -> Result<bool, ReceiptError> {
        let order =
            self.orders.iter_mut().find(|o| o.holder == org).ok_or_else(|| ReceiptError::NotOrdered(org.to_owned()))?;
        if order.receipt.is_some() {
            return Err(ReceiptError::AlreadyReceipted(org.to_owned()));
        }
        let at = receipt.received_at;
        order.receipt = Some(receipt);
        if self.orders.iter().all(|o| o.receipt.is_some()) {
            self.completed_at = Some(at);
            return Ok(true);
        }
        Ok(false)
    }

    /// Who has not answered, and since when.
    pub fn outstanding(&self) -> Vec<&OrderState> {
        self.orders.iter().filter(|o| o.receipt.is_none()).collect()
    }
}

/// One line of a recall's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    pub holder: String,
    pub via: String,
    pub ordered_at: DateTime<Utc>,
    pub status: &'static str,
    pub destroyed_at: Option<DateTime<Utc>>,
    pub method: Option<String>,
    pub operator: Option<String>,
    pub content_hash: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
}

/// The report of a recall: one row per holder, receipted or outstanding.
pub fn report(r: &Recall) -> Vec<ReportRow> {
    r.orders
        .iter()
        .map(|o| ReportRow {
            holder: o.holder.clone(),
            via: o.via.join(" > "),
            ordered_at: o.ordered_at,
            status: if o.receipt.is_some() { "receipted" } else { "outstanding" },
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

    #[test]
    fn receipts_complete_a_recall_and_others_are_refused() {
        let now: DateTime<Utc> = "2026-11-23T02:00:00Z".parse().unwrap();
        let orders = vec![Order { holder: "a".into(), via: vec![] }, Order { holder: "b".into(), via: vec![] }];
        let mut r = Recall::start("r1".into(), "e1", "p", Scope::Entry, "wrong".into(), orders, now);
        let receipt = || Receipt {
            scope: "all".into(),
            method: "overwrite".into(),
            destroyed_at: now,
            operator: "op".into(),
            content_hash: "sha256:x".into(),
            received_at: now,
        };
        assert_eq!(r.receive("c", receipt()), Err(ReceiptError::NotOrdered("c".into())));
        assert_eq!(r.receive("a", receipt()), Ok(false));
        assert_eq!(r.receive("a", receipt()), Err(ReceiptError::AlreadyReceipted("a".into())));
        assert_eq!(r.outstanding().iter().map(|o| o.holder.as_str()).collect::<Vec<_>>(), ["b"]);
        let csv = report_csv(&report(&r));
        assert!(csv.starts_with("holder,via,ordered_at,status,"), "{csv}");
        assert!(csv.contains("a,,2026-11-23T02:00:00Z,receipted"), "{csv}");
        assert!(csv.contains("b,,2026-11-23T02:00:00Z,outstanding"), "{csv}");
        assert_eq!(r.receive("b", receipt()), Ok(true));
        assert!(r.completed_at.is_some());
    }
}
