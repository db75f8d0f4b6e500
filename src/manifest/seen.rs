//! The duplicate checks of `instances:`: which earlier entry an entry repeats, by id (without
//! regard to case) or by name, for all regions or for one.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::{Entry as Slot, RandomState};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use super::Entry;

/// Which key of an entry a [`Seen`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyOf {
    /// The id, without regard to case ([`fold_id`]).
    Id,
    /// The name, as written.
    Name,
}

impl KeyOf {
    /// The key of `entry`, if it has one.
    fn key(self, entry: &Entry) -> Option<Cow<'_, str>> {
        match self {
            KeyOf::Id => entry.id.as_deref().map(fold_id),
            KeyOf::Name => entry.name.as_deref().map(Cow::Borrowed),
        }
    }
}

/// An id as it is compared: in lower case, so `ABC` repeats `abc` (`str::to_lowercase`; an id
/// already in lower-case ASCII, the usual case, is not copied).
pub(super) fn fold_id(id: &str) -> Cow<'_, str> {
    if id.bytes().any(|b| !b.is_ascii() || b.is_ascii_uppercase()) {
        Cow::Owned(id.to_lowercase())
    } else {
        Cow::Borrowed(id)
    }
}

/// The ids (or names) read so far, to refuse a repeat. An entry without `region:` belongs to
/// every region, so it repeats any entry of the same key; entries of one region each repeat
/// only entries of the same key and region. The maps for regions stay empty (and allocate
/// nothing) in a manifest whose entries carry no `region:`.
///
/// Entries without `region:` (all of them, usually) are not copied: they are recorded by the
/// hash of their key, and a hit is compared with the key of the entry it points at (the
/// entries read so far are passed in). A key whose hash is already taken by a different key
/// is recorded by its text instead, so a collision costs a copy, never a wrong answer.
pub(super) struct Seen<S = RandomState> {
    of: KeyOf,
    hasher: S,
    /// The first entry without `region:` of each key, by the key's hash.
    everywhere: HashMap<u64, usize, BuildHasherDefault<Prehashed>>,
    /// The first entry without `region:` of each key whose hash another key has.
    everywhere_collided: HashMap<String, usize>,
    /// The first entry of each key that has a `region:`, and its region.
    in_some_region: HashMap<String, (usize, String)>,
    in_region: HashMap<(String, String), usize>,
}

impl Seen {
    /// An empty record of keys of the kind `of`.
    pub(super) fn new(of: KeyOf) -> Seen {
        Seen::with_hasher(of, RandomState::new())
    }
}

impl<S: BuildHasher> Seen<S> {
    /// An empty record hashing keys with `hasher`.
    pub(super) fn with_hasher(of: KeyOf, hasher: S) -> Seen<S> {
        Seen {
            of,
            hasher,
            everywhere: HashMap::default(),
            everywhere_collided: HashMap::new(),
            in_some_region: HashMap::new(),
            in_region: HashMap::new(),
        }
    }

    /// Records `key` (as [`KeyOf`] makes it) for `region` at `index`, `earlier` being the
    /// entries before it; the earlier entry it repeats, if any, with the words that explain
    /// the overlap when a region is involved.
    pub(super) fn insert(
        &mut self,
        key: &str,
        region: Option<&str>,
        index: usize,
        earlier: &[Entry],
    ) -> Option<(usize, String)> {
        let Some(region) = region else {
            // (The map is empty, and not looked in, when no entry has a region.)
            if let Some((first, theirs)) = (!self.in_some_region.is_empty())
                .then(|| self.in_some_region.get(key))
                .flatten()
            {
                return Some((
                    *first,
                    format!(
                        " for region `{theirs}`, and an entry without `region:` belongs to \
                         every region"
                    ),
                ));
            }
            return self
                .insert_everywhere(key, index, earlier)
                .map(|first| (first, String::new()));
        };
        if let Some(first) = self.find_everywhere(key, earlier) {
            return Some((
                first,
                format!(
                    ", which has no `region:` and so belongs to every region, `{region}` included"
                ),
            ));
        }
        self.in_some_region
            .entry(key.to_owned())
            .or_insert_with(|| (index, region.to_owned()));
        self.in_region
            .insert((key.to_owned(), region.to_owned()), index)
            .map(|first| (first, format!(" for region `{region}`")))
    }

    /// True when the entry at `first` of `earlier` has the key `key`.
    fn is_key_of(&self, first: usize, key: &str, earlier: &[Entry]) -> bool {
        earlier
            .get(first)
            .and_then(|e| self.of.key(e))
            .is_some_and(|k| k == key)
    }

    /// The first entry without `region:` whose key is `key`.
    fn find_everywhere(&self, key: &str, earlier: &[Entry]) -> Option<usize> {
        // A key whose hash is not recorded is not recorded by its text either.
        let &first = self.everywhere.get(&self.hasher.hash_one(key))?;
        if self.is_key_of(first, key, earlier) {
            return Some(first);
        }
        self.everywhere_collided.get(key).copied()
    }

    /// Records `key` of an entry without `region:` at `index`, unless an earlier entry has it:
    /// then that entry's index.
    fn insert_everywhere(&mut self, key: &str, index: usize, earlier: &[Entry]) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        let first = match self.everywhere.entry(hash) {
            Slot::Vacant(slot) => {
                slot.insert(index);
                return None;
            }
            Slot::Occupied(slot) => *slot.get(),
        };
        if self.is_key_of(first, key, earlier) {
            return Some(first);
        }
        match self.everywhere_collided.entry(key.to_owned()) {
            Slot::Occupied(slot) => Some(*slot.get()),
            Slot::Vacant(slot) => {
                slot.insert(index);
                None
            }
        }
    }
}

/// A hasher for keys that are already hashes (`u64`s from [`Seen`]'s own hasher).
#[derive(Default)]
pub(super) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used for `u64` keys; a plain fold keeps it a hasher all the same.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
