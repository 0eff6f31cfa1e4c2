//! A view of another source restricted to (and reordered by) a list of indices.

use super::{DataError, DataSource};
use std::sync::Arc;

/// The samples of an inner source at a list of indices (4 bytes each), in that order.
pub struct Subset<S: DataSource + ?Sized> {
    inner: Arc<S>,
    indices: Vec<u32>,
}

impl<S: DataSource + ?Sized> Subset<S> {
    /// The samples of `inner` at `indices`, in that order.
    pub fn new(inner: Arc<S>, indices: Vec<u32>) -> Self {
        Self { inner, indices }
    }
}

impl<S: DataSource + ?Sized> DataSource for Subset<S> {
    fn len(&self) -> usize {
        self.indices.len()
    }

    fn feature_shape(&self) -> [usize; 3] {
        self.inner.feature_shape()
    }

    fn num_classes(&self) -> usize {
        self.inner.num_classes()
    }

    fn read(&self, index: usize, out: &mut [f32]) -> Result<usize, DataError> {
        self.inner.read(self.indices[index] as usize, out)
    }

    fn read_for_epoch(
        &self,
        index: usize,
        epoch: usize,
        out: &mut [f32],
    ) -> Result<usize, DataError> {
        self.inner
            .read_for_epoch(self.indices[index] as usize, epoch, out)
    }

    fn class_names(&self) -> Option<Vec<String>> {
        self.inner.class_names()
    }

    fn skipped(&self) -> Vec<String> {
        self.inner.skipped()
    }
}
