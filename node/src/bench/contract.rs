//! `yui bench contract`: how many contract calls per second one core executes, with no
//! signatures, network or consensus: the contracts alone, in memory and on the disk engine
//! (fjall, with the chain's key layout). Each workload sets up its state, then executes a stream of calls in blocks of
//! `per_block`; on disk each block's writes go to the store in one batch and are flushed, as a
//! validator commits them.
//!
//! Figures are the median of three runs on fresh state.

use crate::bench::common::{median, tempfile_dir};
use crate::chain::{keys, StoreState};
use crate::storage::{Batch, FjallStore, Store};
use anyhow::{anyhow, bail, Result};
use std::time::Instant;
use yui_contracts::governance::{Account, ChainConfig, Genesis, Organization, Role, RoleKind};
use yui_contracts::pb::{self, tx_body::Call};
use yui_contracts::{Context, MemState, Overlay, State, WriteSet};

/// One signed-off call of a workload: (signer, call).
pub type SignedCall = ([u8; 32], Call);

/// A benchmark workload: accounts, setup calls, then the measured calls.
pub struct Workload {
    /// Name shown in the report.
    pub name: &'static str,
    /// Genesis accounts (organization "bench"): key and roles.
    pub accounts: Vec<([u8; 32], Vec<Role>)>,
    /// Genesis parameters.
    pub parameters: Vec<(String, i64)>,
    /// Calls executed before timing starts.
    pub setup: Vec<SignedCall>,
    /// The `i`-th measured call.
    pub call: fn(usize) -> SignedCall,
}

/// Block time of every benchmark block (2026-11-01 JST): after every period a workload uses.
const BLOCK_TIME_MS: u64 = 1_793_458_800_000;

fn genesis(w: &Workload) -> Genesis {
    Genesis {
        chain: ChainConfig {
            chain_id: "bench".into(),
            fault_model: 0,
            max_expiry_blocks: 100,
        },
        organizations: vec![Organization::genesis(
            "bench",
            "Bench City",
            yui_contracts::governance::OrgKind::Municipality,
        )],
        validators: vec![yui_contracts::governance::ValidatorRecord {
            organization: "bench".into(),
            name: "v1".into(),
            public_key: [0xee; 32],
            power: 1,
        }],
        accounts: w
            .accounts
            .iter()
            .map(|(k, roles)| Account {
                key: *k,
                organization: "bench".into(),
                roles: roles.clone(),
            })
            .collect(),
        parameters: w.parameters.clone(),
    }
}

/// Execute `calls` in blocks on `state`; `commit` is called with each block's writes.
fn run_blocks(
    state: &mut dyn State,
    first_height: &mut u64,
    calls: impl Iterator<Item = SignedCall>,
    per_block: usize,
    commit: &mut dyn FnMut(&mut dyn State, WriteSet) -> Result<()>,
) -> Result<usize> {
    let mut calls = calls.peekable();
    let mut failed = 0;
    while calls.peek().is_some() {
        *first_height += 1;
        let mut seq = 0u64;
        let writes = {
            let mut block = Overlay::new(&*state);
            for (signer, call) in calls.by_ref().take(per_block) {
                seq += 1;
                let mut tx_id = [0u8; 32];
                tx_id[..16].copy_from_slice(&bench_tx_id(*first_height, seq));
                let ctx = Context {
                    chain_id: "bench".into(),
                    signer,
                    height: *first_height,
                    time_ms: BLOCK_TIME_MS,
                    tx_id,
                };
                let r =
                    yui_contracts::execute(&mut block, &ctx, &call).map_err(|e| anyhow!("{e}"))?;
                if let Err(e) = r.result {
                    failed += 1;
                    if failed == 1 {
                        eprintln!("first failed call: {} ({})", e.message, e.code);
                    }
                }
            }
            block.writes
        };
        commit(state, writes)?;
    }
    Ok(failed)
}

/// The leading 16 bytes of the synthetic tx id of call `seq` (from 1) of block `height`.
fn bench_tx_id(height: u64, seq: u64) -> [u8; 16] {
    (u128::from(height) << 64 | u128::from(seq)).to_be_bytes()
}

fn apply_mem(state: &mut dyn State, writes: WriteSet) -> Result<()> {
    for (k, v) in writes {
        match v {
            Some(v) => state.put(k, v),
            None => state.delete(k),
        }
    }
    Ok(())
}

/// Contract state on a store, written one batch per block.
struct DiskState<'a> {
    store: &'a dyn Store,
}

impl yui_contracts::StateRead for DiskState<'_> {
    fn get(&self, key: &[u8]) -> std::result::Result<Option<Vec<u8>>, yui_contracts::Failed> {
        StoreState(self.store).get(key)
    }
    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> std::result::Result<yui_contracts::state::Entries, yui_contracts::Failed> {
        StoreState(self.store).scan(prefix, after, limit)
    }
}

impl State for DiskState<'_> {
    // Writes reach the store only through `commit_disk`, one batch per block.
    fn put(&mut self, _key: Vec<u8>, _value: Vec<u8>) {}
    fn delete(&mut self, _key: Vec<u8>) {}
}

fn commit_disk(store: &dyn Store, writes: WriteSet) -> Result<()> {
    let mut batch = Batch::default();
    for (k, v) in writes {
        let key = keys::state(&k);
        match v {
            Some(v) => batch.put(key, v),
            None => batch.delete(key),
        }
    }
    store.write(batch)?;
    store.flush()?;
    Ok(())
}

/// Run a workload's setup calls, then `n` measured calls in blocks of `per_block`, on
/// `state` with `commit` after each block; `on` names the state for errors. Returns calls/s.
fn setup_and_measure(
    state: &mut dyn State,
    w: &Workload,
    n: usize,
    per_block: usize,
    commit: &mut dyn FnMut(&mut dyn State, WriteSet) -> Result<()>,
    on: &str,
) -> Result<f64> {
    let mut h = 1;
    let setup = w.setup.len().max(1);
    let failed = run_blocks(state, &mut h, w.setup.iter().cloned(), setup, commit)?;
    if failed > 0 {
        bail!("{failed} setup calls of workload {} failed {on}", w.name);
    }
    let t = Instant::now();
    let failed = run_blocks(state, &mut h, (0..n).map(w.call), per_block, commit)?;
    let rate = n as f64 / t.elapsed().as_secs_f64();
    if failed > 0 {
        bail!("{failed} measured calls of workload {} failed {on}", w.name);
    }
    Ok(rate)
}

/// Run one workload: `n` measured calls in blocks of `per_block`, in memory and on fjall.
/// Returns calls/s in memory and on disk, medians of three runs.
pub fn measure(w: &Workload, n: usize, per_block: usize) -> Result<(f64, f64)> {
    let g = genesis(w);
    let mut mem_rates = Vec::new();
    let mut disk_rates = Vec::new();
    for _ in 0..3 {
        let mut state = MemState::default();
        yui_contracts::init_genesis(&mut state, &g).map_err(|e| anyhow!("{e}"))?;
        mem_rates.push(setup_and_measure(
            &mut state,
            w,
            n,
            per_block,
            &mut apply_mem,
            "in memory",
        )?);

        {
            let dir = tempfile_dir()?;
            let store = FjallStore::open(&dir, keys::LAYOUT)?;
            let mut init = MemState::default();
            yui_contracts::init_genesis(&mut init, &g).map_err(|e| anyhow!("{e}"))?;
            commit_disk(
                &store,
                init.map.into_iter().map(|(k, v)| (k, Some(v))).collect(),
            )?;
            let mut state = DiskState { store: &store };
            let mut commit = |_: &mut dyn State, writes: WriteSet| commit_disk(&store, writes);
            let rate = setup_and_measure(&mut state, w, n, per_block, &mut commit, "on fjall");
            drop(store);
            let _ = std::fs::remove_dir_all(&dir);
            disk_rates.push(rate?);
        }
    }
    Ok((median(mem_rates), median(disk_rates)))
}

// ---- the eco workload ----------------------------------------------------------------------

const ADMIN: [u8; 32] = [1; 32];
const METER: [u8; 32] = [2; 32];
/// Participants (one solar installation each) the readings rotate over.
const ECO_DEVICES: usize = 1000;
const DAY_MS: u64 = 86_400_000;
/// 2025-04-01 00:00 JST.
const FY2025_START_MS: u64 = 1_743_433_200_000;

fn resident(i: usize) -> [u8; 32] {
    let mut k = [3u8; 32];
    k[..8].copy_from_slice(&(i as u64).to_be_bytes());
    k
}

fn eco(c: pb::eco_call::Call) -> Call {
    Call::Eco(pb::EcoCall { call: Some(c) })
}

/// Ids are derived from the registering transaction's id, which the runner builds from
/// (height, sequence); the setup runs as one block at height 2: the program (sequence 1), the
/// participants (2..), then the devices.
fn eco_device_id(i: usize) -> String {
    let mut tx_id = [0u8; 32];
    tx_id[..16].copy_from_slice(&bench_tx_id(2, (ECO_DEVICES + 2 + i) as u64));
    yui_contracts::eco::id_for("d", &tx_id)
}

/// The eco workload: 1,000 participants with a solar installation each; the measured calls are
/// daily meter readings rotating over the installations.
pub fn eco_workload() -> Workload {
    let mut setup = vec![(
        ADMIN,
        eco(pb::eco_call::Call::CreateProgram(pb::CreateProgram {
            program_id: "bench-eco".into(),
            name: "Bench program".into(),
            points_per_kg: 1,
            points_expiry_days: 730,
        })),
    )];
    let mut accounts = vec![
        (ADMIN, vec![Role::plain(RoleKind::MunicipalityAdmin)]),
        (METER, vec![Role::plain(RoleKind::Meter)]),
    ];
    for i in 0..ECO_DEVICES {
        accounts.push((resident(i), vec![Role::plain(RoleKind::Resident)]));
        setup.push((
            ADMIN,
            eco(pb::eco_call::Call::RegisterParticipant(
                pb::RegisterParticipant {
                    program_id: "bench-eco".into(),
                    account: resident(i).to_vec(),
                    person: Some(pb::PersonRef {
                        vault_id: format!("pd_{i}"),
                        commitment: vec![9; 32],
                    }),
                },
            )),
        ));
    }
    // Device registrations follow the participants in the same setup block.
    for i in 0..ECO_DEVICES {
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&(i as u64).to_be_bytes());
        setup.push((
            ADMIN,
            eco(pb::eco_call::Call::RegisterDevice(pb::RegisterDevice {
                participant_id: eco_participant_id(i),
                kind: pb::DeviceKind::Solar as i32,
                identity_hash: hash.to_vec(),
                baseline_m_per_l: 0,
                methodology: String::new(),
                fuel: 0,
                monitored_from_ms: FY2025_START_MS,
            })),
        ));
    }
    Workload {
        name: "eco.submit_reading",
        accounts,
        parameters: vec![("eco.grid_g_per_mwh.fy2025".into(), 438_000)],
        setup,
        call: eco_reading,
    }
}

/// Participant ids follow from the registering tx ids the same way.
fn eco_participant_id(i: usize) -> String {
    let mut tx_id = [0u8; 32];
    tx_id[..16].copy_from_slice(&bench_tx_id(2, (i + 2) as u64));
    yui_contracts::eco::id_for("p", &tx_id)
}

fn eco_reading(i: usize) -> SignedCall {
    let dev = i % ECO_DEVICES;
    let day = (i / ECO_DEVICES) as u64;
    (
        METER,
        eco(pb::eco_call::Call::SubmitReading(pb::SubmitReading {
            device_id: eco_device_id(dev),
            period_start_ms: FY2025_START_MS + day * DAY_MS,
            period_end_ms: FY2025_START_MS + (day + 1) * DAY_MS,
            electricity_wh: 12_000 + (i % 500) as u64,
            grid_wh: 8_000,
            ..Default::default()
        })),
    )
}

// ---- the relief workload -------------------------------------------------------------------

/// Shelters (one operator and one large need each) of the relief workload.
const RELIEF_SHELTERS: usize = 100;
const DONOR: [u8; 32] = [4; 32];

fn operator(i: usize) -> [u8; 32] {
    let mut k = [5u8; 32];
    k[..8].copy_from_slice(&(i as u64).to_be_bytes());
    k
}

fn relief(c: pb::relief_call::Call) -> Call {
    Call::Relief(pb::ReliefCall { call: Some(c) })
}

/// The relief workload: 100 shelters with a large need each; the measured calls are the
/// study's shipment cycle repeated: pledge one unit, go-ahead, mark shipped (with the label's
/// token commitment), receive (scanning the token), i.e. four calls per shipment.
pub fn relief_workload() -> Workload {
    use pb::relief_call::Call as R;
    let mut accounts = vec![
        (ADMIN, vec![Role::plain(RoleKind::MunicipalityAdmin)]),
        (DONOR, vec![Role::plain(RoleKind::Donor)]),
    ];
    let mut setup = vec![(
        ADMIN,
        relief(R::OpenDisaster(pb::OpenDisaster {
            disaster_id: "bench".into(),
            name: "Bench disaster".into(),
        })),
    )];
    for i in 0..RELIEF_SHELTERS {
        accounts.push((
            operator(i),
            vec![Role {
                kind: RoleKind::ShelterOperator,
                scope: format!("s{i}"),
            }],
        ));
        setup.push((
            ADMIN,
            relief(R::RegisterShelter(pb::RegisterShelter {
                shelter_id: format!("s{i}"),
                name: format!("Shelter {i}"),
                area: "Bench".into(),
                contact: Some(pb::PersonRef {
                    vault_id: format!("pd_{i}"),
                    commitment: vec![9; 32],
                }),
            })),
        ));
    }
    for i in 0..RELIEF_SHELTERS {
        setup.push((
            operator(i),
            relief(R::PostNeed(pb::PostNeed {
                disaster_id: "bench".into(),
                shelter_id: format!("s{i}"),
                item_id: "food".into(),
                quantity: yui_contracts::relief::MAX_QUANTITY,
                details: "meals".into(),
                priority: pb::Priority::High as i32,
                needed_by_ms: 0,
            })),
        ));
    }
    Workload {
        name: "relief (4-call cycle)",
        accounts,
        parameters: Vec::new(),
        setup,
        call: relief_call,
    }
}

fn relief_call(i: usize) -> SignedCall {
    use pb::relief_call::Call as R;
    use yui_contracts::relief::{token_commitment, token_string, TOKEN_SECRET_LEN};
    // Cycle k creates commitment k + 1 and shipment k + 1 (the counters start at 1).
    let k = i / 4;
    let id = (k + 1) as u64;
    let shelter = k % RELIEF_SHELTERS;
    let secret = [(k % 251) as u8; TOKEN_SECRET_LEN];
    match i % 4 {
        0 => (
            DONOR,
            relief(R::Pledge(pb::Pledge {
                // Needs are numbered 1..=RELIEF_SHELTERS in shelter order.
                need_id: (shelter + 1) as u64,
                quantity: 1,
            })),
        ),
        1 => (
            operator(shelter),
            relief(R::Approve(pb::ApproveShipment { commitment_id: id })),
        ),
        2 => (
            DONOR,
            relief(R::Ship(pb::MarkShipped {
                shipment_id: id,
                token_commitment: token_commitment(id, &secret).to_vec(),
            })),
        ),
        _ => (
            operator(shelter),
            relief(R::Receive(pb::ReceiveShipment {
                shipment_id: id,
                token: token_string(id, &secret),
                ..Default::default()
            })),
        ),
    }
}

/// The workloads `yui bench contract` can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ContractWorkload {
    /// Eco meter readings.
    Eco,
    /// The relief shipment cycle.
    Relief,
}

/// Print the figures of the chosen workloads (all if none is chosen).
pub fn run(n: usize, per_block: usize, chosen: &[ContractWorkload]) -> Result<()> {
    if n > ECO_DEVICES * 365 {
        bail!(
            "at most {} readings fit in one fiscal year",
            ECO_DEVICES * 365
        );
    }
    println!(
        "contract execution, one core, no signatures (median of 3 runs of {n} calls in blocks of {per_block}; disk stores flushed per block)"
    );
    let all = [ContractWorkload::Eco, ContractWorkload::Relief];
    for which in all {
        if !chosen.is_empty() && !chosen.contains(&which) {
            continue;
        }
        let w = match which {
            ContractWorkload::Eco => eco_workload(),
            ContractWorkload::Relief => relief_workload(),
        };
        eprintln!("workload {} ...", w.name);
        let (mem, disk) = measure(&w, n, per_block.max(1))?;
        println!(
            "  {:<22} {:>10.0} calls/s in memory {:>10.0} calls/s on fjall",
            w.name, mem, disk
        );
    }
    Ok(())
}
