//! `modtool`: what a module author runs on kmod modules before a kernel
//! sees them. `info` describes a module, `check` loads modules with
//! `modlib` against a kernel's symbol table (without running them) and
//! reports what would stop `insmod`, `depmod` writes the `modules.dep`
//! that kmod's `modprobe` follows, and `symtab` writes a kernel's table of
//! exported symbols. Every ELF file is read through `modlib`.

mod check;
mod depmod;
mod info;
mod module;
mod relocs;
mod symtab;

use std::process::ExitCode;

const USAGE: &str = "\
usage: modtool <command> [options] [arguments]

commands:
  info FILE...                          describe modules (modinfo, sizes, symbols, relocations)
  check FILE... --symbols TABLE [--abi TAG]
                                        would these modules load against this kernel?
  depmod DIR                            write DIR/modules.dep from what modules export and import
  symtab [--from-modules FILE...] [--from-elf KERNEL] [--format rust|c|text]
                                        write the kernel's exported-symbol table

`modtool <command> --help` describes a command.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "info" => info::run(rest),
        "check" => check::run(rest),
        "depmod" => depmod::run(rest),
        "symtab" => symtab::run(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(true)
        }
        other => Err(Usage(format!("unknown command `{other}`\n\n{USAGE}"))),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(Usage(message)) => {
            eprintln!("modtool: {message}");
            ExitCode::from(2)
        }
    }
}

/// A command line that cannot be run (exit status 2), with what to say.
pub struct Usage(pub String);

/// A command's arguments: options by name (each with the values that
/// follow it) and the positional arguments.
pub struct Args {
    /// `(option, values)` in command-line order.
    pub options: Vec<(String, Vec<String>)>,
    /// Arguments before any option.
    pub positional: Vec<String>,
    /// Whether `-h`/`--help` was given.
    pub help: bool,
}

impl Args {
    /// Splits `args`. An option in `multi` takes every value up to the
    /// next option; one in `single` takes one value; any other is refused.
    pub fn parse(args: &[String], single: &[&str], multi: &[&str]) -> Result<Args, Usage> {
        let mut out = Args {
            options: Vec::new(),
            positional: Vec::new(),
            help: false,
        };
        let mut iter = args.iter().peekable();
        while let Some(arg) = iter.next() {
            if arg == "-h" || arg == "--help" {
                out.help = true;
            } else if let Some(name) = arg.strip_prefix("--") {
                let (name, inline) = match name.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (name, None),
                };
                let mut values: Vec<String> = inline.into_iter().collect();
                if single.contains(&name) {
                    if values.is_empty() {
                        values.push(
                            iter.next()
                                .ok_or_else(|| Usage(format!("--{name} needs a value")))?
                                .clone(),
                        );
                    }
                } else if multi.contains(&name) {
                    while let Some(next) = iter.next_if(|a| !a.starts_with("--")) {
                        values.push(next.clone());
                    }
                } else {
                    return Err(Usage(format!("unknown option `--{name}`")));
                }
                out.options.push((name.to_string(), values));
            } else if out.options.is_empty() {
                out.positional.push(arg.clone());
            } else {
                return Err(Usage(format!("unexpected argument `{arg}` after options")));
            }
        }
        Ok(out)
    }

    /// The values of the last `--name` given, if it was.
    pub fn last(&self, name: &str) -> Option<&[String]> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The one value of `--name`, if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.last(name).and_then(|v| v.first()).map(String::as_str)
    }
}
