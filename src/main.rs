//! The `trainer` binary: the command line lives in the library (`trainer::internal::main`), so
//! its modules stay private there.

fn main() -> std::process::ExitCode {
    trainer::internal::main()
}
