//! `nachnutzung [serve|migrate|seed]`: thin; the work is in the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    nachnutzung::cli::run(nachnutzung::cli::Cli::parse())
}
