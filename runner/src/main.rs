//! `agora-runner`: the devnet node and its maintenance commands.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use agora_runner::genesis::{
    dev_accounts, devnet_genesis, devnet_sequencer_key, GenesisDoc, DEV_ACCOUNTS,
};
use agora_runner::node::{BlockMode, Node, NodeConfig};
use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: the sequencer and the admission pool
/// allocate per transaction, and glibc's malloc and free were ~10 % of their CPU at 10^6
/// accounts.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "agora-runner",
    version,
    about = "The Agora single-sequencer node"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a devnet: deterministic sequencer key, 10 prefunded dev accounts, dev controls.
    Devnet(DevnetArgs),
    /// Re-execute a data dir's chain from genesis and check every stored root.
    Replay {
        #[arg(long, default_value = ".agora-devnet")]
        data_dir: PathBuf,
    },
    /// Print the devnet's default genesis document.
    Genesis {
        /// Genesis time in unix milliseconds (default: now).
        #[arg(long)]
        time_ms: Option<u64>,
    },
}

#[derive(clap::Args)]
struct DevnetArgs {
    /// Where the chain is stored.
    #[arg(long, default_value = ".agora-devnet")]
    data_dir: PathBuf,
    /// HTTP listen address.
    #[arg(long, default_value = "127.0.0.1:8545")]
    http: SocketAddr,
    /// Block interval in milliseconds.
    #[arg(long, default_value_t = 500, conflicts_with_all = ["instant", "manual"])]
    block_time_ms: u64,
    /// Produce a block as soon as transactions wait.
    #[arg(long, conflicts_with = "manual")]
    instant: bool,
    /// Produce blocks only on POST /v1/dev/mine.
    #[arg(long)]
    manual: bool,
    /// Genesis file for a new data dir (default: the devnet genesis).
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Delete the data dir first.
    #[arg(long)]
    reset: bool,
    /// File holding the sequencer's ed25519 secret seed as 64 hex characters (default:
    /// the devnet's deterministic key, which must then be the genesis sequencer).
    #[arg(long)]
    sequencer_key: Option<PathBuf>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Devnet(args) => devnet(args),
        Command::Replay { data_dir } => {
            let started = Instant::now();
            let report = agora_runner::replay::replay(&data_dir)?;
            println!(
                "replayed {} blocks (head {}) in {:.2} s; final state root {}",
                report.blocks_checked,
                report.head,
                started.elapsed().as_secs_f64(),
                hex::encode(report.final_state_root)
            );
            if report.mismatches.is_empty() {
                println!("every stored root matches the replay");
                Ok(())
            } else {
                for (height, what) in &report.mismatches {
                    println!("MISMATCH at height {height}: {what}");
                }
                anyhow::bail!("{} mismatches", report.mismatches.len())
            }
        }
        Command::Genesis { time_ms } => {
            let doc = devnet_genesis(time_ms.unwrap_or_else(now_ms));
            println!("{}", String::from_utf8_lossy(&doc.to_json()));
            Ok(())
        }
    }
}

fn devnet(args: DevnetArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    if args.reset && args.data_dir.exists() {
        std::fs::remove_dir_all(&args.data_dir)?;
    }
    let genesis = match &args.genesis {
        Some(path) => GenesisDoc::from_json(&std::fs::read(path)?)?,
        None => devnet_genesis(now_ms()),
    };
    let mut config = NodeConfig::devnet(args.data_dir.clone());
    config.mode = if args.instant {
        BlockMode::Instant
    } else if args.manual {
        BlockMode::Manual
    } else {
        BlockMode::Interval {
            block_time_ms: args.block_time_ms,
        }
    };
    let key = match &args.sequencer_key {
        None => devnet_sequencer_key(),
        Some(path) => {
            let text = std::fs::read_to_string(path)?;
            let seed: [u8; 32] = hex::decode(text.trim())
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or_else(|| anyhow::anyhow!("{} must hold 64 hex characters", path.display()))?;
            ed25519_dalek::SigningKey::from_bytes(&seed)
        }
    };
    let node = Node::start(config, genesis, key)?;
    let accounts = dev_accounts(DEV_ACCOUNTS);
    std::fs::write(
        args.data_dir.join("dev-accounts.json"),
        serde_json::to_vec_pretty(&accounts)?,
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.http).await?;
        let address = listener.local_addr()?;
        println!("Agora devnet — chain {}", node.chain_id);
        println!("sequencer {}", hex::encode(node.sequencer_id.0));
        println!("data dir  {}", args.data_dir.display());
        println!(
            "dev accounts (also in {}):",
            args.data_dir.join("dev-accounts.json").display()
        );
        for account in &accounts {
            println!(
                "  [{}] account {}  secret {}",
                account.index, account.account, account.secret_key
            );
        }
        println!(
            "listening on http://{address}  (height {}, ready in {} ms)",
            node.height(),
            started.elapsed().as_millis()
        );
        tracing::info!(%address, height = node.height(), "devnet ready");
        let app = agora_runner::api::router(node.clone());
        // Connection limits and timeouts against slow or stalled clients (api/serve.rs).
        let limits = agora_runner::api::ServeLimits::default();
        agora_runner::api::serve(listener, app, limits, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        node.shutdown();
        anyhow::Ok(())
    })
}
