//! The `jigi` command; everything is in the library (`jigi::main`).

fn main() -> std::process::ExitCode {
    jigi::main()
}
