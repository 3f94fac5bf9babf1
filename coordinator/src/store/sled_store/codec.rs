//! Records as bytes, and the record-level operations every tree uses: JSON encoding and
//! decoding (a decode failure names its tree), insert-if-absent, replace-if-unchanged and the
//! compare-and-swap loop of the `modify_*` calls.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::Tree;
use sled::transaction::ConflictableTransactionError;

use super::SledStore;
use crate::store::{StoreError, StoreResult};

pub(super) fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

pub(super) fn enc<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
        tree: "(encode)",
        message: e.to_string(),
    })
}

pub(super) fn dec<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree,
        message: e.to_string(),
    })
}

pub(super) fn not_found(kind: &'static str, id: impl ToString) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_string(),
    }
}

/// The results of a batch whose transaction failed: nothing was written, every write gets the
/// error.
pub(super) fn fail_all<T>(e: &StoreError, n: usize, tree: &'static str) -> Vec<StoreResult<T>> {
    (0..n)
        .map(|_| {
            Err(match e {
                StoreError::Io(io) => StoreError::Io(io.clone()),
                other => StoreError::Corrupt {
                    tree,
                    message: other.to_string(),
                },
            })
        })
        .collect()
}

impl SledStore {
    pub(super) fn get_json<T: DeserializeOwned>(
        tree: &Tree,
        name: &'static str,
        key: &[u8],
    ) -> StoreResult<Option<T>> {
        tree.get(key)?.map(|v| dec(name, &v)).transpose()
    }

    pub(super) fn all_json<T: DeserializeOwned>(
        tree: &Tree,
        name: &'static str,
    ) -> StoreResult<Vec<T>> {
        tree.iter()
            .values()
            .map(|v| dec(name, &v?))
            .collect::<StoreResult<Vec<T>>>()
    }

    /// Inserts `value` under `key` only if the key is free.
    pub(super) fn insert_new(
        tree: &Tree,
        kind: &'static str,
        id: String,
        key: &[u8],
        value: Vec<u8>,
    ) -> StoreResult<()> {
        match tree.compare_and_swap(key, None as Option<&[u8]>, Some(value))? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::AlreadyExists { kind, id }),
        }
    }

    /// Replaces the value under `key` only if it exists and did not change meanwhile.
    pub(super) fn replace(
        tree: &Tree,
        kind: &'static str,
        id: String,
        key: &[u8],
        value: Vec<u8>,
    ) -> StoreResult<()> {
        let old = tree.get(key)?.ok_or_else(|| not_found(kind, &id))?;
        match tree.compare_and_swap(key, Some(old), Some(value))? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Conflict(format!(
                "{kind} {id} was changed or deleted concurrently; retry"
            ))),
        }
    }

    /// Compare-and-swap loop of the `modify_*` methods: re-reads and re-runs `f` whenever the
    /// record changed between its read and the write.
    pub(super) fn modify<T: Serialize + DeserializeOwned>(
        tree: &Tree,
        name: &'static str,
        key: &[u8],
        f: &mut dyn FnMut(&T) -> Option<T>,
    ) -> StoreResult<bool> {
        loop {
            let Some(old) = tree.get(key)? else {
                return Ok(false);
            };
            let Some(new) = f(&dec(name, &old)?) else {
                return Ok(false);
            };
            if tree
                .compare_and_swap(key, Some(old), Some(enc(&new)?))?
                .is_ok()
            {
                return Ok(true);
            }
        }
    }
}
