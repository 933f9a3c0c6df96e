//! The command-line pieces that the `shm` CLI and `shm-bridge` share, so that
//! neither binary depends on the other: the mapping options ([`Target`]) and
//! JSON-line output ([`print_json`]).

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;
use shm_core::{Location, MappingName};

/// The mapping options `--name NAME` / `--file PATH`, under a "Mapping"
/// heading: `#[command(flatten)]` them into a clap command (the CLI's
/// commands and `shm-bridge` share them).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Mapping")]
pub struct Target {
    /// Mapping name: /dev/shm/NAME (1 to 30 bytes of [A-Za-z0-9._-]; one that
    /// starts with '-' is given as --name=-NAME).
    #[arg(long, default_value = shm_core::DEFAULT_NAME, conflicts_with = "file")]
    name: String,
    /// A regular file as a persistent mapping, instead of a name.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
}

impl Target {
    /// The mapping these options name.
    ///
    /// # Errors
    /// A `--name` that breaks the naming rules ([`shm_core::NameError`]).
    pub fn location(&self) -> anyhow::Result<Location> {
        Ok(match &self.file {
            Some(path) => Location::File(path.clone()),
            None => Location::Named(MappingName::new(&self.name)?),
        })
    }
}

/// Prints `value` as one JSON line on stdout and flushes it (a line per
/// frame reaches a pipe at once).
///
/// # Errors
/// Serialisation or stdout write errors (e.g. a closed pipe).
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, value)?;
    writeln!(stdout)?;
    stdout.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Command {
        #[command(flatten)]
        target: Target,
    }

    #[test]
    fn a_name_a_file_or_the_default_name() {
        let location = |args: &[&str]| Command::try_parse_from(args).map(|c| c.target.location());
        assert_eq!(
            location(&["x", "--name", "cam-1"]).unwrap().unwrap(),
            Location::Named(MappingName::new("cam-1").unwrap())
        );
        assert_eq!(
            location(&["x", "--file", "/tmp/m"]).unwrap().unwrap(),
            Location::File("/tmp/m".into())
        );
        assert_eq!(
            location(&["x"]).unwrap().unwrap(),
            Location::Named(MappingName::new(shm_core::DEFAULT_NAME).unwrap())
        );
        assert!(location(&["x", "--name", "a", "--file", "/tmp/m"]).is_err());
        let bad = location(&["x", "--name", "a/b"]).unwrap().unwrap_err();
        assert!(bad.to_string().contains("'/'"), "{bad}");
    }
}
