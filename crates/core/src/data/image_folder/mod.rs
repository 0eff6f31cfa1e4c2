//! `data.format = "image-folder"`: the torchvision `ImageFolder` layout, decoded per sample in
//! the loader's worker threads (nothing holds the decoded dataset), with training-only
//! augmentation drawn per (seed, epoch, sample).

mod augment;
mod decode;
mod inspect;
mod scan;

pub use augment::{SampleTransform, draw};
pub use decode::ImageDecoder;
pub use inspect::inspect_image_folder;
pub use scan::{FolderListing, IMAGE_EXTENSIONS, image_files_under, is_image_file, scan};

use super::{DataError, DataSource, Splits, split_indices};
use crate::config::{AugmentConfig, BadSamples, DataConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The checkpoint asset holding an image folder's class names (a JSON list, index = label).
pub const CLASSES_FILE: &str = "classes.json";

/// The image files of one folder, read by index.
pub struct ImageFolder {
    listing: FolderListing,
    decoder: ImageDecoder,
    /// Leave files that do not decode out of their batch (`data.bad_samples = "skip"`).
    skip_bad: bool,
    /// The files left out so far, by index: `path: why`.
    skipped: Mutex<BTreeMap<usize, String>>,
}

impl ImageFolder {
    /// Lists `dir` (see [`scan`]) for samples shaped by `[data]`.
    pub fn open(
        dir: &Path,
        expected: Option<(&[String], &str)>,
        cfg: &DataConfig,
    ) -> Result<Self, DataError> {
        Ok(Self {
            listing: scan(dir, expected)?,
            decoder: decoder_of(cfg),
            skip_bad: cfg.bad_samples == BadSamples::Skip,
            skipped: Mutex::new(BTreeMap::new()),
        })
    }

    /// What was listed.
    pub fn listing(&self) -> &FolderListing {
        &self.listing
    }

    /// Reads sample `index`, transformed as `augment` (config, run seed, epoch) draws.
    fn read_with(
        &self,
        index: usize,
        augment: Option<(&AugmentConfig, u64, usize)>,
        out: &mut [f32],
    ) -> Result<usize, DataError> {
        let (path, label) = &self.listing.files[index];
        let transform = |w, h| match augment {
            Some((cfg, seed, epoch)) => draw(cfg, (seed, epoch, index), (w, h)),
            None => SampleTransform::NONE,
        };
        match self.decoder.read(path, transform, out) {
            Ok(()) => Ok(*label as usize),
            Err(DataError::Format { path, message }) if self.skip_bad => {
                let mut skipped = self.skipped.lock().unwrap_or_else(|e| e.into_inner());
                if let std::collections::btree_map::Entry::Vacant(slot) = skipped.entry(index) {
                    tracing::warn!("skipping {}: {message}", path.display());
                    slot.insert(format!("{}: {message}", path.display()));
                }
                Err(DataError::Skipped { path, message })
            }
            Err(e) => Err(e),
        }
    }
}

/// The decoder `[data]` asks for (per-channel statistics default to the scalar ones).
pub fn decoder_of(cfg: &DataConfig) -> ImageDecoder {
    let stats = |v: &[f64], scalar: f64| -> Vec<f32> {
        if v.is_empty() {
            vec![scalar as f32]
        } else {
            v.iter().map(|&x| x as f32).collect()
        }
    };
    ImageDecoder::new(
        cfg.image_size,
        cfg.channels,
        &stats(&cfg.mean, cfg.normalize_mean),
        &stats(&cfg.std, cfg.normalize_std),
    )
}

impl DataSource for ImageFolder {
    fn len(&self) -> usize {
        self.listing.files.len()
    }

    fn feature_shape(&self) -> [usize; 3] {
        self.decoder.shape()
    }

    fn num_classes(&self) -> usize {
        self.listing.classes.len()
    }

    fn read(&self, index: usize, out: &mut [f32]) -> Result<usize, DataError> {
        self.read_with(index, None, out)
    }

    fn class_names(&self) -> Option<Vec<String>> {
        Some(self.listing.classes.clone())
    }

    fn skipped(&self) -> Vec<String> {
        let skipped = self.skipped.lock().unwrap_or_else(|e| e.into_inner());
        skipped.values().cloned().collect()
    }
}

/// Some samples of an image folder; the training split also augments (when configured).
pub struct ImageFolderSplit {
    folder: Arc<ImageFolder>,
    indices: Vec<u32>,
    augment: Option<(AugmentConfig, u64)>,
}

impl ImageFolderSplit {
    /// Every sample of `folder`, not augmented.
    pub fn whole(folder: Arc<ImageFolder>) -> Self {
        let indices = (0..folder.len() as u32).collect();
        Self {
            folder,
            indices,
            augment: None,
        }
    }
}

impl DataSource for ImageFolderSplit {
    fn len(&self) -> usize {
        self.indices.len()
    }

    fn feature_shape(&self) -> [usize; 3] {
        self.folder.feature_shape()
    }

    fn num_classes(&self) -> usize {
        self.folder.num_classes()
    }

    fn read(&self, index: usize, out: &mut [f32]) -> Result<usize, DataError> {
        self.folder.read(self.indices[index] as usize, out)
    }

    fn read_for_epoch(
        &self,
        index: usize,
        epoch: usize,
        out: &mut [f32],
    ) -> Result<usize, DataError> {
        let augment = self.augment.as_ref().map(|(cfg, seed)| (cfg, *seed, epoch));
        self.folder
            .read_with(self.indices[index] as usize, augment, out)
    }

    fn class_names(&self) -> Option<Vec<String>> {
        self.folder.class_names()
    }

    fn skipped(&self) -> Vec<String> {
        self.folder.skipped()
    }
}

/// The split folders of a root that has them: `train/`, then `val/` or `valid/`, and `test/`.
fn split_dirs(root: &Path) -> Option<(PathBuf, Option<PathBuf>, Option<PathBuf>)> {
    let train = root.join("train");
    if !train.is_dir() {
        return None;
    }
    let valid = ["val", "valid"]
        .map(|n| root.join(n))
        .into_iter()
        .find(|p| p.is_dir());
    let test = Some(root.join("test")).filter(|p| p.is_dir());
    Some((train, valid, test))
}

/// Opens `data.dir` as an image folder. With `train/` (and optionally `val/`/`valid/`,
/// `test/`) those folders are the splits and must hold the training classes; a split without
/// its folder is drawn from the training folder (`validation_fraction`, `test_fraction`, seeded).
/// Training samples are augmented per `[data.augment]`.
pub fn open_image_folder_splits(cfg: &DataConfig, seed: u64) -> Result<Splits, DataError> {
    let (train_dir, valid_dir, test_dir) = match split_dirs(&cfg.dir) {
        Some(dirs) => dirs,
        None => (cfg.dir.clone(), None, None),
    };
    let folder = Arc::new(ImageFolder::open(&train_dir, None, cfg)?);
    let classes = folder.listing().classes.clone();
    let open_split = |dir: &Path| -> Result<Arc<dyn DataSource>, DataError> {
        let f = ImageFolder::open(dir, Some((&classes, "the training split's")), cfg)?;
        Ok(Arc::new(ImageFolderSplit::whole(Arc::new(f))))
    };
    let test_fraction = if test_dir.is_none() {
        cfg.test_fraction
    } else {
        0.0
    };
    let valid_fraction = if valid_dir.is_none() {
        cfg.validation_fraction
    } else {
        0.0
    };
    let n = folder.len();
    let (rest, test_idx) = if test_fraction > 0.0 {
        split_indices(n, test_fraction, seed)
    } else {
        ((0..n as u32).collect(), Vec::new())
    };
    // Without a drawn test split the validation draw is the IDX format's (same seed, same n).
    let valid_seed = if test_fraction > 0.0 {
        seed ^ 0x5EED
    } else {
        seed
    };
    let (train_pos, valid_pos) = split_indices(
        rest.len(),
        valid_fraction / (1.0 - test_fraction).max(1e-9),
        valid_seed,
    );
    let pick = |pos: Vec<u32>| -> Vec<u32> { pos.into_iter().map(|p| rest[p as usize]).collect() };
    let carved = |indices: Vec<u32>| -> Arc<dyn DataSource> {
        Arc::new(ImageFolderSplit {
            folder: folder.clone(),
            indices,
            augment: None,
        })
    };
    let valid = match &valid_dir {
        Some(dir) => open_split(dir)?,
        None => carved(pick(valid_pos)),
    };
    let test = match &test_dir {
        Some(dir) => open_split(dir)?,
        None => carved(test_idx),
    };
    let train = Arc::new(ImageFolderSplit {
        folder: folder.clone(),
        indices: pick(train_pos),
        augment: cfg.augment.any().then(|| (cfg.augment.clone(), seed)),
    });
    Ok(Splits { train, valid, test })
}

/// What `eval --data DIR` scores in an image folder: `DIR/test/` when there is one, else
/// `DIR`'s class folders; they must hold exactly `classes` (the checkpoint's).
pub fn open_image_folder_test(
    cfg: &DataConfig,
    classes: Option<&[String]>,
) -> Result<Arc<dyn DataSource>, DataError> {
    let test = cfg.dir.join("test");
    let dir = if test.is_dir() { test } else { cfg.dir.clone() };
    let expected = classes.map(|c| (c, "the checkpoint's"));
    let folder = ImageFolder::open(&dir, expected, cfg)?;
    Ok(Arc::new(ImageFolderSplit::whole(Arc::new(folder))))
}

/// Every image file under `cfg.dir` (all splits), sorted: what a run's lineage digests.
pub fn image_folder_files(cfg: &DataConfig) -> Result<Vec<PathBuf>, DataError> {
    let dirs: Vec<PathBuf> = match split_dirs(&cfg.dir) {
        Some((train, valid, test)) => [Some(train), valid, test].into_iter().flatten().collect(),
        None => vec![cfg.dir.clone()],
    };
    let mut files = Vec::new();
    for dir in dirs {
        files.extend(scan(&dir, None)?.files.into_iter().map(|(p, _)| p));
    }
    files.sort();
    Ok(files)
}

/// Unlabelled image files to score (`predict`): one file, or every image under a folder.
pub struct ImageFiles {
    files: Vec<PathBuf>,
    decoder: ImageDecoder,
}

impl ImageFiles {
    /// `input` (an image file, or a folder searched recursively) decoded as `[data]` says.
    pub fn open(input: &Path, cfg: &DataConfig) -> Result<Self, DataError> {
        let files = if input.is_dir() {
            let (files, _) = image_files_under(input)?;
            if files.is_empty() {
                return Err(DataError::Format {
                    path: input.to_path_buf(),
                    message: "holds no .png, .jpg or .jpeg files".into(),
                });
            }
            files
        } else {
            std::fs::metadata(input).map_err(|e| DataError::io(input, e))?;
            vec![input.to_path_buf()]
        };
        Ok(Self {
            files,
            decoder: decoder_of(cfg),
        })
    }
}

impl DataSource for ImageFiles {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn feature_shape(&self) -> [usize; 3] {
        self.decoder.shape()
    }

    fn num_classes(&self) -> usize {
        0
    }

    fn read(&self, index: usize, out: &mut [f32]) -> Result<usize, DataError> {
        let plain = |_, _| SampleTransform::NONE;
        self.decoder.read(&self.files[index], plain, out)?;
        Ok(0)
    }

    fn sample_names(&self) -> Option<Vec<String>> {
        Some(self.files.iter().map(|p| p.display().to_string()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DataFormat;

    /// `n` tiny PNGs per class under `dir/<class>/`, each a solid grey of its own shade.
    fn write_classes(dir: &Path, classes: &[&str], n: u8) {
        for (c, class) in classes.iter().enumerate() {
            std::fs::create_dir_all(dir.join(class)).unwrap();
            for i in 0..n {
                let shade = c as u8 * 100 + i;
                image::GrayImage::from_pixel(4, 4, image::Luma([shade]))
                    .save(dir.join(class).join(format!("{i:02}.png")))
                    .unwrap();
            }
        }
    }

    fn cfg(dir: &Path) -> DataConfig {
        DataConfig {
            format: DataFormat::ImageFolder,
            dir: dir.to_path_buf(),
            image_size: [4, 4],
            channels: 1,
            mean: vec![0.0],
            std: vec![1.0],
            validation_fraction: 0.1,
            test_fraction: 0.2,
            ..DataConfig::default()
        }
    }

    fn first_pixel(s: &dyn DataSource, i: usize, epoch: Option<usize>) -> (u8, usize) {
        let mut out = vec![0f32; 16];
        let label = match epoch {
            Some(e) => s.read_for_epoch(i, e, &mut out),
            None => s.read(i, &mut out),
        }
        .unwrap();
        ((out[0] * 255.0).round() as u8, label)
    }

    #[test]
    fn a_flat_folder_is_split_by_the_fractions() {
        let dir = tempfile::tempdir().unwrap();
        write_classes(dir.path(), &["ant", "bee"], 10);
        let s = open_image_folder_splits(&cfg(dir.path()), 3).unwrap();
        assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (14, 2, 4));
        assert_eq!(s.train.class_names().unwrap(), ["ant", "bee"]);
        assert_eq!(s.train.feature_shape(), [1, 4, 4]);
        let mut seen: Vec<u8> = Vec::new();
        for split in [&s.train, &s.valid, &s.test] {
            for i in 0..split.len() {
                let (shade, label) = first_pixel(split.as_ref(), i, None);
                assert_eq!(label, usize::from(shade >= 100), "shade {shade}");
                seen.push(shade);
            }
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 20, "every image in exactly one split");
    }

    #[test]
    fn split_folders_are_the_splits_and_must_hold_the_training_classes() {
        let dir = tempfile::tempdir().unwrap();
        write_classes(&dir.path().join("train"), &["ant", "bee"], 10);
        write_classes(&dir.path().join("test"), &["ant", "bee"], 3);
        let s = open_image_folder_splits(&cfg(dir.path()), 3).unwrap();
        assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (18, 2, 6));
        write_classes(&dir.path().join("val"), &["ant", "cat"], 2);
        let e = open_image_folder_splits(&cfg(dir.path()), 3)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains(
                "val: holds the classes [ant, cat] but the training split's classes are [ant, bee]"
            ),
            "{e}"
        );
        let test = open_image_folder_test(&cfg(dir.path()), Some(&["ant".into(), "bee".into()]));
        assert_eq!(test.unwrap().len(), 6, "eval reads test/");
    }

    #[test]
    fn only_training_reads_are_augmented() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        let img = image::GrayImage::from_fn(8, 8, |x, _| image::Luma([x as u8 * 30]));
        for i in 0..4 {
            img.save(dir.path().join(format!("a/{i}.png"))).unwrap();
        }
        let mut c = cfg(dir.path());
        (c.validation_fraction, c.test_fraction) = (0.25, 0.25);
        c.augment.horizontal_flip = true;
        c.augment.random_resized_crop = true;
        let s = open_image_folder_splits(&c, 9).unwrap();
        let read = |split: &Arc<dyn DataSource>, epoch| {
            let mut out = vec![0f32; 16];
            match epoch {
                Some(e) => split.read_for_epoch(0, e, &mut out).unwrap(),
                None => split.read(0, &mut out).unwrap(),
            };
            out
        };
        let plain = read(&s.train, None);
        let epochs: Vec<_> = (0..6).map(|e| read(&s.train, Some(e))).collect();
        assert_eq!(epochs[2], read(&s.train, Some(2)), "a draw is repeatable");
        assert!(
            epochs.iter().any(|o| *o != plain),
            "some epoch is augmented"
        );
        assert_eq!(
            read(&s.valid, Some(1)),
            read(&s.valid, None),
            "validation never is"
        );
    }
}
