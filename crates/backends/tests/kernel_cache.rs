//! The kernel cache's location rules (the crate's lib is built without a unit-test harness:
//! it is where every backend's jobs are compiled, and a second build of it for tests would
//! double the workspace's heaviest compile).

use trainer_backends::{KERNEL_CACHE_ENV, KernelCache, kernel_cache_location};

#[test]
fn the_cache_follows_the_env_then_xdg_then_home_unless_a_cubecl_file_decides() {
    let dir = tempfile::tempdir().unwrap();
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        }
    };
    let here = dir.path();
    assert_eq!(
        kernel_cache_location(env(&[(KERNEL_CACHE_ENV, "/k"), ("HOME", "/h")]), here),
        KernelCache::Trainer("/k".into())
    );
    assert_eq!(
        kernel_cache_location(env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")]), here),
        KernelCache::Trainer("/x/trainer/kernels".into())
    );
    assert_eq!(
        kernel_cache_location(env(&[("HOME", "/h")]), here),
        KernelCache::Trainer("/h/.cache/trainer/kernels".into())
    );
    assert_eq!(kernel_cache_location(env(&[]), here), KernelCache::Off);
    let nested = here.join("a/b");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(here.join("cubecl.toml"), "").unwrap();
    assert_eq!(
        kernel_cache_location(env(&[(KERNEL_CACHE_ENV, "/k")]), &nested),
        KernelCache::CubeclConfig(here.join("cubecl.toml"))
    );
}
