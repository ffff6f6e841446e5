//! Yui's contracts: the deterministic state machine every node runs.
//!
//! This crate owns what a transaction's call means: it routes a decoded call to its contract
//! (`governance`, `relief`, `points`, `eco`, `volunteer`), which checks the signer's role,
//! validates the arguments against state and either applies its writes and emits typed events,
//! or fails with a typed error and changes nothing. It must never do IO, read a clock, draw
//! randomness or iterate a hash map: time comes from the block header (`Context`), state only
//! through the `State` trait, and all arithmetic is checked integer arithmetic.

pub mod arith;
pub mod calendar;
pub mod eco;
pub mod error;
pub mod governance;
pub mod page;
pub mod points;
pub mod relief;
pub mod root;
pub mod state;
pub mod stored;
pub mod text;
pub mod volunteer;

pub use error::{ContractError, Failed, Invalid, InvalidKind};
pub use state::{MemState, Overlay, State, StateRead, WriteSet};
pub use yui_proto::v1 as pb;

use pb::tx_body::Call;

/// Everything a contract may know about the transaction it runs in. Time and height come
/// from the block header, never from a clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// Chain id.
    pub chain_id: String,
    /// The signer's ed25519 public key.
    pub signer: [u8; 32],
    /// Height of the block being executed.
    pub height: u64,
    /// Block time, ms since the Unix epoch.
    pub time_ms: u64,
    /// The transaction id.
    pub tx_id: [u8; 32],
}

/// The execution handle a contract works through: the state (a per-transaction overlay),
/// the context, and the events emitted so far.
pub struct Exec<'a> {
    /// State, buffered: dropped if the call fails.
    pub state: &'a mut dyn State,
    /// The transaction's context.
    pub ctx: &'a Context,
    events: Vec<pb::Event>,
}

impl Exec<'_> {
    /// Emit an event. Events of a failed call are discarded with its writes.
    pub fn emit(&mut self, kind: pb::event::Kind) {
        // An event is 384 bytes and most calls emit one: room for exactly one at a time, not
        // the four a first push reserves, keeps a block's receipts a quarter the size.
        self.events.reserve_exact(1);
        self.events.push(pb::Event { kind: Some(kind) });
    }
}

/// The outcome of one transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct Receipt {
    /// `Ok` if the call succeeded and its writes were applied, else why not.
    pub result: Result<(), Invalid>,
    /// Events emitted (empty when the call failed).
    pub events: Vec<pb::Event>,
}

impl Receipt {
    /// The receipt as the API shows it (without the cursor, which the node adds).
    pub fn to_proto(&self) -> pb::Receipt {
        pb::Receipt {
            success: self.result.is_ok(),
            error: self.result.as_ref().err().map(|e| pb::TxError {
                code: e.code.clone(),
                message: e.message.clone(),
            }),
            events: self.events.clone(),
            first_event: None,
        }
    }
}

/// Execute one call. On success its writes are applied to `state`; on an invalid call
/// nothing changes and the receipt says why. `Err` only for a local storage failure, in which
/// case the caller must abandon the whole block.
pub fn execute(state: &mut dyn State, ctx: &Context, call: &Call) -> Result<Receipt, Failed> {
    let (result, writes, events) = {
        let mut overlay = Overlay::new(&*state);
        let mut exec = Exec {
            state: &mut overlay,
            ctx,
            events: Vec::new(),
        };
        let result = route(&mut exec, call);
        let events = std::mem::take(&mut exec.events);
        (result, overlay.writes, events)
    };
    match result {
        Ok(()) => {
            let touches_points = points::touches(&writes);
            for (k, v) in writes {
                match v {
                    Some(v) => state.put(k, v),
                    None => state.delete(k),
                }
            }
            // Debug builds (every test) check conservation after every call that moved points;
            // `yui verify` checks it after every such block in any build.
            if cfg!(debug_assertions) && touches_points {
                if let Err(broken) =
                    points::check_invariant(&*state).map_err(|e| Failed(e.to_string()))?
                {
                    panic!(
                        "points are not conserved after a {} call: {broken}",
                        call_name(call)
                    );
                }
            }
            Ok(Receipt {
                result: Ok(()),
                events,
            })
        }
        Err(ContractError::Invalid(e)) => Ok(Receipt {
            result: Err(e),
            events: Vec::new(),
        }),
        Err(ContractError::Failed(f)) => Err(f),
    }
}

fn route(x: &mut Exec<'_>, call: &Call) -> Result<(), ContractError> {
    match call {
        Call::Governance(c) => governance::execute(x, c),
        Call::Relief(c) => relief::execute(x, c),
        Call::Points(c) => points::execute(x, c),
        Call::Eco(c) => eco::execute(x, c),
        Call::Volunteer(c) => volunteer::execute(x, c),
    }
}

/// The cheap check the mempool runs before accepting a transaction: the signer is a known
/// account and holds the role the call needs. Execution checks again, fully, against the
/// state of its block (roles can change in between).
pub fn authorize(
    state: &dyn StateRead,
    signer: &[u8; 32],
    call: &Call,
) -> Result<(), ContractError> {
    if let Call::Governance(c) = call {
        if governance::needs_no_account(c) {
            return match governance::account(state, signer)? {
                None => Ok(()),
                Some(_) if governance::any_signer(c) => Ok(()),
                Some(_) => Err(error::already_exists(
                    "governance.already_registered",
                    "the signer is already a ledger account",
                )),
            };
        }
    }
    let account = governance::acting_account(state, signer)?;
    match call {
        Call::Governance(c) => governance::authorize(&account, c),
        Call::Relief(c) => relief::authorize(state, &account, c),
        Call::Points(c) => points::authorize(state, &account, c),
        Call::Eco(c) => eco::authorize(state, &account, c),
        Call::Volunteer(c) => volunteer::authorize(state, &account, c),
    }
}

/// "contract.call" name of a call, for logs, metrics and audit summaries.
pub fn call_name(call: &Call) -> &'static str {
    match call {
        Call::Governance(c) => governance::call_name(c),
        Call::Relief(c) => relief::call_name(c),
        Call::Points(c) => points::call_name(c),
        Call::Eco(c) => eco::call_name(c),
        Call::Volunteer(c) => volunteer::call_name(c),
    }
}

/// Write the initial state of every contract from a genesis description.
pub fn init_genesis(
    state: &mut dyn State,
    genesis: &governance::Genesis,
) -> Result<(), ContractError> {
    governance::init_genesis(state, genesis)?;
    relief::init_genesis(state)?;
    points::init_genesis(state)?;
    eco::init_genesis(state)?;
    volunteer::init_genesis(state)?;
    Ok(())
}
