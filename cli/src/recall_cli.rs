//! `govshare recall ...`: recall and destruction receipts (Art. 29) from a shell. Each
//! subcommand is one command or query on the recall service; `--org` is who acts: the entry's
//! provider starts a recall, a holder sends its receipt, the provider, the holders and the
//! platform read it. The flags become the JSON body in the pure functions below; the service
//! still checks everything. The guide is `docs/recall.md`.

use chrono::{DateTime, FixedOffset};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::catalog_cli::{CliCall, command, query};

#[derive(Debug, Subcommand)]
pub enum RecallCmd {
    /// Recall an entry's data (its provider): every holder, down the lineage of derived
    /// entries, is ordered to destroy it. The whole entry unless `--version` or `--records`.
    Start {
        entry: String,
        #[arg(long)]
        reason: String,
        /// Only this data version: only the grants it was delivered to are ordered.
        #[arg(long, conflicts_with = "records")]
        version: Option<u32>,
        /// Only these records, by key (comma-separated).
        #[arg(long, value_delimiter = ',', num_args = 1..)]
        records: Option<Vec<String>>,
    },
    /// Send the acting holder's destruction receipt (once; only a holder that was ordered).
    Receipt {
        recall: String,
        /// What was destroyed, in the holder's words.
        #[arg(long)]
        scope: String,
        /// How, e.g. "逻辑删除并覆写".
        #[arg(long)]
        method: String,
        /// When, RFC 3339 (e.g. 2026-11-30T10:00:00+08:00).
        #[arg(long)]
        destroyed_at: DateTime<FixedOffset>,
        /// Who carried it out.
        #[arg(long)]
        operator: String,
        /// A hash of what was destroyed, e.g. sha256:....
        #[arg(long)]
        content_hash: String,
    },
    /// Show a recall: its orders, receipts and who is still outstanding.
    Show { recall: String },
    /// The recalls the acting organisation started (the platform: all).
    List,
    /// The report, one line per holder: JSON, or with `--csv` the CSV text itself.
    Report {
        recall: String,
        #[arg(long)]
        csv: bool,
    },
}

impl RecallCmd {
    /// The call this subcommand stands for.
    pub fn to_call(self) -> CliCall {
        use RecallCmd::*;
        match self {
            Start { entry, reason, version, records } => {
                command("recall", json!({"entry_id": entry, "reason": reason, "scope": scope(version, records)}))
            }
            Receipt { recall, scope, method, destroyed_at, operator, content_hash } => command(
                "submit_receipt",
                json!({"recall_id": recall, "scope": scope, "method": method, "destroyed_at": destroyed_at,
                       "operator": operator, "content_hash": content_hash}),
            ),
            Show { recall } => query("get_recall", json!({"id": recall})),
            List => query("list_recalls", json!({})),
            Report { recall, csv } => {
                query("recall_report", json!({"id": recall, "format": if csv { "csv" } else { "json" }}))
            }
        }
    }
}

/// The recall's scope: a version, records, or (by default) the whole entry.
fn scope(version: Option<u32>, records: Option<Vec<String>>) -> Value {
    match (version, records) {
        (Some(version), _) => json!({"kind": "version", "version": version}),
        (None, Some(keys)) => json!({"kind": "records", "keys": keys}),
        (None, None) => json!({"kind": "entry"}),
    }
}

/// The CSV text of a report asked for as CSV (`recall_report` with `format: "csv"`), which is
/// printed as is rather than as JSON.
pub fn csv_text(answer: &Value) -> Option<&str> {
    (answer.get("format")? == "csv").then(|| answer.get("csv")?.as_str()).flatten()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Recall {
        #[command(subcommand)]
        cmd: RecallCmd,
    }

    fn parse(args: &[&str]) -> Result<RecallCmd, clap::Error> {
        Recall::try_parse_from(std::iter::once("recall").chain(args.iter().copied())).map(|r| r.cmd)
    }

    fn call(args: &[&str]) -> CliCall {
        parse(args).unwrap().to_call()
    }

    #[test]
    fn the_flags_are_well_defined() {
        use clap::CommandFactory;
        Recall::command().debug_assert();
    }

    #[test]
    fn a_recall_without_a_scope_recalls_the_whole_entry() {
        let c = call(&["start", "e1", "--reason", "数据错误"]);
        assert_eq!(c, command("recall", json!({"entry_id": "e1", "reason": "数据错误", "scope": {"kind": "entry"}})));
    }

    #[test]
    fn a_version_or_records_narrow_the_recall() {
        assert_eq!(
            call(&["start", "e1", "--reason", "r", "--version", "2"]).body["scope"],
            json!({"kind": "version", "version": 2})
        );
        assert_eq!(
            call(&["start", "e1", "--reason", "r", "--records", "k1,k2"]).body["scope"],
            json!({"kind": "records", "keys": ["k1", "k2"]})
        );
    }

    #[test]
    fn a_version_and_records_together_are_refused_at_the_edge() {
        let e = parse(&["start", "e1", "--reason", "r", "--version", "2", "--records", "k1"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn a_receipt_carries_everything_the_service_requires() {
        let c = call(&[
            "receipt",
            "r1",
            "--scope",
            "全部副本",
            "--method",
            "覆写删除",
            "--destroyed-at",
            "2026-11-30T10:00:00+08:00",
            "--operator",
            "li.si",
            "--content-hash",
            "sha256:ab",
        ]);
        let body = json!({"recall_id": "r1", "scope": "全部副本", "method": "覆写删除",
                          "destroyed_at": "2026-11-30T10:00:00+08:00", "operator": "li.si", "content_hash": "sha256:ab"});
        assert_eq!(c, command("submit_receipt", body));
    }

    #[test]
    fn a_destruction_time_that_is_not_rfc_3339_is_refused_at_the_edge() {
        let e = parse(&[
            "receipt",
            "r1",
            "--scope",
            "s",
            "--method",
            "m",
            "--destroyed-at",
            "yesterday",
            "--operator",
            "o",
            "--content-hash",
            "h",
        ])
        .unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn show_list_and_report_are_queries() {
        assert_eq!(call(&["show", "r1"]), query("get_recall", json!({"id": "r1"})));
        assert_eq!(call(&["list"]), query("list_recalls", json!({})));
        assert_eq!(call(&["report", "r1"]), query("recall_report", json!({"id": "r1", "format": "json"})));
        assert_eq!(call(&["report", "r1", "--csv"]), query("recall_report", json!({"id": "r1", "format": "csv"})));
    }

    #[test]
    fn a_csv_report_is_printed_as_its_text_and_anything_else_as_json() {
        let csv = json!({"recall_id": "r1", "format": "csv", "csv": "holder,via\nweijian,e1\n"});
        assert_eq!(csv_text(&csv), Some("holder,via\nweijian,e1\n"));
        assert_eq!(csv_text(&json!({"recall_id": "r1", "format": "json", "rows": []})), None);
        assert_eq!(csv_text(&json!({"csv": "not a report"})), None);
    }
}
