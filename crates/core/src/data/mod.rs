//! Datasets behind small ports (`DataSource`, `BatchSource`), file-backed readers (IDX,
//! CIFAR-10, image folders, CSV tables, character-level text, token shards), splits, the deterministic batch order and the streaming loader.

mod batch;
mod cache;
mod cifar;
mod codec;
mod csv_rows;
mod error;
mod idx;
mod idx_dataset;
mod image;
mod image_folder;
mod inspect;
mod json_file;
mod lineage;
mod loader;
mod order;
mod parquet_table;
mod positional;
mod source;
mod splits;
mod subset;
mod table;
mod text;
mod token_shards;

pub use batch::{HostBatch, Samples, fill_batch};
pub use cache::{CACHE_DIR_ENV, cache_dir, decompressed, is_gzip};
pub use cifar::CifarDataset;
pub use codec::TextCodec;
pub use error::DataError;
pub use idx::{IdxFile, IdxImages, IdxKind, read_idx_images, read_idx_labels};
pub use idx_dataset::IdxDataset;
pub use image::{InMemoryImages, Normalize, PixelTable};
pub use image_folder::{
    CLASSES_FILE, FolderListing, IMAGE_EXTENSIONS, ImageDecoder, ImageFiles, ImageFolder,
    ImageFolderSplit, SampleTransform, decoder_of, image_files_under, image_folder_files,
    is_image_file, open_image_folder_splits, open_image_folder_test, scan,
};
pub use inspect::{Inspection, inspect};
pub use lineage::{DatasetRecord, SplitSizes, dataset_digest, dataset_files, file_digest};
pub use loader::{BatchList, Cursor, EpochPlan, Loader, LoaderSettings};
pub use order::{batches_per_epoch, epoch_order, split_indices};
pub use parquet_table::{ParquetTable, is_parquet};
pub use positional::{PositionalFile, open_regular};
pub use source::{BatchSource, DataSource};
pub use splits::{
    Splits, load_splits, load_table_splits, load_test_images, load_text_splits, open_table_rows,
    open_text_windows,
};
pub use subset::Subset;
pub use table::{
    PREPROCESSING_FILE, TableBatch, TableFile, TablePreprocessing, TableRows, TableSpec,
    TableSplits, TableTargets, TableTask, TargetScale,
};
pub use text::{TextCorpus, TextWindows, TokenBatch, TokenWidth, VOCAB_FILE, Vocab};
pub use token_shards::{
    SHARD_META_FILE, Shard, ShardMeta, TOKENIZER_FILE, TokenShards, TokenSplits, load_token_splits,
    open_token_windows,
};
