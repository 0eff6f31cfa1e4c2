//! The host ops' output vectors, zeroed chunk by chunk on rayon's threads right before each
//! chunk is computed, instead of in one pass over the whole vector on the calling thread.
//!
//! `vec![0.0; n]` is a `calloc`. Once glibc serves it from reused memory (its mmap threshold
//! rises after the first large free), `calloc` zeroes all `n` elements on the calling thread
//! while the rayon threads that compute the values wait: 9% of a CPU GPT step's samples, every
//! one on the main thread (`benches/results/2026-12-05-cpu-serial-zeroing/`). Here each task
//! zeroes its own chunk, in its core's cache just before it writes the chunk ([`par_fill`]):
//! the values are those of `vec![0.0; n]` followed by the same writes. Outputs written whole
//! skip the zeroing ([`par_write`]).

use rayon::prelude::*;
use std::mem::MaybeUninit;

/// A vector's base pointer, shared by the tasks that each write one disjoint chunk of it.
struct Base<T>(*mut T);

// SAFETY: tasks form slices only over disjoint chunks of the allocation (see `par_write`).
unsafe impl<T: Send> Send for Base<T> {}
// SAFETY: as above; the pointer itself is only read.
unsafe impl<T: Send> Sync for Base<T> {}

/// Element types whose all-zero bit pattern is the value zero.
///
/// # Safety
/// Every implementing type must be valid with all bits zero ([`par_fill`] relies on it).
pub(crate) unsafe trait Zeroed: Copy + Send + Sync {}
// SAFETY: all-zero bits are 0.0.
unsafe impl Zeroed for f32 {}
// SAFETY: all-zero bits are 0.
unsafe impl Zeroed for u32 {}

/// `N` vectors of `lens[k]` elements, written in `tasks` rayon tasks: task `i` gets chunk `i`
/// (`chunks[k]` elements from `i * chunks[k]`, shorter or empty at the end) of every vector,
/// zeroed, and a scratch value from `init` (one per rayon job, as `map_init`); `fill` writes
/// the chunks (it may accumulate into the zeros) and returns a per-task value, collected in
/// task order. `tasks` is the most chunks any vector has.
pub(crate) fn par_fill<T, const N: usize, S, R, I, F>(
    lens: [usize; N],
    chunks: [usize; N],
    init: I,
    fill: F,
) -> ([Vec<T>; N], Vec<R>)
where
    T: Zeroed,
    R: Send,
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize, [&mut [T]; N]) -> R + Sync + Send,
{
    let zero_then_fill = |scratch: &mut S, i: usize, parts: [&mut [MaybeUninit<T>]; N]| {
        let parts = parts.map(|part| {
            // SAFETY: `part` is valid for writes of `part.len()` elements, and all-zero bits
            // are a valid zero of every `Zeroed` type; after the write every element is
            // initialized, so the slice may be viewed as `[T]`.
            unsafe {
                part.as_mut_ptr().write_bytes(0, part.len());
                assume_written(part)
            }
        });
        fill(scratch, i, parts)
    };
    // SAFETY: `zero_then_fill` initializes every element of every chunk before `fill` runs.
    unsafe { par_write(lens, chunks, init, zero_then_fill) }
}

/// `part` as the initialized elements a chunk's writes made of it.
///
/// # Safety
/// Every element of `part` must have been written.
pub(crate) unsafe fn assume_written<T>(part: &mut [MaybeUninit<T>]) -> &mut [T] {
    // SAFETY: the caller wrote every element, and `MaybeUninit<T>` has `T`'s layout.
    unsafe { &mut *(part as *mut [MaybeUninit<T>] as *mut [T]) }
}

/// [`par_fill`] without the zeroing, for outputs that `fill` overwrites whole: the chunks
/// arrive uninitialized.
///
/// # Safety
/// `fill` must initialize every element of every chunk it is given (with
/// `MaybeUninit::write`); the vectors are returned as initialized.
pub(crate) unsafe fn par_write<T, const N: usize, S, R, I, F>(
    lens: [usize; N],
    chunks: [usize; N],
    init: I,
    fill: F,
) -> ([Vec<T>; N], Vec<R>)
where
    T: Send + Sync,
    R: Send,
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize, [&mut [MaybeUninit<T>]; N]) -> R + Sync + Send,
{
    let chunks = chunks.map(|c| c.max(1));
    let tasks = (0..N)
        .map(|k| lens[k].div_ceil(chunks[k]))
        .max()
        .unwrap_or(0);
    let mut outs: [Vec<T>; N] = lens.map(Vec::with_capacity);
    let bases = outs.each_mut().map(|v| Base(v.as_mut_ptr()));
    let per_task = (0..tasks)
        .into_par_iter()
        .map_init(init, |scratch, i| {
            let parts: [&mut [MaybeUninit<T>]; N] = std::array::from_fn(|k| {
                let start = (i * chunks[k]).min(lens[k]);
                let len = chunks[k].min(lens[k] - start);
                // SAFETY: `start + len <= lens[k]`, within the vector's capacity; chunk `i` of
                // vector `k` is formed by this task only, so the slices of different tasks
                // are disjoint; `MaybeUninit` elements need no initialization to be borrowed.
                unsafe { std::slice::from_raw_parts_mut(bases[k].0.add(start).cast(), len) }
            });
            fill(scratch, i, parts)
        })
        .collect();
    for (v, &len) in outs.iter_mut().zip(&lens) {
        // SAFETY: the tasks' chunks cover `0..len` (`tasks` chunks of `chunks[k]` elements
        // reach at least `len`), the caller's `fill` initialized each one, and all tasks have
        // finished.
        unsafe { v.set_len(len) };
    }
    (outs, per_task)
}

/// One vector written by `fill(i, chunk)` for each uninitialized chunk `i` of `chunk` elements,
/// on rayon's threads.
///
/// # Safety
/// As [`par_write`]: `fill` must initialize every element of its chunk.
pub(crate) unsafe fn written<T: Send + Sync>(
    len: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync + Send,
) -> Vec<T> {
    // SAFETY: passed on from the caller.
    let ([out], _) = unsafe { par_write([len], [chunk], || (), |_, i, [part]| fill(i, part)) };
    out
}

/// A vector of `len` elements written by `fill(i, chunk)` for each zeroed chunk `i` of `chunk`
/// elements, on rayon's threads.
pub(crate) fn filled<T: Zeroed>(
    len: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [T]) + Sync + Send,
) -> Vec<T> {
    let ([out], _) = par_fill([len], [chunk], || (), |_, i, [part]| fill(i, part));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_is_zeroed_written_once_and_in_place() {
        // 10 and 4 elements in chunks of 3 and 1: four tasks, the last chunk of the first
        // vector shorter, and both vectors' chunks numbered alike.
        let ([a, b], sums) = par_fill(
            [10, 4],
            [3, 1],
            || 0usize,
            |calls, i, [a, b]| {
                *calls += 1;
                assert!(a.iter().chain(b.iter()).all(|&v| v == 0.0), "zeroed first");
                for (j, v) in a.iter_mut().enumerate() {
                    *v += (i * 3 + j) as f32;
                }
                b.iter_mut().for_each(|v| *v = -(i as f32));
                a.len() + b.len()
            },
        );
        assert_eq!(a, (0..10).map(|v| v as f32).collect::<Vec<_>>());
        assert_eq!(b, [0.0, -1.0, -2.0, -3.0]);
        assert_eq!(sums, [4, 4, 4, 2], "per-task values in task order");
    }

    #[test]
    fn written_vectors_hold_what_was_written() {
        // SAFETY: the closure writes every element of its chunk.
        let v: Vec<f32> = unsafe {
            written(11, 4, |i, part| {
                for (j, e) in part.iter_mut().enumerate() {
                    e.write((i * 4 + j) as f32);
                }
            })
        };
        assert_eq!(v, (0..11).map(|v| v as f32).collect::<Vec<_>>());
    }

    #[test]
    fn empty_and_zeroed_vectors() {
        let empty: Vec<f32> = filled(0, 4, |_, _| {});
        assert!(empty.is_empty());
        let z: Vec<f32> = filled((1 << 16) * 2 + 5, 1 << 16, |_, _| {});
        assert_eq!(z.len(), (1 << 16) * 2 + 5);
        assert!(z.iter().all(|&v| v == 0.0));
        let ints: Vec<u32> = filled(7, 2, |i, part| part.fill(i as u32));
        assert_eq!(ints, [0, 0, 1, 1, 2, 2, 3]);
    }
}
