//! The all-reduce a data-parallel step costs, by gradient size, over this build's MPI adapter:
//! run as a job (`mpirun -np N target/release/examples/allreduce_bench [SIZES...]`); rank 0
//! prints one JSON line per size (floats, median and mean milliseconds of `ROUNDS` sums).
//! A benchmark of this package, not a library example: it joins the job through
//! `trainer::internal`. benches/mpi/run.sh runs it beside torch.distributed (gloo) on the same
//! sizes.

use std::time::Instant;

fn main() {
    let group = match trainer::internal::join() {
        Ok(Some(group)) => group,
        Ok(None) => {
            eprintln!("error: start this under mpirun with at least 2 processes");
            std::process::exit(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let c = group.collective.clone();
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(50);
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    for n in sizes {
        let mut buf = vec![1.0f32; n];
        for _ in 0..5 {
            c.all_reduce_sum(&mut buf).expect("all-reduce"); // warm-up
        }
        let mut ms = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            buf.fill(1.0);
            c.barrier().expect("barrier");
            let t = Instant::now();
            c.all_reduce_sum(&mut buf).expect("all-reduce");
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        assert!(
            buf.iter().all(|&v| v == c.world_size() as f32),
            "a sum of ones"
        );
        ms.sort_by(f64::total_cmp);
        if c.rank() == 0 {
            println!(
                "{{\"engine\":\"trainer-mpi\",\"ranks\":{},\"floats\":{n},\"median_ms\":{:.4},\"mean_ms\":{:.4}}}",
                c.world_size(),
                ms[ms.len() / 2],
                ms.iter().sum::<f64>() / ms.len() as f64
            );
        }
    }
    c.barrier().expect("barrier");
    trainer::internal::finish();
}
