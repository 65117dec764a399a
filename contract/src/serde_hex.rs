//! The JSON form of byte strings: one lowercase hex string, whatever the length. A field
//! holding bytes (`Hash`, `Option<Hash>`, `Vec<u8>`, a byte `BoundedVec`) says so with
//! `#[serde(with = "crate::serde_hex")]` (or `::option`, `::list`), and `AccountId`
//! serializes through [`serialize`] itself. The choice is made by the field's type, never by
//! the shape of the value, so a 33-byte payload is hex like a 32-byte one and a list of small
//! numbers that is not bytes stays a list of numbers.
//!
//! Serialize only: no contract type is read back from JSON (clients decode the borsh bytes
//! the API carries alongside).

use serde::ser::{Serialize, Serializer};

/// Writes `bytes` as one lowercase hex string.
pub fn serialize<S: Serializer>(
    bytes: &impl AsRef<[u8]>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode(bytes))
}

/// A borrowed byte string with the hex JSON form, for the element of an option or list.
struct Hex<'a>(&'a [u8]);

impl Serialize for Hex<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize(&self.0, serializer)
    }
}

/// `Option<Hash>`: a hex string, or `null`.
pub mod option {
    use super::{Hex, Serializer};

    pub fn serialize<S: Serializer>(
        bytes: &Option<impl AsRef<[u8]>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => serializer.serialize_some(&Hex(bytes.as_ref())),
            None => serializer.serialize_none(),
        }
    }
}

/// `Vec<Hash>`: a list of hex strings.
pub mod list {
    use super::{Hex, Serializer};

    pub fn serialize<S: Serializer, T: AsRef<[u8]>>(
        items: &[T],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(items.iter().map(|item| Hex(item.as_ref())))
    }
}

/// The JSON of the state types: every byte string is one hex string whatever its length,
/// and only fields marked as bytes are.
#[cfg(test)]
mod tests {
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    use serde_json::{json, Value};

    use crate::amount::Amount;
    use crate::block::{Receipt, TxStatus};
    use crate::bounded::{BoundedVec, Cid};
    use crate::commit::{ProvenLeaf, StateProof};
    use crate::escrow::{Dispute, Escrow, EscrowKind, EscrowStatus};
    use crate::event::{EscrowEvent, Event, EventSource};
    use crate::ids::{AccountId, Uuid};
    use crate::market::privacy::Privacy;

    fn to_json<T: serde::Serialize>(value: &T) -> Value {
        serde_json::to_value(value).unwrap()
    }

    fn hex_of(byte: u8, len: usize) -> String {
        hex::encode(vec![byte; len])
    }

    /// Every JSON array in `value` that holds a number, with its path.
    fn numeric_arrays(value: &Value, path: &str, found: &mut Vec<String>) {
        match value {
            Value::Array(items) => {
                if items.iter().any(Value::is_number) {
                    found.push(String::from(path));
                }
                for (index, item) in items.iter().enumerate() {
                    numeric_arrays(item, &alloc::format!("{path}[{index}]"), found);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    numeric_arrays(item, &alloc::format!("{path}.{key}"), found);
                }
            }
            _ => {}
        }
    }

    fn disputed_escrow(result_hash: Option<[u8; 32]>) -> Escrow {
        Escrow {
            id: Uuid::from_u128(1),
            requester: AccountId([0xaa; 32]),
            provider: AccountId([0xbb; 32]),
            amount: Amount(10),
            held: Amount(10),
            kind: EscrowKind::Single,
            arbitrators: BoundedVec::new(vec![AccountId([0xcc; 32])]).unwrap(),
            deadline_ms: 5,
            dispute_window_ms: 6,
            job_ref: [0x01; 32],
            created_at_ms: 1,
            status: EscrowStatus::Disputed,
            result_hash,
            approvals: Vec::new(),
            dispute: Some(Dispute {
                raised_by: AccountId([0xaa; 32]),
                reason_hash: [0x02; 32],
                evidence: BoundedVec::new(vec![Cid::new("ipfs://x").unwrap()]).unwrap(),
                deadline_ms: 7,
                from_status: EscrowStatus::Funded,
                votes: Vec::new(),
            }),
            audit_head: [0x03; 32],
            managed_by_market: false,
        }
    }

    #[test]
    fn a_payload_is_one_hex_string_whatever_its_length() {
        for len in [0, 1, 31, 32, 33, 64, 65] {
            let privacy = Privacy::Public {
                payload: BoundedVec::new(vec![7u8; len]).unwrap(),
            };
            assert_eq!(
                to_json(&privacy),
                json!({ "Public": { "payload": hex_of(7, len) } }),
                "payload of {len} bytes"
            );
        }
    }

    #[test]
    fn account_ids_hashes_and_optional_hashes_are_lowercase_hex() {
        let escrow = to_json(&disputed_escrow(Some([0xab; 32])));
        assert_eq!(escrow["requester"], hex_of(0xaa, 32));
        assert_eq!(escrow["arbitrators"], json!([hex_of(0xcc, 32)]));
        assert_eq!(escrow["job_ref"], hex_of(0x01, 32));
        assert_eq!(escrow["result_hash"], hex_of(0xab, 32));
        assert_eq!(escrow["audit_head"], hex_of(0x03, 32));
        assert_eq!(escrow["dispute"]["raised_by"], hex_of(0xaa, 32));
        assert_eq!(escrow["dispute"]["reason_hash"], hex_of(0x02, 32));
        assert_eq!(escrow["amount"], 10);
        let pending = to_json(&disputed_escrow(None));
        assert_eq!(pending["result_hash"], Value::Null);
    }

    #[test]
    fn proof_keys_and_proof_hash_lists_are_hex_and_indexes_stay_numbers() {
        let proof = StateProof {
            version: 1,
            bucket_leaf_count: 2,
            leaves: vec![ProvenLeaf {
                index: 1,
                key: vec![0x01; 33],
                value_hash: [0x04; 32],
            }],
            bucket_proof: vec![[0x05; 32]],
            top_proof: vec![[0x06; 32], [0x07; 32]],
        };
        assert_eq!(
            to_json(&proof),
            json!({
                "version": 1,
                "bucket_leaf_count": 2,
                "leaves": [{ "index": 1, "key": hex_of(0x01, 33), "value_hash": hex_of(0x04, 32) }],
                "bucket_proof": [hex_of(0x05, 32)],
                "top_proof": [hex_of(0x06, 32), hex_of(0x07, 32)],
            })
        );
    }

    #[test]
    fn events_receipts_and_sources_hold_no_byte_arrays() {
        let receipt = Receipt {
            tx_hash: [0x08; 32],
            status: TxStatus::Success,
            nonce_consumed: true,
            events: vec![
                Event::Transferred {
                    from: AccountId([0xaa; 32]),
                    to: AccountId([0xbb; 32]),
                    amount: Amount(3),
                },
                Event::Escrow {
                    id: Uuid::from_u128(1),
                    event: EscrowEvent::DisputeRaised {
                        by: AccountId([0xaa; 32]),
                        reason_hash: [0x02; 32],
                        evidence: Vec::new(),
                        deadline_ms: 7,
                    },
                },
            ],
        };
        let json = to_json(&receipt);
        assert_eq!(json["tx_hash"], hex_of(0x08, 32));
        assert_eq!(json["events"][0]["Transferred"]["from"], hex_of(0xaa, 32));
        let raised = &json["events"][1]["Escrow"]["event"]["DisputeRaised"];
        assert_eq!(raised["reason_hash"], hex_of(0x02, 32));
        let source = to_json(&EventSource::Tx { hash: [0x09; 32] });
        assert_eq!(source, json!({ "Tx": { "hash": hex_of(0x09, 32) } }));

        let mut found = Vec::new();
        numeric_arrays(&json, "receipt", &mut found);
        numeric_arrays(
            &to_json(&disputed_escrow(Some([0; 32]))),
            "escrow",
            &mut found,
        );
        assert!(found.is_empty(), "arrays of numbers at {found:?}");
    }

    #[test]
    fn only_fields_marked_as_bytes_are_hex() {
        #[derive(serde::Serialize)]
        struct Mixed {
            #[serde(with = "crate::serde_hex")]
            bytes: Vec<u8>,
            numbers: Vec<u8>,
        }
        let mixed = Mixed {
            bytes: vec![1; 32],
            numbers: vec![1; 32],
        };
        assert_eq!(
            to_json(&mixed),
            json!({ "bytes": hex_of(1, 32), "numbers": vec![1; 32] })
        );
    }
}
