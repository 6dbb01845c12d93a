//! `kvp`: the command-line tool for Hyper-V KVP pool files.
//!
//! `kvp demo` runs a sample workload through the whole stack and prints
//! what reached the pool as a tree; `tree`, `dump`, `follow`, `stats`,
//! `clear` and `write` work on any pool file, including those cloud-init
//! and azure-init write.

mod commands;
mod dialect;
mod exit;
mod export;
mod files;
mod model;
mod output;
mod records;
mod stream;
mod target;
mod time;
mod tree;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Read and write Hyper-V KVP pool files (/var/lib/hyperv/.kvp_pool_N).
#[derive(Debug, Parser)]
#[command(name = "kvp", version, after_help = exit::HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an instrumented sample workload through the full stack into
    /// DIR/.kvp_pool_1, then print the records it wrote.
    #[cfg(feature = "demo")]
    Demo(commands::DemoArgs),
    /// Print every logical record (chunks joined) as a table or JSON lines.
    Dump(commands::DumpArgs),
    /// Send pool files to an OpenTelemetry collector (OTLP) as spans, log
    /// records and metrics, or write them as a Chrome trace for Perfetto.
    Export(export::ExportArgs),
    /// Show spans as a timed tree with their events, the path to the first
    /// error marked (ours, azure-init's and cloud-init's records).
    Tree(tree::TreeArgs),
    /// Print records as they are appended, like tail -f, and again,
    /// marked as updates, when they change in place.
    Follow(commands::FollowArgs),
    /// Count records: by level and name, problems, room left under the cap.
    Stats(commands::StatsArgs),
    /// Empty the pool file, under its locks.
    Clear(commands::ClearArgs),
    /// Append (or upsert) one record, under the pool's locks.
    Write(commands::WriteArgs),
    /// Print the value of KEY (its last record, as readers take it); exit 1
    /// when no record has the key.
    Read(commands::ReadArgs),
    /// Print the last value of every key, one key=value line each.
    Entries(commands::EntriesArgs),
    /// Remove every record with KEY, keeping the others in order; exit 1
    /// when there was none.
    Delete(commands::DeleteArgs),
    /// Exit 0 when the file was last written before this boot (mtime <=
    /// btime), 1 when not.
    IsStale(commands::IsStaleArgs),
    /// What the Hyper-V host will see: records it cannot read, fields it
    /// cuts, chunk gaps, an earlier boot's data; exit 1 when it would miss
    /// or cut something.
    Check(commands::CheckArgs),
    /// Upsert a PROVISIONING_REPORT, byte for byte as azure-init's tool
    /// writes it but for the timestamp.
    Report(commands::ReportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        #[cfg(feature = "demo")]
        Command::Demo(a) => commands::demo(&a),
        Command::Dump(a) => commands::dump(&a),
        Command::Export(a) => export::export(&a),
        Command::Tree(a) => tree::tree(&a),
        Command::Follow(a) => commands::follow(&a),
        Command::Stats(a) => commands::stats(&a),
        Command::Clear(a) => commands::clear(&a),
        Command::Write(a) => commands::write(&a),
        Command::Read(a) => commands::read_key(&a),
        Command::Entries(a) => commands::entries(&a),
        Command::Delete(a) => commands::delete(&a),
        Command::IsStale(a) => commands::is_stale(&a),
        Command::Check(a) => commands::check(&a),
        Command::Report(a) => commands::report(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kvp: {}", kvp_sink::WithCauses(e.as_ref()));
            exit::status(e.as_ref())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own consistency checks on every command and argument.
    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
