//! Command line: clap definitions and dispatch. Each subcommand family has its own file.

mod analysis;
mod cluster;
mod extract;
mod legacy;
mod report;
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
    /// Write the legacy analysis_longitudinal/ layout (JSON, pickle, CSV) from a dataset.
    ExportLegacy(legacy::ExportArgs),
    /// Extract, analyse, export and report in one go (the whole run_longitudinal.sh).
    Run(legacy::RunArgs),
    /// Drop-in for `destination_analysis.py domains`.
    Domains(legacy::DropInArgs),
    /// Drop-in for `destination_analysis.py map_ips`.
    #[command(name = "map_ips", alias = "map-ips")]
    MapIps(legacy::DropInArgs),
    /// Drop-in for `destination_analysis.py compare_domains`.
    #[command(name = "compare_domains", alias = "compare-domains")]
    CompareDomains(legacy::CompareArgs),
    /// Drop-in for `init_empty_ip_maps.py DEVICE YEAR...`.
    #[command(name = "init-empty-ip-maps", alias = "init_empty_ip_maps")]
    InitEmptyIpMaps(legacy::InitEmptyArgs),
    /// Drop-in for `party.py`: categorized_domains_<Mon>_<Year>.csv from a legacy layout.
    Party(legacy::PartyArgs),
    /// The longitudinal HTML report of a dataset (self-contained; open it in a browser).
    Report(report::ReportArgs),
    /// Generate a deterministic set of realistic IoT captures in the ctrl2 layout.
    Synth(synth::SynthArgs),
    /// Run a part of an Apache DataFusion Ballista cluster (scheduler or executor).
    Cluster(cluster::ClusterArgs),
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
        Command::ExportLegacy(a) => legacy::run_export(a),
        Command::Report(a) => report::run_report(a),
        Command::Run(a) => legacy::run_run(a),
        Command::Domains(a) => legacy::run_domains(a),
        Command::MapIps(a) => legacy::run_map_ips(a),
        Command::CompareDomains(a) => legacy::run_compare(a),
        Command::InitEmptyIpMaps(a) => legacy::run_init_empty(a),
        Command::Party(a) => legacy::run_party(a),
        Command::Synth(a) => synth::run(a),
        Command::Cluster(a) => cluster::run(a),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
