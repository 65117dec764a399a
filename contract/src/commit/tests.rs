//! Unit tests of the commitment: rs_merkle shape, proofs for present and absent keys,
//! tampering, and incremental roots equal to rebuilt ones.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::arithmetic_side_effects
)]

use alloc::vec;
use alloc::vec::Vec;

use super::*;

fn key(i: u32) -> Vec<u8> {
    let mut key = vec![0x01];
    key.extend_from_slice(&i.to_be_bytes());
    key
}

fn filled(n: u32) -> StateTree {
    let mut tree = StateTree::new();
    for i in 0..n {
        tree.set(&key(i), Some(&i.to_le_bytes()));
    }
    tree.commit();
    tree
}

#[test]
fn empty_state_root_is_the_all_empty_top_tree() {
    let tree = StateTree::new();
    assert_eq!(tree.root(), empty_subtree_roots()[16]);
    let leaves = vec![EMPTY_ROOT; BUCKETS as usize];
    assert_eq!(merkle_root(&leaves), tree.root());
}

#[test]
fn merkle_root_equals_rs_merkle_for_every_size() {
    for count in (0u32..=300).chain([1023, 1024, 1025, 20_000]) {
        let leaves: Vec<Hash> = (0..count)
            .map(|i| value_hash(&(i ^ count).to_le_bytes()))
            .collect();
        let expected = rs_merkle::MerkleTree::<CommitHasher>::from_leaves(&leaves)
            .root()
            .unwrap_or(EMPTY_ROOT);
        assert_eq!(merkle_root(&leaves), expected, "{count} leaves");
    }
}

#[test]
fn a_list_root_built_leaf_by_leaf_equals_merkle_root_at_every_length() {
    let leaves: Vec<Hash> = (0u32..4097).map(|i| list_leaf(&i.to_le_bytes())).collect();
    let mut list = ListRoot::new();
    assert_eq!(list.root(), EMPTY_ROOT);
    for (index, leaf) in leaves.iter().enumerate() {
        list.push(*leaf);
        let count = index + 1;
        if count <= 300 || [511, 512, 513, 1023, 1024, 1025, 4096, 4097].contains(&count) {
            let prefix = leaves.get(..count).unwrap_or_default();
            assert_eq!(list.root(), merkle_root(prefix), "{count} leaves");
        }
    }
}

#[test]
fn replace_returns_the_previous_value_hash_and_matches_set() {
    let mut replaced = filled(40);
    let mut set = filled(40);
    let prepared = |k: &[u8], v: &[u8]| Some(PreparedLeaf::new(k, value_hash(v)));
    // An existing key, a new key, a deleted key, an absent key deleted.
    assert_eq!(
        replaced.replace(&key(3), prepared(&key(3), b"new")),
        Some(value_hash(&3u32.to_le_bytes()))
    );
    assert_eq!(replaced.replace(&key(100), prepared(&key(100), b"x")), None);
    assert_eq!(
        replaced.replace(&key(5), None),
        Some(value_hash(&5u32.to_le_bytes()))
    );
    assert_eq!(replaced.replace(&key(101), None), None);
    set.set(&key(3), Some(b"new"));
    set.set(&key(100), Some(b"x"));
    set.set(&key(5), None);
    set.set(&key(101), None);
    assert_eq!(replaced.len(), 40);
    assert_eq!(replaced.commit(), set.commit());
    // Setting the value a key already holds leaves its bucket clean.
    assert_eq!(
        replaced.replace(&key(3), prepared(&key(3), b"new")),
        Some(value_hash(b"new"))
    );
    assert!(!replaced.is_dirty());
}

#[test]
fn top_tree_matches_rs_merkle_over_bucket_roots() {
    let tree = filled(300);
    let roots: Vec<Hash> = (0..BUCKETS as usize)
        .map(|b| tree.node(BUCKETS as usize + b))
        .collect();
    assert_eq!(merkle_root(&roots), tree.root());
}

#[test]
fn incremental_root_equals_rebuilt_root() {
    let mut tree = filled(500);
    for i in (0..500).step_by(3) {
        tree.set(&key(i), None);
    }
    for i in 500..700 {
        tree.set(&key(i), Some(b"new"));
    }
    tree.set(&key(1), Some(b"changed"));
    let (root, changed) = tree.commit();
    assert!(!changed.is_empty());
    assert!(changed.windows(2).all(|pair| pair[0].0 < pair[1].0));
    assert!(changed
        .iter()
        .all(|(index, hash)| tree.node(*index as usize) == *hash));
    assert!(changed
        .iter()
        .any(|(index, hash)| *index == 1 && *hash == root));

    let mut rebuilt = StateTree::new();
    for i in 0..700u32 {
        let value: Option<Vec<u8>> = if i == 1 {
            Some(b"changed".to_vec())
        } else if i >= 500 {
            Some(b"new".to_vec())
        } else if i % 3 == 0 {
            None
        } else {
            Some(i.to_le_bytes().to_vec())
        };
        if let Some(value) = value {
            rebuilt.set(&key(i), Some(&value));
        }
    }
    assert_eq!(rebuilt.commit().0, root);
    assert_eq!(rebuilt.len(), tree.len());
}

#[test]
fn rewriting_the_same_value_changes_nothing() {
    let mut tree = filled(10);
    tree.set(&key(3), Some(&3u32.to_le_bytes()));
    assert!(!tree.is_dirty());
    let before = tree.root();
    let (after, changed) = tree.commit();
    assert_eq!(before, after);
    assert!(changed.is_empty());
}

#[test]
fn membership_proofs_verify_for_every_key() {
    let tree = filled(2_000);
    let root = tree.root();
    for i in (0..2_000).step_by(7) {
        let proof = tree.prove(&key(i));
        assert_eq!(proof.top_proof.len(), 16);
        proof
            .verify_value(&root, &key(i), Some(&i.to_le_bytes()))
            .unwrap();
        assert_eq!(
            proof.verify_value(&root, &key(i), Some(b"other")),
            Err(ProofError::ValueMismatch)
        );
        assert_eq!(
            proof.verify_value(&root, &key(i), None),
            Err(ProofError::KeyPresent)
        );
    }
}

#[test]
fn non_membership_proofs_verify_for_absent_keys() {
    // Dense enough that buckets hold several keys, so every bracketing case occurs.
    let mut tree = StateTree::new();
    for i in 0..200_000u32 {
        if i % 2 == 0 {
            tree.set(&key(i), Some(b"v"));
        }
    }
    tree.commit();
    let root = tree.root();
    let mut shapes = [0u32; 4];
    for i in (1..20_000u32).step_by(2) {
        let proof = tree.prove(&key(i));
        proof.verify_value(&root, &key(i), None).unwrap();
        assert_eq!(
            proof.verify_value(&root, &key(i), Some(b"v")),
            Err(ProofError::KeyAbsent)
        );
        let shape = match (proof.leaves.len(), proof.leaves.first().map(|l| l.index)) {
            (0, _) => 0,
            (2, _) => 1,
            (1, Some(0)) => 2,
            _ => 3,
        };
        shapes[shape] += 1;
    }
    assert!(
        shapes[1] > 0 && shapes[2] > 0 && shapes[3] > 0,
        "{shapes:?}"
    );
    // Sparse: most buckets empty.
    let sparse = filled(10);
    let proof = sparse.prove(&key(999_999));
    assert!(proof.leaves.is_empty() || proof.bucket_leaf_count > 0);
    proof
        .verify_value(&sparse.root(), &key(999_999), None)
        .unwrap();
}

#[test]
fn tampered_proofs_are_rejected() {
    let tree = filled(50_000);
    let root = tree.root();
    let present = key(77);
    let absent = key(9_000_001);
    for (probe, value) in [
        (present.clone(), Some(77u32.to_le_bytes().to_vec())),
        (absent, None),
    ] {
        let proof = tree.prove(&probe);
        proof.verify_value(&root, &probe, value.as_deref()).unwrap();
        let bytes = proof.to_bytes();
        for position in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[position] ^= 0x01;
            if let Ok(bad) = StateProof::decode(&bad) {
                assert!(
                    bad.verify_value(&root, &probe, value.as_deref()).is_err(),
                    "flipping byte {position} was accepted"
                );
            }
        }
        let mut extra = proof.clone();
        extra.bucket_proof.push([7; 32]);
        assert!(extra.verify(&root, &probe).is_err());
        let mut wrong_root = root;
        wrong_root[0] ^= 1;
        assert_eq!(
            proof.verify(&wrong_root, &probe),
            Err(ProofError::WrongRoot)
        );
    }
}

#[test]
fn a_present_key_cannot_be_proven_absent_with_its_neighbours() {
    let mut tree = StateTree::new();
    for i in 0..100_000u32 {
        tree.set(&key(i), Some(b"v"));
    }
    tree.commit();
    let root = tree.root();
    // Find a bucket with at least three keys and try to skip the middle one.
    let target = key(5);
    let bucket = bucket_of(&target);
    let leaves: Vec<(Vec<u8>, Hash)> = tree
        .bucket_leaves(bucket)
        .map(|(k, h)| (k.to_vec(), *h))
        .collect();
    let position = leaves.iter().position(|(k, _)| *k == target).unwrap();
    let mut without: Vec<(&[u8], Hash)> = leaves.iter().map(|(k, h)| (k.as_slice(), *h)).collect();
    without.remove(position);
    let forged = bucket_part(&without, &target);
    let proof = StateProof {
        version: PROOF_VERSION,
        bucket_leaf_count: forged.leaf_count,
        leaves: forged.leaves,
        bucket_proof: forged.proof,
        top_proof: tree.top_proof(bucket),
    };
    assert!(proof.verify_value(&root, &target, None).is_err());
}

#[test]
fn proof_hash_count_matches_rs_merkle() {
    for total in 1..40usize {
        let leaves: Vec<Hash> = (0..total)
            .map(|i| list_leaf(&(i as u64).to_le_bytes()))
            .collect();
        let tree = rs_merkle::MerkleTree::<CommitHasher>::from_leaves(&leaves);
        for first in 0..total {
            let mut shown = vec![first];
            if first + 1 < total {
                shown.push(first + 1);
            }
            for indices in [vec![first], shown] {
                let proof = tree.proof(&indices);
                assert_eq!(
                    proof.proof_hashes().len(),
                    proof::proof_hash_count(&indices, total)
                );
            }
        }
    }
}

#[test]
fn list_roots_are_domain_separated_and_ordered() {
    let a = [[1u8; 32], [2u8; 32]];
    let b = [[2u8; 32], [1u8; 32]];
    assert_ne!(list_root(&a), list_root(&b));
    assert_eq!(list_root::<[u8; 32]>(&[]), EMPTY_ROOT);
    assert_ne!(list_leaf(&[1u8; 32]), [1u8; 32]);
}

/// Bucket jobs run by the caller (in any order, as a caller spreading them over threads
/// does), or left to the tree, give the same root and changed nodes as `commit`; prepared
/// leaves equal leaves set directly.
#[test]
fn commit_with_and_prepared_leaves_match_commit() {
    let mut plain = StateTree::new();
    let mut prepared = StateTree::new();
    for round in 0u8..4 {
        for i in 0u16..300 {
            let key = [round % 3, (i >> 8) as u8, i as u8];
            let value = [i as u8 ^ round; 5];
            plain.set(&key, Some(&value));
            prepared.set_prepared(&key, PreparedLeaf::new(&key, value_hash(&value)));
        }
        plain.set(&[0, 0, 5], None);
        prepared.set_hashed(&[0, 0, 5], None);
        let expected = plain.commit();
        let actual = prepared.commit_with(|jobs| {
            // Reverse order; every other job left to the tree; one run twice.
            for (position, job) in jobs.iter_mut().enumerate().rev() {
                if position % 2 == 0 {
                    let first = job.run();
                    assert_eq!(job.run(), first);
                }
            }
        });
        assert_eq!(actual, expected, "round {round}");
        assert!(!expected.1.is_empty());
    }
}

/// Leaves replaced in place rehash only their paths from the levels a bucket keeps: over
/// rounds of replacing one to six leaves at every position of buckets of 1 to 40 leaves
/// (and growing or shrinking a bucket between rounds), every bucket root equals
/// `merkle_root` of its leaves and the state root equals a tree built from scratch.
#[test]
fn leaves_replaced_in_place_rehash_their_paths_to_the_full_root() {
    use alloc::collections::BTreeMap;

    // Buckets 0 to 5 with 1, 2, 3, 7, 16 and 40 keys.
    let sizes = [1usize, 2, 3, 7, 16, 40];
    let mut by_bucket: Vec<Vec<Vec<u8>>> = vec![Vec::new(); sizes.len()];
    let mut counter = 0u32;
    while by_bucket
        .iter()
        .zip(sizes)
        .any(|(keys, size)| keys.len() < size)
    {
        counter += 1;
        let key = counter.to_be_bytes().to_vec();
        let bucket = bucket_of(&key) as usize;
        if bucket < sizes.len() && by_bucket[bucket].len() < sizes[bucket] {
            by_bucket[bucket].push(key);
        }
    }
    let keys: Vec<Vec<u8>> = by_bucket.concat();
    let mut tree = StateTree::new();
    let mut model: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..300u64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let changes = 1 + (state % 6) as usize;
        for change in 0..changes {
            let key = &keys[((state >> (8 * change)) as usize + round as usize) % keys.len()];
            if round % 50 == 49 && change == 0 {
                // Now and then a bucket changes shape.
                if model.remove(key).is_some() {
                    tree.set(key, None);
                    continue;
                }
            }
            let value = state.rotate_left(change as u32 * 7) ^ round;
            tree.set(key, Some(&value.to_le_bytes()));
            model.insert(key.clone(), value);
        }
        let (root, _) = tree.commit();
        let mut fresh = StateTree::new();
        for (key, value) in &model {
            fresh.set(key, Some(&value.to_le_bytes()));
        }
        assert_eq!(root, fresh.commit().0, "round {round}");
        for bucket in 0..6u16 {
            let leaves: Vec<Hash> = tree
                .bucket_leaves(bucket)
                .map(|(key, hash)| leaf_hash(key, hash))
                .collect();
            let expected = merkle_root(&leaves);
            assert_eq!(
                tree.node(BUCKETS as usize + bucket as usize),
                expected,
                "round {round}, bucket {bucket}"
            );
        }
    }
}

/// Bucket roots recomputed after each step of a block (some keys written in several
/// steps, one written and put back, one deleted) leave the commit with the same root as
/// one commit of the same writes, and every node reported changed holds its final hash.
#[test]
fn bucket_roots_committed_in_steps_give_the_one_shot_root() {
    let mut one_shot = StateTree::new();
    let mut stepped = StateTree::new();
    for tree in [&mut one_shot, &mut stepped] {
        for i in 0u16..500 {
            tree.set(&i.to_be_bytes(), Some(b"start"));
        }
        tree.commit();
    }
    type Step<'a> = &'a [(u16, Option<&'a [u8]>)];
    let steps: [Step; 3] = [
        &[
            (1, Some(b"a")),
            (2, Some(b"b")),
            (3, None),
            (700, Some(b"new")),
        ],
        &[(1, Some(b"again")), (4, Some(b"c")), (2, Some(b"start"))],
        &[(900, Some(b"late")), (700, None)],
    ];
    for step in steps {
        for (key, value) in step {
            one_shot.set(&key.to_be_bytes(), *value);
            stepped.set(&key.to_be_bytes(), *value);
        }
        stepped.commit_buckets_with(|_| {});
        assert_ne!(stepped.root(), EMPTY_ROOT);
    }
    let (root, changed) = stepped.commit();
    let (expected_root, _) = one_shot.commit();
    assert_eq!(root, expected_root);
    for (index, hash) in &changed {
        assert_eq!(stepped.node(*index as usize), *hash, "node {index}");
    }
    let mut indices: Vec<u32> = changed.iter().map(|(index, _)| *index).collect();
    indices.dedup();
    assert_eq!(indices.len(), changed.len(), "each node reported once");
    for bucket in [0u16, 77, u16::MAX] {
        assert_eq!(stepped.top_proof(bucket), one_shot.top_proof(bucket));
    }
}

/// Keys of 1 to 90 bytes (held inline and on the heap) crowded into 8 buckets, set,
/// overwritten and deleted in a scrambled order: after every round each bucket holds its
/// model's keys in order, and the root equals the root computed from the model alone
/// (rs_merkle over each bucket's sorted leaves, then over the 2^16 bucket roots).
#[test]
fn crowded_buckets_match_a_sorted_model() {
    use alloc::collections::BTreeMap;

    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut counter = 0u64;
    while keys.len() < 240 {
        counter += 1;
        let length = 1 + (counter % 90) as usize;
        let mut candidate: Vec<u8> = counter
            .to_be_bytes()
            .iter()
            .copied()
            .cycle()
            .take(length)
            .collect();
        candidate[0] = (counter % 251) as u8;
        if bucket_of(&candidate) < 8 {
            keys.push(candidate);
        }
    }
    let mut tree = StateTree::new();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for round in 0..12u32 {
        for _ in 0..100 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let key = &keys[(state % keys.len() as u64) as usize];
            if state.is_multiple_of(5) {
                tree.set(key, None);
                model.remove(key);
            } else {
                let value = (state >> 8).to_le_bytes()[..(round as usize % 8) + 1].to_vec();
                tree.set(key, Some(&value));
                model.insert(key.clone(), value);
            }
        }
        let (root, _) = tree.commit();
        let mut bucket_roots = vec![EMPTY_ROOT; BUCKETS as usize];
        for bucket in 0..8u16 {
            let expected: Vec<(&[u8], Hash)> = model
                .iter()
                .filter(|(key, _)| bucket_of(key) == bucket)
                .map(|(key, value)| (key.as_slice(), value_hash(value)))
                .collect();
            let held: Vec<(&[u8], Hash)> = tree
                .bucket_leaves(bucket)
                .map(|(key, hash)| (key, *hash))
                .collect();
            assert_eq!(held, expected, "round {round}, bucket {bucket}");
            let leaves: Vec<Hash> = expected
                .iter()
                .map(|(key, hash)| leaf_hash(key, hash))
                .collect();
            bucket_roots[bucket as usize] = merkle_root(&leaves);
        }
        assert_eq!(root, merkle_root(&bucket_roots), "round {round}");
        assert_eq!(tree.len(), model.len() as u64);
        for key in &keys {
            assert_eq!(
                tree.value_hash_of(key),
                model.get(key).map(|value| value_hash(value))
            );
        }
    }
    assert!(model.keys().any(|key| key.len() > 48) && model.keys().any(|key| key.len() <= 48));
}
