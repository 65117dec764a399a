//! A second implementation of the wire format, written from `docs/wire.md` alone, checked
//! against every golden vector in `fixtures/golden/`.
//!
//! It reads the document itself: the layout tables marked `<!-- schema: … -->` become a
//! generic borsh decoder, and the key table marked `<!-- keys -->` a key parser. With
//! them it decodes every golden transaction, event, receipt, state value, proof and
//! header, requiring each to be consumed exactly, and parses every golden state key. The
//! hashing, bucket trees, state root, proof verification (sections 7 and 8) and header
//! check (section 9) are re-implemented here from the document's text, with only sha256
//! and ed25519 taken from libraries; the contract is used only as the other side of a
//! comparison. A table or a step of the document that disagrees with the code fails here.

use std::collections::BTreeMap;

use agora_contract::commit::StateProof;
use agora_contract::header::SignedHeader;
use agora_contract::tx::SignedTx;
use agora_contract::{AccountId, Label};
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

// Paths relative to the package root, where `cargo test` runs test binaries (a path
// fixed at compile time breaks when a build cache is shared between checkouts).
const WIRE_DOC: &str = "../docs/wire.md";
const GOLDEN_DIR: &str = "../fixtures/golden";

type H = [u8; 32];

// ---------------------------------------------------------------------------------------
// The document's layout tables
// ---------------------------------------------------------------------------------------

/// A type expression of the document (section 1).
#[derive(Clone, Debug)]
enum Ty {
    Uint(usize),
    Bool,
    Bytes(usize),
    Str(usize),
    Option(Box<Ty>),
    Vec(Box<Ty>, Option<u64>),
    Named(String),
}

/// Named fields in order; a field without a name is a tuple field.
type Fields = Vec<(String, Ty)>;
/// An enum row: (tag, variant name, fields).
type Variant = (u8, String, Fields);

/// One table of the document.
#[derive(Debug)]
enum Def {
    Alias(Ty),
    Struct(Vec<(String, Ty)>),
    Enum(Vec<Variant>),
}

/// One row of the key table (section 6).
#[derive(Debug)]
struct KeyRow {
    kind: String,
    prefix: Vec<u8>,
    field_bytes: usize,
    /// The value's type, or `None` for an empty value.
    value: Option<String>,
}

struct Doc {
    defs: BTreeMap<String, Def>,
    keys: Vec<KeyRow>,
}

fn parse_ty(text: &str) -> Ty {
    let text = text.trim();
    match text {
        "u8" => return Ty::Uint(1),
        "u16" => return Ty::Uint(2),
        "u32" => return Ty::Uint(4),
        "u64" => return Ty::Uint(8),
        "u128" => return Ty::Uint(16),
        "bool" => return Ty::Bool,
        _ => {}
    }
    if let Some(n) = text.strip_prefix("[u8; ").and_then(|t| t.strip_suffix(']')) {
        return Ty::Bytes(n.parse().unwrap());
    }
    if let Some(n) = text.strip_prefix("string ≤ ") {
        return Ty::Str(n.parse().unwrap());
    }
    if let Some(inner) = text
        .strip_prefix("Option<")
        .and_then(|t| t.strip_suffix('>'))
    {
        return Ty::Option(Box::new(parse_ty(inner)));
    }
    if let Some(inner) = text.strip_prefix("Vec<").and_then(|t| t.strip_suffix('>')) {
        return match inner.rsplit_once(", ≤ ") {
            Some((item, max)) => Ty::Vec(Box::new(parse_ty(item)), Some(max.parse().unwrap())),
            None => Ty::Vec(Box::new(parse_ty(inner)), None),
        };
    }
    assert!(
        text.chars().all(|c| c.is_ascii_alphanumeric()),
        "not a type: {text:?}"
    );
    Ty::Named(text.to_string())
}

/// The backticked pieces of a table cell.
fn code_spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

fn cells(row: &str) -> Vec<&str> {
    let row = row.trim();
    let inner = row.strip_prefix('|').unwrap().strip_suffix('|').unwrap();
    inner.split('|').map(str::trim).collect()
}

/// The rows of the table that starts after line `start` (header and separator skipped).
fn table_after<'a>(lines: &[&'a str], start: usize) -> (Vec<&'a str>, Vec<Vec<&'a str>>) {
    let rows: Vec<&str> = lines[start + 1..]
        .iter()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.trim_start().starts_with('|'))
        .copied()
        .collect();
    assert!(rows.len() >= 3, "table after line {} is empty", start + 1);
    let header = cells(rows[0]);
    (header, rows[2..].iter().map(|r| cells(r)).collect())
}

fn parse_fields(cell: &str) -> Fields {
    code_spans(cell)
        .into_iter()
        .map(|item| match item.split_once(": ") {
            Some((name, ty)) => (name.to_string(), parse_ty(ty)),
            None => (String::new(), parse_ty(item)),
        })
        .collect()
}

fn read_doc() -> Doc {
    let text = std::fs::read_to_string(WIRE_DOC).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut defs = BTreeMap::new();
    let mut keys = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let line = line.trim();
        if line == "<!-- keys -->" {
            let (header, rows) = table_after(&lines, at);
            assert_eq!(header, ["kind", "key", "value"]);
            for row in rows {
                let mut prefix = Vec::new();
                let mut field_bytes = 0;
                for part in row[1].split(" ‖ ") {
                    match part.trim().strip_prefix("`0x") {
                        Some(hex_text) => {
                            prefix.extend(hex::decode(hex_text.trim_end_matches('`')).unwrap())
                        }
                        None => {
                            let width = part.split('(').nth(1).unwrap();
                            let digits: String =
                                width.chars().take_while(char::is_ascii_digit).collect();
                            field_bytes += digits.parse::<usize>().unwrap();
                        }
                    }
                }
                let value = code_spans(row[2]).first().map(|t| t.to_string());
                assert!(value.is_some() || row[2] == "empty", "{row:?}");
                keys.push(KeyRow {
                    kind: row[0].to_string(),
                    prefix,
                    field_bytes,
                    value,
                });
            }
            continue;
        }
        let Some(name) = line
            .strip_prefix("<!-- schema: ")
            .and_then(|l| l.strip_suffix(" -->"))
        else {
            continue;
        };
        let (header, rows) = table_after(&lines, at);
        match header[0] {
            "name" => {
                for row in rows {
                    let alias = code_spans(row[0])[0].to_string();
                    defs.insert(alias, Def::Alias(parse_ty(code_spans(row[1])[0])));
                }
            }
            "field" => {
                let fields = rows
                    .iter()
                    .map(|row| {
                        (
                            code_spans(row[0])[0].to_string(),
                            parse_ty(code_spans(row[1])[0]),
                        )
                    })
                    .collect();
                assert!(defs.insert(name.to_string(), Def::Struct(fields)).is_none());
            }
            "tag" => {
                let variants: Vec<Variant> = rows
                    .iter()
                    .map(|row| {
                        (
                            row[0].parse().unwrap(),
                            code_spans(row[1])[0].to_string(),
                            parse_fields(row[2]),
                        )
                    })
                    .collect();
                for (position, (tag, _, _)) in variants.iter().enumerate() {
                    assert_eq!(usize::from(*tag), position, "{name}: tags are positions");
                }
                assert!(defs.insert(name.to_string(), Def::Enum(variants)).is_none());
            }
            other => panic!("unknown table kind {other:?} for {name}"),
        }
    }
    Doc { defs, keys }
}

// ---------------------------------------------------------------------------------------
// A borsh decoder driven by the tables
// ---------------------------------------------------------------------------------------

/// A decoded value.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Uint(u128),
    Bool(bool),
    Bytes(Vec<u8>),
    Str(String),
    Option(Option<Box<Val>>),
    List(Vec<Val>),
    Struct(Vec<(String, Val)>),
    Variant(String, Vec<(String, Val)>),
}

impl Val {
    fn field(&self, name: &str) -> &Val {
        match self {
            Val::Struct(fields) | Val::Variant(_, fields) => {
                &fields.iter().find(|(n, _)| n == name).unwrap().1
            }
            _ => panic!("{self:?} has no field {name}"),
        }
    }

    fn uint(&self) -> u128 {
        match self {
            Val::Uint(n) => *n,
            _ => panic!("not an integer: {self:?}"),
        }
    }

    /// A `[u8; N]` or a `Vec<u8>`.
    fn bytes(&self) -> Vec<u8> {
        match self {
            Val::Bytes(bytes) => bytes.clone(),
            Val::List(items) => items.iter().map(|i| i.uint() as u8).collect(),
            _ => panic!("not bytes: {self:?}"),
        }
    }

    fn list(&self) -> &[Val] {
        match self {
            Val::List(items) => items,
            _ => panic!("not a list: {self:?}"),
        }
    }

    fn hash(&self) -> H {
        self.bytes().try_into().unwrap()
    }

    /// The name of an `Event`: its variant, and for `Escrow` and `Market` the inner
    /// event's variant too (`Escrow/Funded`, `Market/Assigned`).
    fn event_name(&self) -> String {
        let Val::Variant(name, fields) = self else {
            panic!("not a variant: {self:?}")
        };
        let inner = fields.iter().find_map(|(_, v)| match v {
            Val::Variant(inner, _) => Some(inner),
            _ => None,
        });
        match inner {
            Some(inner) if name == "Escrow" || name == "Market" => format!("{name}/{inner}"),
            _ => name.clone(),
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).ok_or("length overflow")?;
        let slice = self.bytes.get(self.at..end).ok_or("input ends early")?;
        self.at = end;
        Ok(slice)
    }

    fn uint(&mut self, width: usize) -> Result<u128, String> {
        let mut le = [0u8; 16];
        le[..width].copy_from_slice(self.take(width)?);
        Ok(u128::from_le_bytes(le))
    }
}

impl Doc {
    fn decode(&self, ty: &Ty, r: &mut Reader) -> Result<Val, String> {
        Ok(match ty {
            Ty::Uint(width) => Val::Uint(r.uint(*width)?),
            Ty::Bool => match r.uint(1)? {
                0 => Val::Bool(false),
                1 => Val::Bool(true),
                other => return Err(format!("bool byte {other}")),
            },
            Ty::Bytes(n) => Val::Bytes(r.take(*n)?.to_vec()),
            Ty::Str(max) => {
                let len = r.uint(4)? as usize;
                if len > *max {
                    return Err(format!("string of {len} bytes, at most {max}"));
                }
                let text = std::str::from_utf8(r.take(len)?).map_err(|e| e.to_string())?;
                Val::Str(text.to_string())
            }
            Ty::Option(inner) => match r.uint(1)? {
                0 => Val::Option(None),
                1 => Val::Option(Some(Box::new(self.decode(inner, r)?))),
                other => return Err(format!("option tag {other}")),
            },
            Ty::Vec(item, max) => {
                let len = r.uint(4)? as u64;
                if max.is_some_and(|max| len > max) {
                    return Err(format!("vector of {len}, at most {max:?}"));
                }
                let items = (0..len)
                    .map(|_| self.decode(item, r))
                    .collect::<Result<_, _>>()?;
                Val::List(items)
            }
            Ty::Named(name) => {
                let def = self
                    .defs
                    .get(name)
                    .ok_or_else(|| format!("type {name} is not in docs/wire.md"))?;
                let value = match def {
                    Def::Alias(ty) => self.decode(ty, r)?,
                    Def::Struct(fields) => Val::Struct(self.decode_fields(fields, r)?),
                    Def::Enum(variants) => {
                        let tag = r.uint(1)? as usize;
                        let (_, variant, fields) = variants
                            .get(tag)
                            .ok_or_else(|| format!("{name}: unknown tag {tag}"))?;
                        Val::Variant(variant.clone(), self.decode_fields(fields, r)?)
                    }
                };
                check_valid(name, &value)?;
                value
            }
        })
    }

    fn decode_fields(
        &self,
        fields: &[(String, Ty)],
        r: &mut Reader,
    ) -> Result<Vec<(String, Val)>, String> {
        fields
            .iter()
            .map(|(name, ty)| Ok((name.clone(), self.decode(ty, r)?)))
            .collect()
    }

    /// Decodes all of `bytes` as the named type: trailing bytes are an error.
    fn decode_all(&self, name: &str, bytes: &[u8]) -> Result<Val, String> {
        let mut r = Reader { bytes, at: 0 };
        let value = self.decode(&Ty::Named(name.to_string()), &mut r)?;
        if r.at != bytes.len() {
            return Err(format!("{} trailing bytes", bytes.len() - r.at));
        }
        Ok(value)
    }

    /// The key-table row a state key belongs to: exactly one must match.
    fn key_row(&self, key: &[u8]) -> &KeyRow {
        let rows: Vec<&KeyRow> = self
            .keys
            .iter()
            .filter(|row| {
                key.starts_with(&row.prefix) && key.len() == row.prefix.len() + row.field_bytes
            })
            .collect();
        assert_eq!(rows.len(), 1, "key {} matches {rows:?}", hex::encode(key));
        rows[0]
    }
}

/// The validity rules of section 1 for labels and content ids.
fn check_valid(name: &str, value: &Val) -> Result<(), String> {
    let Val::Str(text) = value else {
        return Ok(());
    };
    let valid = match name {
        "Label" => {
            !text.is_empty()
                && text
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        }
        "Cid" => !text.is_empty() && text.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        _ => true,
    };
    if valid {
        Ok(())
    } else {
        Err(format!("invalid {name} {text:?}"))
    }
}

/// The enum variant names of a decoded value, depth first.
fn variant_names(value: &Val, out: &mut Vec<String>) {
    match value {
        Val::Variant(name, fields) => {
            out.push(name.clone());
            fields.iter().for_each(|(_, v)| variant_names(v, out));
        }
        Val::Struct(fields) => fields.iter().for_each(|(_, v)| variant_names(v, out)),
        Val::List(items) => items.iter().for_each(|v| variant_names(v, out)),
        Val::Option(Some(inner)) => variant_names(inner, out),
        _ => {}
    }
}

/// Checks that the variants the document's tables decoded from some bytes are the ones the
/// contract decodes from them: the document's variant names, in order, appear among the
/// capitalised identifiers of the contract value's `Debug` text, in the same order.
fn assert_same_variants(what: &str, decoded: &Val, contract_debug: &str) {
    let mut names = Vec::new();
    variant_names(decoded, &mut names);
    let tokens: Vec<&str> = contract_debug
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|t| t.starts_with(|c: char| c.is_ascii_uppercase()))
        .collect();
    let mut rest = tokens.iter();
    for name in &names {
        assert!(
            rest.any(|t| t == name),
            "{what}: docs/wire.md decodes variants {names:?}, the contract {contract_debug}"
        );
    }
}

/// The contract's `Debug` text of a state value, decoded as the Rust type the document
/// names.
fn contract_debug(type_name: &str, bytes: &[u8]) -> String {
    use agora_contract::block::ChainHead;
    use agora_contract::market::prices::PriceBucket;
    use agora_contract::market::privacy::Sealed;
    use agora_contract::market::{Assignment, MarketCounters, Offer, Provider, Request};
    use agora_contract::wallet::{Account, ChainConfig, Supply};
    fn debug<T: borsh::BorshDeserialize + std::fmt::Debug>(bytes: &[u8]) -> String {
        format!("{:?}", borsh::from_slice::<T>(bytes).unwrap())
    }
    match type_name {
        "ChainConfig" => debug::<ChainConfig>(bytes),
        "Supply" => debug::<Supply>(bytes),
        "ChainHead" => debug::<ChainHead>(bytes),
        "MarketCounters" => debug::<MarketCounters>(bytes),
        "Account" => debug::<Account>(bytes),
        "Escrow" => debug::<agora_contract::Escrow>(bytes),
        "Provider" => debug::<Provider>(bytes),
        "Offer" => debug::<Offer>(bytes),
        "Request" => debug::<Request>(bytes),
        "Assignment" => debug::<Assignment>(bytes),
        "PriceBucket" => debug::<PriceBucket>(bytes),
        "Sealed" => debug::<Sealed>(bytes),
        other => panic!("no contract type for {other}"),
    }
}

/// A fieldless enum's table lists every variant of the Rust type, each at the tag borsh
/// gives it. `variants` are the Rust variants as (Debug name, borsh bytes).
fn check_unit_enum(doc: &Doc, name: &str, variants: &[(String, Vec<u8>)]) {
    let Some(Def::Enum(rows)) = doc.defs.get(name) else {
        panic!("docs/wire.md has no enum table {name}")
    };
    assert_eq!(rows.len(), variants.len(), "{name}: variant count");
    for (variant, bytes) in variants {
        assert_eq!(bytes.len(), 1, "{name}::{variant}");
        let (_, row_name, fields) = &rows[usize::from(bytes[0])];
        assert_eq!(row_name, variant, "{name}: tag {}", bytes[0]);
        assert!(fields.is_empty(), "{name}::{variant} has no fields");
    }
}

/// Lists every variant of a fieldless enum; the `match` makes a new variant a compile
/// error here until it is listed.
macro_rules! unit_variants {
    ($ty:ident: $($variant:ident),* $(,)?) => {{
        let _exhaustive = |value: $ty| match value {
            $($ty::$variant => ()),*
        };
        vec![$((stringify!($variant).to_string(), borsh::to_vec(&$ty::$variant).unwrap())),*]
    }};
}

// ---------------------------------------------------------------------------------------
// Sections 7 to 9, from the text
// ---------------------------------------------------------------------------------------

fn sha(parts: &[&[u8]]) -> H {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn node(left: &H, right: &H) -> H {
    sha(&[&[0x01], left, right])
}

fn leaf(key: &[u8], value_hash: &H) -> H {
    sha(&[&[0x00], &(key.len() as u32).to_le_bytes(), key, value_hash])
}

fn list_leaf(item: &[u8]) -> H {
    sha(&[&[0x02], item])
}

fn bucket_of(key: &[u8]) -> u16 {
    let digest = sha(&[key]);
    u16::from_be_bytes([digest[0], digest[1]])
}

/// Section 7.2, keeping every level.
fn levels(leaves: &[H]) -> Vec<Vec<H>> {
    if leaves.is_empty() {
        return Vec::new();
    }
    let mut levels = vec![leaves.to_vec()];
    while levels.last().unwrap().len() > 1 {
        let level = levels.last().unwrap();
        let mut next = Vec::new();
        let mut i = 0;
        while i < level.len() {
            if i + 1 < level.len() {
                next.push(node(&level[i], &level[i + 1]));
            } else {
                next.push(level[i]);
            }
            i += 2;
        }
        levels.push(next);
    }
    levels
}

fn merkle_root(leaves: &[H]) -> H {
    levels(leaves).last().map_or([0; 32], |top| top[0])
}

fn list_root(items: &[Vec<u8>]) -> H {
    let leaves: Vec<H> = items.iter().map(|item| list_leaf(item)).collect();
    merkle_root(&leaves)
}

/// The state tree of section 7.3: bucket → sorted (key, value hash), and the top tree as a
/// heap array (node 1 the root, bucket b at 65 536 + b).
struct Tree {
    buckets: BTreeMap<u16, Vec<(Vec<u8>, H)>>,
    heap: Vec<H>,
}

fn build_tree(entries: &[(Vec<u8>, Vec<u8>)]) -> Tree {
    let mut buckets: BTreeMap<u16, Vec<(Vec<u8>, H)>> = BTreeMap::new();
    for (key, value) in entries {
        buckets
            .entry(bucket_of(key))
            .or_default()
            .push((key.clone(), sha(&[value])));
    }
    let mut heap = vec![[0u8; 32]; 2 * 65_536];
    for (bucket, leaves) in &mut buckets {
        leaves.sort();
        let hashes: Vec<H> = leaves.iter().map(|(k, vh)| leaf(k, vh)).collect();
        heap[65_536 + usize::from(*bucket)] = merkle_root(&hashes);
    }
    for i in (1..65_536).rev() {
        heap[i] = node(&heap[2 * i], &heap[2 * i + 1]);
    }
    Tree { buckets, heap }
}

/// Section 8.4.
fn proof_hash_count(indices: &[usize], total: usize) -> usize {
    let mut layer = indices.to_vec();
    let mut width = total;
    let mut needed = 0;
    while width > 1 {
        for index in &layer {
            let sibling = index ^ 1;
            if sibling < width && !layer.contains(&sibling) {
                needed += 1;
            }
        }
        layer = layer.iter().map(|i| i / 2).collect();
        layer.dedup();
        width = width.div_ceil(2);
    }
    needed
}

fn root_from_proof(known: &[(usize, H)], proof: &[H], total: usize) -> Option<H> {
    let indices: Vec<usize> = known.iter().map(|(i, _)| *i).collect();
    if proof.len() != proof_hash_count(&indices, total) {
        return None;
    }
    let mut layer = known.to_vec();
    let mut width = total;
    let mut p = 0;
    while width > 1 {
        let mut next = Vec::new();
        let mut i = 0;
        while i < layer.len() {
            let (index, hash) = layer[i];
            let parent = if index % 2 == 0 {
                if i + 1 < layer.len() && layer[i + 1].0 == index + 1 {
                    i += 1;
                    node(&hash, &layer[i].1)
                } else if index + 1 < width {
                    p += 1;
                    node(&hash, &proof[p - 1])
                } else {
                    hash
                }
            } else {
                p += 1;
                node(&proof[p - 1], &hash)
            };
            i += 1;
            next.push((index / 2, parent));
        }
        layer = next;
        width = width.div_ceil(2);
    }
    Some(layer[0].1)
}

/// A proof as section 8.1 lays it out, read through the document's tables.
struct Proof {
    version: u8,
    count: u32,
    leaves: Vec<(u32, Vec<u8>, H)>,
    bucket_proof: Vec<H>,
    top_proof: Vec<H>,
}

fn decode_proof(doc: &Doc, bytes: &[u8]) -> Result<Proof, String> {
    if bytes.len() > 16_384 {
        return Err("larger than 16 384 bytes".into());
    }
    let v = doc.decode_all("StateProof", bytes)?;
    Ok(Proof {
        version: v.field("version").uint() as u8,
        count: v.field("bucket_leaf_count").uint() as u32,
        leaves: v
            .field("leaves")
            .list()
            .iter()
            .map(|l| {
                (
                    l.field("index").uint() as u32,
                    l.field("key").bytes(),
                    l.field("value_hash").hash(),
                )
            })
            .collect(),
        bucket_proof: v
            .field("bucket_proof")
            .list()
            .iter()
            .map(Val::hash)
            .collect(),
        top_proof: v.field("top_proof").list().iter().map(Val::hash).collect(),
    })
}

/// Section 8.3: the key's value hash, `None` for absent, or why the proof is rejected.
/// Also returns the bucket root on success.
fn verify(root: &H, key: &[u8], proof: &Proof) -> Result<(Option<H>, H), &'static str> {
    if proof.version != 1 {
        return Err("version");
    }
    if key.len() > 1024 {
        return Err("key too long");
    }
    if proof.top_proof.len() != 16 {
        return Err("top proof length");
    }
    let bucket = bucket_of(key);
    let (found, bucket_root) = if proof.count == 0 {
        if !proof.leaves.is_empty() || !proof.bucket_proof.is_empty() {
            return Err("empty bucket shows leaves");
        }
        (None, [0u8; 32])
    } else {
        for (index, leaf_key, _) in &proof.leaves {
            if *index >= proof.count || leaf_key.len() > 1024 || bucket_of(leaf_key) != bucket {
                return Err("leaf outside the bucket");
            }
        }
        let last = proof.count - 1;
        let found = match proof.leaves.as_slice() {
            [(_, k, vh)] if k.as_slice() == key => Some(*vh),
            [(0, k, _)] if key < k.as_slice() => None,
            [(i, k, _)] if *i == last && k.as_slice() < key => None,
            [(i, l, _), (j, r, _)] if i + 1 == *j && l.as_slice() < key && key < r.as_slice() => {
                None
            }
            _ => return Err("leaves neither match nor bracket the key"),
        };
        let known: Vec<(usize, H)> = proof
            .leaves
            .iter()
            .map(|(i, k, vh)| (*i as usize, leaf(k, vh)))
            .collect();
        let bucket_root = root_from_proof(&known, &proof.bucket_proof, proof.count as usize)
            .ok_or("bucket proof")?;
        (found, bucket_root)
    };
    let top = root_from_proof(
        &[(usize::from(bucket), bucket_root)],
        &proof.top_proof,
        65_536,
    )
    .ok_or("top proof")?;
    if &top != root {
        return Err("wrong root");
    }
    Ok((found, bucket_root))
}

/// `verify_value`: whether the proof shows exactly `value` (or absence) for `key`.
fn accepts(doc: &Doc, root: &H, key: &[u8], value: Option<&[u8]>, proof_bytes: &[u8]) -> bool {
    let Ok(proof) = decode_proof(doc, proof_bytes) else {
        return false;
    };
    match (verify(root, key, &proof), value) {
        (Ok((Some(proven), _)), Some(value)) => proven == sha(&[value]),
        (Ok((None, _)), None) => true,
        _ => false,
    }
}

/// The golden sequencer and chain a light client trusts.
struct Trust {
    chain_id: String,
    sequencer: [u8; 32],
}

/// Section 9: the header's fields if `bytes` is a signed header that passes the check.
fn check_header(doc: &Doc, trust: &Trust, bytes: &[u8]) -> Result<Val, String> {
    let signed = doc.decode_all("SignedHeader", bytes)?;
    let header = signed.field("header");
    let header_len = bytes.len() - 64;
    if header.field("version").uint() != 1 {
        return Err("version".into());
    }
    if *header.field("chain_id") != Val::Str(trust.chain_id.clone()) {
        return Err("chain id".into());
    }
    if header.field("proposer").bytes() != trust.sequencer {
        return Err("proposer".into());
    }
    let mut message = hex::decode("61676f72612f6865616465722f763100").unwrap();
    message.extend_from_slice(&bytes[..header_len]);
    let key = VerifyingKey::from_bytes(&trust.sequencer).map_err(|e| e.to_string())?;
    let signature = Signature::from_bytes(&signed.field("signature").bytes().try_into().unwrap());
    key.verify_strict(&message, &signature)
        .map_err(|e| e.to_string())?;
    Ok(header.clone())
}

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

fn fixture(name: &str) -> Value {
    let path = format!("{GOLDEN_DIR}/{name}");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn hx(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().unwrap()).unwrap()
}

fn hx32(value: &Value) -> H {
    hx(value).try_into().unwrap()
}

fn items(value: &Value) -> &Vec<Value> {
    value.as_array().unwrap()
}

fn trust() -> Trust {
    let headers = fixture("headers.json");
    Trust {
        chain_id: headers["chain_id"].as_str().unwrap().to_string(),
        sequencer: hx32(&headers["sequencer"]),
    }
}

/// The golden header the proofs verify against.
fn proof_header(doc: &Doc) -> Val {
    let headers = fixture("headers.json");
    let name = fixture("proofs.json")["header"]
        .as_str()
        .unwrap()
        .to_string();
    let vector = items(&headers["headers"])
        .iter()
        .find(|h| h["name"] == name.as_str())
        .unwrap();
    check_header(doc, &trust(), &hx(&vector["signed_header_borsh"])).unwrap()
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// The document's tables parse, and every type they name is defined in them (except
/// `TxError`, which section 5 leaves to `contract/src/error.rs`).
#[test]
fn wire_doc_tables_are_complete() {
    let doc = read_doc();
    fn named(ty: &Ty, out: &mut Vec<String>) {
        match ty {
            Ty::Named(name) => out.push(name.clone()),
            Ty::Option(inner) | Ty::Vec(inner, _) => named(inner, out),
            _ => {}
        }
    }
    let mut used = Vec::new();
    for def in doc.defs.values() {
        match def {
            Def::Alias(ty) => named(ty, &mut used),
            Def::Struct(fields) => fields.iter().for_each(|(_, ty)| named(ty, &mut used)),
            Def::Enum(variants) => variants
                .iter()
                .flat_map(|(_, _, fields)| fields)
                .for_each(|(_, ty)| named(ty, &mut used)),
        }
    }
    for row in &doc.keys {
        used.extend(row.value.clone());
    }
    for name in used {
        assert!(
            doc.defs.contains_key(&name) || name == "TxError",
            "docs/wire.md uses {name} but defines no table for it"
        );
    }
    assert_eq!(doc.keys.len(), 15);
    assert!(doc.defs.len() > 40, "{} tables", doc.defs.len());
}

/// Every golden transaction decodes, exactly, with the document's `SignedTx` layout, to
/// the action the contract decodes; its signing message, hash and strict signature follow
/// section 3. The decoder rejects the same bytes one byte short or one byte long.
#[test]
fn wire_doc_decodes_every_golden_transaction() {
    let doc = read_doc();
    let file = fixture("transactions.json");
    assert_eq!(hx(&file["signing_domain"]), b"agora/tx/v1\0");
    for vector in items(&file["vectors"]) {
        let name = vector["name"].as_str().unwrap();
        let signed = hx(&vector["signed_tx"]);
        let unsigned = hx(&vector["unsigned_tx"]);
        let decoded = doc
            .decode_all("SignedTx", &signed)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        doc.decode_all("UnsignedTx", &unsigned)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let tx = decoded.field("tx");
        let contract = SignedTx::decode(&signed).unwrap();
        let Val::Variant(action, _) = tx.field("action") else {
            panic!("{name}: action is not a variant")
        };
        assert_eq!(action, contract.tx.action.name(), "{name}");
        assert_same_variants(name, &decoded, &format!("{contract:?}"));
        assert_eq!(
            tx.field("nonce").uint(),
            u128::from(contract.tx.nonce),
            "{name}"
        );
        assert_eq!(
            tx.field("signer").bytes(),
            hx(&vector["signer_public_key"]),
            "{name}"
        );

        assert_eq!(signed[..signed.len() - 64], unsigned[..], "{name}");
        let mut message = b"agora/tx/v1\0".to_vec();
        message.extend(&unsigned);
        assert_eq!(message, hx(&vector["signing_message"]), "{name}");
        assert_eq!(sha(&[&signed]).to_vec(), hx(&vector["tx_hash"]), "{name}");
        let key = VerifyingKey::from_bytes(&hx32(&vector["signer_public_key"])).unwrap();
        let signature = Signature::from_bytes(&hx(&vector["signature"]).try_into().unwrap());
        assert!(key.verify_strict(&message, &signature).is_ok(), "{name}");

        assert!(doc
            .decode_all("SignedTx", &signed[..signed.len() - 1])
            .is_err());
        let mut longer = signed.clone();
        longer.push(0);
        assert!(doc.decode_all("SignedTx", &longer).is_err());
    }
}

/// Every golden state key matches exactly one row of the key table; the audit chains
/// decode with the `EventSource` and `EscrowEvent` layouts and their heads follow section
/// 5; assignment ids follow section 2.
#[test]
fn wire_doc_parses_golden_keys_audit_chains_and_assignment_ids() {
    let doc = read_doc();
    let file = fixture("keys_and_audit.json");
    for vector in items(&file["state_keys"]) {
        let name = vector["name"].as_str().unwrap();
        if !name.contains("prefix") {
            let row = doc.key_row(&hx(&vector["key"]));
            let word = row.kind.split(' ').next().unwrap().trim_end_matches('s');
            assert!(name.starts_with(word), "{name} parsed as {}", row.kind);
        }
    }
    for chain in items(&file["audit_chains"]) {
        let id = hx(&chain["escrow_id"]);
        let mut head = sha(&[b"agora/audit/v1\0", &id]);
        assert_eq!(head.to_vec(), hx(&chain["genesis"]));
        for step in items(&chain["steps"]) {
            let source = hx(&step["source"]);
            let event = hx(&step["event"]);
            let step_name = step["name"].as_str().unwrap();
            let decoded = doc.decode_all("EventSource", &source).unwrap();
            let contract: agora_contract::EventSource = borsh::from_slice(&source).unwrap();
            assert_same_variants(step_name, &decoded, &format!("{contract:?}"));
            let decoded = doc.decode_all("EscrowEvent", &event).unwrap();
            let contract: agora_contract::EscrowEvent = borsh::from_slice(&event).unwrap();
            assert_same_variants(step_name, &decoded, &format!("{contract:?}"));
            head = sha(&[&head, &source, &event]);
            assert_eq!(head.to_vec(), hx(&step["head"]), "{}", step["name"]);
        }
    }
    for vector in items(&file["assignment_ids"]) {
        let digest = sha(&[
            b"agora/assignment/v1\0",
            &hx(&vector["request_id"]),
            &hx(&vector["provider"]),
        ]);
        let mut id = digest[..16].to_vec();
        id[6] = (id[6] & 0x0f) | 0x80;
        id[8] = (id[8] & 0x3f) | 0x80;
        assert_eq!(id, hx(&vector["assignment_id"]));
    }
}

/// Every entry of every golden state has a key of the key table and a value of the type
/// that table names (or an empty value); value hashes, leaf hashes, buckets, every bucket
/// tree level, top-tree path and state root follow section 7; so do the hash, bucket,
/// list-root and empty-subtree vectors.
#[test]
fn wire_doc_recomputes_every_commitment_vector() {
    let doc = read_doc();
    let file = fixture("commitment.json");
    let mut empty = vec![[0u8; 32]];
    for k in 1..=16 {
        empty.push(node(&empty[k - 1], &empty[k - 1]));
    }
    let expected: Vec<Vec<u8>> = items(&file["constants"]["empty_subtree_roots"])
        .iter()
        .map(hx)
        .collect();
    assert_eq!(
        expected,
        empty.iter().map(|h| h.to_vec()).collect::<Vec<_>>()
    );
    for v in items(&file["value_hashes"]) {
        assert_eq!(sha(&[&hx(&v["value"])]).to_vec(), hx(&v["value_hash"]));
    }
    for v in items(&file["leaf_hashes"]) {
        let (key, value_hash) = (hx(&v["key"]), hx32(&v["value_hash"]));
        let mut preimage = vec![0u8];
        preimage.extend((key.len() as u32).to_le_bytes());
        preimage.extend(&key);
        preimage.extend(value_hash);
        assert_eq!(preimage, hx(&v["preimage"]));
        assert_eq!(leaf(&key, &value_hash).to_vec(), hx(&v["leaf_hash"]));
    }
    for v in items(&file["node_hashes"]) {
        let (left, right) = (hx32(&v["left"]), hx32(&v["right"]));
        assert_eq!([&[1u8][..], &left, &right].concat(), hx(&v["preimage"]));
        assert_eq!(node(&left, &right).to_vec(), hx(&v["node_hash"]));
    }
    for v in items(&file["buckets_of"]) {
        assert_eq!(
            u64::from(bucket_of(&hx(&v["key"]))),
            v["bucket"].as_u64().unwrap()
        );
    }
    for v in items(&file["list_roots"]) {
        let list: Vec<Vec<u8>> = items(&v["items"]).iter().map(hx).collect();
        let leaves: Vec<H> = list.iter().map(|item| list_leaf(item)).collect();
        let want: Vec<Vec<Vec<u8>>> = items(&v["levels"])
            .iter()
            .map(|level| items(level).iter().map(hx).collect())
            .collect();
        let got: Vec<Vec<Vec<u8>>> = levels(&leaves)
            .iter()
            .map(|level| level.iter().map(|h| h.to_vec()).collect())
            .collect();
        assert_eq!(got, want, "{}", v["name"]);
        assert_eq!(list_root(&list).to_vec(), hx(&v["root"]), "{}", v["name"]);
    }
    for state in items(&file["states"]) {
        let name = state["name"].as_str().unwrap();
        let entries: Vec<(Vec<u8>, Vec<u8>)> = items(&state["entries"])
            .iter()
            .map(|e| (hx(&e["key"]), hx(&e["value"])))
            .collect();
        for (e, (key, value)) in items(&state["entries"]).iter().zip(&entries) {
            let row = doc.key_row(key);
            match &row.value {
                Some(ty) => {
                    let decoded = doc
                        .decode_all(ty, value)
                        .unwrap_or_else(|err| panic!("{name} {}: {ty}: {err}", e["name"]));
                    assert_same_variants(ty, &decoded, &contract_debug(ty, value));
                }
                None => assert!(value.is_empty(), "{name} {}: empty value", e["name"]),
            }
            assert_eq!(u64::from(bucket_of(key)), e["bucket"].as_u64().unwrap());
            let value_hash = sha(&[value]);
            assert_eq!(value_hash.to_vec(), hx(&e["value_hash"]));
            assert_eq!(leaf(key, &value_hash).to_vec(), hx(&e["leaf_hash"]));
        }
        let tree = build_tree(&entries);
        assert_eq!(tree.heap[1].to_vec(), hx(&state["state_root"]), "{name}");
        let buckets = items(&state["buckets"]);
        assert_eq!(buckets.len(), tree.buckets.len(), "{name}");
        for (b, (bucket, leaves)) in buckets.iter().zip(&tree.buckets) {
            assert_eq!(u64::from(*bucket), b["bucket"].as_u64().unwrap(), "{name}");
            let keys: Vec<Vec<u8>> = items(&b["keys"]).iter().map(hx).collect();
            let sorted: Vec<Vec<u8>> = leaves.iter().map(|(k, _)| k.clone()).collect();
            assert_eq!(keys, sorted, "{name} bucket {bucket}: key order");
            let hashes: Vec<H> = leaves.iter().map(|(k, vh)| leaf(k, vh)).collect();
            let got: Vec<Vec<Vec<u8>>> = levels(&hashes)
                .iter()
                .map(|level| level.iter().map(|h| h.to_vec()).collect())
                .collect();
            let want: Vec<Vec<Vec<u8>>> = items(&b["levels"])
                .iter()
                .map(|level| items(level).iter().map(hx).collect())
                .collect();
            assert_eq!(got, want, "{name} bucket {bucket}: levels");
            let mut index = 65_536 + usize::from(*bucket);
            assert_eq!(tree.heap[index].to_vec(), hx(&b["root"]));
            let mut path = Vec::new();
            while index > 1 {
                index /= 2;
                path.push(tree.heap[index].to_vec());
            }
            let want: Vec<Vec<u8>> = items(&b["top_path"]).iter().map(hx).collect();
            assert_eq!(path, want, "{name} bucket {bucket}: top path");
        }
    }
    assert_eq!(
        file["states"][0]["state_root"].as_str().unwrap(),
        hex::encode(empty[16])
    );
}

/// Every golden proof decodes with the document's `StateProof` layout to the committed
/// decoded fields and verifies, by section 8, against the golden header (itself checked by
/// section 9) to the committed result, with the committed leaf hashes and bucket root.
#[test]
fn wire_doc_verifies_every_golden_proof() {
    let doc = read_doc();
    let header = proof_header(&doc);
    let root = header.field("state_root").hash();
    let file = fixture("proofs.json");
    assert_eq!(root.to_vec(), hx(&file["state_root"]));
    for v in items(&file["vectors"]) {
        let name = v["name"].as_str().unwrap();
        let bytes = hx(&v["proof"]);
        let proof = decode_proof(&doc, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let d = &v["decoded"];
        assert_eq!(
            u64::from(proof.count),
            d["bucket_leaf_count"].as_u64().unwrap()
        );
        let leaves: Vec<(u64, Vec<u8>, Vec<u8>)> = items(&d["leaves"])
            .iter()
            .map(|l| {
                (
                    l["index"].as_u64().unwrap(),
                    hx(&l["key"]),
                    hx(&l["value_hash"]),
                )
            })
            .collect();
        let got: Vec<(u64, Vec<u8>, Vec<u8>)> = proof
            .leaves
            .iter()
            .map(|(i, k, vh)| (u64::from(*i), k.clone(), vh.to_vec()))
            .collect();
        assert_eq!(got, leaves, "{name}");
        let hashes = |list: &Value| -> Vec<Vec<u8>> { items(list).iter().map(hx).collect() };
        let as_vecs = |list: &[H]| -> Vec<Vec<u8>> { list.iter().map(|h| h.to_vec()).collect() };
        assert_eq!(
            as_vecs(&proof.bucket_proof),
            hashes(&d["bucket_proof"]),
            "{name}"
        );
        assert_eq!(as_vecs(&proof.top_proof), hashes(&d["top_proof"]), "{name}");
        let leaf_hashes: Vec<H> = proof.leaves.iter().map(|(_, k, vh)| leaf(k, vh)).collect();
        assert_eq!(as_vecs(&leaf_hashes), hashes(&v["leaf_hashes"]), "{name}");

        let key = hx(&v["key"]);
        let (found, bucket_root) =
            verify(&root, &key, &proof).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(bucket_root.to_vec(), hx(&v["bucket_root"]), "{name}");
        assert_eq!(
            found.map(hex::encode),
            v["verified_value_hash"].as_str().map(str::to_string),
            "{name}"
        );
        let value = v["value"].as_str().map(|t| hex::decode(t).unwrap());
        assert!(
            accepts(&doc, &root, &key, value.as_deref(), &bytes),
            "{name}"
        );
    }
}

/// The golden headers decode with the document's `SignedHeader` layout and pass section
/// 9's check; their signing message, hash, roots and hook-events hash follow sections 7
/// and 9; receipts, hook events and one event of every kind decode with the document's
/// `Receipt` and `Event` layouts, each named by its variant.
#[test]
fn wire_doc_checks_every_golden_header_and_event() {
    let doc = read_doc();
    let file = fixture("headers.json");
    let trust = trust();
    let sequencer_seed: [u8; 32] = hx32(&file["sequencer_seed"]);
    assert_eq!(sequencer_seed, sha(&[b"agora-devnet-sequencer"]));
    let key = ed25519_dalek::SigningKey::from_bytes(&sequencer_seed);
    assert_eq!(key.verifying_key().to_bytes(), trust.sequencer);
    for v in items(&file["headers"]) {
        let name = v["name"].as_str().unwrap();
        let signed = hx(&v["signed_header_borsh"]);
        let header = check_header(&doc, &trust, &signed).unwrap_or_else(|e| panic!("{name}: {e}"));
        let header_bytes = hx(&v["header_borsh"]);
        doc.decode_all("Header", &header_bytes).unwrap();
        let mut message = b"agora/header/v1\0".to_vec();
        message.extend(&header_bytes);
        assert_eq!(message, hx(&v["signing_message"]), "{name}");
        assert_eq!(sha(&[&message]).to_vec(), hx(&v["hash"]), "{name}");
        let tx_hashes: Vec<Vec<u8>> = items(&v["tx_hashes"]).iter().map(hx).collect();
        let receipts: Vec<Vec<u8>> = items(&v["receipts"]).iter().map(hx).collect();
        assert_eq!(
            list_root(&tx_hashes),
            header.field("tx_root").hash(),
            "{name}"
        );
        assert_eq!(
            list_root(&receipts),
            header.field("receipts_root").hash(),
            "{name}"
        );
        assert_eq!(header.field("tx_count").uint() as usize, tx_hashes.len());
        for receipt in &receipts {
            let decoded = doc.decode_all("Receipt", receipt).unwrap();
            let contract: agora_contract::Receipt = borsh::from_slice(receipt).unwrap();
            assert_same_variants(name, &decoded, &format!("{contract:?}"));
        }
        let hook = hx(&v["hook_events"]);
        let mut r = Reader {
            bytes: &hook,
            at: 0,
        };
        doc.decode(&Ty::Vec(Box::new(Ty::Named("Event".into())), None), &mut r)
            .unwrap();
        assert_eq!(r.at, hook.len());
        assert_eq!(
            sha(&[&hook]),
            header.field("hook_events_hash").hash(),
            "{name}"
        );
        let fields = &v["fields"];
        assert_eq!(
            header.field("height").uint() as u64,
            fields["height"].as_u64().unwrap()
        );
        assert_eq!(
            header.field("state_root").hash().to_vec(),
            hx(&fields["state_root"])
        );
    }
    assert_eq!(
        hx(&file["headers"][1]["fields"]["prev_hash"]),
        hx(&file["headers"][0]["hash"])
    );
    for v in items(&file["events"]) {
        let bytes = hx(&v["event"]);
        let event = doc.decode_all("Event", &bytes).unwrap();
        assert_eq!(event.event_name(), v["name"].as_str().unwrap());
        let contract: agora_contract::Event = borsh::from_slice(&bytes).unwrap();
        assert_same_variants(&event.event_name(), &event, &format!("{contract:?}"));
    }
}

/// The document's verifier and the contract's agree on every one-byte change (XOR 0x01,
/// 0x80, 0xff) to every golden proof, and on every golden proof checked against every
/// other golden key's statement: the text of section 8 accepts and rejects exactly what
/// the code does on these inputs.
#[test]
fn wire_doc_verifier_agrees_with_the_contract_on_mutations() {
    let doc = read_doc();
    let header = proof_header(&doc);
    let root = header.field("state_root").hash();
    let file = fixture("proofs.json");
    /// (name, key, value, proof bytes).
    type Case = (String, Vec<u8>, Option<Vec<u8>>, Vec<u8>);
    let vectors: Vec<Case> = items(&file["vectors"])
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                hx(&v["key"]),
                v["value"].as_str().map(|t| hex::decode(t).unwrap()),
                hx(&v["proof"]),
            )
        })
        .collect();
    let contract = |key: &[u8], value: Option<&[u8]>, bytes: &[u8]| {
        StateProof::decode(bytes).is_ok_and(|p| p.verify_value(&root, key, value).is_ok())
    };
    let mut accepted = 0;
    for (name, key, value, bytes) in &vectors {
        for at in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut tampered = bytes.clone();
                tampered[at] ^= mask;
                assert_eq!(
                    accepts(&doc, &root, key, value.as_deref(), &tampered),
                    contract(key, value.as_deref(), &tampered),
                    "{name}: byte {at} ^ {mask:#04x}"
                );
            }
        }
        for (other, other_key, other_value, _) in &vectors {
            let mine = accepts(&doc, &root, other_key, other_value.as_deref(), bytes);
            assert_eq!(
                mine,
                contract(other_key, other_value.as_deref(), bytes),
                "proof {name} for the statement of {other}"
            );
            accepted += usize::from(mine);
        }
    }
    assert!(
        accepted > vectors.len(),
        "some proofs also prove a neighbour's statement"
    );
}

/// The document's header check and the contract's agree on every one-byte change to each
/// golden signed header (both reject all of them), and on the untouched headers (both
/// accept).
#[test]
fn wire_doc_header_check_agrees_with_the_contract_on_mutations() {
    let doc = read_doc();
    let trust = trust();
    let chain = Label::new(&trust.chain_id).unwrap();
    let sequencer = AccountId(trust.sequencer);
    let file = fixture("headers.json");
    for v in items(&file["headers"]) {
        let bytes = hx(&v["signed_header_borsh"]);
        let contract = |bytes: &[u8]| {
            borsh::from_slice::<SignedHeader>(bytes)
                .is_ok_and(|h| h.verify(&chain, &sequencer).is_ok())
        };
        assert!(contract(&bytes) && check_header(&doc, &trust, &bytes).is_ok());
        for at in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut tampered = bytes.clone();
                tampered[at] ^= mask;
                assert_eq!(
                    check_header(&doc, &trust, &tampered).is_ok(),
                    contract(&tampered),
                    "{}: byte {at} ^ {mask:#04x}",
                    v["name"]
                );
            }
        }
    }
}

/// Every fieldless enum's table names every Rust variant at the tag borsh gives it, so the
/// variants no golden vector happens to use are right too.
#[test]
fn wire_doc_fieldless_enums_match_the_contract() {
    use agora_contract::event::SettleCause;
    use agora_contract::market::{AssignmentStatus, OfferStatus, RequestStatus};
    use agora_contract::{Decision, EscrowStatus};
    let doc = read_doc();
    check_unit_enum(&doc, "Decision", &unit_variants!(Decision: Release, Refund));
    check_unit_enum(
        &doc,
        "EscrowStatus",
        &unit_variants!(EscrowStatus: Created, Funded, Completed, Disputed, Released, Refunded,
            Resolved, Expired),
    );
    check_unit_enum(
        &doc,
        "SettleCause",
        &unit_variants!(SettleCause: Approval, Arbitration, Deadline, DisputeDeadline, TimeLock,
            Sla),
    );
    check_unit_enum(
        &doc,
        "OfferStatus",
        &unit_variants!(OfferStatus: Open, Exhausted, Expired, Cancelled),
    );
    check_unit_enum(
        &doc,
        "RequestStatus",
        &unit_variants!(RequestStatus: Open, Filled, Expired, Cancelled),
    );
    check_unit_enum(
        &doc,
        "AssignmentStatus",
        &unit_variants!(AssignmentStatus: Assigned, Started, Submitted, Completed, SlaViolated,
            AwaitingDispute, DisputeSettled),
    );
}
