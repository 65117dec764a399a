//! `agora`: the command-line client. Every command takes `--node`, `--key FILE` or
//! `--dev N`, `--json`, and state-changing commands take `--wait` to block until the
//! receipt is committed. Errors print the typed code and exit non-zero.

use std::path::PathBuf;

use agora_contract::action::{CreateEscrow, PostRequest};
use agora_contract::bounded::{BoundedVec, Cid, Label};
use agora_contract::commit::StateProof;
use agora_contract::escrow::{Decision, EscrowKind, Outcome};
use agora_contract::header::SignedHeader;
use agora_contract::ids::{sha256, AccountId, Hash, Uuid};
use agora_contract::market::privacy::Privacy;
use agora_contract::market::{QualityMin, QualityScore, Sla, TaskSpec};
use agora_contract::state::keys;
use agora_contract::tx::SignedTx;
use agora_contract::Amount;
use agora_sdk::client::DEFAULT_NODE;
use agora_sdk::keys::parse_account;
use agora_sdk::{payload, Chain, Client, Keypair, LightClient, ProvenValue};
use clap::{Args, Parser, Subcommand};
use futures_util::StreamExt;
use serde_json::{json, Value};

#[derive(Parser)]
#[command(
    name = "agora",
    version,
    about = "Agora client: keys, transactions, queries and proofs"
)]
struct Cli {
    /// Node URL.
    #[arg(long, global = true, default_value = DEFAULT_NODE, env = "AGORA_NODE")]
    node: String,
    /// Key file to sign with.
    #[arg(long, global = true, conflicts_with = "dev")]
    key: Option<PathBuf>,
    /// Sign with devnet dev account N.
    #[arg(long, global = true)]
    dev: Option<u64>,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Wait until the transaction is committed and print its receipt.
    #[arg(long, global = true)]
    wait: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Key management.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Move funds.
    Transfer {
        #[arg(long)]
        to: String,
        #[arg(long)]
        amount: u64,
    },
    /// Escrow actions and queries.
    #[command(subcommand)]
    Escrow(EscrowCommand),
    /// Compute-market actions and queries.
    #[command(subcommand)]
    Market(MarketCommand),
    /// A block: `latest` (default) or a height.
    Block { which: Option<String> },
    /// A transaction's status and receipt.
    Tx { hash: String },
    /// An account's balances and nonce.
    Account { pubkey: String },
    /// Fetch or verify state proofs.
    #[command(subcommand)]
    Proof(ProofCommand),
    /// Follow the node's event stream.
    Events {
        #[arg(long)]
        from: Option<u64>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Generate a key and save it (mode 0600).
    New {
        #[arg(long)]
        out: PathBuf,
    },
    /// Show the account of --key or --dev.
    Show,
    /// Show devnet dev account N with its (public) secret key.
    Dev { index: u64 },
}

#[derive(Args)]
struct CreateArgs {
    #[arg(long)]
    provider: String,
    #[arg(long)]
    amount: u64,
    /// Client-chosen escrow id (default: a new random UUID).
    #[arg(long)]
    id: Option<Uuid>,
    /// single | both | arbitrators | timelocked
    #[arg(long, default_value = "single")]
    kind: String,
    /// Arbitrator account (repeat).
    #[arg(long = "arbitrator")]
    arbitrators: Vec<String>,
    /// Approvals needed for `arbitrators` escrows.
    #[arg(long, default_value_t = 1)]
    required: u8,
    /// For `timelocked`: release allowed this many ms after now.
    #[arg(long, default_value_t = 0)]
    release_after_ms: u64,
    /// Deadline as ms from now.
    #[arg(long, default_value_t = 86_400_000)]
    deadline_in_ms: u64,
    #[arg(long)]
    dispute_window_ms: Option<u64>,
    /// Free text whose sha256 is the job reference.
    #[arg(long, default_value = "")]
    job: String,
    /// Fund in the same transaction.
    #[arg(long)]
    fund: bool,
}

#[derive(Subcommand)]
enum EscrowCommand {
    Create(CreateArgs),
    Fund {
        id: Uuid,
    },
    /// The provider marks the work completed (result = sha256 of --result).
    Complete {
        id: Uuid,
        #[arg(long, default_value = "")]
        result: String,
    },
    /// release | refund
    Approve {
        id: Uuid,
        decision: String,
    },
    Dispute {
        id: Uuid,
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long = "evidence")]
        evidence: Vec<String>,
    },
    Evidence {
        id: Uuid,
        cid: String,
    },
    /// release | refund | split:<provider bps>
    Resolve {
        id: Uuid,
        outcome: String,
    },
    /// The escrow; with --prove, verified against the signed header.
    Show {
        id: Uuid,
        #[arg(long)]
        prove: bool,
        #[arg(long)]
        height: Option<u64>,
        #[arg(long)]
        sequencer: Option<String>,
    },
}

#[derive(Args)]
struct RequestArgs {
    #[arg(long)]
    task_type: String,
    #[arg(long)]
    bid: u64,
    #[arg(long, default_value_t = 1)]
    units: u64,
    #[arg(long)]
    id: Option<Uuid>,
    #[arg(long = "capability")]
    capabilities: Vec<String>,
    #[arg(long)]
    min_reputation: Option<u16>,
    #[arg(long, default_value_t = 3_600_000)]
    max_duration_ms: u64,
    #[arg(long)]
    window_ms: Option<u64>,
    #[arg(long = "arbitrator")]
    arbitrators: Vec<String>,
    #[arg(long, default_value_t = 60_000)]
    sla_response_ms: u64,
    #[arg(long, default_value_t = 1_800_000)]
    sla_duration_ms: u64,
    /// Quality minimum `metric=bps` (repeat).
    #[arg(long = "quality-min")]
    quality_min: Vec<String>,
    #[arg(long, default_value_t = 0)]
    penalty: u64,
    #[arg(long, default_value_t = 3_600_000)]
    review_window_ms: u64,
    /// Task payload (public unless --private-to or --confidential).
    #[arg(long, default_value = "")]
    payload: String,
    /// Encrypt the payload to these providers only (repeat).
    #[arg(long = "private-to")]
    private_to: Vec<String>,
    /// Store only a commitment; deliver with `market deliver`.
    #[arg(long)]
    confidential: bool,
}

#[derive(Subcommand)]
enum MarketCommand {
    Register {
        #[arg(long = "capability")]
        capabilities: Vec<String>,
    },
    Offer {
        #[arg(long)]
        id: Option<Uuid>,
        #[arg(long = "task-type")]
        task_types: Vec<String>,
        #[arg(long)]
        ask: u64,
        #[arg(long)]
        capacity: u64,
        #[arg(long, default_value_t = 86_400_000)]
        expires_in_ms: u64,
    },
    Request(RequestArgs),
    Accept {
        request: Uuid,
        #[arg(long)]
        ask: u64,
    },
    Start {
        assignment: Uuid,
    },
    Submit {
        assignment: Uuid,
        #[arg(long, default_value = "")]
        result: String,
    },
    /// Scores `metric=bps` (repeat).
    Rate {
        assignment: Uuid,
        #[arg(long = "score")]
        scores: Vec<String>,
    },
    /// Deliver a confidential payload to the assigned provider.
    Deliver {
        assignment: Uuid,
        #[arg(long)]
        payload: String,
    },
    /// offer | request
    Cancel {
        what: String,
        id: Uuid,
    },
    Prices {
        task_type: String,
    },
    /// request | offer | assignment | provider
    Show {
        what: String,
        id: String,
    },
}

#[derive(Subcommand)]
enum ProofCommand {
    /// Fetch a proof for a raw key (hex) or an escrow, verify it, and print or save it.
    Get {
        key: Option<String>,
        #[arg(long)]
        escrow: Option<Uuid>,
        #[arg(long)]
        height: Option<u64>,
        /// Write the proof file here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify a proof file against a sequencer key without asking any node.
    Verify {
        file: PathBuf,
        #[arg(long)]
        sequencer: String,
        #[arg(long, default_value = "agora-devnet")]
        chain_id: String,
    },
}

fn label(text: &str) -> anyhow::Result<Label> {
    Label::new(text)
        .ok_or_else(|| anyhow::anyhow!("{text:?} must be 1–32 characters of [a-z0-9_-]"))
}

fn labels<const N: u32>(items: &[String]) -> anyhow::Result<BoundedVec<Label, N>> {
    let mut parsed = items
        .iter()
        .map(|item| label(item))
        .collect::<anyhow::Result<Vec<_>>>()?;
    parsed.sort();
    parsed.dedup();
    BoundedVec::new(parsed).map_err(|_| anyhow::anyhow!("at most {N} entries"))
}

fn accounts<const N: u32>(items: &[String]) -> anyhow::Result<BoundedVec<AccountId, N>> {
    let mut parsed = items
        .iter()
        .map(|item| parse_account(item))
        .collect::<Result<Vec<_>, _>>()?;
    parsed.sort();
    parsed.dedup();
    BoundedVec::new(parsed).map_err(|_| anyhow::anyhow!("at most {N} accounts"))
}

fn metric_pairs(items: &[String]) -> anyhow::Result<Vec<(Label, u16)>> {
    let mut pairs = items
        .iter()
        .map(|item| {
            let (metric, bps) = item
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("{item:?} must be metric=bps"))?;
            Ok((label(metric)?, bps.parse::<u16>()?))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    pairs.sort();
    Ok(pairs)
}

fn text_hash(text: &str) -> Hash {
    sha256(&[text.as_bytes()])
}

/// "Now" for relative times: the latest block's time (the chain's clock, which a devnet
/// may have moved ahead of the wall clock), or the wall clock if that is later.
async fn chain_now_ms(client: &Client) -> anyhow::Result<u64> {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Ok(client.header(None).await?.header.time_ms.max(wall))
}

struct Context {
    client: Client,
    json: bool,
    wait: bool,
    key: Option<Keypair>,
}

impl Context {
    fn key(&self) -> anyhow::Result<Keypair> {
        self.key
            .clone()
            .ok_or_else(|| anyhow::anyhow!("this command signs: pass --key FILE or --dev N"))
    }

    fn print(&self, value: &Value, text: impl FnOnce() -> String) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        } else {
            println!("{}", text());
        }
    }

    /// Signs `build`'s action with the key's next nonce, submits it, and prints the hash
    /// or (with --wait) the receipt. A failed action exits non-zero with its code.
    async fn send(
        &self,
        build: impl FnOnce(&mut agora_sdk::TxBuilder) -> SignedTx,
        extra: Value,
    ) -> anyhow::Result<()> {
        let mut builder = self.client.builder(self.key()?).await?;
        let tx = build(&mut builder);
        let action = tx.tx.action.name();
        if !self.wait {
            let hash = self.client.submit(&tx).await?;
            let value = json!({ "hash": hex::encode(hash), "status": "pending", "action": action, "details": extra });
            self.print(&value, || {
                format!("submitted {action} {}", hex::encode(hash))
            });
            return Ok(());
        }
        let committed = self.client.submit_and_wait(&tx).await?;
        let value = json!({
            "hash": hex::encode(committed.hash),
            "status": "committed",
            "action": action,
            "height": committed.height,
            "index": committed.index,
            "success": committed.success(),
            "error": committed.error().map(|e| json!({ "code": e.code(), "name": e.name(), "message": e.to_string() })),
            "events": agora_sdk_json(&committed.receipt.events),
            "details": extra,
        });
        self.print(&value, || match committed.error() {
            None => format!(
                "committed {action} {} at height {}",
                hex::encode(committed.hash),
                committed.height
            ),
            Some(error) => format!(
                "{action} failed at height {}: {} ({}): {error}",
                committed.height,
                error.name(),
                error.code()
            ),
        });
        if let Some(error) = committed.error() {
            std::process::exit(i32::from(error.code() % 256).max(1));
        }
        Ok(())
    }
}

/// A contract value as JSON, as the node's API writes it: the contract's `serde` feature
/// makes every byte string (account ids, hashes, payloads) a lowercase hex string.
fn agora_sdk_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let json = cli.json;
    if let Err(error) = run(cli).await {
        let code = error
            .downcast_ref::<agora_sdk::Error>()
            .and_then(agora_sdk::Error::code);
        if json {
            println!("{}", json!({ "error": error.to_string(), "code": code }));
        } else {
            match code {
                Some(code) => eprintln!("error {code}: {error}"),
                None => eprintln!("error: {error}"),
            }
        }
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let key = match (&cli.key, cli.dev) {
        (Some(path), _) => Some(Keypair::load(path)?),
        (None, Some(index)) => Some(Keypair::dev(index)),
        (None, None) => None,
    };
    let ctx = Context {
        client: Client::new(&cli.node),
        json: cli.json,
        wait: cli.wait,
        key,
    };
    match cli.command {
        Command::Keys(command) => keys(&ctx, command),
        Command::Transfer { to, amount } => {
            let to = parse_account(&to)?;
            ctx.send(|b| b.transfer(to, amount), Value::Null).await
        }
        Command::Escrow(command) => escrow(&ctx, command).await,
        Command::Market(command) => market(&ctx, command).await,
        Command::Block { which } => {
            let height = match which.as_deref() {
                None | Some("latest") => None,
                Some(text) => Some(text.parse::<u64>()?),
            };
            let block = ctx.client.block(height).await?;
            ctx.print(&block, || {
                serde_json::to_string_pretty(&block).unwrap_or_default()
            });
            Ok(())
        }
        Command::Tx { hash } => {
            let hash: [u8; 32] = hex::decode(&hash)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| anyhow::anyhow!("hash must be 64 hex characters"))?;
            let view = ctx.client.tx(&hash).await?;
            ctx.print(&view, || {
                serde_json::to_string_pretty(&view).unwrap_or_default()
            });
            Ok(())
        }
        Command::Account { pubkey } => {
            let id = parse_account(&pubkey)?;
            let view = ctx
                .client
                .get_json(&format!("/v1/accounts/{}", hex::encode(id.0)))
                .await?;
            ctx.print(&view, || {
                format!(
                    "account {}\navailable {}\nlocked    {}\nnonce     {}",
                    hex::encode(id.0),
                    view["available"],
                    view["locked"],
                    view["nonce"]
                )
            });
            Ok(())
        }
        Command::Proof(command) => proof(&ctx, command).await,
        Command::Events { from } => {
            let mut stream = Box::pin(ctx.client.events(from, None).await?);
            while let Some(event) = stream.next().await {
                let event = event?;
                let value = json!({ "kind": event.kind, "id": event.id, "data": event.data });
                ctx.print(&value, || {
                    format!(
                        "{} {} {}",
                        event.kind,
                        event.id.clone().unwrap_or_default(),
                        event.data
                    )
                });
            }
            Ok(())
        }
    }
}

fn keys(ctx: &Context, command: KeysCommand) -> anyhow::Result<()> {
    let (pair, secret) = match command {
        KeysCommand::New { out } => {
            let pair = Keypair::generate();
            pair.save(&out)?;
            (pair, false)
        }
        KeysCommand::Show => (ctx.key()?, false),
        KeysCommand::Dev { index } => (Keypair::dev(index), true),
    };
    let mut value = json!({ "account": hex::encode(pair.account().0) });
    if secret {
        value["secret_key"] = json!(hex::encode(pair.seed()));
    }
    ctx.print(&value, || {
        if secret {
            format!(
                "account {}\nsecret  {} (devnet only)",
                hex::encode(pair.account().0),
                hex::encode(pair.seed())
            )
        } else {
            format!("account {}", hex::encode(pair.account().0))
        }
    });
    Ok(())
}

async fn escrow(ctx: &Context, command: EscrowCommand) -> anyhow::Result<()> {
    match command {
        EscrowCommand::Create(args) => {
            let id = args.id.unwrap_or_else(agora_sdk::txs::new_id);
            let now = chain_now_ms(&ctx.client).await?;
            let kind = match args.kind.as_str() {
                "single" => EscrowKind::Single,
                "both" => EscrowKind::BothParties,
                "arbitrators" => EscrowKind::Arbitrators {
                    required: args.required,
                    total: u8::try_from(args.arbitrators.len())?,
                },
                "timelocked" => EscrowKind::TimeLocked {
                    release_after_ms: now.saturating_add(args.release_after_ms),
                },
                other => anyhow::bail!(
                    "unknown escrow kind {other:?} (single, both, arbitrators, timelocked)"
                ),
            };
            let create = CreateEscrow {
                id,
                provider: parse_account(&args.provider)?,
                amount: Amount(args.amount),
                kind,
                arbitrators: accounts(&args.arbitrators)?,
                deadline_ms: now.saturating_add(args.deadline_in_ms),
                dispute_window_ms: args.dispute_window_ms,
                job_ref: text_hash(&args.job),
                fund: args.fund,
            };
            ctx.send(|b| b.create_escrow(create), json!({ "id": id.to_string() }))
                .await
        }
        EscrowCommand::Fund { id } => ctx.send(|b| b.fund_escrow(id), Value::Null).await,
        EscrowCommand::Complete { id, result } => {
            ctx.send(|b| b.mark_completed(id, text_hash(&result)), Value::Null)
                .await
        }
        EscrowCommand::Approve { id, decision } => {
            let decision = match decision.as_str() {
                "release" => Decision::Release,
                "refund" => Decision::Refund,
                other => anyhow::bail!("decision {other:?} must be release or refund"),
            };
            ctx.send(|b| b.approve(id, decision), Value::Null).await
        }
        EscrowCommand::Dispute {
            id,
            reason,
            evidence,
        } => {
            let cids = evidence
                .iter()
                .map(|cid| Cid::new(cid).ok_or_else(|| anyhow::anyhow!("bad evidence CID {cid:?}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let cids = BoundedVec::new(cids).map_err(|_| anyhow::anyhow!("too much evidence"))?;
            ctx.send(
                |b| b.raise_dispute(id, text_hash(&reason), cids),
                Value::Null,
            )
            .await
        }
        EscrowCommand::Evidence { id, cid } => {
            let cid = Cid::new(&cid).ok_or_else(|| anyhow::anyhow!("bad evidence CID {cid:?}"))?;
            ctx.send(|b| b.add_evidence(id, cid), Value::Null).await
        }
        EscrowCommand::Resolve { id, outcome } => {
            let outcome = match outcome.as_str() {
                "release" => Outcome::Release,
                "refund" => Outcome::Refund,
                other => match other.strip_prefix("split:") {
                    Some(bps) => Outcome::Split {
                        provider_bps: bps.parse()?,
                    },
                    None => {
                        anyhow::bail!("outcome {other:?} must be release, refund or split:<bps>")
                    }
                },
            };
            ctx.send(|b| b.resolve(id, outcome), Value::Null).await
        }
        EscrowCommand::Show {
            id,
            prove,
            height,
            sequencer,
        } => {
            if !prove && height.is_none() {
                let view = ctx.client.get_json(&format!("/v1/escrows/{id}")).await?;
                ctx.print(&view, || {
                    serde_json::to_string_pretty(&view).unwrap_or_default()
                });
                return Ok(());
            }
            let proven = ctx.client.prove(&keys::escrow(&id), height).await?;
            let light = light_client(ctx, sequencer.as_deref()).await?;
            let escrow = light.verify_escrow(&id, &proven)?;
            let value = json!({
                "verified": true,
                "height": proven.height,
                "state_root": hex::encode(proven.header.header.state_root),
                "escrow": escrow.as_ref().map(agora_sdk_json),
            });
            ctx.print(&value, || match &escrow {
                Some(escrow) => format!(
                    "verified at height {}: escrow {id} is {:?}, held {}, amount {}",
                    proven.height, escrow.status, escrow.held.0, escrow.amount.0
                ),
                None => format!(
                    "verified at height {}: escrow {id} does not exist",
                    proven.height
                ),
            });
            Ok(())
        }
    }
}

/// The light client: the sequencer key from --sequencer, else the one the node reports
/// (trust on first use; pass --sequencer to trust only the genesis key).
async fn light_client(ctx: &Context, sequencer: Option<&str>) -> anyhow::Result<LightClient> {
    let sequencer = match sequencer {
        Some(text) => parse_account(text)?,
        None => ctx.client.sequencer().await?,
    };
    Ok(LightClient::new(ctx.client.chain_id().await?, sequencer))
}

async fn market(ctx: &Context, command: MarketCommand) -> anyhow::Result<()> {
    match command {
        MarketCommand::Register { capabilities } => {
            let caps = labels(&capabilities)?;
            ctx.send(|b| b.register_provider(caps), Value::Null).await
        }
        MarketCommand::Offer {
            id,
            task_types,
            ask,
            capacity,
            expires_in_ms,
        } => {
            let id = id.unwrap_or_else(agora_sdk::txs::new_id);
            let types = labels(&task_types)?;
            let expires = chain_now_ms(&ctx.client)
                .await?
                .saturating_add(expires_in_ms);
            ctx.send(
                |b| b.post_offer(id, types, ask, capacity, expires),
                json!({ "id": id.to_string() }),
            )
            .await
        }
        MarketCommand::Request(args) => {
            let id = args.id.unwrap_or_else(agora_sdk::txs::new_id);
            let privacy = if args.confidential {
                Privacy::Confidential {
                    commitment: payload::commitment(args.payload.as_bytes()),
                }
            } else if !args.private_to.is_empty() {
                let providers = args
                    .private_to
                    .iter()
                    .map(|p| parse_account(p))
                    .collect::<Result<Vec<_>, _>>()?;
                payload::private_for(&providers, args.payload.as_bytes())?
            } else {
                Privacy::Public {
                    payload: BoundedVec::new(args.payload.clone().into_bytes())
                        .map_err(|_| anyhow::anyhow!("payload too large"))?,
                }
            };
            let quality_min = metric_pairs(&args.quality_min)?
                .into_iter()
                .map(|(metric, min_bps)| QualityMin { metric, min_bps })
                .collect();
            let post = PostRequest {
                id,
                spec: TaskSpec {
                    task_type: label(&args.task_type)?,
                    capabilities: labels(&args.capabilities)?,
                    min_reputation: args.min_reputation,
                    max_duration_ms: args.max_duration_ms,
                },
                bid_per_unit: Amount(args.bid),
                units: args.units,
                window_ms: args.window_ms,
                arbitrators: accounts(&args.arbitrators)?,
                sla: Sla {
                    max_response_ms: args.sla_response_ms,
                    max_duration_ms: args.sla_duration_ms,
                    quality_min: BoundedVec::new(quality_min)
                        .map_err(|_| anyhow::anyhow!("too many quality minimums"))?,
                    penalty: Amount(args.penalty),
                    review_window_ms: args.review_window_ms,
                },
                privacy,
            };
            ctx.send(|b| b.post_request(post), json!({ "id": id.to_string() }))
                .await
        }
        MarketCommand::Accept { request, ask } => {
            let provider = ctx.key()?.account();
            let assignment = agora_contract::market::assignment_id(&request, &provider);
            ctx.send(
                |b| b.accept_request(request, ask),
                json!({ "assignment": assignment.to_string() }),
            )
            .await
        }
        MarketCommand::Start { assignment } => {
            ctx.send(|b| b.start_task(assignment), Value::Null).await
        }
        MarketCommand::Submit { assignment, result } => {
            ctx.send(
                |b| b.submit_result(assignment, text_hash(&result)),
                Value::Null,
            )
            .await
        }
        MarketCommand::Rate { assignment, scores } => {
            let scores = metric_pairs(&scores)?
                .into_iter()
                .map(|(metric, score_bps)| QualityScore { metric, score_bps })
                .collect();
            let scores = BoundedVec::new(scores).map_err(|_| anyhow::anyhow!("too many scores"))?;
            ctx.send(|b| b.rate_result(assignment, scores), Value::Null)
                .await
        }
        MarketCommand::Deliver {
            assignment,
            payload: text,
        } => {
            let record = ctx
                .client
                .assignment(&assignment)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no assignment {assignment}"))?;
            let sealed = payload::seal(&record.provider, text.as_bytes())?;
            ctx.send(|b| b.deliver_payload(assignment, sealed), Value::Null)
                .await
        }
        MarketCommand::Cancel { what, id } => match what.as_str() {
            "offer" => ctx.send(|b| b.cancel_offer(id), Value::Null).await,
            "request" => ctx.send(|b| b.cancel_request(id), Value::Null).await,
            other => anyhow::bail!("cancel {other:?}: expected offer or request"),
        },
        MarketCommand::Prices { task_type } => {
            let view = ctx
                .client
                .get_json(&format!("/v1/market/prices/{task_type}"))
                .await?;
            ctx.print(&view, || {
                serde_json::to_string_pretty(&view).unwrap_or_default()
            });
            Ok(())
        }
        MarketCommand::Show { what, id } => {
            let path = match what.as_str() {
                "request" => format!("/v1/market/requests/{id}"),
                "offer" => format!("/v1/market/offers/{id}"),
                "assignment" => format!("/v1/market/assignments/{id}"),
                "provider" => format!("/v1/market/providers/{id}"),
                other => {
                    anyhow::bail!("show {other:?}: expected request, offer, assignment or provider")
                }
            };
            let view = ctx.client.get_json(&path).await?;
            ctx.print(&view, || {
                serde_json::to_string_pretty(&view).unwrap_or_default()
            });
            Ok(())
        }
    }
}

/// A proof file: everything `agora proof verify` needs, all hex.
fn proof_file(proven: &ProvenValue) -> Value {
    json!({
        "version": 1,
        "key": hex::encode(&proven.key),
        "height": proven.height,
        "value": proven.value.as_ref().map(hex::encode),
        "proof": hex::encode(proven.proof.to_bytes()),
        "signed_header": hex::encode(borsh::to_vec(&proven.header).unwrap_or_default()),
    })
}

fn read_proof_file(value: &Value) -> anyhow::Result<ProvenValue> {
    let field = |name: &str| -> anyhow::Result<Vec<u8>> {
        let text = value[name]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("proof file lacks {name}"))?;
        Ok(hex::decode(text)?)
    };
    Ok(ProvenValue {
        key: field("key")?,
        height: value["height"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("proof file lacks height"))?,
        value: match &value["value"] {
            Value::Null => None,
            _ => Some(field("value")?),
        },
        proof: StateProof::decode(&field("proof")?)?,
        header: borsh::from_slice::<SignedHeader>(&field("signed_header")?)?,
    })
}

async fn proof(ctx: &Context, command: ProofCommand) -> anyhow::Result<()> {
    match command {
        ProofCommand::Get {
            key,
            escrow,
            height,
            out,
        } => {
            let key = match (key, escrow) {
                (Some(hex_key), None) => hex::decode(hex_key)?,
                (None, Some(id)) => keys::escrow(&id),
                _ => anyhow::bail!("give a KEY (hex) or --escrow ID"),
            };
            let proven = ctx.client.prove(&key, height).await?;
            light_client(ctx, None).await?.verify(&proven)?;
            let file = proof_file(&proven);
            if let Some(path) = &out {
                std::fs::write(path, serde_json::to_vec_pretty(&file)?)?;
            }
            ctx.print(&file, || {
                format!(
                    "key {} at height {}: {} ({} proof bytes){}",
                    hex::encode(&proven.key),
                    proven.height,
                    match &proven.value {
                        Some(value) => format!("present, {} value bytes", value.len()),
                        None => "absent".into(),
                    },
                    proven.proof.to_bytes().len(),
                    out.as_ref()
                        .map(|p| format!(", written to {}", p.display()))
                        .unwrap_or_default()
                )
            });
            Ok(())
        }
        ProofCommand::Verify {
            file,
            sequencer,
            chain_id,
        } => {
            let value: Value = serde_json::from_slice(&std::fs::read(&file)?)?;
            let proven = read_proof_file(&value)?;
            let light = LightClient::new(label(&chain_id)?, parse_account(&sequencer)?);
            light.verify(&proven)?;
            let escrow = if proven.key.first() == Some(&keys::NS_ESCROW) {
                proven.value.as_ref().and_then(|bytes| {
                    borsh::from_slice::<agora_contract::escrow::Escrow>(bytes).ok()
                })
            } else {
                None
            };
            let result = json!({
                "verified": true,
                "height": proven.height,
                "key": hex::encode(&proven.key),
                "present": proven.value.is_some(),
                "escrow": escrow.as_ref().map(agora_sdk_json),
            });
            ctx.print(&result, || match &escrow {
                Some(escrow) => format!(
                    "OK: escrow {} is {:?} at height {} (state root {})",
                    escrow.id,
                    escrow.status,
                    proven.height,
                    hex::encode(proven.header.header.state_root)
                ),
                None => format!(
                    "OK: key {} is {} at height {}",
                    hex::encode(&proven.key),
                    if proven.value.is_some() {
                        "present"
                    } else {
                        "absent"
                    },
                    proven.height
                ),
            });
            Ok(())
        }
    }
}
