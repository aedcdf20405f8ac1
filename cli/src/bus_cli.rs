//! `govshare bus`: the identities on the bus. Keys for the operators and the services
//! (`init`), a department's credentials (`credentials`: the secret is handed over once, only
//! the public key is kept, in the directory), revocation, and the nats-server authorization
//! generated from the directory (`config`). See docs/adr/0004-bus-identities-nkeys.md.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use clap::Subcommand;
use futures::StreamExt;
use govshare_runtime::{
    Service,
    bus::PLATFORM_ORG,
    trust::{self, Identities, Identity, KeyFolder},
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{client::Client, platform::LocalNats};

/// Where credentials live unless `--creds-dir` or `GOVSHARE_CREDS_DIR` says otherwise: the
/// folder `govshare up` keeps them in.
pub const DEFAULT_CREDS_DIR: &str = "data/bus/creds";

#[derive(Debug, Subcommand)]
pub enum BusCmd {
    /// Create the key pairs of the platform operators (`platform.nk`) and the five services
    /// (`<service>.service.nk`) in the credentials folder, if missing; print the public keys.
    Init,
    /// Write the nats-server authorization (`include`d by the server's config) from the
    /// directory's keys and the platform's own, for the operators to deploy and reload.
    Config {
        /// Where to write it (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Issue credentials to an organisation: a new key pair whose public key is registered in
    /// the directory; the seed is written once, to `--out` (default `<creds-dir>/<org>.nk`).
    Credentials {
        /// The organisation (must be registered in the directory).
        #[arg(long = "for")]
        for_org: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Revoke one of an organisation's keys: after the next reload its connections are closed.
    Revoke {
        #[arg(long = "for")]
        for_org: String,
        #[arg(long)]
        public_key: String,
    },
}

/// Runs a `govshare bus` command as the platform operators.
pub async fn run(
    cmd: BusCmd,
    creds_dir: &Path,
    operator: impl AsyncFnOnce() -> anyhow::Result<Client>,
) -> anyhow::Result<()> {
    let folder = KeyFolder::new(creds_dir);
    match cmd {
        BusCmd::Init => {
            for (identity, keys) in folder.platform_identities()? {
                println!("{:<20} {}", identity.file_name(), keys.join(" "));
            }
            println!("seeds in {} (keep them secret; each service mounts its own)", creds_dir.display());
        }
        BusCmd::Config { out } => {
            let identities = all_identities(&folder, &operator().await?).await?;
            let (text, skipped) = trust::render_authorization(&identities);
            for s in skipped {
                eprintln!("left out (not a NATS user public key): {s}");
            }
            match out {
                Some(path) => {
                    let tmp = path.with_extension("tmp");
                    std::fs::write(&tmp, text)?;
                    std::fs::rename(tmp, &path)?;
                    eprintln!("wrote {}; reload nats-server (nats-server --signal reload) to apply it", path.display());
                }
                None => print!("{text}"),
            }
        }
        BusCmd::Credentials { for_org, out } => {
            let out = out.unwrap_or_else(|| folder.dir.join(format!("{for_org}.nk")));
            let public_key = issue_credentials(&operator().await?, &for_org, &out).await?;
            println!("{public_key}");
            eprintln!(
                "credentials of {for_org} written to {} (the only copy of the secret: hand it over, then delete it here)",
                out.display()
            );
        }
        BusCmd::Revoke { for_org, public_key } => {
            let answer = operator()
                .await?
                .command(
                    Service::Catalog,
                    PLATFORM_ORG,
                    "revoke_bus_key",
                    json!({"org_id": for_org, "public_key": public_key}),
                )
                .await?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
        }
    }
    Ok(())
}

/// Issues credentials to `org`: a new key pair, its public key registered in the directory by
/// the operators, its seed written to `out` (mode 0600). Returns the public key.
pub async fn issue_credentials(operator: &Client, org: &str, out: &Path) -> anyhow::Result<String> {
    let pair = nkeys::KeyPair::new_user();
    let public_key = pair.public_key();
    operator
        .command(Service::Catalog, PLATFORM_ORG, "add_bus_key", json!({"org_id": org, "public_key": public_key}))
        .await?;
    trust::write_secret(out, &pair.seed().map_err(|e| anyhow::anyhow!("{e}"))?)?;
    Ok(public_key)
}

/// Every organisation's active keys, from the directory (`list_bus_keys`, operators only).
pub async fn directory_identities(operator: &Client) -> anyhow::Result<Identities> {
    let answer = operator.query_all(Service::Catalog, PLATFORM_ORG, "list_bus_keys", json!({})).await?;
    let mut out = Identities::new();
    for entry in answer["identities"].as_array().cloned().unwrap_or_default() {
        let Some(org) = entry["org_id"].as_str() else { continue };
        let keys: Vec<String> = entry["public_keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        if !keys.is_empty() && org != PLATFORM_ORG {
            out.insert(Identity::Org(org.to_owned()), keys);
        }
    }
    Ok(out)
}

/// The platform's own identities (from `folder`) and the directory's.
pub async fn all_identities(folder: &KeyFolder, operator: &Client) -> anyhow::Result<Identities> {
    let mut all = folder.platform_identities()?;
    all.extend(directory_identities(operator).await?);
    Ok(all)
}

/// Keeps a local nats-server's authorization in step with the directory: regenerates and
/// reloads it now, then whenever an organisation's keys or registration change. This is how
/// `govshare up` makes a newly issued credential usable without restarting the bus.
pub async fn follow_directory(nats: Arc<LocalNats>, folder: KeyFolder, operator: Client, stop: CancellationToken) {
    let subject = Service::Catalog.event_subject("organisation.>");
    let mut changes = match operator.nats.subscribe(subject).await {
        Ok(s) => s,
        Err(err) => {
            tracing::error!(error = %err, "cannot follow the directory; new credentials need a restart");
            return;
        }
    };
    loop {
        match all_identities(&folder, &operator).await {
            Ok(identities) => {
                if let Err(err) = nats.reload(&identities).await {
                    tracing::warn!(error = %err, "bus authorization reload failed");
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot read the directory's keys; keeping the bus authorization"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            next = changes.next() => if next.is_none() { return },
        }
    }
}
