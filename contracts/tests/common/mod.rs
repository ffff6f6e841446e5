//! A small in-memory chain for contract tests: genesis with two municipalities and a few
//! accounts, then one call per block with a fresh tx id and a block time the test controls.

#![allow(dead_code, clippy::unwrap_used)]

use yui_contracts::governance::{
    Account, ChainConfig, Genesis, OrgKind, Organization, Role, RoleKind, ValidatorRecord,
};
use yui_contracts::pb::{self, tx_body::Call};
use yui_contracts::{Context, MemState, Receipt};

/// Hachioji's municipality admin.
pub const ADMIN: [u8; 32] = [1; 32];
/// Machida's municipality admin.
pub const ADMIN_B: [u8; 32] = [2; 32];
/// Residents.
pub const RES1: [u8; 32] = [3; 32];
/// Residents.
pub const RES2: [u8; 32] = [4; 32];
/// A resident of Machida.
pub const RES_B: [u8; 32] = [5; 32];
/// A store (Hachioji).
pub const STORE: [u8; 32] = [6; 32];
/// A second store (Machida).
pub const STORE_B: [u8; 32] = [7; 32];
/// Hachioji's meter gateway.
pub const METER: [u8; 32] = [8; 32];

fn acct(key: [u8; 32], org: &str, roles: &[RoleKind]) -> Account {
    Account {
        key,
        organization: org.into(),
        roles: roles.iter().map(|r| Role::plain(*r)).collect(),
    }
}

/// The test chain.
pub struct Chain {
    /// State.
    pub state: MemState,
    /// Last height.
    pub height: u64,
    /// Time of the next block (ms).
    pub time_ms: u64,
}

impl Chain {
    /// Genesis at `time_ms` with the given parameters.
    pub fn new(time_ms: u64, params: Vec<(String, i64)>) -> Chain {
        let g = Genesis {
            chain: ChainConfig {
                chain_id: "yui-test".into(),
                fault_model: 0,
                max_expiry_blocks: 100,
            },
            organizations: vec![
                Organization::genesis("hachioji", "Hachioji City", OrgKind::Municipality),
                Organization::genesis("machida", "Machida City", OrgKind::Municipality),
            ],
            validators: vec![ValidatorRecord {
                organization: "hachioji".into(),
                name: "v1".into(),
                public_key: [9; 32],
                power: 1,
            }],
            accounts: vec![
                acct(
                    ADMIN,
                    "hachioji",
                    &[RoleKind::OrgAdmin, RoleKind::MunicipalityAdmin],
                ),
                acct(
                    ADMIN_B,
                    "machida",
                    &[RoleKind::OrgAdmin, RoleKind::MunicipalityAdmin],
                ),
                acct(RES1, "hachioji", &[RoleKind::Resident]),
                acct(RES2, "hachioji", &[RoleKind::Resident]),
                acct(RES_B, "machida", &[RoleKind::Resident]),
                acct(STORE, "hachioji", &[RoleKind::Store]),
                acct(STORE_B, "machida", &[RoleKind::Store]),
                acct(METER, "hachioji", &[RoleKind::Meter]),
            ],
            parameters: params,
        };
        let mut state = MemState::default();
        yui_contracts::init_genesis(&mut state, &g).unwrap();
        Chain {
            state,
            height: 1,
            time_ms,
        }
    }

    /// Execute one call in a new block at the current time (which then advances 1 s).
    pub fn run(&mut self, signer: [u8; 32], call: Call) -> Receipt {
        self.height += 1;
        let mut tx_id = [0u8; 32];
        tx_id[..8].copy_from_slice(&self.height.to_be_bytes());
        let ctx = Context {
            chain_id: "yui-test".into(),
            signer,
            height: self.height,
            time_ms: self.time_ms,
            tx_id,
        };
        self.time_ms += 1000;
        let before = self.state.clone();
        let r = yui_contracts::execute(&mut self.state, &ctx, &call).unwrap();
        if r.result.is_err() {
            assert!(self.state == before, "a failed call changed state");
            assert!(r.events.is_empty(), "a failed call emitted events");
        } else {
            assert!(!r.events.is_empty(), "a successful call emitted no event");
        }
        r
    }

    /// Run a call that must succeed; returns its events.
    pub fn ok(&mut self, signer: [u8; 32], call: Call) -> Vec<pb::event::Kind> {
        let r = self.run(signer, call);
        assert!(r.result.is_ok(), "call failed: {:?}", r.result);
        r.events.into_iter().filter_map(|e| e.kind).collect()
    }

    /// Run a call that must fail and change nothing; returns its error code.
    pub fn err(&mut self, signer: [u8; 32], call: Call) -> String {
        let r = self.run(signer, call);
        r.result.expect_err("call should fail").code
    }

    /// The code the mempool's pre-check refuses `call` with at submit, if it does.
    pub fn refused_at_submit(&self, signer: [u8; 32], call: &Call) -> Option<String> {
        yui_contracts::authorize(&self.state, &signer, call)
            .err()
            .map(|e| match e {
                yui_contracts::ContractError::Invalid(i) => i.code,
                yui_contracts::ContractError::Failed(f) => panic!("the state failed: {f}"),
            })
    }
}

/// Unix ms of midnight JST at the start of a civil date.
pub fn jst_ms(y: i64, m: i64, d: i64) -> u64 {
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400_000 - 9 * 3_600_000) as u64
}
