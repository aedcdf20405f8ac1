//! `govshare inbox ...`: an organisation's notifications and how its people and systems hear
//! them (the notify service). `--org` is the organisation; `--lang` picks the language the
//! messages are rendered in. The guide is `docs/notify.md`.

use clap::Subcommand;
use serde_json::json;

use crate::catalog_cli::{CliCall, command, query};

#[derive(Debug, Subcommand)]
pub enum InboxCmd {
    /// List the organisation's notifications (optionally one account's, or unread only).
    List {
        #[arg(long)]
        recipient: Option<String>,
        #[arg(long)]
        unread: bool,
    },
    /// Mark a notification read.
    Read { id: String },
    /// Set how an account hears: `--channels inbox,email`, `--email`, `--digest`, `--lang en`.
    Prefer {
        account: String,
        #[arg(long, value_delimiter = ',')]
        channels: Option<Vec<String>>,
        #[arg(long)]
        email: Option<String>,
        /// Only digests by email; single duty notices stay in the inbox.
        #[arg(long)]
        digest: Option<bool>,
        #[arg(long)]
        lang: Option<String>,
    },
    /// Show an account's preferences.
    Preferences { account: String },
    /// Register the organisation's webhook endpoint; prints the signing secret once.
    Webhook { url: String },
    /// Remove the organisation's webhook endpoint.
    RemoveWebhook,
    /// The organisation's email and webhook deliveries (`--state pending|sent|dead`).
    Deliveries {
        #[arg(long)]
        state: Option<String>,
    },
}

impl InboxCmd {
    /// The call this subcommand stands for.
    pub fn to_call(self) -> CliCall {
        use InboxCmd::*;
        match self {
            List { recipient, unread } => query("list_inbox", json!({"recipient": recipient, "unread_only": unread})),
            Read { id } => command("mark_read", json!({"id": id})),
            Prefer { account, channels, email, digest, lang } => command(
                "set_preferences",
                json!({"account": account, "channels": channels, "email": email, "digest": digest, "lang": lang}),
            ),
            Preferences { account } => query("get_preferences", json!({"account": account})),
            Webhook { url } => command("register_webhook", json!({"url": url})),
            RemoveWebhook => command("remove_webhook", json!({})),
            Deliveries { state } => query("list_deliveries", json!({"state": state})),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Inbox {
        #[command(subcommand)]
        cmd: InboxCmd,
    }

    fn call(args: &[&str]) -> CliCall {
        Inbox::try_parse_from(std::iter::once("inbox").chain(args.iter().copied())).unwrap().cmd.to_call()
    }

    #[test]
    fn the_flags_are_well_defined() {
        use clap::CommandFactory;
        Inbox::command().debug_assert();
    }

    #[test]
    fn preferences_take_a_comma_separated_channel_list() {
        let c = call(&["prefer", "alice", "--channels", "inbox,email", "--email", "a@x.cn", "--lang", "en"]);
        let body = json!({"account": "alice", "channels": ["inbox", "email"], "email": "a@x.cn", "digest": null, "lang": "en"});
        assert_eq!(c, command("set_preferences", body));
    }

    #[test]
    fn listing_unread_and_registering_a_webhook() {
        assert_eq!(call(&["list", "--unread"]), query("list_inbox", json!({"recipient": null, "unread_only": true})));
        assert_eq!(
            call(&["webhook", "https://x.gov.cn/hook"]),
            command("register_webhook", json!({"url": "https://x.gov.cn/hook"}))
        );
    }
}
