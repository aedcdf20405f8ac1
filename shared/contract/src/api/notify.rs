//! The calls of the notify service: bodies, answers, and the one list that names them.
//!
//! An organisation reads its notifications, chooses how each of its accounts hears (inbox,
//! email, digests, language), registers a webhook for its own systems, and catches up on the
//! notices of its bus subject.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    bus::Service,
    reply::Lang,
    types::{List, OrgId, Text},
};

/// A page cursor: the `next_after` of the previous page of the same list.
pub type Cursor = Text<512>;

/// An account of an organisation, as its own systems name it.
pub type Account = Text<256>;

/// A way to hear (the inbox is always on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Inbox,
    Email,
}

/// The state of an email or webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Sent,
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sent => "sent",
            DeliveryState::Dead => "dead",
        }
    }
}

/// `list_inbox`: the caller's notifications, oldest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInbox {
    /// One recipient's only.
    pub recipient: Option<Account>,
    /// Only those not yet read (default false).
    pub unread_only: Option<bool>,
    pub after: Option<Cursor>,
    /// 1 to `calls.max_page_size`, default 100.
    pub limit: Option<u64>,
}

/// `mark_read`: one of the caller's notifications is read.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    pub id: Text<128>,
}

/// `set_preferences`: how one of the caller's accounts hears. Unnamed fields keep their value.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPreferences {
    /// Only the caller itself: naming another organisation is `forbidden`.
    pub org: Option<OrgId>,
    pub account: Account,
    /// The address email goes to (required with the `email` channel, unless one is stored).
    pub email: Option<Text<254>>,
    pub channels: Option<List<Channel, 0, 2>>,
    /// Only digests leave by email; single duty notices stay in the inbox.
    pub digest: Option<bool>,
    pub lang: Option<Lang>,
}

/// `get_preferences`: how one of the caller's accounts hears.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetPreferences {
    pub account: Account,
}

/// `register_webhook`: the caller's systems receive its notifications at `url`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterWebhook {
    /// Only the caller itself: naming another organisation is `forbidden`.
    pub org: Option<OrgId>,
    /// An `https` URL whose host resolves to addresses the platform's policy allows.
    pub url: Text<2_048>,
}

/// `remove_webhook`: the caller stops receiving webhooks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveWebhook {
    /// Only the caller itself: naming another organisation is `forbidden`.
    pub org: Option<OrgId>,
}

/// `list_deliveries`: the caller's email and webhook deliveries, newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDeliveries {
    pub state: Option<DeliveryState>,
    pub after: Option<Cursor>,
    /// 1 to `calls.max_page_size`, default 100.
    pub limit: Option<u64>,
}

/// `list_notices`: the caller's notices after stream sequence `after` (0: from the oldest kept).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListNotices {
    pub after: Option<u64>,
    /// 1 to `calls.max_page_size`, default 100.
    pub limit: Option<u64>,
}

/// A notification in an inbox, rendered in the caller's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Notification {
    pub id: String,
    pub recipient: String,
    pub org: String,
    pub channel: String,
    /// The event (or command) it is about.
    pub source_event: String,
    pub message: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    /// For a notification to the organisation standing for more people than one event
    /// notifies one by one: how many.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub for_recipients: Option<u64>,
}

/// A page of notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InboxPage {
    pub notifications: Vec<Notification>,
    /// Pass back as `after` for the next page; `null`: no next page.
    pub next_after: Option<String>,
}

/// The answer of `mark_read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MarkedRead {
    pub id: String,
    pub read: bool,
}

/// How an account hears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Preferences {
    pub org: String,
    pub account: String,
    pub email: Option<String>,
    pub channels: Vec<Channel>,
    pub digest: bool,
    pub lang: Lang,
}

/// The answer of `register_webhook`: the signing secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WebhookRegistered {
    pub org: String,
    /// `whsec_...` (Standard Webhooks): verify each call's `webhook-signature` with it.
    pub secret: String,
    pub note: String,
}

/// The answer of `remove_webhook`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WebhookRemoved {
    /// Whether there was one to remove.
    pub removed: bool,
}

/// An email or webhook delivery with its retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Delivery {
    pub id: String,
    /// `email` or `webhook`.
    pub channel: String,
    pub org: String,
    /// An email address, or the organisation whose webhook it goes to.
    pub target: String,
    pub source_event: String,
    pub subject: String,
    pub body: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// `pending`, `sent` or `dead`.
    pub state: String,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A page of deliveries, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    /// Pass back as `after` for the next page; `null`: no next page.
    pub next_after: Option<String>,
}

/// One notice on the caller's subject, with its stream sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Notice {
    pub seq: u64,
    /// The `org.notice` event's envelope (`null` if it did not read).
    pub event: Option<serde_json::Value>,
}

/// A page of notices: `next_after` is where to pick up next time (never `null`: a feed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NoticePage {
    pub notices: Vec<Notice>,
    pub next_after: u64,
}

crate::calls! {
    /// Every command and query of the notify service.
    pub enum Call for Service::Notify {
        /// The caller's notifications (optionally one recipient's, or unread only), oldest first, a page at a time.
        query "list_inbox" => ListInbox(ListInbox) -> InboxPage,
        /// Marks one of the caller's notifications read.
        command "mark_read" => MarkRead(MarkRead) -> MarkedRead,
        /// Sets how one of the caller's accounts hears (channels, address, digests, language); a change of address or channels is announced.
        command "set_preferences" => SetPreferences(SetPreferences) -> Preferences,
        /// How one of the caller's accounts hears (`null` if never set).
        query "get_preferences" => GetPreferences(GetPreferences) -> Option<Preferences>,
        /// Registers the caller's webhook (signed per Standard Webhooks; the secret is answered once); its administrators are told.
        command "register_webhook" => RegisterWebhook(RegisterWebhook) -> WebhookRegistered,
        /// Removes the caller's webhook; its administrators are told.
        command "remove_webhook" => RemoveWebhook(RemoveWebhook) -> WebhookRemoved,
        /// The caller's email and webhook deliveries (optionally in one state), newest first, a page at a time.
        query "list_deliveries" => ListDeliveries(ListDeliveries) -> DeliveryPage,
        /// The notices on the caller's own bus subject after a stream sequence: how a department system catches up.
        query "list_notices" => ListNotices(ListNotices) -> NoticePage,
    }
}
