//! The `kexpr` command. Everything but the wiring to the process lives in the library.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    // The handles are not held locked: `kexpr lsp` serves stdin and stdout from threads of its
    // own, which lock them per message (writers buffer, so this costs nothing elsewhere).
    let (mut stdout, mut stderr) = (io::stdout(), io::stderr());
    let terminal = kalix_expr_cli::Terminal { progress: io::stderr().is_terminal() };
    let exit = kalix_expr_cli::run_in(std::env::args_os(), &mut io::stdin(), &mut stdout, &mut stderr, terminal);
    // A closed pipe is the reader's choice, not an error of ours.
    let _ = stdout.flush();
    let _ = stderr.flush();
    exit.into()
}
