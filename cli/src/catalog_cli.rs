//! `govshare catalog ...` and `govshare region ...`: the catalog's calls from a shell.
//! Each subcommand becomes one command or query over NATS; `region coordinator` works
//! offline from the region table.

use std::path::PathBuf;

use clap::Subcommand;
use govshare_catalog::domain::RegionCode;
use serde_json::{Value, json};

/// A call a subcommand stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct CliCall {
    pub command: bool,
    pub name: &'static str,
    pub body: Value,
}

pub(crate) fn command(name: &'static str, body: Value) -> CliCall {
    CliCall { command: true, name, body }
}

pub(crate) fn query(name: &'static str, body: Value) -> CliCall {
    CliCall { command: false, name, body }
}

/// Reads a JSON object from a file, or standard input for `-`.
fn read_json(path: &PathBuf) -> anyhow::Result<Value> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
    };
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", path.display()))
}

fn parse_json(raw: &str) -> Result<Value, String> {
    serde_json::from_str(raw).map_err(|e| format!("not JSON: {e}"))
}

#[derive(Debug, Subcommand)]
pub enum CatalogCmd {
    /// Register a department or sharing authority: the platform registers authorities (and
    /// departments without roles); an authority the departments of its region or below, with
    /// their roles.
    RegisterOrg {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// department or authority
        #[arg(long)]
        kind: String,
        /// GB/T 2260 code, e.g. 440100 (000000: national)
        #[arg(long)]
        region: String,
        /// Roles as JSON, e.g. '{"administrators":["a"],"head":["h"],"sharing_office_head":["s"]}'
        #[arg(long, value_parser = parse_json)]
        roles: Option<Value>,
    },
    /// Replace an organisation's roles (the organisation itself or its same-level authority).
    SetRoles {
        /// The organisation (default: the acting one).
        #[arg(long)]
        org_id: Option<String>,
        #[arg(long, value_parser = parse_json)]
        roles: Value,
    },
    /// Save a draft from a JSON file (`-` for stdin): a new entry, or a new version of ENTRY.
    Draft {
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        entry: Option<String>,
    },
    /// Submit the version in progress to the same-level authority (Art. 16).
    Submit {
        entry: String,
        #[arg(long)]
        secrecy_assessment: String,
        #[arg(long)]
        pi_assessment: String,
        /// The department head who signed off (Art. 13).
        #[arg(long)]
        signed_off_by: String,
    },
    /// Approve and publish the submitted version (the authority of the provider's region).
    Approve { entry: String },
    /// Send the submitted version back with reasons.
    Return {
        entry: String,
        #[arg(long = "reason", required = true)]
        reasons: Vec<String>,
    },
    /// Withdraw an entry.
    Withdraw {
        entry: String,
        #[arg(long)]
        reason: String,
    },
    /// Record a change of law or duties: opens the 10 WD update duty (Art. 17).
    RequireUpdate {
        entry: String,
        #[arg(long)]
        cause: String,
    },
    /// Consent to 5 more working days for the update (the authority, once).
    ExtendUpdate { entry: String },
    /// Name the source department of a data item (Art. 19).
    DesignateSource {
        #[arg(long)]
        item: String,
        #[arg(long)]
        department: String,
        #[arg(long)]
        region: Option<String>,
    },
    /// Show an entry by id or by code.
    Get {
        entry: Option<String>,
        #[arg(long)]
        code: Option<String>,
    },
    /// Search published entries.
    Search {
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        share_type: Option<String>,
        #[arg(long)]
        classification: Option<String>,
        #[arg(long)]
        text: Option<String>,
        #[arg(long)]
        page: Option<u64>,
        #[arg(long)]
        page_size: Option<u64>,
    },
    /// Export the published catalog as DCAT-AP JSON-LD.
    Export {
        #[arg(long)]
        provider: Option<String>,
    },
    /// List regions (children of --parent).
    Regions {
        #[arg(long)]
        parent: Option<String>,
    },
    /// Which region's authority coordinates a dispute between two organisations (Art. 28).
    Coordinator { a: String, b: String },
    /// Show an organisation (to itself and the platform, with its active bus keys).
    Org { id: String },
    /// Record a NATS user public key (U...) as one of an organisation's bus identities: the
    /// platform when issuing credentials, the organisation itself when rotating.
    AddBusKey {
        /// The organisation the key belongs to.
        #[arg(long = "for")]
        for_org: String,
        #[arg(long)]
        public_key: String,
    },
    /// Revoke one of an organisation's bus keys (the platform or the organisation itself).
    RevokeBusKey {
        /// The organisation the key belongs to.
        #[arg(long = "for")]
        for_org: String,
        #[arg(long)]
        public_key: String,
    },
    /// Every organisation's active bus keys (the platform only).
    ListBusKeys,
}

/// Drops `null` members so optional flags left out are not sent.
pub(crate) fn compact(mut v: Value) -> Value {
    if let Value::Object(map) = &mut v {
        map.retain(|_, v| !v.is_null());
    }
    v
}

impl CatalogCmd {
    pub fn to_call(self) -> anyhow::Result<CliCall> {
        use CatalogCmd::*;
        Ok(match self {
            RegisterOrg { id, name, kind, region, roles } => command(
                "register_organisation",
                compact(json!({"id": id, "name": name, "kind": kind, "region": region, "roles": roles})),
            ),
            SetRoles { org_id, roles } => command("set_roles", compact(json!({"org_id": org_id, "roles": roles}))),
            Draft { file, entry } => {
                let mut body = read_json(&file)?;
                if let (Some(id), Value::Object(map)) = (entry, &mut body) {
                    map.insert("entry_id".into(), json!(id));
                }
                command("save_draft", body)
            }
            Submit { entry, secrecy_assessment, pi_assessment, signed_off_by } => command(
                "submit_entry",
                json!({"entry_id": entry, "secrecy_assessment": secrecy_assessment,
                       "personal_information_assessment": pi_assessment, "signed_off_by": signed_off_by}),
            ),
            Approve { entry } => command("approve_entry", json!({"entry_id": entry})),
            Return { entry, reasons } => command("return_entry", json!({"entry_id": entry, "reasons": reasons})),
            Withdraw { entry, reason } => command("withdraw_entry", json!({"entry_id": entry, "reason": reason})),
            RequireUpdate { entry, cause } => command("require_update", json!({"entry_id": entry, "cause": cause})),
            ExtendUpdate { entry } => command("extend_update", json!({"entry_id": entry})),
            DesignateSource { item, department, region } => {
                command("designate_source", compact(json!({"item": item, "department": department, "region": region})))
            }
            Get { entry, code } => query("get_entry", compact(json!({"id": entry, "code": code}))),
            Search { provider, region, share_type, classification, text, page, page_size } => query(
                "search_entries",
                compact(json!({"provider": provider, "region": region, "share_type": share_type,
                    "classification": classification, "text": text, "page": page, "page_size": page_size})),
            ),
            Export { provider } => query("export_dcat", compact(json!({"provider": provider}))),
            Regions { parent } => query("list_regions", compact(json!({"parent": parent}))),
            Coordinator { a, b } => query("coordinator", json!({"a": a, "b": b})),
            Org { id } => query("get_organisation", json!({"id": id})),
            AddBusKey { for_org, public_key } => {
                command("add_bus_key", json!({"org_id": for_org, "public_key": public_key}))
            }
            RevokeBusKey { for_org, public_key } => {
                command("revoke_bus_key", json!({"org_id": for_org, "public_key": public_key}))
            }
            ListBusKeys => query("list_bus_keys", json!({})),
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum RegionCmd {
    /// Print the six-digit code of the region whose sharing authority coordinates a dispute
    /// between parties in CODE_A and CODE_B (Art. 28); `000000` is the national level.
    Coordinator {
        code_a: String,
        code_b: String,
        /// A region table replacing the shipped one.
        #[arg(long, env = "GOVSHARE_CATALOG__REGIONS_FILE")]
        regions_file: Option<String>,
    },
}

/// Runs a region subcommand; `Err` carries the message for a non-zero exit.
pub fn region(cmd: RegionCmd) -> Result<String, String> {
    match cmd {
        RegionCmd::Coordinator { code_a, code_b, regions_file } => {
            let regions = govshare_catalog::load_regions(regions_file.as_deref())?;
            let parse = |raw: &str| RegionCode::parse(raw).map_err(|e| format!("{raw}: {}", e.en));
            let (a, b) = (parse(&code_a)?, parse(&code_b)?);
            regions.coordinator(a, b).map(|c| c.to_string()).map_err(|e| e.en)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coordinator(a: &str, b: &str) -> Result<String, String> {
        region(RegionCmd::Coordinator { code_a: a.into(), code_b: b.into(), regions_file: None })
    }

    #[test]
    fn the_region_coordinator_prints_six_digits_or_explains_the_error() {
        assert_eq!(coordinator("440106", "440304").unwrap(), "440000");
        assert_eq!(coordinator("440106", "330106").unwrap(), "000000");
        assert!(coordinator("4401", "440100").unwrap_err().contains("six-digit"));
        assert!(coordinator("449999", "440100").unwrap_err().contains("unknown region code 449999"));
    }

    #[test]
    fn a_subcommand_becomes_one_call_without_the_flags_left_out() {
        let c = CatalogCmd::Search {
            provider: Some("gz-ga".into()),
            region: None,
            share_type: None,
            classification: None,
            text: Some("户籍".into()),
            page: None,
            page_size: Some(5),
        }
        .to_call()
        .unwrap();
        assert_eq!(c, query("search_entries", json!({"provider": "gz-ga", "text": "户籍", "page_size": 5})));
        let r = CatalogCmd::Return { entry: "e1".into(), reasons: vec!["a".into(), "b".into()] }.to_call().unwrap();
        assert_eq!(r, command("return_entry", json!({"entry_id": "e1", "reasons": ["a", "b"]})));
    }

    #[test]
    fn the_bus_key_subcommands_name_the_organisation_the_key_is_for() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(subcommand)]
            cmd: CatalogCmd,
        }
        let add = Cli::parse_from(["catalog", "add-bus-key", "--for", "gd-gongan", "--public-key", "UABC"]);
        assert_eq!(
            add.cmd.to_call().unwrap(),
            command("add_bus_key", json!({"org_id": "gd-gongan", "public_key": "UABC"}))
        );
        let revoke = Cli::parse_from(["catalog", "revoke-bus-key", "--for", "gd-gongan", "--public-key", "UABC"]);
        assert_eq!(
            revoke.cmd.to_call().unwrap(),
            command("revoke_bus_key", json!({"org_id": "gd-gongan", "public_key": "UABC"}))
        );
        let list = Cli::parse_from(["catalog", "list-bus-keys"]);
        assert_eq!(list.cmd.to_call().unwrap(), query("list_bus_keys", json!({})));
    }
}
