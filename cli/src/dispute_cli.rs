//! `govshare dispute ...`: disputes (Art. 28) from a shell. Each subcommand is one command or
//! query on the requests service; `--org` is who acts (a party, or the coordinating
//! authority). The walk-through is `docs/disputes.md`.

use clap::Subcommand;
use serde_json::json;

use crate::catalog_cli::{CliCall, command, query};

#[derive(Debug, Subcommand)]
pub enum DisputeCmd {
    /// Open a dispute with another organisation (the claimant). Two departments of one region
    /// negotiate first; anything else goes to the same-level or common superior authority.
    Open {
        #[arg(long)]
        respondent: String,
        /// What it is about, e.g. a request id.
        #[arg(long)]
        about: String,
        #[arg(long)]
        claim: String,
    },
    /// Move the case up a step (a party): negotiation -> coordination -> government decision.
    Escalate {
        dispute: String,
        #[arg(long)]
        reason: String,
    },
    /// Settle it: an agreement (a party, at negotiation) or the coordination's outcome (the
    /// coordinating authority).
    Settle {
        dispute: String,
        #[arg(long)]
        outcome: String,
    },
    /// Record the government's decision (the coordinating authority, at the last step).
    Decide {
        dispute: String,
        #[arg(long)]
        decision: String,
    },
    /// Show a case with every step (to its parties, its coordinator and the platform).
    Show { dispute: String },
    /// The cases the acting organisation is a party to or handles.
    List,
}

impl DisputeCmd {
    /// The call this subcommand stands for.
    pub fn to_call(self) -> CliCall {
        use DisputeCmd::*;
        match self {
            Open { respondent, about, claim } => {
                command("open_dispute", json!({"respondent": respondent, "about": about, "claim": claim}))
            }
            Escalate { dispute, reason } => {
                command("escalate_dispute", json!({"dispute_id": dispute, "reason": reason}))
            }
            Settle { dispute, outcome } => {
                command("settle_dispute", json!({"dispute_id": dispute, "outcome": outcome}))
            }
            Decide { dispute, decision } => {
                command("decide_dispute", json!({"dispute_id": dispute, "decision": decision}))
            }
            Show { dispute } => query("get_dispute", json!({"id": dispute})),
            List => query("list_disputes", json!({})),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Dispute {
        #[command(subcommand)]
        cmd: DisputeCmd,
    }

    fn call(args: &[&str]) -> CliCall {
        Dispute::try_parse_from(std::iter::once("dispute").chain(args.iter().copied())).unwrap().cmd.to_call()
    }

    #[test]
    fn the_flags_are_well_defined() {
        use clap::CommandFactory;
        Dispute::command().debug_assert();
    }

    #[test]
    fn opening_names_the_respondent_what_it_is_about_and_the_claim() {
        let c = call(&["open", "--respondent", "gz-gongan", "--about", "r-1", "--claim", "拒绝理由不成立"]);
        assert_eq!(
            c,
            command("open_dispute", json!({"respondent": "gz-gongan", "about": "r-1", "claim": "拒绝理由不成立"}))
        );
    }

    #[test]
    fn each_step_names_the_case_and_shows_are_queries() {
        assert_eq!(
            call(&["decide", "d1", "--decision", "予以共享"]),
            command("decide_dispute", json!({"dispute_id": "d1", "decision": "予以共享"}))
        );
        assert_eq!(call(&["show", "d1"]), query("get_dispute", json!({"id": "d1"})));
        assert_eq!(call(&["list"]), query("list_disputes", json!({})));
    }
}
