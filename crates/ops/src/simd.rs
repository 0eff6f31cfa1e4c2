//! Run-time choice of instruction set for the host ops' element loops: the workspace builds for
//! baseline x86-64 (SSE2's 4 lanes), so a loop meant for wider vectors is written once as an
//! `#[inline(always)]` function and [`dispatch!`] calls a copy of it compiled for AVX-512F (16
//! lanes) or AVX2 (8) where the CPU has it; [`copies!`] declares those copies (modules `avx512`
//! and `avx2` of `#[target_feature(enable = ...)]` wrappers). The loops use plain
//! multiplies, adds, divides and square roots (Rust never fuses them into FMAs), each rounded
//! as IEEE 754 says whatever the vector width, so every path gives the same bits.

/// `$f(args)` by the module's `avx512::$f` or `avx2::$f` where the CPU has the instruction
/// set, else `$f` itself; `return`s the result from the enclosing function or closure.
macro_rules! dispatch {
    ($f:ident($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: `avx512::$f` only needs AVX-512F, which the line above detected.
            return unsafe { avx512::$f($($arg),*) };
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: `avx2::$f` only needs AVX2, which the line above detected at run time.
            return unsafe { avx2::$f($($arg),*) };
        }
        $f($($arg),*)
    }};
}
pub(crate) use dispatch;

/// Declares the modules [`dispatch!`] calls into, `avx2` and `avx512`, each with a copy of the
/// listed `#[inline(always)]` functions of the calling module compiled for its instruction
/// set (AVX2, AVX-512F). Write each signature as the function's own, its types as the calling
/// module names them.
macro_rules! copies {
    ($(fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?;)*) => {
        $crate::simd::copies!(@set avx2, "avx2", "AVX2", $(fn $name($($arg: $ty),*) $(-> $ret)?;)*);
        $crate::simd::copies!(@set avx512, "avx512f", "AVX-512F", $(fn $name($($arg: $ty),*) $(-> $ret)?;)*);
    };
    (@set $module:ident, $feature:literal, $label:literal, $(fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;)*) => {
        #[doc = concat!("The element loops compiled with ", $label, " enabled.")]
        #[cfg(target_arch = "x86_64")]
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[doc = concat!("`", stringify!($name), "` for ", $label, ".")]
                #[allow(clippy::too_many_arguments)]
                #[target_feature(enable = $feature)]
                pub fn $name($($arg: $ty),*) $(-> $ret)? {
                    super::$name($($arg),*)
                }
            )*
        }
    };
}
pub(crate) use copies;
