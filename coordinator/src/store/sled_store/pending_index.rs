//! The pending deliveries of every correlation chain, kept in this process's memory
//! ([`PendingIndex`]), so that a correlated publish or end never reads the `correlations` tree
//! and a chain of one delivery — the common case, when a key's events are further apart than
//! their deliveries take — writes no record at all.
//!
//! What a crash needs stays on disk, in the same transactions as the deliveries:
//! - a chain of two or more deliveries (the later ones wait, so their order matters) has its
//!   `correlations` record, as before;
//! - a chain of one has no record, but its delivery is scheduled (only a delivery behind
//!   another is `Waiting`), and the value of its `schedule` entry is the chain's key.
//!
//! So [`PendingIndex::load`] rebuilds the index when the store opens from the records and the
//! schedule alone. The index is complete: a chain it does not hold has nothing pending.
//!
//! Every transaction over the delivery-state trees holds the index's lock from before it
//! starts until its changes ([`ChainView`]) are applied after its commit; sled may run a
//! transaction's closure more than once, and only the committed run's changes are applied.

use std::cell::RefCell;
use std::collections::HashMap;

use sled::Tree;

use crate::model::DeliveryId;
use crate::store::StoreResult;

/// One chain's pending deliveries, oldest first, and whether a `correlations` record holds
/// them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Chain {
    pub(super) ids: Vec<DeliveryId>,
    pub(super) recorded: bool,
}

/// What one transaction changed: the new state of each chain it touched.
pub(super) type ChainChanges = HashMap<Vec<u8>, Chain>;

/// Every chain with a delivery that has not ended, by chain key.
#[derive(Debug, Default)]
pub(super) struct PendingIndex(HashMap<Vec<u8>, Chain>);

impl PendingIndex {
    /// Rebuilds the index from the `correlations` records (decoded by `decode`) and the
    /// `schedule` entries that carry a chain key.
    pub(super) fn load(
        correlations: &Tree,
        schedule: &Tree,
        decode: impl Fn(&[u8]) -> StoreResult<Vec<DeliveryId>>,
    ) -> StoreResult<Self> {
        let mut chains = HashMap::new();
        for entry in correlations.iter() {
            let (key, value) = entry?;
            let ids = decode(&value)?;
            chains.insert(
                key.to_vec(),
                Chain {
                    ids,
                    recorded: true,
                },
            );
        }
        for entry in schedule.iter() {
            let (key, chain) = entry?;
            if chain.is_empty() {
                continue;
            }
            let Some((_, id)) = crate::store::keys::parse_schedule(&key) else {
                continue;
            };
            let known: &mut Chain = chains.entry(chain.to_vec()).or_default();
            if !known.ids.contains(&id) {
                known.ids.push(id);
            }
        }
        Ok(Self(chains))
    }

    pub(super) fn get(&self, key: &[u8]) -> Option<&Chain> {
        self.0.get(key)
    }

    /// Whether a chain has anything pending.
    pub(super) fn holds(&self, key: &[u8]) -> bool {
        self.0.contains_key(key)
    }

    /// Applies what a committed transaction changed.
    pub(super) fn apply(&mut self, changes: ChainChanges) {
        for (key, chain) in changes {
            if chain.ids.is_empty() {
                self.0.remove(&key);
            } else {
                self.0.insert(key, chain);
            }
        }
    }
}

/// The index as one run of a transaction sees it: the committed state with this run's own
/// changes on top (a batch can touch one chain several times).
#[derive(Debug)]
pub(super) struct ChainView<'a> {
    index: &'a PendingIndex,
    changes: RefCell<ChainChanges>,
}

impl<'a> ChainView<'a> {
    pub(super) fn new(index: &'a PendingIndex) -> Self {
        Self {
            index,
            changes: RefCell::default(),
        }
    }

    /// A chain's pending deliveries (empty when it has none).
    pub(super) fn get(&self, key: &[u8]) -> Chain {
        if let Some(chain) = self.changes.borrow().get(key) {
            return chain.clone();
        }
        self.index.get(key).cloned().unwrap_or_default()
    }

    pub(super) fn set(&self, key: &[u8], chain: Chain) {
        self.changes.borrow_mut().insert(key.to_vec(), chain);
    }

    /// What this run changed, for [`PendingIndex::apply`] once it has committed.
    pub(super) fn into_changes(self) -> ChainChanges {
        self.changes.into_inner()
    }
}
