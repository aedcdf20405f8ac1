//! `govshare request ...` and `govshare grant ...`: the requests workflow from a shell
//! (Arts 20-27, 29). Each subcommand is one command or query on the requests service. The
//! flags become its JSON body in the small pure functions below, so every body is tested
//! without a bus; the service still checks everything (who may, in which state, every
//! problem at once). Who acts is `--org` (see `main.rs`): the requester submits and
//! supplements, the provider replies and delivers, the provider's same-level authority
//! decides extensions. The walk-through is `docs/requests.md`.

use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use govshare_runtime::events::{
    catalog::ShareMethod,
    requests::{Extends, GrantEnd, MissingItem},
};
use serde_json::{Value, json};

use crate::catalog_cli::{CliCall, command, compact, query};

/// How the data is delivered (Art. 22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Method {
    Interface,
    Batch,
    File,
}

impl From<Method> for ShareMethod {
    fn from(m: Method) -> Self {
        match m {
            Method::Interface => ShareMethod::Interface,
            Method::Batch => ShareMethod::Batch,
            Method::File => ShareMethod::File,
        }
    }
}

/// Why a request goes beyond a grant the requester holds (Art. 25).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum ExtendsKind {
    #[value(alias = "wider-scope")]
    WiderScope,
    #[value(alias = "new-purpose")]
    NewPurpose,
    #[value(alias = "onward-transfer")]
    OnwardTransfer,
}

/// How the requester ends its grant (Art. 27). The end of the usage period is the service's
/// own, and a termination the provider's (`grant terminate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum End {
    #[value(alias = "purpose-achieved")]
    PurposeAchieved,
    #[value(alias = "purpose-impossible")]
    PurposeImpossible,
    #[value(alias = "no-longer-needed")]
    NoLongerNeeded,
}

impl From<End> for GrantEnd {
    fn from(e: End) -> Self {
        match e {
            End::PurposeAchieved => GrantEnd::PurposeAchieved,
            End::PurposeImpossible => GrantEnd::PurposeImpossible,
            End::NoLongerNeeded => GrantEnd::NoLongerNeeded,
        }
    }
}

/// The request form (Art. 20). Every field is required: a supplement sends the whole form again.
#[derive(Debug, Clone, Args)]
pub struct FormArgs {
    /// Data items wanted, a subset of the entry's (least necessary): repeat the flag or
    /// separate with commas (`,` or `，`).
    #[arg(long = "items", required = true)]
    pub items: Vec<String>,
    /// The law, regulation or decision the request rests on.
    #[arg(long)]
    pub legal_basis: String,
    /// The business the data is used for.
    #[arg(long)]
    pub scenario: String,
    /// Whom or what the data covers.
    #[arg(long)]
    pub scope: String,
    /// One the entry offers.
    #[arg(long, value_enum)]
    pub share_method: Method,
    /// First day of use, YYYY-MM-DD.
    #[arg(long)]
    pub usage_from: NaiveDate,
    /// Last day of use, YYYY-MM-DD: the grant ends at the close of that day (Beijing time).
    #[arg(long)]
    pub usage_until: NaiveDate,
    /// The head of the requester's sharing office who approved the request (Art. 20).
    #[arg(long)]
    pub approved_by: String,
}

/// A request that goes beyond a grant in force needs the provider's fresh consent (Art. 25).
#[derive(Debug, Clone, Default, Args)]
pub struct ExtendsArgs {
    /// The grant (its request id) this request goes beyond.
    #[arg(long, requires = "extends_kind")]
    pub extends_grant: Option<String>,
    /// wider_scope, new_purpose or onward_transfer.
    #[arg(long, value_enum, requires = "extends_grant")]
    pub extends_kind: Option<ExtendsKind>,
    /// The organisation the data passes on to (with --extends-kind onward_transfer).
    #[arg(long, required_if_eq("extends_kind", "onward_transfer"))]
    pub third_party: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RequestCmd {
    /// Submit a request for a published catalog entry (the requester, Art. 20). Opens the
    /// provider's reply clock: 1 WD for an unconditional entry, 10 WD for a conditional one.
    Submit {
        /// The catalog entry's id.
        entry: String,
        #[command(flatten)]
        form: FormArgs,
        #[command(flatten)]
        extends: ExtendsArgs,
    },
    /// Show a request and the grant it became (to its parties, the provider's same-level
    /// authority and the platform).
    Show { request: String },
    /// List the requests the acting organisation made or received.
    List,
    /// Send the one notice listing everything missing (the provider, 一次性告知, Art. 21);
    /// the reply clock stops until the supplement arrives.
    AskSupplement {
        request: String,
        /// One missing item as FIELD=NOTE, e.g. `scope=请说明人员范围`; repeat for each.
        #[arg(long = "missing", required = true, value_parser = parse_missing)]
        missing: Vec<MissingItem>,
        /// The head of the provider's sharing office.
        #[arg(long)]
        signed_off_by: String,
    },
    /// Send the supplement: the whole form again (the requester); the reply clock restarts
    /// (setting `requests.supplement_restarts_clock`).
    Supplement {
        request: String,
        #[command(flatten)]
        form: FormArgs,
    },
    /// Approve the request, all items or fewer with the reason (the provider, Art. 21). Opens
    /// the 20 WD delivery clock (Art. 22).
    Approve {
        request: String,
        /// The items approved, if fewer than requested: repeat or separate with commas.
        #[arg(long = "items")]
        items: Vec<String>,
        /// Why fewer items than requested (required when narrowing).
        #[arg(long)]
        narrowing_reason: Option<String>,
        /// The head of the provider's sharing office.
        #[arg(long)]
        signed_off_by: String,
    },
    /// Refuse the request with the reason (the provider); never for being incomplete.
    Refuse {
        request: String,
        #[arg(long)]
        reason: String,
        /// The head of the provider's sharing office.
        #[arg(long)]
        signed_off_by: String,
    },
    /// Ask the same-level authority for more time to reply (the provider; at most 10 WD in
    /// all, Art. 21).
    Extend {
        request: String,
        #[arg(long)]
        working_days: u32,
        #[arg(long)]
        reason: String,
    },
    /// Decide the pending extension (the provider's same-level authority); the requester is told.
    DecideExtension {
        request: String,
        #[arg(long, conflicts_with = "deny", required_unless_present = "deny")]
        approve: bool,
        #[arg(long)]
        deny: bool,
    },
    /// Approve the acting provider's unconditional entries at once (--on) or not (--off).
    AutoApprove {
        #[arg(long, conflicts_with = "off", required_unless_present = "off")]
        on: bool,
        #[arg(long)]
        off: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum GrantCmd {
    /// Record the delivery of approved data (the provider, within 20 WD of approval, Art. 22):
    /// the grant is in force until the end of the usage period.
    Deliver {
        request: String,
        #[arg(long, value_enum)]
        method: Method,
        /// The catalog entry version the data comes from.
        #[arg(long)]
        entry_version: u32,
        /// A digest of the data delivered, e.g. `sha256:...`.
        #[arg(long)]
        content_hash: String,
        #[arg(long)]
        record_count: u64,
    },
    /// Suspend a grant for misuse (the provider or its same-level authority, Art. 27): the
    /// requester must fix it by the fix-by date.
    Suspend {
        request: String,
        #[arg(long)]
        reason: String,
        /// Working days to fix (default: setting `requests.suspension_fix_working_days`).
        #[arg(long)]
        fix_working_days: Option<u32>,
    },
    /// Resume a suspended grant once fixed (the provider or its same-level authority).
    Resume {
        request: String,
        #[arg(long)]
        note: String,
    },
    /// Terminate a grant (the provider or its same-level authority, Art. 27): a suspended one
    /// not fixed, or one in force with the record of negotiation (filed with the authority).
    Terminate {
        request: String,
        #[arg(long)]
        reason: String,
        /// The record of negotiation with the requester.
        #[arg(long)]
        negotiation: Option<String>,
    },
    /// Change the service (the provider, Art. 27): with the reason, after negotiation, filed
    /// with the same-level authority.
    Change {
        request: String,
        /// What changes.
        #[arg(long)]
        change: String,
        #[arg(long)]
        reason: String,
        /// The record of negotiation with the requester.
        #[arg(long)]
        negotiation: String,
    },
    /// End the grant because its purpose ended (the requester, Art. 27); the data is then
    /// disposed of as the provider requires.
    End {
        request: String,
        /// purpose_achieved, purpose_impossible or no_longer_needed.
        #[arg(long, value_enum)]
        end: End,
        #[arg(long)]
        reason: String,
    },
    /// Ask the provider to verify and correct data (the requester, Art. 26): it answers within 10 WD.
    Verify {
        request: String,
        /// The data items in question: repeat or separate with commas.
        #[arg(long = "items", required = true)]
        items: Vec<String>,
        /// What is wrong or incomplete.
        #[arg(long)]
        problem: String,
    },
    /// Answer a verification (the provider, Art. 26): a correction (--content-hash and
    /// --record-count of the corrected data), or the reason nothing was corrected.
    AnswerVerification {
        request: String,
        /// The verification's id (`verifications[].requested.verification_id` in `request show`).
        #[arg(long)]
        verification: String,
        #[arg(long, requires = "record_count", required_unless_present = "reason")]
        content_hash: Option<String>,
        #[arg(long, requires = "content_hash")]
        record_count: Option<u64>,
        /// Why nothing was corrected (or a note with the correction).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Record how the data was used (the requester, Art. 29); kept at least 3 years.
    RecordUsage {
        request: String,
        #[arg(long)]
        scenario: String,
        #[arg(long)]
        process: String,
        #[arg(long)]
        outcome: String,
        /// Where and how the data is stored.
        #[arg(long)]
        storage: String,
        /// How the data was destroyed, once it was.
        #[arg(long)]
        destruction: Option<String>,
    },
    /// List a grant's usage records.
    Usage { request: String },
}

/// Reads `FIELD=NOTE` of a supplement notice.
fn parse_missing(raw: &str) -> Result<MissingItem, String> {
    match raw.split_once('=') {
        Some((field, note)) if !field.trim().is_empty() && !note.trim().is_empty() => {
            Ok(MissingItem { field: field.trim().to_owned(), note: note.trim().to_owned() })
        }
        _ => Err("expected FIELD=NOTE, e.g. scope=请说明人员范围".into()),
    }
}

/// The items of repeated and comma-separated `--items` flags, trimmed, empty ones dropped.
pub fn item_list(raw: &[String]) -> Vec<String> {
    raw.iter().flat_map(|s| s.split([',', '，'])).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The form's fields as the service reads them (`parse_form`).
pub fn form_body(form: &FormArgs) -> Value {
    json!({
        "items": item_list(&form.items),
        "legal_basis": form.legal_basis,
        "scenario": form.scenario,
        "scope": form.scope,
        "share_method": ShareMethod::from(form.share_method),
        "usage_from": form.usage_from,
        "usage_until": form.usage_until,
        "approved_by": form.approved_by,
    })
}

/// The grant a request goes beyond, if any; a third party belongs to an onward transfer only.
pub fn extends(args: &ExtendsArgs) -> Result<Option<Extends>, String> {
    let ExtendsArgs { extends_grant, extends_kind, third_party } = args.clone();
    match (extends_grant, extends_kind, third_party) {
        (None, None, None) => Ok(None),
        (Some(grant), Some(ExtendsKind::OnwardTransfer), Some(third_party)) => {
            Ok(Some(Extends::OnwardTransfer { grant, third_party }))
        }
        (_, Some(ExtendsKind::OnwardTransfer), None) => {
            Err("--extends-kind onward_transfer needs --third-party".into())
        }
        (_, _, Some(_)) => Err("--third-party goes with --extends-kind onward_transfer".into()),
        (Some(grant), Some(ExtendsKind::WiderScope), None) => Ok(Some(Extends::WiderScope { grant })),
        (Some(grant), Some(ExtendsKind::NewPurpose), None) => Ok(Some(Extends::NewPurpose { grant })),
        _ => Err("--extends-grant and --extends-kind go together".into()),
    }
}

/// `submit_request`: the entry, the form and what it extends.
pub fn submit_body(entry: &str, form: &FormArgs, extending: &ExtendsArgs) -> Result<Value, String> {
    let mut body = form_body(form);
    body["entry_id"] = json!(entry);
    if let Some(e) = extends(extending)? {
        body["extends"] = json!(e);
    }
    Ok(body)
}

/// A command on an existing request: its id and the command's own fields (`null`s dropped).
fn on(request: String, mut fields: Value) -> Value {
    fields["request_id"] = json!(request);
    compact(fields)
}

impl RequestCmd {
    /// The call this subcommand stands for; `Err` is a usage error clap cannot express.
    pub fn to_call(self) -> Result<CliCall, String> {
        use RequestCmd::*;
        Ok(match self {
            Submit { entry, form, extends } => command("submit_request", submit_body(&entry, &form, &extends)?),
            Show { request } => query("get_request", json!({"id": request})),
            List => query("list_requests", json!({})),
            AskSupplement { request, missing, signed_off_by } => {
                command("ask_supplement", on(request, json!({"missing": missing, "signed_off_by": signed_off_by})))
            }
            Supplement { request, form } => command("supplement", on(request, form_body(&form))),
            Approve { request, items, narrowing_reason, signed_off_by } => {
                let items = Some(item_list(&items)).filter(|i| !i.is_empty());
                command(
                    "approve_request",
                    on(
                        request,
                        json!({"items": items, "narrowing_reason": narrowing_reason, "signed_off_by": signed_off_by}),
                    ),
                )
            }
            Refuse { request, reason, signed_off_by } => {
                command("refuse_request", on(request, json!({"reason": reason, "signed_off_by": signed_off_by})))
            }
            Extend { request, working_days, reason } => {
                command("request_extension", on(request, json!({"working_days": working_days, "reason": reason})))
            }
            DecideExtension { request, approve, deny: _ } => {
                command("decide_extension", on(request, json!({"approved": approve})))
            }
            AutoApprove { on, off: _ } => command("set_auto_approve", json!({"enabled": on})),
        })
    }
}

impl GrantCmd {
    /// The call this subcommand stands for.
    pub fn to_call(self) -> CliCall {
        use GrantCmd::*;
        match self {
            Deliver { request, method, entry_version, content_hash, record_count } => command(
                "deliver",
                on(
                    request,
                    json!({"method": ShareMethod::from(method), "entry_version": entry_version,
                           "content_hash": content_hash, "record_count": record_count}),
                ),
            ),
            Suspend { request, reason, fix_working_days } => {
                command("suspend_grant", on(request, json!({"reason": reason, "fix_working_days": fix_working_days})))
            }
            Resume { request, note } => command("resume_grant", on(request, json!({"note": note}))),
            Terminate { request, reason, negotiation } => {
                command("terminate_grant", on(request, json!({"reason": reason, "negotiation": negotiation})))
            }
            Change { request, change, reason, negotiation } => command(
                "change_grant",
                on(request, json!({"change": change, "reason": reason, "negotiation": negotiation})),
            ),
            End { request, end, reason } => {
                command("end_grant", on(request, json!({"end": GrantEnd::from(end), "reason": reason})))
            }
            Verify { request, items, problem } => {
                command("request_verification", on(request, json!({"items": item_list(&items), "problem": problem})))
            }
            AnswerVerification { request, verification, content_hash, record_count, reason } => {
                let correction = content_hash.zip(record_count).map(
                    |(content_hash, record_count)| json!({"content_hash": content_hash, "record_count": record_count}),
                );
                command(
                    "answer_verification",
                    on(request, json!({"verification_id": verification, "correction": correction, "reason": reason})),
                )
            }
            RecordUsage { request, scenario, process, outcome, storage, destruction } => command(
                "record_usage",
                on(
                    request,
                    json!({"scenario": scenario, "process": process, "outcome": outcome,
                           "storage": storage, "destruction": destruction}),
                ),
            ),
            Usage { request } => query("list_usage", json!({"request_id": request})),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Request {
        #[command(subcommand)]
        cmd: RequestCmd,
    }

    #[derive(Parser)]
    struct Grant {
        #[command(subcommand)]
        cmd: GrantCmd,
    }

    /// `govshare request <args>` as the call it sends, or the usage error.
    fn request(args: &[&str]) -> Result<CliCall, String> {
        let parsed = Request::try_parse_from(std::iter::once("request").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        parsed.cmd.to_call()
    }

    /// `govshare grant <args>` as the call it sends, or the usage error.
    fn grant(args: &[&str]) -> Result<CliCall, String> {
        let parsed =
            Grant::try_parse_from(std::iter::once("grant").chain(args.iter().copied())).map_err(|e| e.to_string())?;
        Ok(parsed.cmd.to_call())
    }

    const FORM: [&str; 15] = [
        "--items",
        "姓名, 公民身份号码",
        "--items",
        "户籍登记日期",
        "--legal-basis",
        "《社会救助暂行办法》第十一条",
        "--scenario",
        "最低生活保障资格核验",
        "--scope",
        "本省申请救助的居民",
        "--share-method",
        "interface",
        "--usage-from",
        "2026-12-01",
        "--usage-until",
    ];

    fn form_and(rest: &[&'static str]) -> Vec<&'static str> {
        FORM.iter().copied().chain(["2027-11-30", "--approved-by", "qian.qi"]).chain(rest.iter().copied()).collect()
    }

    fn form_json() -> Value {
        json!({
            "items": ["姓名", "公民身份号码", "户籍登记日期"],
            "legal_basis": "《社会救助暂行办法》第十一条",
            "scenario": "最低生活保障资格核验",
            "scope": "本省申请救助的居民",
            "share_method": "interface",
            "usage_from": "2026-12-01",
            "usage_until": "2027-11-30",
            "approved_by": "qian.qi",
        })
    }

    #[test]
    fn the_flags_are_well_defined() {
        use clap::CommandFactory;
        Request::command().debug_assert();
        Grant::command().debug_assert();
    }

    #[test]
    fn a_submission_sends_the_whole_form_with_items_repeated_or_comma_separated() {
        let call = request(&[&["submit", "e1"][..], &form_and(&[])].concat()).unwrap();
        let mut expected = form_json();
        expected["entry_id"] = json!("e1");
        assert_eq!(call, command("submit_request", expected));
    }

    #[test]
    fn chinese_commas_and_blanks_in_items_are_separators_not_items() {
        assert_eq!(item_list(&["姓名，公民身份号码".into(), " ,住址, ".into()]), ["姓名", "公民身份号码", "住址"]);
    }

    #[test]
    fn a_submission_beyond_a_grant_names_it_and_an_onward_transfer_its_third_party() {
        let onward = request(
            &[
                &["submit", "e1"][..],
                &form_and(&[
                    "--extends-grant",
                    "r0",
                    "--extends-kind",
                    "onward_transfer",
                    "--third-party",
                    "gd-jiaoyu",
                ]),
            ]
            .concat(),
        )
        .unwrap();
        assert_eq!(
            onward.body["extends"],
            json!({"kind": "onward_transfer", "grant": "r0", "third_party": "gd-jiaoyu"})
        );
        let wider = request(
            &[&["submit", "e1"][..], &form_and(&["--extends-grant", "r0", "--extends-kind", "wider-scope"])].concat(),
        )
        .unwrap();
        assert_eq!(wider.body["extends"], json!({"kind": "wider_scope", "grant": "r0"}));
    }

    #[test]
    fn an_incoherent_extension_is_a_usage_error_not_a_call() {
        let with = |rest: &[&'static str]| request(&[&["submit", "e1"][..], &form_and(rest)].concat()).unwrap_err();
        assert!(with(&["--extends-kind", "new_purpose"]).contains("--extends-grant"));
        assert!(with(&["--extends-grant", "r0", "--extends-kind", "onward_transfer"]).contains("--third-party"));
        assert_eq!(
            with(&["--extends-grant", "r0", "--extends-kind", "new_purpose", "--third-party", "x"]),
            "--third-party goes with --extends-kind onward_transfer"
        );
    }

    #[test]
    fn a_form_with_a_malformed_date_or_an_unknown_share_method_is_refused_at_the_edge() {
        let with = |from: &str, to: &'static str| {
            let args: Vec<_> = [&["submit", "e1"][..], &form_and(&[])]
                .concat()
                .into_iter()
                .map(|a| if a == from { to } else { a })
                .collect();
            request(&args).unwrap_err()
        };
        assert!(with("2027-11-30", "2027-02-30").contains("--usage-until"), "no such day");
        assert!(with("interface", "email").contains("interface, batch, file"));
    }

    #[test]
    fn a_supplement_sends_the_whole_form_again_for_the_request() {
        let call = request(&[&["supplement", "r1"][..], &form_and(&[])].concat()).unwrap();
        let mut expected = form_json();
        expected["request_id"] = json!("r1");
        assert_eq!(call, command("supplement", expected));
    }

    #[test]
    fn a_supplement_notice_lists_every_missing_field_with_its_note() {
        let call = request(&[
            "ask-supplement",
            "r1",
            "--missing",
            "legal_basis=请写明条款原文",
            "--missing",
            "scope = 请说明人员范围",
            "--signed-off-by",
            "zhao.liu",
        ])
        .unwrap();
        let missing =
            json!([{"field": "legal_basis", "note": "请写明条款原文"}, {"field": "scope", "note": "请说明人员范围"}]);
        assert_eq!(
            call,
            command("ask_supplement", json!({"request_id": "r1", "missing": missing, "signed_off_by": "zhao.liu"}))
        );
        assert!(request(&["ask-supplement", "r1", "--missing", "scope", "--signed-off-by", "z"]).is_err());
        assert!(request(&["ask-supplement", "r1", "--signed-off-by", "z"]).is_err(), "a notice lists something");
    }

    #[test]
    fn an_approval_sends_items_only_when_narrowing() {
        let all = request(&["approve", "r1", "--signed-off-by", "zhao.liu"]).unwrap();
        assert_eq!(all, command("approve_request", json!({"request_id": "r1", "signed_off_by": "zhao.liu"})));
        let narrowed = request(&[
            "approve",
            "r1",
            "--items",
            "姓名,公民身份号码",
            "--narrowing-reason",
            "最小必要",
            "--signed-off-by",
            "zhao.liu",
        ])
        .unwrap();
        assert_eq!(
            narrowed.body,
            json!({"request_id": "r1", "items": ["姓名", "公民身份号码"], "narrowing_reason": "最小必要",
                   "signed_off_by": "zhao.liu"})
        );
    }

    #[test]
    fn a_refusal_and_an_extension_carry_their_reasons() {
        assert_eq!(
            request(&["refuse", "r1", "--reason", "超出履职需要", "--signed-off-by", "zhao.liu"]).unwrap(),
            command(
                "refuse_request",
                json!({"request_id": "r1", "reason": "超出履职需要", "signed_off_by": "zhao.liu"})
            )
        );
        assert_eq!(
            request(&["extend", "r1", "--working-days", "5", "--reason", "数据量大"]).unwrap(),
            command("request_extension", json!({"request_id": "r1", "working_days": 5, "reason": "数据量大"}))
        );
    }

    #[test]
    fn an_extension_is_approved_or_denied_never_both_nor_neither() {
        assert_eq!(request(&["decide-extension", "r1", "--approve"]).unwrap().body["approved"], json!(true));
        assert_eq!(request(&["decide-extension", "r1", "--deny"]).unwrap().body["approved"], json!(false));
        assert!(request(&["decide-extension", "r1", "--approve", "--deny"]).is_err());
        assert!(request(&["decide-extension", "r1"]).is_err());
    }

    #[test]
    fn auto_approval_is_switched_on_or_off_for_the_acting_provider() {
        assert_eq!(request(&["auto-approve", "--on"]).unwrap(), command("set_auto_approve", json!({"enabled": true})));
        assert_eq!(
            request(&["auto-approve", "--off"]).unwrap(),
            command("set_auto_approve", json!({"enabled": false}))
        );
        assert!(request(&["auto-approve"]).is_err());
    }

    #[test]
    fn show_list_and_usage_are_queries() {
        assert_eq!(request(&["show", "r1"]).unwrap(), query("get_request", json!({"id": "r1"})));
        assert_eq!(request(&["list"]).unwrap(), query("list_requests", json!({})));
        assert_eq!(grant(&["usage", "r1"]).unwrap(), query("list_usage", json!({"request_id": "r1"})));
    }

    #[test]
    fn a_delivery_names_the_method_version_hash_and_count() {
        let call = grant(&[
            "deliver",
            "r1",
            "--method",
            "batch",
            "--entry-version",
            "1",
            "--content-hash",
            "sha256:9f2c",
            "--record-count",
            "1200",
        ])
        .unwrap();
        assert_eq!(
            call,
            command(
                "deliver",
                json!({"request_id": "r1", "method": "batch", "entry_version": 1, "content_hash": "sha256:9f2c",
                       "record_count": 1200})
            )
        );
    }

    #[test]
    fn a_suspension_leaves_the_fix_by_term_to_the_setting_unless_given() {
        assert_eq!(
            grant(&["suspend", "r1", "--reason", "超范围使用"]).unwrap().body,
            json!({"request_id": "r1", "reason": "超范围使用"})
        );
        assert_eq!(
            grant(&["suspend", "r1", "--reason", "超范围使用", "--fix-working-days", "5"]).unwrap().body,
            json!({"request_id": "r1", "reason": "超范围使用", "fix_working_days": 5})
        );
        assert_eq!(
            grant(&["resume", "r1", "--note", "已整改"]).unwrap(),
            command("resume_grant", json!({"request_id": "r1", "note": "已整改"}))
        );
    }

    #[test]
    fn a_termination_or_change_carries_the_record_of_negotiation() {
        assert_eq!(
            grant(&["terminate", "r1", "--reason", "逾期未整改"]).unwrap(),
            command("terminate_grant", json!({"request_id": "r1", "reason": "逾期未整改"}))
        );
        assert_eq!(
            grant(&["terminate", "r1", "--reason", "系统下线", "--negotiation", "2026-12-01 协商纪要"]).unwrap().body["negotiation"],
            json!("2026-12-01 协商纪要")
        );
        assert_eq!(
            grant(&["change", "r1", "--change", "接口迁移", "--reason", "平台升级", "--negotiation", "纪要"]).unwrap(),
            command(
                "change_grant",
                json!({"request_id": "r1", "change": "接口迁移", "reason": "平台升级", "negotiation": "纪要"})
            )
        );
        assert!(grant(&["change", "r1", "--change", "接口迁移", "--reason", "平台升级"]).is_err(), "negotiation");
    }

    #[test]
    fn the_requester_ends_a_grant_only_for_its_purpose() {
        assert_eq!(
            grant(&["end", "r1", "--end", "purpose_achieved", "--reason", "核验完成"]).unwrap(),
            command("end_grant", json!({"request_id": "r1", "end": "purpose_achieved", "reason": "核验完成"}))
        );
        assert_eq!(
            grant(&["end", "r1", "--end", "no-longer-needed", "--reason", "x"]).unwrap().body["end"],
            "no_longer_needed"
        );
        assert!(grant(&["end", "r1", "--end", "terminated", "--reason", "x"]).is_err());
        assert!(grant(&["end", "r1", "--end", "usage_period_ended", "--reason", "x"]).is_err());
    }

    #[test]
    fn a_verification_names_the_items_and_the_problem() {
        assert_eq!(
            grant(&["verify", "r1", "--items", "姓名", "--problem", "3 条记录姓名与户籍不符"]).unwrap(),
            command(
                "request_verification",
                json!({"request_id": "r1", "items": ["姓名"], "problem": "3 条记录姓名与户籍不符"})
            )
        );
    }

    #[test]
    fn a_verification_is_answered_with_a_whole_correction_or_a_reason() {
        let corrected = grant(&[
            "answer-verification",
            "r1",
            "--verification",
            "v1",
            "--content-hash",
            "sha256:a1b2",
            "--record-count",
            "1200",
        ])
        .unwrap();
        assert_eq!(
            corrected,
            command(
                "answer_verification",
                json!({"request_id": "r1", "verification_id": "v1",
                       "correction": {"content_hash": "sha256:a1b2", "record_count": 1200}})
            )
        );
        let rejected =
            grant(&["answer-verification", "r1", "--verification", "v1", "--reason", "数据与登记一致"]).unwrap();
        assert_eq!(rejected.body, json!({"request_id": "r1", "verification_id": "v1", "reason": "数据与登记一致"}));
        assert!(grant(&["answer-verification", "r1", "--verification", "v1"]).is_err(), "neither");
        let half = grant(&["answer-verification", "r1", "--verification", "v1", "--content-hash", "sha256:a1b2"]);
        assert!(half.unwrap_err().contains("--record-count"), "a correction is hash and count");
    }

    #[test]
    fn a_usage_record_has_scenario_process_outcome_storage_and_later_destruction() {
        let call = grant(&[
            "record-usage",
            "r1",
            "--scenario",
            "低保资格核验",
            "--process",
            "接口比对",
            "--outcome",
            "核验 1200 户",
            "--storage",
            "省卫健委政务云，加密存储",
        ])
        .unwrap();
        assert_eq!(
            call,
            command(
                "record_usage",
                json!({"request_id": "r1", "scenario": "低保资格核验", "process": "接口比对",
                       "outcome": "核验 1200 户", "storage": "省卫健委政务云，加密存储"})
            )
        );
    }
}
