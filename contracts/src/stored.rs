//! Records kept in state and shown through the API (ADR 0001): a contract stores its own borsh
//! record, never an API protobuf message, so that a change to the API (a field added to a
//! response, an enum renumbered) can never change a state root or make old state unreadable.
//!
//! A record type implements [`Stored`]: how it becomes the API message a query returns, and how
//! the message a contract built is turned back into the record. Both conversions name every
//! field (no `..Default`), so adding a field to either side fails to compile until someone
//! decides where it is kept.

use crate::error::{ContractError, Failed};
use crate::state::{decode_borsh, State, StateRead};
use borsh::{BorshDeserialize, BorshSerialize};

/// A borsh state record and the API message it is shown as.
pub trait Stored: BorshSerialize + BorshDeserialize + Sized {
    /// The API message.
    type Api;
    /// The record as the API shows it.
    fn into_api(self) -> Self::Api;
    /// The record of an API message the contract built. An enum value the record cannot hold
    /// is the contract's own bug (`Failed`): callers' values are checked before this.
    fn from_api(api: &Self::Api) -> Result<Self, Failed>;
}

/// The record at `key`, as its API message.
pub fn get<R: Stored>(state: &dyn StateRead, key: &[u8]) -> Result<Option<R::Api>, ContractError> {
    match state.get(key)? {
        None => Ok(None),
        Some(bytes) => decode::<R>(key, &bytes).map(Some),
    }
}

/// Decode the record `bytes` stored at `key` into its API message.
pub fn decode<R: Stored>(key: &[u8], bytes: &[u8]) -> Result<R::Api, ContractError> {
    Ok(decode_borsh::<R>(key, bytes)?.into_api())
}

/// Store the API message `api` as its record at `key`.
pub fn put<R: Stored>(state: &mut dyn State, key: Vec<u8>, api: &R::Api) -> Result<(), Failed> {
    let record = R::from_api(api)?;
    crate::state::put_borsh(state, key, &record);
    Ok(())
}

/// A borsh enum that mirrors a protobuf enum, without its `UNSPECIFIED` value: state never holds
/// an unset status. `stored_enum!(Name: pb::Enum { Variant = PbVariant, ... })` defines `Name`
/// with `Name::to_api(self) -> i32`, `Name::to_pb(self)` and `Name::from_api(i32) -> Result<Name, Failed>`.
macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident : $pb:ty { $($(#[$vmeta:meta])* $v:ident = $pv:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[doc = concat!("Protobuf `", stringify!($pv), "`.")] $v),+
        }

        impl $name {
            /// The protobuf value.
            pub fn to_api(self) -> i32 {
                match self {
                    $($name::$v => <$pb>::$pv as i32),+
                }
            }

            /// The protobuf enum.
            pub fn to_pb(self) -> $pb {
                match self {
                    $($name::$v => <$pb>::$pv),+
                }
            }

            /// The record value of a protobuf value.
            pub fn from_api(v: i32) -> Result<Self, $crate::error::Failed> {
                match <$pb>::try_from(v) {
                    $(Ok(<$pb>::$pv) => Ok($name::$v),)+
                    _ => Err($crate::error::Failed(format!(
                        "{} {v} cannot be stored (a contract built a record with an unset or unknown value)",
                        stringify!($name)
                    ))),
                }
            }
        }
    };
}
pub(crate) use stored_enum;
