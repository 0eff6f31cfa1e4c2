use std::time::Instant;
fn run(m: usize, k: usize, n: usize, par: gemm::Parallelism, reps: usize) -> f64 {
    let a = vec![0.5f32; m * k];
    let b = vec![0.25f32; k * n];
    let mut c = vec![0.0f32; m * n];
    let mut best = f64::MAX;
    for _ in 0..reps {
        let t = Instant::now();
        unsafe {
            gemm::gemm(m, n, k, c.as_mut_ptr(), 1, n as isize, false, a.as_ptr(), 1, k as isize,
                b.as_ptr(), 1, n as isize, 1.0, 1.0, false, false, false, par);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    2.0 * (m * k * n) as f64 / best / 1e9
}
fn main() {
    println!("gemm cache info: {:?}", *gemm_common::cache::CACHE_INFO);
    let shapes = [(2048, 128, 512), (2048, 512, 128), (2048, 128, 128), (128, 784, 512), (64, 288, 576), (1024, 1024, 1024)];
    for (m, k, n) in shapes {
        let one = run(m, k, n, gemm::Parallelism::None, 20);
        let two = run(m, k, n, gemm::Parallelism::Rayon(2), 20);
        println!("{m}x{k} @ {k}x{n}: 1 thread {one:.1} GFLOP/s, 2 threads {two:.1} GFLOP/s");
    }
}
