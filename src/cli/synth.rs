//! `iotdest synth`.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use super::Outcome;
use crate::synth::{generate, SynthOptions};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  iotdest synth --out data-samples/captures            # the small bundled set
  iotdest synth --out /tmp/big --scale 1000 --seed 7    # a few GB for benchmarks")]
pub struct SynthArgs {
    /// Root folder to write <device>/ctrl2/<captures> into.
    #[arg(long, value_name = "ROOT")]
    pub out: PathBuf,
    /// Random seed (same seed and scale, same bytes).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Size multiplier: 1 gives a few MB; 1000 gives a few GB.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
}

pub fn run(a: SynthArgs) -> anyhow::Result<Outcome> {
    if !(a.scale > 0.0 && a.scale.is_finite()) {
        bail!("--scale must be a positive number");
    }
    let s = generate(&SynthOptions {
        out: a.out.clone(),
        seed: a.seed,
        scale: a.scale,
    })?;
    eprintln!(
        "iotdest: wrote {} captures ({} packets, {:.1} MB) under {}",
        s.files,
        s.packets,
        s.bytes as f64 / 1e6,
        a.out.display()
    );
    Ok(Outcome::Ok)
}
