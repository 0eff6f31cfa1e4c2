//! The datasets `trainer data fetch` knows: canonical URLs, SHA-256 pins, and how to unpack.

/// One file to download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteFile {
    /// Canonical URL.
    pub url: &'static str,
    /// SHA-256 of the file as published (lowercase hex).
    pub sha256: &'static str,
}

impl RemoteFile {
    /// The file name: the URL's last path segment.
    pub fn file_name(&self) -> &'static str {
        self.url.rsplit('/').next().unwrap_or(self.url)
    }
}

/// What to do with the downloaded files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpack {
    /// Keep them as they are (gzipped IDX is read directly).
    Keep,
    /// A `.tar.gz` whose members go into the dataset directory; the archive is removed after.
    TarGz,
}

/// A dataset: its name on the command line, the directory it lands in, its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dataset {
    /// Name given to `trainer data fetch`.
    pub name: &'static str,
    /// Directory created under `--dir` (for `TarGz`, the archive's own top directory).
    pub dir: &'static str,
    /// Files to download.
    pub files: &'static [RemoteFile],
    /// How to unpack them.
    pub unpack: Unpack,
}

/// Every dataset `fetch` knows. Pins are the SHA-256 sums published for the canonical files
/// (cross-checked against several independent references).
pub const DATASETS: &[Dataset] = &[
    Dataset {
        name: "mnist",
        dir: "mnist",
        files: &[
            RemoteFile {
                url: "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
                sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            },
            RemoteFile {
                url: "https://ossci-datasets.s3.amazonaws.com/mnist/train-labels-idx1-ubyte.gz",
                sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            },
            RemoteFile {
                url: "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz",
                sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            },
            RemoteFile {
                url: "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
                sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            },
        ],
        unpack: Unpack::Keep,
    },
    Dataset {
        name: "fashion-mnist",
        dir: "fashion-mnist",
        files: &[
            RemoteFile {
                url: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz",
                sha256: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            },
            RemoteFile {
                url: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-labels-idx1-ubyte.gz",
                sha256: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            },
            RemoteFile {
                url: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-images-idx3-ubyte.gz",
                sha256: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            },
            RemoteFile {
                url: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-labels-idx1-ubyte.gz",
                sha256: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            },
        ],
        unpack: Unpack::Keep,
    },
    Dataset {
        name: "cifar10",
        dir: "cifar-10-batches-bin",
        files: &[RemoteFile {
            url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
            sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
        }],
        unpack: Unpack::TarGz,
    },
    Dataset {
        name: "tinyshakespeare",
        dir: "tinyshakespeare",
        files: &[RemoteFile {
            url: "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            sha256: "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        }],
        unpack: Unpack::Keep,
    },
];

/// The dataset called `name`.
pub fn dataset(name: &str) -> Option<&'static Dataset> {
    DATASETS.iter().find(|d| d.name == name)
}

/// All dataset names, for error messages and help.
pub fn names() -> Vec<&'static str> {
    DATASETS.iter().map(|d| d.name).collect()
}
