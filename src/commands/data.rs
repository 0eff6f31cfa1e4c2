//! `trainer data inspect`, `trainer data tokenize` and `trainer data fetch`.

use super::Failure;
use crate::cli::{DataCommand, TokenizeArgs};
use crate::fetch::{FetchError, Source, dataset, fetch, names};
use trainer_core::data::inspect;

/// Runs a `trainer data` subcommand.
pub fn data(cmd: DataCommand) -> Result<(), Failure> {
    match cmd {
        DataCommand::Inspect { path } => {
            let report = inspect(&path).map_err(Failure::input)?;
            crate::outln!("{}: {}", path.display(), report.format);
            let width = report.rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (key, value) in &report.rows {
                crate::outln!("  {key:<width$}  {value}");
            }
            Ok(())
        }
        DataCommand::Tokenize(args) => tokenize(args),
        DataCommand::Fetch { name, dir, mirror } => {
            let set = dataset(&name).ok_or_else(|| {
                Failure::input(FetchError::Unknown {
                    name: name.clone(),
                    known: names().join(", "),
                })
            })?;
            if let Some(m) = mirror
                .as_deref()
                .filter(|m| !trainer_core::config::is_http_url(m))
            {
                return Err(Failure::input(anyhow::anyhow!(
                    "--mirror {m}: expected an http:// or https:// URL"
                )));
            }
            let source = Source { mirror };
            let target = fetch(set, &dir, &source, &mut |line| eprintln!("fetch: {line}"))
                .map_err(Failure::runtime)?;
            crate::outln!("{}", target.display());
            Ok(())
        }
    }
}

/// Trains or loads the tokenizer, then writes the shards; prints what each split holds.
fn tokenize(args: TokenizeArgs) -> Result<(), Failure> {
    use trainer_text::{TextError, TokenizeOptions, Tokenizer};
    let options = TokenizeOptions {
        valid_fraction: args.valid_fraction,
        test_fraction: args.test_fraction,
    };
    options.check().map_err(Failure::input)?;
    let files = trainer_text::input_files(&args.input).map_err(Failure::input)?;
    let started = std::time::Instant::now();
    let tokenizer = match (&args.vocab_size, &args.tokenizer, &args.vocab, &args.merges) {
        (Some(n), ..) => trainer_text::train_tokenizer(&files, options, *n),
        (_, Some(path), ..) => Tokenizer::load(path),
        (_, _, Some(vocab), Some(merges)) => Tokenizer::from_gpt2_files(vocab, merges),
        _ => Err(TextError::Setting(
            "expected --vocab-size N (train a tokenizer), --tokenizer tokenizer.json, or --vocab vocab.json with --merges merges.txt".into(),
        )),
    }
    .map_err(Failure::input)?;
    let trained = started.elapsed().as_secs_f64();
    let written = std::time::Instant::now();
    let report = trainer_text::write_shards(&files, &tokenizer, &args.output, options).map_err(
        |e| match e {
            TextError::Io { .. } => Failure::runtime(e),
            _ => Failure::input(e),
        },
    )?;
    let seconds = written.elapsed().as_secs_f64().max(1e-9);
    let total: u64 = report.tokens.iter().sum();
    let bytes: u64 = report.bytes.iter().sum();
    crate::outln!(
        "{}: {} ids ({}), {} files",
        args.output.display(),
        report.vocab_size,
        report.dtype,
        files.len()
    );
    for (i, name) in ["train.bin", "val.bin", "test.bin"].iter().enumerate() {
        if report.bytes[i] > 0 || i < 2 {
            crate::outln!(
                "  {name:<9}  {} tokens, {} bytes of text",
                report.tokens[i],
                report.bytes[i]
            );
        }
    }
    crate::outln!(
        "  {:.2} bytes per token; tokenizer {:.1} s; encoding {:.1} s, {:.0} tokens/s",
        bytes as f64 / total.max(1) as f64,
        trained,
        seconds,
        total as f64 / seconds
    );
    Ok(())
}
