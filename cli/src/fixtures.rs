//! Realistic sample data for the demo, the system tests and benchmarks: a catalog entry
//! draft with every Art. 13 field, and the calls that take it through review to publication.

use govshare_runtime::Service;
use serde_json::{Value, json};

use crate::client::{CallError, Client};

/// A complete draft of a catalog entry. `share_type` is `unconditional`, `conditional` or
/// `not_shared`; the fields each needs are filled in.
pub fn draft(name: &str, sequence: u32, share_type: &str) -> Value {
    let mut d = json!({
        "classification_code": "A01-02",
        "sequence_code": format!("{sequence:06}"),
        "name": name,
        "summary": format!("{name}：本部门依法履职采集的基础数据"),
        "items": [
            {"name": "姓名", "data_type": "string", "sensitivity": "personal_information"},
            {"name": "公民身份号码", "data_type": "string", "sensitivity": "personal_information"},
            {"name": "登记日期", "data_type": "date", "sensitivity": "internal"}
        ],
        "format": "json",
        // Yearly: the refresh duty's first cycle ends on 1 January, past every test's horizon,
        // so tests that count breaches see only the duties they are about.
        "update_frequency": "每年",
        "share_type": share_type,
        "share_methods": ["interface", "batch"],
        "open_type": "not_open",
        "classification": "基础信息/人口",
        "level": "一般",
    });
    match share_type {
        "conditional" => d["conditions"] = json!("仅限办理出生医学证明核验使用，不得向第三方提供"),
        "not_shared" => {
            d["not_shared_reason"] = json!("涉及未成年人保护");
            d["legal_basis"] = json!("《中华人民共和国未成年人保护法》第七十二条");
            d["share_methods"] = json!([]);
        }
        _ => {}
    }
    d
}

/// Drafts, submits (signed off by `head`) and approves an entry; returns its id.
pub async fn publish(
    client: &Client,
    provider: &str,
    head: &str,
    authority: &str,
    draft: Value,
) -> Result<String, CallError> {
    let saved = client.command(Service::Catalog, provider, "save_draft", draft).await?;
    let entry_id = saved["entry_id"].as_str().unwrap_or_default().to_owned();
    client
        .command(
            Service::Catalog,
            provider,
            "submit_entry",
            json!({
                "entry_id": entry_id,
                "secrecy_assessment": "保密风险评估 BM-2026-001",
                "personal_information_assessment": "个人信息保护影响评估 PIA-2026-001",
                "signed_off_by": head,
            }),
        )
        .await?;
    client.command(Service::Catalog, authority, "approve_entry", json!({"entry_id": entry_id})).await?;
    Ok(entry_id)
}

/// A complete request form (Art. 20) for an entry made from [`draft`]: two of its items,
/// approved by `approved_by`, the head of the requester's sharing office.
pub fn request(entry_id: &str, approved_by: &str) -> Value {
    json!({
        "entry_id": entry_id,
        "items": ["姓名", "公民身份号码"],
        "legal_basis": "《社会救助暂行办法》第十一条",
        "scenario": "最低生活保障资格核验",
        "scope": "本省申请救助的居民",
        "share_method": "interface",
        "usage_from": "2026-12-01",
        "usage_until": "2027-11-30",
        "approved_by": approved_by,
    })
}
