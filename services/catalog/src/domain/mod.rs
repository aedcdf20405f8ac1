//! Pure catalog rules: no I/O, no clock. The directory (organisations, roles, the Art. 28
//! coordinator), regions, and the catalog-entry lifecycle (Arts 13-19).

pub mod bus_keys;
pub mod directory;
pub mod entry;
pub mod region;

pub use directory::*;
pub use region::{Level, RegionCode, Regions};

use govshare_runtime::{ApiError, ErrorCode};

/// Why the catalog refuses a command. Each says what the caller can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("only the platform or a superior sharing authority may register organisations here")]
    RegistrarNotAllowed,
    #[error("organisation {0} is already registered")]
    AlreadyRegistered(String),
    #[error("region {region} already has a sharing authority: {existing}")]
    AuthorityExists { region: String, existing: String },
    #[error("organisation {0} is not registered")]
    UnknownOrganisation(String),
    #[error("{0} is not a department and cannot provide catalog entries")]
    ProviderNotDepartment(String),
    #[error("only the provider itself may do this")]
    NotTheProvider,
    #[error("only the sharing authority of region {0} may review this entry")]
    NotTheReviewer(String),
    #[error("only the organisation itself or its same-level sharing authority may change its roles")]
    RolesNotAllowed,
    #[error(
        "the platform operators bootstrap the directory but do not name a department's people: \
         the department or its same-level sharing authority does"
    )]
    PlatformSetsNoRoles,
    #[error("only the platform or the organisation itself may manage its bus keys")]
    BusKeyNotAllowed,
    #[error("bus key {0} was revoked and cannot be added again; issue a new one")]
    BusKeyRevoked(String),
    #[error("bus key {0} already belongs to another organisation; each system gets its own key")]
    BusKeyTaken(String),
    #[error("organisation {org} already has {max} active bus keys; revoke one first")]
    TooManyBusKeys { org: String, max: usize },
    #[error("bus key {0} is not one of this organisation's keys")]
    UnknownBusKey(String),
    #[error("only the platform operators may do this")]
    PlatformOnly,
    #[error("catalog entry {0} not found")]
    UnknownEntry(String),
    #[error("{action} is not allowed while the entry is {stage}")]
    WrongStage { action: &'static str, stage: &'static str },
    #[error("the entry was withdrawn")]
    Withdrawn,
    #[error("{org} is not in region {region}")]
    OutsideRegion { org: String, region: String },
    #[error("region {0} has no registered sharing authority to review the entry")]
    NoAuthority(String),
    #[error("an update duty is already open for this entry")]
    UpdateAlreadyRequired,
    #[error("no update duty is open for this entry")]
    NoUpdateDuty,
    #[error("the update duty was already extended once (Art. 17: at most +5 working days)")]
    AlreadyExtended,
    #[error("a data refresh cannot be recorded for a time in the future")]
    RefreshInFuture,
}

impl From<CatalogError> for ApiError {
    fn from(err: CatalogError) -> Self {
        use CatalogError as E;
        let en = err.to_string();
        let (code, zh) = match &err {
            E::RegistrarNotAllowed => (ErrorCode::Forbidden, "只有平台或上级共享主管部门可以登记此组织".to_owned()),
            E::AlreadyRegistered(id) => (ErrorCode::Conflict, format!("组织 {id} 已登记")),
            E::AuthorityExists { region, existing } => {
                (ErrorCode::Conflict, format!("区划 {region} 已有共享主管部门 {existing}"))
            }
            E::UnknownOrganisation(id) => (ErrorCode::NotFound, format!("组织 {id} 未登记")),
            E::ProviderNotDepartment(id) => (ErrorCode::NotAllowed, format!("{id} 不是政府部门，不能提供目录")),
            E::NotTheProvider => (ErrorCode::Forbidden, "只有提供部门本身可以执行此操作".to_owned()),
            E::NotTheReviewer(r) => (ErrorCode::Forbidden, format!("只有区划 {r} 的共享主管部门可以审核此目录")),
            E::RolesNotAllowed => (ErrorCode::Forbidden, "只有组织本身或本级共享主管部门可以调整角色".to_owned()),
            E::PlatformSetsNoRoles => (
                ErrorCode::Forbidden,
                "平台运维方只负责目录初始化，不能指定部门人员：应由部门本身或本级共享主管部门设置".to_owned(),
            ),
            E::BusKeyNotAllowed => (ErrorCode::Forbidden, "只有平台或组织本身可以管理其总线密钥".to_owned()),
            E::BusKeyRevoked(key) => {
                (ErrorCode::Conflict, format!("总线密钥 {key} 已吊销，不能再次添加，请签发新密钥"))
            }
            E::BusKeyTaken(key) => {
                (ErrorCode::Conflict, format!("总线密钥 {key} 已属于其他组织，每个系统应使用自己的密钥"))
            }
            E::TooManyBusKeys { org, max } => {
                (ErrorCode::NotAllowed, format!("组织 {org} 已有 {max} 个有效总线密钥，请先吊销一个"))
            }
            E::UnknownBusKey(key) => (ErrorCode::NotFound, format!("总线密钥 {key} 不属于该组织")),
            E::PlatformOnly => (ErrorCode::Forbidden, "只有平台运维方可以执行此操作".to_owned()),
            E::UnknownEntry(id) => (ErrorCode::NotFound, format!("目录 {id} 不存在")),
            E::WrongStage { action, stage } => {
                (ErrorCode::NotAllowed, format!("目录处于 {stage} 状态，不能执行 {action}"))
            }
            E::Withdrawn => (ErrorCode::NotAllowed, "目录已撤销".to_owned()),
            E::OutsideRegion { org, region } => (ErrorCode::NotAllowed, format!("{org} 不在区划 {region} 内")),
            E::NoAuthority(r) => (ErrorCode::NotAllowed, format!("区划 {r} 尚未登记共享主管部门，无法提交审核")),
            E::UpdateAlreadyRequired => (ErrorCode::Conflict, "该目录已有未完成的更新义务".to_owned()),
            E::NoUpdateDuty => (ErrorCode::NotAllowed, "该目录没有未完成的更新义务".to_owned()),
            E::AlreadyExtended => {
                (ErrorCode::NotAllowed, "更新期限已延长过一次（第十七条：最多延长 5 个工作日）".to_owned())
            }
            E::RefreshInFuture => (ErrorCode::NotAllowed, "不能登记未来时间的数据更新".to_owned()),
        };
        ApiError::with_text(code, zh, en)
    }
}
