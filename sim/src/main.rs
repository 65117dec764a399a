//! `agora-sim`: runs the market simulation (on the in-process test chain, or against a
//! running devnet with `--node`), shows a progress bar, prints the report's figures and
//! writes `report.json`, `records.json` and the SVG plots into `--out`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use agora_sdk::{Chain, Client};
use agora_sim::{metrics, plots, report, run, run_on_test_chain, Outcome, Progress, SimConfig};
use anyhow::{Context, Result};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

/// A seeded economic simulation of Agora's compute market.
#[derive(Debug, Parser)]
#[command(name = "agora-sim", version)]
struct Args {
    /// Seed of every random draw: the same seed gives the same transactions and, on the
    /// test chain, the same final state root.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Rounds in which requesters post (one block of 30 s each); the run then drains until
    /// every request closed and every assignment settled.
    #[arg(long, default_value_t = 240)]
    rounds: u32,
    #[arg(long, default_value_t = 12)]
    requesters: u32,
    #[arg(long, default_value_t = 24)]
    providers: u32,
    /// Most rounds to drain after posting stops.
    #[arg(long, default_value_t = 240)]
    drain_max: u32,
    /// Where to write the report and plots.
    #[arg(long, default_value = "sim-out")]
    out: PathBuf,
    /// Drive a running devnet at this URL (e.g. http://127.0.0.1:8545) instead of the
    /// in-process test chain. Needs its dev controls; dev account 0 mints the budgets.
    #[arg(long)]
    node: Option<String>,
}

fn progress_bar(rounds: u32) -> ProgressBar {
    let bar = ProgressBar::new(u64::from(rounds));
    let style = ProgressStyle::with_template(
        "{spinner} {msg:9} round {pos}/{len} [{bar:40}] {elapsed_precise}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message("trading");
    bar
}

fn tick(bar: &ProgressBar, progress: Progress) {
    if progress.draining {
        bar.set_message("draining");
        bar.set_length(u64::from(progress.round) + 1);
    }
    bar.set_position(u64::from(progress.round) + 1);
}

async fn simulate(args: &Args, bar: &ProgressBar) -> Result<(Outcome, &'static str)> {
    let mut config = SimConfig {
        seed: args.seed,
        rounds: args.rounds,
        requesters: args.requesters,
        providers: args.providers,
        drain_rounds_max: args.drain_max,
        salt: 0,
    };
    match &args.node {
        None => Ok((
            run_on_test_chain(config, |p| tick(bar, p)).await?,
            "in-process test chain",
        )),
        Some(url) => {
            let client = Client::new(url);
            config.salt = client
                .height()
                .await
                .with_context(|| format!("reaching the node at {url}"))?;
            Ok((run(&client, config, |p| tick(bar, p)).await?, "devnet node"))
        }
    }
}

fn write_outputs(dir: &Path, outcome: &Outcome, report: &metrics::Report) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let report_path = dir.join("report.json");
    std::fs::write(&report_path, serde_json::to_vec_pretty(report)?)?;
    let records_path = dir.join("records.json");
    std::fs::write(&records_path, serde_json::to_vec(outcome)?)?;
    let mut written = vec![report_path, records_path];
    written.extend(plots::write_all(dir, outcome, report)?);
    Ok(written)
}

fn show(value: Option<f64>, digits: usize) -> String {
    value.map_or("n/a".into(), |v| format!("{v:.digits$}"))
}

fn percent(value: Option<f64>) -> String {
    value.map_or("n/a".into(), |v| format!("{:.1} %", v * 100.0))
}

fn print_report(report: &metrics::Report, chain: &str) {
    println!(
        "agora-sim: seed {}, {} rounds of {} s + {} drain rounds, {} requesters, {} providers, \
         {chain}",
        report.seed,
        report.rounds,
        report.round_ms / 1000,
        report.drain_rounds,
        report.requesters,
        report.providers
    );
    println!(
        "chain: height {}, state root {}",
        report.final_height, report.final_state_root
    );
    println!(
        "transactions: {} ({} failed), digest {}",
        report.transactions, report.transactions_failed, report.tx_digest
    );
    for (action, errors) in &report.failures {
        let list: Vec<String> = errors.iter().map(|(e, n)| format!("{e} {n}")).collect();
        println!("  failed {action}: {}", list.join(", "));
    }
    println!(
        "match rate: {} (units assigned {} / requested {}; {} of {} requests posted)",
        show(report.match_rate, 4),
        report.units_assigned,
        report.units_requested,
        report.requests_posted,
        report.requests_attempted
    );
    let by_level: Vec<String> = report
        .match_rate_by_privacy
        .iter()
        .map(|(level, rate)| format!("{level} {}", show(*rate, 4)))
        .collect();
    println!("  by privacy level: {}", by_level.join(", "));
    println!(
        "prices over the last window (assignments from round {}):",
        report.window_start_round
    );
    for task in &report.tasks {
        println!(
            "  {:<10} n {:>4}  convergence {}  (cv {})  VWAP {}  served cost {} (VWAP ×{})  \
             all-provider cost {} (×{})  contract 24 h VWAP {}",
            task.task_type,
            task.window_assignments,
            show(task.price_convergence, 3),
            show(task.window_price_cv, 3),
            show(task.window_vwap, 1),
            show(task.window_served_cost, 1),
            show(task.vwap_over_served_cost, 2),
            show(task.population_cost, 1),
            show(task.vwap_over_population_cost, 2),
            task.chain_vwap_24h.map_or("n/a".into(), |v| v.to_string())
        );
    }
    let sla = &report.sla;
    println!(
        "SLA compliance: {} ({} Completed / {} settled; {} SlaViolated, {} DisputeSettled)",
        show(sla.compliance, 4),
        sla.completed,
        sla.settled,
        sla.sla_violated,
        sla.dispute_settled
    );
    for (name, premium) in [
        ("price ÷ ask", &report.reputation_premium),
        ("price ÷ task VWAP", &report.reputation_premium_vs_vwap),
    ] {
        match premium {
            Some(p) => println!(
                "reputation premium ({name}): top decile (n {}, score ≥ {}) {:.3} vs rest (n {}) \
                 {:.3} → {:+.1} %",
                p.top_count,
                p.top_min_score,
                p.top_mean_price_over_ask,
                p.rest_count,
                p.rest_mean_price_over_ask,
                p.premium * 100.0
            ),
            None => println!("reputation premium ({name}): n/a"),
        }
    }
    let liquidity = &report.liquidity;
    println!(
        "liquidity: book depth {:.1} units vs {:.1} units requested per round (×{}); \
         {} of assigned units from the book; {} accepts, {} failed",
        liquidity.mean_book_depth_units,
        liquidity.mean_units_requested_per_round,
        show(liquidity.depth_over_demand, 2),
        percent(liquidity.book_fill_share),
        liquidity.accept_attempts,
        percent(liquidity.accept_failed_share)
    );
    let time = &report.time_to_assignment;
    println!(
        "time to assignment: mean {} s, p50 {} s, p90 {} s; {} at posting",
        show(time.mean_s, 1),
        show(time.p50_s, 0),
        show(time.p90_s, 0),
        percent(time.at_posting_share)
    );
    let penalties = &report.penalties;
    println!(
        "penalties: {} charged ({} of settled cost {}), {} assignments penalised, {} violations",
        penalties.total_charged,
        percent(penalties.share_of_cost),
        penalties.settled_cost,
        penalties.assignments_penalised,
        penalties.violations
    );
    let disputes = &report.disputes;
    println!(
        "disputes: {} raised ({} released, {} refunded, {} split)",
        disputes.raised, disputes.released, disputes.refunded, disputes.split
    );
    let economics = &report.provider_economics;
    println!(
        "providers: {} of assignments paid below the provider's true cost; markup over cost {}; \
         {} to providers scoring below 100; {} priced at the bid",
        percent(economics.below_cost_share),
        percent(economics.markup_over_cost),
        percent(economics.below_score_100_share),
        percent(economics.bid_bound_share)
    );
    println!(
        "  of the assignments paid below cost, {} went to providers scoring below 100",
        percent(economics.below_cost_from_score_below_100)
    );
    if report.unsettled_assignments > 0 || report.open_requests > 0 || report.payload_failures > 0 {
        println!(
            "unfinished: {} assignments unsettled, {} requests open; {} payload failures",
            report.unsettled_assignments, report.open_requests, report.payload_failures
        );
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let bar = progress_bar(args.rounds);
    let (outcome, chain) = runtime.block_on(simulate(&args, &bar))?;
    bar.finish_and_clear();
    let report = report(&outcome);
    let written = write_outputs(&args.out, &outcome, &report)?;
    print_report(&report, chain);
    for path in written {
        println!("wrote {}", path.display());
    }
    println!("wall time: {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}
