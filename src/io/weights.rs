//! Safetensors weights files (§11): reading (`init_from`, `--resume`) and writing
//! (`save`, checkpoints). Tensors are handed over as f64 whatever the file's dtype
//! (F32 or F64), and written as F32 or F64. Never panics on a bad file.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use miette::Diagnostic;
use safetensors::tensor::{SafeTensors, TensorView};
use safetensors::Dtype;
use thiserror::Error;

use super::atomic::write_atomic;

/// Problems with a weights or checkpoint file.
#[derive(Debug, Error, Diagnostic)]
pub enum WeightsError {
    /// `init_from = "nowhere.safetensors"` (a file that does not exist).
    /// Fixture: tests/fixtures/engine/errors/missing_file.nnt
    #[error("cannot read weights file {path}")]
    #[diagnostic(
        code(nnt::io::unreadable),
        help("check the path; relative paths are relative to the recipe's directory")
    )]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// `init_from` naming a CSV file (or anything else that is not safetensors).
    /// Fixture: tests/fixtures/engine/errors/not_safetensors.safetensors
    #[error("{path} is not a safetensors file: {reason}")]
    #[diagnostic(code(nnt::io::not_safetensors), help("weights files are written by `save`, by checkpoints, or by safetensors.torch.save_file"))]
    NotSafetensors { path: String, reason: String },
    /// A file that lacks one of the model's parameters (e.g. `3.weight` for a deeper model).
    /// Fixture: tests/fixtures/engine/errors/missing_tensor.safetensors
    #[error("{path} has no tensor `{name}` (the model needs shape {expected:?})")]
    #[diagnostic(
        code(nnt::io::missing_tensor),
        help("the file must come from the same model: names follow nn.Sequential numbering")
    )]
    MissingTensor {
        path: String,
        name: String,
        expected: Vec<usize>,
    },
    /// A tensor whose shape differs from the model's, e.g. `0.weight` [8, 4] for `dense(16)`.
    /// Fixture: tests/fixtures/engine/errors/wrong_shape.safetensors
    #[error("tensor `{name}` in {path} has shape {found:?}, the model needs {expected:?}")]
    #[diagnostic(
        code(nnt::io::wrong_shape),
        help("the layer widths of the recipe must match the file's")
    )]
    WrongShape {
        path: String,
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    /// A tensor stored as, say, BF16 or I64 where a parameter is needed.
    /// Fixture: tests/fixtures/engine/errors/wrong_dtype.safetensors
    #[error("tensor `{name}` in {path} has dtype {dtype}; only F32 and F64 are accepted")]
    #[diagnostic(code(nnt::io::wrong_dtype))]
    WrongDtype {
        path: String,
        name: String,
        dtype: String,
    },
    /// A start-weights or checkpoint tensor holding NaN or ±inf, or an F64 value
    /// beyond F32's range where the model is F32.
    #[error("tensor `{name}` in {path} holds a value that is not finite{detail}")]
    #[diagnostic(
        code(nnt::io::non_finite),
        help("the file comes from a run that diverged, or was damaged; use weights saved before the divergence")
    )]
    NonFinite {
        path: String,
        name: String,
        detail: String,
    },
    /// A checkpoint whose metadata is missing or damaged.
    /// Fixture: tests/fixtures/engine/errors/bad_checkpoint.safetensors
    #[error("{path} is not a usable nnt checkpoint: {reason}")]
    #[diagnostic(
        code(nnt::io::bad_checkpoint),
        help("resume from a file written by the `checkpoint` section of the same recipe")
    )]
    BadCheckpoint { path: String, reason: String },
    /// `--resume` with a checkpoint written by another recipe, seed or data set.
    #[error("{path} was written by another run; what differs from this recipe: {differ}")]
    #[diagnostic(
        code(nnt::io::foreign_checkpoint),
        help("resume with the recipe, seed and data that wrote the checkpoint, or train from the start")
    )]
    ForeignCheckpoint { path: String, differ: String },
    /// A weights path that is not a regular file (a FIFO, a device, a
    /// directory), or a file beyond the size nnt reads.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(Box<super::guard::IoError>),
    /// `save = "no/such/directory/out.safetensors"` (a directory that does not exist).
    /// Fixture: tests/fixtures/engine/errors/save_unwritable.nnt
    #[error("cannot write {path}")]
    #[diagnostic(code(nnt::io::write_failed))]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// One tensor as read: its shape and its values widened to f64, or the dtype name
/// when it is not F32/F64.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Result<Vec<f64>, String>,
}

/// A safetensors file in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightsFile {
    /// The path, for messages.
    pub path: String,
    pub tensors: HashMap<String, Tensor>,
    pub metadata: HashMap<String, String>,
}

impl WeightsFile {
    /// Reads and parses a file.
    pub fn read(path: &Path) -> Result<WeightsFile, WeightsError> {
        use super::guard::{read_regular, IoError, WEIGHTS_LIMIT};
        let shown = path.display().to_string();
        // A regular file of bounded size: a FIFO would block, a device never end.
        let bytes = read_regular("weights file", path, WEIGHTS_LIMIT).map_err(|e| match e {
            IoError::Unreadable { source, .. } => WeightsError::Unreadable {
                path: shown.clone(),
                source,
            },
            other => WeightsError::Io(Box::new(other)),
        })?;
        WeightsFile::parse(&bytes, shown)
    }

    /// Parses the bytes of a file (`path` is only for messages).
    pub fn parse(bytes: &[u8], path: String) -> Result<WeightsFile, WeightsError> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| WeightsError::NotSafetensors {
            path: path.clone(),
            reason: describe(&e),
        })?;
        let metadata = SafeTensors::read_metadata(bytes)
            .ok()
            .and_then(|(_, m)| m.metadata().clone())
            .unwrap_or_default();
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            let shape = view.shape().to_vec();
            let raw = view.data();
            let data = match view.dtype() {
                Dtype::F32 => Ok(raw
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                    .collect()),
                Dtype::F64 => Ok(raw
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect()),
                other => Err(format!("{other:?}")),
            };
            tensors.insert(name, Tensor { shape, data });
        }
        Ok(WeightsFile {
            path,
            tensors,
            metadata,
        })
    }

    /// The values of tensor `name`, which must exist with exactly `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<&[f64], WeightsError> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| WeightsError::MissingTensor {
                path: self.path.clone(),
                name: name.to_string(),
                expected: shape.to_vec(),
            })?;
        if t.shape != shape {
            return Err(WeightsError::WrongShape {
                path: self.path.clone(),
                name: name.to_string(),
                found: t.shape.clone(),
                expected: shape.to_vec(),
            });
        }
        match &t.data {
            Ok(v) => Ok(v),
            Err(dtype) => Err(WeightsError::WrongDtype {
                path: self.path.clone(),
                name: name.to_string(),
                dtype: dtype.clone(),
            }),
        }
    }

    /// Like [`WeightsFile::get`], but a missing tensor is `Ok(None)`.
    pub fn get_optional(
        &self,
        name: &str,
        shape: &[usize],
    ) -> Result<Option<&[f64]>, WeightsError> {
        if self.tensors.contains_key(name) {
            self.get(name, shape).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// The safetensors crate's errors in words.
fn describe(e: &safetensors::SafeTensorError) -> String {
    use safetensors::SafeTensorError as E;
    match e {
        E::HeaderTooSmall
        | E::HeaderTooLarge
        | E::InvalidHeaderLength
        | E::InvalidHeader
        | E::InvalidHeaderStart => "it does not start with a safetensors header".to_string(),
        E::InvalidHeaderDeserialization => "its header is not valid safetensors JSON".to_string(),
        E::MetadataIncompleteBuffer | E::InvalidOffset(_) | E::TensorInvalidInfo => {
            "the file is truncated or its tensor offsets are wrong".to_string()
        }
        other => format!("{other:?}"),
    }
}

/// A tensor to write: name, shape, values.
#[derive(Debug, Clone, PartialEq)]
pub struct OutTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

struct Owned {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl safetensors::View for &Owned {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Never write a non-finite parameter (nor one that overflows F32): the trainer
/// stops a diverging run before it saves, this is the last guard. Optimizer
/// buffers (`optim.*`) are state, not parameters, and may hold inf.
pub fn refuse_non_finite(tensors: &[OutTensor], dtype: Dtype) -> Result<(), String> {
    for t in tensors.iter().filter(|t| !t.name.starts_with("optim.")) {
        let finite = |v: f64| {
            if dtype == Dtype::F64 {
                v.is_finite()
            } else {
                (v as f32).is_finite()
            }
        };
        if !t.data.iter().all(|&v| finite(v)) {
            return Err(format!(
                "tensor `{}` holds a value that is not finite",
                t.name
            ));
        }
    }
    Ok(())
}

/// Serialises tensors (as F32 or F64) and metadata into safetensors bytes.
pub fn serialize(
    tensors: &[OutTensor],
    dtype: Dtype,
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>, String> {
    let owned: Vec<(String, Owned)> = tensors
        .iter()
        .map(|t| {
            let bytes = if dtype == Dtype::F64 {
                t.data.iter().flat_map(|v| v.to_le_bytes()).collect()
            } else {
                t.data
                    .iter()
                    .flat_map(|&v| (v as f32).to_le_bytes())
                    .collect()
            };
            (
                t.name.clone(),
                Owned {
                    dtype: if dtype == Dtype::F64 {
                        Dtype::F64
                    } else {
                        Dtype::F32
                    },
                    shape: t.shape.clone(),
                    bytes,
                },
            )
        })
        .collect();
    refuse_non_finite(tensors, dtype)?;
    // Check every view is consistent before handing it over.
    for (_, o) in &owned {
        TensorView::new(o.dtype, o.shape.clone(), &o.bytes).map_err(|e| format!("{e:?}"))?;
    }
    let sort = metadata.is_some();
    safetensors::serialize(owned.iter().map(|(n, o)| (n.as_str(), o)), &metadata)
        .map(|bytes| if sort { sorted_header(bytes) } else { bytes })
        .map_err(|e| format!("{e:?}"))
}

/// The same safetensors bytes with the header's keys (and the metadata's) in
/// sorted order, for files with metadata (checkpoints; weights without metadata
/// keep safetensors' own deterministic layout): safetensors writes the metadata
/// from a `HashMap`, so two
/// identical runs wrote checkpoints whose bytes differed (issue 11, item 21).
/// The data section is untouched (its offsets are relative to its start); the
/// header is padded with spaces to a multiple of 8 bytes, as safetensors does.
fn sorted_header(bytes: Vec<u8>) -> Vec<u8> {
    use std::collections::BTreeMap;
    let sorted = || -> Option<Vec<u8>> {
        let n = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
        let header = bytes.get(8..8usize.checked_add(n)?)?;
        let parsed: BTreeMap<String, serde_json::Value> = serde_json::from_slice(header).ok()?;
        let mut entries: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        for (key, value) in parsed {
            let value = match value {
                serde_json::Value::Object(map) => {
                    let inner: BTreeMap<String, serde_json::Value> = map.into_iter().collect();
                    serde_json::to_value(inner).ok()?
                }
                other => other,
            };
            entries.insert(key, value);
        }
        let mut text = serde_json::to_vec(&entries).ok()?;
        while text.len() % 8 != 0 {
            text.push(b' ');
        }
        let mut out = Vec::with_capacity(8 + text.len() + bytes.len() - 8 - n);
        out.extend_from_slice(&(text.len() as u64).to_le_bytes());
        out.extend_from_slice(&text);
        out.extend_from_slice(&bytes[8 + n..]);
        Some(out)
    };
    sorted().unwrap_or(bytes)
}

/// Writes tensors to `path` atomically.
pub fn write(
    path: &Path,
    tensors: &[OutTensor],
    dtype: Dtype,
    metadata: Option<HashMap<String, String>>,
) -> Result<(), WeightsError> {
    write_serialized(path, serialize(tensors, dtype, metadata))
}

/// Writes serialised safetensors bytes atomically; a serialisation error (a
/// non-finite parameter, inconsistent shapes) is a write error of `path` too.
pub fn write_serialized(path: &Path, bytes: Result<Vec<u8>, String>) -> Result<(), WeightsError> {
    let write_error = |source| WeightsError::Write {
        path: path.display().to_string(),
        source,
    };
    let bytes = bytes.map_err(|e| write_error(std::io::Error::other(e)))?;
    write_atomic(path, &bytes).map_err(write_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_parameters_are_never_written() {
        let t = |name: &str, v: f64| OutTensor {
            name: name.into(),
            shape: vec![1],
            data: vec![v],
        };
        assert!(serialize(&[t("0.weight", f64::NAN)], Dtype::F32, None).is_err());
        assert!(serialize(&[t("0.weight", f64::INFINITY)], Dtype::F64, None).is_err());
        // Finite in f64, infinite in f32.
        assert!(serialize(&[t("0.weight", 1e300)], Dtype::F32, None).is_err());
        assert!(serialize(&[t("0.weight", 1e300)], Dtype::F64, None).is_ok());
        assert!(serialize(&[t("optim.v", f64::INFINITY)], Dtype::F32, None).is_ok());
    }

    #[test]
    fn round_trip_f32_and_f64() {
        let dir = tempfile::tempdir().unwrap();
        let t = vec![
            OutTensor {
                name: "0.weight".into(),
                shape: vec![2, 3],
                data: vec![1.0, -2.0, 0.5, 0.25, 3.0, 4.0],
            },
            OutTensor {
                name: "0.bias".into(),
                shape: vec![2],
                data: vec![0.1, 0.2],
            },
        ];
        for dtype in [Dtype::F32, Dtype::F64] {
            let p = dir.path().join("w.safetensors");
            let mut meta = HashMap::new();
            meta.insert("epoch".to_string(), "3".to_string());
            write(&p, &t, dtype, Some(meta)).unwrap();
            let f = WeightsFile::read(&p).unwrap();
            assert_eq!(f.get("0.weight", &[2, 3]).unwrap(), &t[0].data[..]);
            let b = f.get("0.bias", &[2]).unwrap();
            assert_eq!(b[0] as f32, 0.1f32);
            assert_eq!(f.metadata.get("epoch").map(String::as_str), Some("3"));
            assert!(matches!(
                f.get("0.bias", &[3]),
                Err(WeightsError::WrongShape { .. })
            ));
            assert!(matches!(
                f.get("1.bias", &[3]),
                Err(WeightsError::MissingTensor { .. })
            ));
        }
    }

    /// Issue 11, item 21: the same tensors and metadata give the same bytes,
    /// whatever the order the metadata map iterates in.
    #[test]
    fn metadata_order_does_not_change_the_bytes() {
        let t = vec![OutTensor {
            name: "0.weight".into(),
            shape: vec![1, 2],
            data: vec![1.0, 2.0],
        }];
        let keys: Vec<String> = (0..40).map(|i| format!("key{i}")).collect();
        let mut first: Option<Vec<u8>> = None;
        for round in 0..8 {
            // Fresh maps (new random states), filled in different orders.
            let mut meta = HashMap::new();
            let mut order = keys.clone();
            order.rotate_left(round * 5);
            for k in &order {
                meta.insert(k.clone(), format!("value of {k}"));
            }
            let bytes = serialize(&t, Dtype::F32, Some(meta)).unwrap();
            let st = SafeTensors::deserialize(&bytes).unwrap();
            assert_eq!(st.tensor("0.weight").unwrap().shape(), &[1, 2]);
            let (n, m) = SafeTensors::read_metadata(&bytes).unwrap();
            assert_eq!((8 + n) % 8, 0);
            assert_eq!(m.metadata().as_ref().map(|m| m.len()), Some(40));
            match &first {
                None => first = Some(bytes),
                Some(f) => assert_eq!(f, &bytes, "round {round}"),
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &b""[..],
            b"abc",
            b"\xff\xff\xff\xff\xff\xff\xff\xff{}",
            b"\x05\x00\x00\x00\x00\x00\x00\x00{\"a\":",
            b"\x10\x00\x00\x00\x00\x00\x00\x00{}",
        ] {
            assert!(matches!(
                WeightsFile::parse(bytes, "x".into()),
                Err(WeightsError::NotSafetensors { .. })
            ));
        }
    }
}
