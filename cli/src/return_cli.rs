//! `govshare return ...`: downward return (数据回流, Art. 24) from a shell. Each subcommand is
//! one command or query on the requests service; the flags become its JSON body in the small
//! pure functions below, tested without a bus. Who acts is `--org`: a lower government's
//! sharing authority subscribes and cancels, the upper-level provider delivers each cycle.
//! There is no `--conditions`: Art. 24 returns data without conditions (the service refuses
//! any). The walk-through is `docs/returns.md`.

use clap::Subcommand;
use serde_json::json;

use crate::catalog_cli::{CliCall, command, query};

#[derive(Debug, Subcommand)]
pub enum ReturnCmd {
    /// Subscribe to an upper-level entry for your region (a lower government's sharing
    /// authority, Art. 24): granted at once, without conditions. The provider then owes one
    /// delivery per cycle of the schedule.
    Subscribe {
        /// The catalog entry's id (its provider sits above your region).
        entry: String,
        /// GB/T 2260 code: your own region or one under it, e.g. 440106.
        #[arg(long)]
        region: String,
        /// 每日/每周/每月/每季度/每半年/每年 (daily, weekly, ...) or a 5-field crontab, in
        /// Beijing time, e.g. '0 2 * * 1' (Mondays 02:00). Not real-time: it has no cycles.
        #[arg(long)]
        schedule: String,
    },
    /// Record the delivery of this cycle's data (the provider): fulfils the cycles started so far.
    Deliver {
        subscription: String,
        /// A digest of the data returned, e.g. `sha256:...`.
        #[arg(long)]
        content_hash: String,
        #[arg(long)]
        record_count: u64,
    },
    /// End the subscription (the subscriber): no further cycle is owed.
    Cancel {
        subscription: String,
        #[arg(long)]
        reason: String,
    },
    /// Show a subscription and its deliveries (to its provider, its subscriber and the platform).
    Show { subscription: String },
    /// List the subscriptions the acting organisation provides or subscribed to.
    List,
}

impl ReturnCmd {
    /// The call this subcommand stands for.
    pub fn to_call(self) -> CliCall {
        use ReturnCmd::*;
        match self {
            Subscribe { entry, region, schedule } => {
                command("subscribe_return", json!({"entry_id": entry, "region": region, "schedule": schedule}))
            }
            Deliver { subscription, content_hash, record_count } => command(
                "deliver_return",
                json!({"subscription_id": subscription, "content_hash": content_hash, "record_count": record_count}),
            ),
            Cancel { subscription, reason } => {
                command("cancel_return", json!({"subscription_id": subscription, "reason": reason}))
            }
            Show { subscription } => query("get_return", json!({"id": subscription})),
            List => query("list_returns", json!({})),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use serde_json::Value;

    use super::*;

    #[derive(Parser)]
    struct Return {
        #[command(subcommand)]
        cmd: ReturnCmd,
    }

    /// `govshare return <args>` as the call it sends, or the usage error.
    fn ret(args: &[&str]) -> Result<CliCall, String> {
        let parsed =
            Return::try_parse_from(std::iter::once("return").chain(args.iter().copied())).map_err(|e| e.to_string())?;
        Ok(parsed.cmd.to_call())
    }

    #[test]
    fn the_flags_are_well_defined() {
        use clap::CommandFactory;
        Return::command().debug_assert();
    }

    #[test]
    fn a_subscription_names_the_entry_the_region_and_the_schedule_as_given() {
        let call = ret(&["subscribe", "e1", "--region", "440106", "--schedule", "0 2 * * 1"]).unwrap();
        assert_eq!(
            call,
            command("subscribe_return", json!({"entry_id": "e1", "region": "440106", "schedule": "0 2 * * 1"}))
        );
        assert_eq!(
            ret(&["subscribe", "e1", "--region", "440106", "--schedule", "每周"]).unwrap().body["schedule"],
            "每周"
        );
        assert!(ret(&["subscribe", "e1", "--region", "440106"]).is_err(), "a schedule is required");
    }

    #[test]
    fn a_subscription_carries_no_conditions() {
        let err = ret(&["subscribe", "e1", "--region", "440106", "--schedule", "每周", "--conditions", "x"]);
        assert!(err.unwrap_err().contains("--conditions"));
        let body = ret(&["subscribe", "e1", "--region", "440106", "--schedule", "每周"]).unwrap().body;
        assert_eq!(body.get("conditions"), None::<&Value>);
    }

    #[test]
    fn a_delivery_names_the_hash_and_the_count() {
        let call = ret(&["deliver", "s1", "--content-hash", "sha256:9f2c", "--record-count", "1200"]).unwrap();
        assert_eq!(
            call,
            command(
                "deliver_return",
                json!({"subscription_id": "s1", "content_hash": "sha256:9f2c", "record_count": 1200})
            )
        );
        assert!(ret(&["deliver", "s1", "--content-hash", "sha256:9f2c", "--record-count", "-1"]).is_err());
    }

    #[test]
    fn a_cancellation_gives_its_reason() {
        assert_eq!(
            ret(&["cancel", "s1", "--reason", "本区已接入省级平台"]).unwrap(),
            command("cancel_return", json!({"subscription_id": "s1", "reason": "本区已接入省级平台"}))
        );
        assert!(ret(&["cancel", "s1"]).is_err());
    }

    #[test]
    fn show_and_list_are_queries() {
        assert_eq!(ret(&["show", "s1"]).unwrap(), query("get_return", json!({"id": "s1"})));
        assert_eq!(ret(&["list"]).unwrap(), query("list_returns", json!({})));
    }
}
