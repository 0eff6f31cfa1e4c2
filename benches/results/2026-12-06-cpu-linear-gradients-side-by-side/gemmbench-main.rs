mod strat;
use std::time::Instant;
// dst (m x n, row-major) (+)= lhs (m x k, strides rs/cs) * rhs (k x n, strides rs/cs)
static mut PAR: usize = 0;
fn mm(dst: &mut [f32], m: usize, n: usize, k: usize, lhs: &[f32], lrs: usize, lcs: usize, rhs: &[f32], rrs: usize, rcs: usize, acc: bool) {
    unsafe {
        gemm::gemm(m, n, k, dst.as_mut_ptr(), 1, n as isize, acc,
            lhs.as_ptr(), lcs as isize, lrs as isize, rhs.as_ptr(), rcs as isize, rrs as isize,
            1.0, 1.0, false, false, false, if unsafe { PAR } == 0 { gemm::Parallelism::None } else { gemm::Parallelism::Rayon(unsafe { PAR }) });
    }
}
fn time(name: &str, flops: f64, mut f: impl FnMut()) -> f64 {
    for _ in 0..20 { f(); }
    let mut best = f64::MAX; let mut all = vec![];
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..50 { f(); }
        let e = t.elapsed().as_secs_f64() / 50.0;
        all.push(e); best = best.min(e);
    }
    all.sort_by(|a,b| a.partial_cmp(b).unwrap());
    let med = all[3];
    println!("{name:50} median {:8.1} us  {:6.1} GFLOP/s", med * 1e6, flops / med / 1e9);
    med
}
fn main() {
    unsafe { PAR = std::env::var("PAR").map(|v| v.parse().unwrap()).unwrap_or(2); }
    if std::env::var("STRAT").is_ok() { return strat::run(); }
    if std::env::var("BWD").is_ok() { return strat::backward(); }
    if std::env::var("FWD").is_ok() { return strat::fwd(); }
    if std::env::var("SPLIT").is_ok() { return split(); }
    if std::env::var("SQUARE").is_ok() { return square(); }
    let n_rows = 2048; let d = 128;
    let x = vec![0.5f32; n_rows * d];
    let w3 = vec![0.25f32; d * 3 * d];
    let w1 = vec![0.25f32; d * d];
    let mut y1 = vec![0f32; n_rows * d];
    let mut y3 = vec![0f32; n_rows * 3 * d];
    let f1 = 2.0 * (n_rows * d * d) as f64;
    let a = time("fwd 3x [2048x128]@[128x128]", 3.0*f1, || { for _ in 0..3 { mm(&mut y1, n_rows, d, d, &x, d, 1, &w1, d, 1, true); } });
    let b = time("fwd 1x [2048x128]@[128x384]", 3.0*f1, || { mm(&mut y3, n_rows, 3*d, d, &x, d, 1, &w3, 3*d, 1, true); });
    println!("  fwd fused/separate {:.3}", b / a);
    // dx: separate: dy[2048x128] @ W^T, three, fresh. fused: dqkv[2048x384] @ W3^T [384x128]
    let dy = vec![0.1f32; n_rows * d];
    let dy3 = vec![0.1f32; n_rows * 3 * d];
    let mut dx = vec![0f32; n_rows * d];
    let a = time("dx 3x [2048x128]@[128x128]^T", 3.0*f1, || { for _ in 0..3 { mm(&mut dx, n_rows, d, d, &dy, d, 1, &w1, 1, d, false); } });
    let b = time("dx 1x [2048x384]@[384x128] (W3^T)", 3.0*f1, || { mm(&mut dx, n_rows, d, 3*d, &dy3, 3*d, 1, &w3, 1, 3*d, false); });
    println!("  dx fused/separate {:.3}", b / a);
    // dw: separate: x^T [128x2048] @ dy [2048x128]; fused: x^T @ dqkv [2048x384]
    let mut dw1 = vec![0f32; d * d];
    let mut dw3 = vec![0f32; d * 3 * d];
    let a = time("dw 3x [128x2048]@[2048x128]", 3.0*f1, || { for _ in 0..3 { mm(&mut dw1, d, d, n_rows, &x, 1, d, &dy, d, 1, false); } });
    let b = time("dw 1x [128x2048]@[2048x384]", 3.0*f1, || { mm(&mut dw3, d, 3*d, n_rows, &x, 1, d, &dy3, 3*d, 1, false); });
    println!("  dw fused/separate {:.3}", b / a);
    // MLP shapes for reference
    let h = 4*d;
    let w = vec![0.25f32; d*h]; let mut yh = vec![0f32; n_rows*h];
    time("mlp in fwd [2048x128]@[128x512]", 2.0*(n_rows*d*h) as f64, || mm(&mut yh, n_rows, h, d, &x, d, 1, &w, h, 1, true));
    let xh = vec![0.5f32; n_rows*h];
    time("mlp out fwd [2048x512]@[512x128]", 2.0*(n_rows*d*h) as f64, || mm(&mut y1, n_rows, d, h, &xh, h, 1, &w, d, 1, true));
    let mut dwh = vec![0f32; h*d];
    time("mlp out dw [512x2048]@[2048x128]", 2.0*(n_rows*d*h) as f64, || mm(&mut dwh, h, d, n_rows, &xh, 1, h, &dy, d, 1, false));
    time("mlp in dw [128x2048]@[2048x512]", 2.0*(n_rows*d*h) as f64, || mm(&mut dwh, d, h, n_rows, &x, 1, d, &yh, h, 1, false));
}

// manual two-way split over rayon::join, single-threaded gemm in each half
fn split() {
    let n_rows = 2048; let d = 128;
    let x = vec![0.5f32; n_rows * d];
    let w1 = vec![0.25f32; d * d];
    let w3 = vec![0.25f32; d * 3 * d];
    let f1 = 2.0 * (n_rows * d * d) as f64;
    let mut y3 = vec![0f32; n_rows * 3 * d];
    let mut y1 = vec![0f32; n_rows * d];
    time("fwd split rows [2048x128]@[128x128] x3", 3.0*f1, || for _ in 0..3 {
        let (a, b) = y1.split_at_mut(n_rows / 2 * d);
        rayon::join(|| mm(a, n_rows/2, d, d, &x, d, 1, &w1, d, 1, true), || mm(b, n_rows/2, d, d, &x[n_rows/2*d..], d, 1, &w1, d, 1, true));
    });
    time("fwd split rows [2048x128]@[128x384]", 3.0*f1, || {
        let (a, b) = y3.split_at_mut(n_rows / 2 * 3 * d);
        rayon::join(|| mm(a, n_rows/2, 3*d, d, &x, d, 1, &w3, 3*d, 1, true), || mm(b, n_rows/2, 3*d, d, &x[n_rows/2*d..], d, 1, &w3, 3*d, 1, true));
    });
    let dy = vec![0.1f32; n_rows * d];
    let dy3 = vec![0.1f32; n_rows * 3 * d];
    // dw: x^T [128 x 2048] @ dy [2048 x 128] -> split output columns (two [128x64] dsts, not contiguous) -> split output rows instead: rows of x^T = columns of x
    let mut dw1 = vec![0f32; d * d];
    time("dw split rows [128x2048]@[2048x128] x3", 3.0*f1, || for _ in 0..3 {
        let (a, b) = dw1.split_at_mut(d / 2 * d);
        rayon::join(|| mm(a, d/2, d, n_rows, &x, 1, d, &dy, d, 1, false), || mm(b, d/2, d, n_rows, &x[d/2..], 1, d, &dy, d, 1, false));
    });
    let mut dw3 = vec![0f32; d * 3 * d];
    time("dw split rows [128x2048]@[2048x384]", 3.0*f1, || {
        let (a, b) = dw3.split_at_mut(d / 2 * 3 * d);
        rayon::join(|| mm(a, d/2, 3*d, n_rows, &x, 1, d, &dy3, 3*d, 1, false), || mm(b, d/2, 3*d, n_rows, &x[d/2..], 1, d, &dy3, 3*d, 1, false));
    });
    let mut dx = vec![0f32; n_rows * d];
    time("dx split rows [2048x384]@[384x128]", 3.0*f1, || {
        let (a, b) = dx.split_at_mut(n_rows / 2 * d);
        rayon::join(|| mm(a, n_rows/2, d, 3*d, &dy3, 3*d, 1, &w3, 1, 3*d, false), || mm(b, n_rows/2, d, 3*d, &dy3[n_rows/2*3*d..], 3*d, 1, &w3, 1, 3*d, false));
    });
}
#[allow(dead_code)]
pub fn square() {
    for s in [256usize, 512, 1024] {
        let a = vec![0.5f32; s*s]; let b = vec![0.25f32; s*s]; let mut c = vec![0f32; s*s];
        time(&format!("square {s} row-major dst"), 2.0*(s*s*s) as f64, || mm(&mut c, s, s, s, &a, s, 1, &b, s, 1, false));
        // column-major everything: dst cs = s via swapping roles: compute C^T = B^T A^T in row-major = C col-major
        time(&format!("square {s} B^T A^T"), 2.0*(s*s*s) as f64, || mm(&mut c, s, s, s, &b, 1, s, &a, 1, s, false));
    }
}
