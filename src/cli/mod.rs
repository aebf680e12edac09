//! Command line: clap definitions and dispatch. Each subcommand family has its own file.

mod analysis;
mod extract;
mod synth;

use clap::{Parser, Subcommand};

/// How a run ended, mapped to the process exit code by `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything went fine (exit 0).
    Ok,
    /// The run finished but some input files failed or were skipped (exit 1).
    SomeFilesFailed,
}

#[derive(Parser, Debug)]
#[command(
    name = "iotdest",
    version,
    about = "Where does each IoT device send its data? Packet captures → Parquet → analysis.",
    long_about = "iotdest reads a testbed's packet captures (<root>/<device>/ctrl2/YYYY-MM-DD_HH.MM.SS_<ip>.pcap), \
extracts DNS answers, TLS server names and flows in one pass, and stores them as hive-partitioned \
Parquet (device=/year=/month=).",
    after_help = "Exit codes: 0 all files ok; 1 the run finished but some files failed or were skipped; \
2 fatal (bad arguments, unreadable root, output not writable)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Extract DNS answers, server names and flows from captures into a Parquet dataset.
    Extract(extract::ExtractArgs),
    /// Attribute flows to domains and classify destinations (writes DATASET/analysis/).
    Analyze(analysis::AnalyzeArgs),
    /// Run SQL over a dataset's tables, with the project's UDFs.
    Sql(analysis::SqlArgs),
    /// Classify domains (from a file or stdin) for a manufacturer or device; prints CSV.
    Classify(analysis::ClassifyArgs),
    /// Write a manufacturer's first-party suffixes, one a line.
    FirstParty(analysis::FirstPartyArgs),
    /// Geolocate a JSON list of IPs into the legacy geolocation.json.
    Geolocate(analysis::GeolocateArgs),
    /// Generate a deterministic set of realistic IoT captures in the ctrl2 layout.
    Synth(synth::SynthArgs),
}

/// Parses the command line and runs the chosen subcommand.
pub fn run() -> anyhow::Result<Outcome> {
    let cli = Cli::parse();
    match cli.command {
        Command::Extract(a) => extract::run(a),
        Command::Analyze(a) => analysis::run_analyze(a),
        Command::Sql(a) => analysis::run_sql(a),
        Command::Classify(a) => analysis::run_classify(a),
        Command::FirstParty(a) => analysis::run_first_party(a),
        Command::Geolocate(a) => analysis::run_geolocate(a),
        Command::Synth(a) => synth::run(a),
    }
}
