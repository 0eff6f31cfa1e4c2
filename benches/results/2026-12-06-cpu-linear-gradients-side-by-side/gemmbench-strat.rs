use rayon::prelude::*;
use std::time::Instant;
#[derive(Clone, Copy)]
pub struct M<'a> { pub d: &'a [f32], pub rs: usize, pub cs: usize }
unsafe fn raw(dst: *mut f32, drs: usize, m: usize, n: usize, k: usize, a: *const f32, ars: usize, acs: usize, b: *const f32, brs: usize, bcs: usize, acc: bool, par: gemm::Parallelism) {
    gemm::gemm(m, n, k, dst, 1, drs as isize, acc, a, acs as isize, ars as isize, b, bcs as isize, brs as isize, 1.0, 1.0, false, false, false, par);
}
pub fn gemm_rayon(dst: &mut [f32], m: usize, n: usize, k: usize, a: M, b: M, acc: bool) {
    unsafe { raw(dst.as_mut_ptr(), n, m, n, k, a.d.as_ptr(), a.rs, a.cs, b.d.as_ptr(), b.rs, b.cs, acc, gemm::Parallelism::Rayon(rayon::current_num_threads())) }
}
pub fn gemm_one(dst: &mut [f32], m: usize, n: usize, k: usize, a: M, b: M, acc: bool) {
    unsafe { raw(dst.as_mut_ptr(), n, m, n, k, a.d.as_ptr(), a.rs, a.cs, b.d.as_ptr(), b.rs, b.cs, acc, gemm::Parallelism::None) }
}
struct P(*mut f32); unsafe impl Send for P {} unsafe impl Sync for P {}
/// split the larger of m, n into `parts` blocks (multiples of 16 rows / 16 cols)
pub fn gemm_split(dst: &mut [f32], m: usize, n: usize, k: usize, a: M, b: M, acc: bool, parts: usize) {
    let p = P(dst.as_mut_ptr());
    let p = &p;
    if m >= n {
        let step = (m.div_ceil(parts)).div_ceil(16) * 16;
        (0..m.div_ceil(step)).into_par_iter().for_each(|i| {
            let r0 = i * step; let rows = step.min(m - r0);
            unsafe { raw(p.0.add(r0 * n), n, rows, n, k, a.d.as_ptr().add(r0 * a.rs), a.rs, a.cs, b.d.as_ptr(), b.rs, b.cs, acc, gemm::Parallelism::None) }
        });
    } else {
        let step = (n.div_ceil(parts)).div_ceil(16) * 16;
        (0..n.div_ceil(step)).into_par_iter().for_each(|i| {
            let c0 = i * step; let cols = step.min(n - c0);
            unsafe { raw(p.0.add(c0), n, m, cols, k, a.d.as_ptr(), a.rs, a.cs, b.d.as_ptr().add(c0 * b.cs), b.rs, b.cs, acc, gemm::Parallelism::None) }
        });
    }
}
fn t(mut f: impl FnMut()) -> f64 {
    for _ in 0..10 { f(); }
    let mut v = vec![];
    for _ in 0..9 { let s = Instant::now(); for _ in 0..30 { f(); } v.push(s.elapsed().as_secs_f64() / 30.0); }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap()); v[4]
}
fn data(n: usize, seed: u32) -> Vec<f32> { let mut s = seed; (0..n).map(|_| { s = s.wrapping_mul(1664525).wrapping_add(1013904223); (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5 }).collect() }
pub fn run() {
    // (name, m, n, k, a transposed?, b transposed?) ; row-major storage of the un-transposed operand
    let shapes: &[(&str, usize, usize, usize, bool, bool, usize)] = &[
        ("fwd d->d (x4/layer: q,k,v,out)", 2048, 128, 128, false, false, 4),
        ("fwd d->4d", 2048, 512, 128, false, false, 1),
        ("fwd 4d->d", 2048, 128, 512, false, false, 1),
        ("fwd head d->65", 2048, 65, 128, false, false, 0),
        ("dx d<-d (W^T)", 2048, 128, 128, false, true, 4),
        ("dx d<-4d", 2048, 128, 512, false, true, 1),
        ("dx 4d<-d", 2048, 512, 128, false, true, 1),
        ("dw d x d (x^T dy)", 128, 128, 2048, true, false, 4),
        ("dw d x 4d", 128, 512, 2048, true, false, 1),
        ("dw 4d x d", 512, 128, 2048, true, false, 1),
    ];
    let mut tot = [0.0f64; 4];
    for &(name, m, n, k, at, bt, per_layer) in shapes {
        let ad = data(m * k, 1); let bd = data(k * n, 2);
        let a = if at { M { d: &ad, rs: 1, cs: m } } else { M { d: &ad, rs: k, cs: 1 } };
        let b = if bt { M { d: &bd, rs: 1, cs: k } } else { M { d: &bd, rs: n, cs: 1 } };
        let mut d0 = vec![0f32; m * n]; let mut d1 = vec![0f32; m * n]; let mut d2 = vec![0f32; m * n]; let mut d3 = vec![0f32; m*n];
        gemm_rayon(&mut d0, m, n, k, a, b, false); gemm_split(&mut d1, m, n, k, a, b, false, 2); gemm_split(&mut d2, m, n, k, a, b, false, 8); gemm_one(&mut d3, m, n, k, a, b, false);
        let same = d0 == d1 && d1 == d2 && d2 == d3;
        let r = t(|| gemm_rayon(&mut d0, m, n, k, a, b, false));
        let s2 = t(|| gemm_split(&mut d1, m, n, k, a, b, false, 2));
        let s4 = t(|| gemm_split(&mut d1, m, n, k, a, b, false, 4));
        let s8 = t(|| gemm_split(&mut d2, m, n, k, a, b, false, 8));
        let w = (4 * per_layer.max(1)) as f64;
        tot[0] += r * w; tot[1] += s2 * w; tot[2] += s4 * w; tot[3] += s8 * w;
        println!("{name:32} [{m}x{k}]@[{k}x{n}] rayon {:7.1} split2 {:7.1} split4 {:7.1} split8 {:7.1} us  bits-same {same}", r*1e6, s2*1e6, s4*1e6, s8*1e6);
    }
    println!("per step (4 layers): rayon {:.2} ms split2 {:.2} split4 {:.2} split8 {:.2}", tot[0]*1e3, tot[1]*1e3, tot[2]*1e3, tot[3]*1e3);
}
pub fn gemm_par(dst: &mut [f32], m: usize, n: usize, k: usize, a: M, b: M, acc: bool, t: usize) {
    let par = if t <= 1 { gemm::Parallelism::None } else { gemm::Parallelism::Rayon(t) };
    unsafe { raw(dst.as_mut_ptr(), n, m, n, k, a.d.as_ptr(), a.rs, a.cs, b.d.as_ptr(), b.rs, b.cs, acc, par) }
}
pub fn backward() {
    let rows = 2048;
    let mut tot = [0.0f64; 3];
    for &(name, din, dout, per_layer) in &[("d->d", 128usize, 128usize, 4usize), ("d->4d", 128, 512, 1), ("4d->d", 512, 128, 1), ("qkv fused d->3d", 128, 384, 0)] {
        let x = data(rows * din, 3); let w = data(din * dout, 4); let dy = data(rows * dout, 5);
        let mut dx = vec![0f32; rows * din]; let mut dw = vec![0f32; din * dout];
        let xa = M { d: &x, rs: din, cs: 1 }; let wt = M { d: &w, rs: 1, cs: dout }; let dya = M { d: &dy, rs: dout, cs: 1 }; let xt = M { d: &x, rs: 1, cs: din };
        let seq = t(|| { gemm_rayon(&mut dx, rows, din, dout, dya, wt, false); gemm_rayon(&mut dw, din, dout, rows, xt, dya, false); });
        let th = rayon::current_num_threads();
        let joined = t(|| { rayon::join(|| gemm_par(&mut dx, rows, din, dout, dya, wt, false, th / 2), || gemm_par(&mut dw, din, dout, rows, xt, dya, false, th - th / 2)); });
        let fwd = t(|| gemm_rayon(&mut dx.clone()[..0].to_vec(), 0, 0, 0, xa, xa, false));
        let _ = fwd;
        let wgt = (4 * per_layer) as f64;
        tot[0] += seq * wgt; tot[1] += joined * wgt;
        println!("backward {name:16} sequential rayon {:7.1} us   join(dx,dw) {:7.1} us", seq * 1e6, joined * 1e6);
    }
    println!("per step (4 layers, separate q,k,v): sequential {:.2} ms  joined {:.2} ms", tot[0] * 1e3, tot[1] * 1e3);
}
pub fn split_cols(dst: &mut [f32], m: usize, n: usize, k: usize, a: M, b: M, acc: bool, parts: usize) {
    let p = P(dst.as_mut_ptr()); let p = &p;
    let step = (n.div_ceil(parts)).div_ceil(16) * 16;
    (0..n.div_ceil(step)).into_par_iter().for_each(|i| {
        let c0 = i * step; let cols = step.min(n - c0);
        unsafe { raw(p.0.add(c0), n, m, cols, k, a.d.as_ptr(), a.rs, a.cs, b.d.as_ptr().add(c0 * b.cs), b.rs, b.cs, acc, gemm::Parallelism::None) }
    });
}
pub fn split_rows(dst: &mut [f32], m: usize, n: usize, k: usize, a: M, b: M, acc: bool, parts: usize) {
    let p = P(dst.as_mut_ptr()); let p = &p;
    let step = (m.div_ceil(parts)).div_ceil(16) * 16;
    (0..m.div_ceil(step)).into_par_iter().for_each(|i| {
        let r0 = i * step; let rows = step.min(m - r0);
        unsafe { raw(p.0.add(r0 * n), n, rows, n, k, a.d.as_ptr().add(r0 * a.rs), a.rs, a.cs, b.d.as_ptr(), b.rs, b.cs, acc, gemm::Parallelism::None) }
    });
}
pub fn fwd() {
    for &(name, m, n, k, bt) in &[("fwd d->d", 2048usize, 128usize, 128usize, false), ("fwd d->4d", 2048, 512, 128, false), ("fwd 4d->d", 2048, 128, 512, false), ("dx d<-4d", 2048, 128, 512, true), ("dx 4d<-d", 2048, 512, 128, true)] {
        let ad = data(m * k, 1); let bd = data(k * n, 2);
        let a = M { d: &ad, rs: k, cs: 1 };
        let b = if bt { M { d: &bd, rs: 1, cs: k } } else { M { d: &bd, rs: n, cs: 1 } };
        let mut d = vec![0f32; m * n];
        let one = t(|| gemm_one(&mut d, m, n, k, a, b, true));
        let r = t(|| gemm_rayon(&mut d, m, n, k, a, b, true));
        let c2 = t(|| split_cols(&mut d, m, n, k, a, b, true, 2));
        let r2 = t(|| split_rows(&mut d, m, n, k, a, b, true, 2));
        let r4 = t(|| split_rows(&mut d, m, n, k, a, b, true, 4));
        println!("{name:12} one {:7.1}  rayon {:7.1}  cols2 {:7.1}  rows2 {:7.1}  rows4 {:7.1} us", one*1e6, r*1e6, c2*1e6, r2*1e6, r4*1e6);
    }
}
