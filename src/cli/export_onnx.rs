//! `nnt export onnx MODEL -o OUT.onnx` (§15): the model file as an ONNX graph
//! (opset 13, IR version 7) with one float input `features` [batch, F] (the
//! numeric feature columns in the model's order, categorical columns already
//! one-hot encoded: `nnt explain MODEL` lists them) and one output:
//! `probabilities` [batch, C] (cross-entropy), `probability` [batch, 1] (the
//! positive class, binary cross-entropy) or `targets` [batch, K] (regression, in
//! original units). The missing-value fill (a NaN input is replaced with
//! `Where(IsNaN(x), fill, x)`) and the normalisation are nodes of the graph.
//!
//! The protobuf messages are the subset of `onnx.proto` (field numbers as there)
//! that the export writes, encoded with `prost`. The graph is always float32: an
//! `f64` model's weights are rounded to f32.

use std::path::Path;

use miette::Diagnostic;
use prost::Message;
use thiserror::Error;

use super::model_use::{Loaded, UseError};
use crate::data::prep::FeatureKind;
use crate::io::atomic::write_atomic;
use crate::io::guard::{self, IoError};
use crate::io::model_file::ModelFileError;
use crate::train::layers::{self, Attr, Graph, MissingTensor};

/// The subset of `onnx.proto` written here.
pub mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ModelProto {
        #[prost(int64, tag = "1")]
        pub ir_version: i64,
        #[prost(string, tag = "2")]
        pub producer_name: String,
        #[prost(string, tag = "3")]
        pub producer_version: String,
        #[prost(string, tag = "6")]
        pub doc_string: String,
        #[prost(message, optional, tag = "7")]
        pub graph: Option<GraphProto>,
        #[prost(message, repeated, tag = "8")]
        pub opset_import: Vec<OperatorSetIdProto>,
        #[prost(message, repeated, tag = "14")]
        pub metadata_props: Vec<StringStringEntryProto>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct OperatorSetIdProto {
        #[prost(string, tag = "1")]
        pub domain: String,
        #[prost(int64, tag = "2")]
        pub version: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StringStringEntryProto {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct GraphProto {
        #[prost(message, repeated, tag = "1")]
        pub node: Vec<NodeProto>,
        #[prost(string, tag = "2")]
        pub name: String,
        #[prost(message, repeated, tag = "5")]
        pub initializer: Vec<TensorProto>,
        #[prost(message, repeated, tag = "11")]
        pub input: Vec<ValueInfoProto>,
        #[prost(message, repeated, tag = "12")]
        pub output: Vec<ValueInfoProto>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NodeProto {
        #[prost(string, repeated, tag = "1")]
        pub input: Vec<String>,
        #[prost(string, repeated, tag = "2")]
        pub output: Vec<String>,
        #[prost(string, tag = "3")]
        pub name: String,
        #[prost(string, tag = "4")]
        pub op_type: String,
        #[prost(message, repeated, tag = "5")]
        pub attribute: Vec<AttributeProto>,
    }

    /// `AttributeProto.AttributeType`: FLOAT = 1, INT = 2.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AttributeProto {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(float, tag = "2")]
        pub f: f32,
        #[prost(int64, tag = "3")]
        pub i: i64,
        #[prost(int32, tag = "20")]
        pub r#type: i32,
    }

    /// `TensorProto.DataType`: FLOAT = 1.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorProto {
        #[prost(int64, repeated, tag = "1")]
        pub dims: Vec<i64>,
        #[prost(int32, tag = "2")]
        pub data_type: i32,
        #[prost(float, repeated, tag = "4")]
        pub float_data: Vec<f32>,
        #[prost(string, tag = "8")]
        pub name: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueInfoProto {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub r#type: Option<TypeProto>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TypeProto {
        #[prost(message, optional, tag = "1")]
        pub tensor_type: Option<TensorTypeProto>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorTypeProto {
        #[prost(int32, tag = "1")]
        pub elem_type: i32,
        #[prost(message, optional, tag = "2")]
        pub shape: Option<TensorShapeProto>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorShapeProto {
        #[prost(message, repeated, tag = "1")]
        pub dim: Vec<Dimension>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Dimension {
        #[prost(int64, optional, tag = "1")]
        pub dim_value: Option<i64>,
        #[prost(string, optional, tag = "2")]
        pub dim_param: Option<String>,
    }
}

use crate::ir::Task;
use proto::*;

const FLOAT: i32 = 1;
const OPSET: i64 = 13;
const IR_VERSION: i64 = 7;

/// Builds the graph node by node, naming values `v0`, `v1`, ….
struct Builder {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    next: usize,
}

impl Builder {
    fn value(&mut self) -> String {
        self.next += 1;
        format!("v{}", self.next)
    }

    fn constant(&mut self, name: String, dims: &[usize], data: Vec<f32>) -> String {
        self.inits.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: FLOAT,
            float_data: data,
            name: name.clone(),
        });
        name
    }

    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.value();
        self.node_to(op, inputs, attrs, out.clone());
        out
    }

    fn node_to(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>, out: String) {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out],
            name: format!("{op}_{}", self.nodes.len()),
            op_type: op.to_string(),
            attribute: attrs,
        });
    }
}

/// The graph the layers' nodes go to ([`layers::Concept::onnx`]), reading the
/// model's tensors; the first tensor that cannot be read is kept in `error`.
struct LayerGraph<'a> {
    b: &'a mut Builder,
    m: &'a Loaded,
    error: Option<UseError>,
}

impl Graph for LayerGraph<'_> {
    fn node(&mut self, op: &str, inputs: &[&str], attrs: &[Attr]) -> String {
        let attrs = attrs
            .iter()
            .map(|a| match *a {
                Attr::Float(name, f) => float_attr(name, f),
                Attr::Int(name, i) => int_attr(name, i),
            })
            .collect();
        self.b.node(op, inputs, attrs)
    }

    fn constant(&mut self, name: String, shape: &[usize], values: Vec<f32>) -> String {
        self.b.constant(name, shape, values)
    }

    fn tensor(&mut self, name: String, shape: &[usize]) -> Result<String, MissingTensor> {
        match self.m.tensor(&name, shape) {
            Ok(values) => {
                let values = values.iter().map(|&v| v as f32).collect();
                Ok(self.b.constant(name, shape, values))
            }
            Err(e) => {
                self.error = Some(UseError::Model(e.into()));
                Err(MissingTensor)
            }
        }
    }
}

fn float_attr(name: &str, f: f64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        f: f as f32,
        i: 0,
        r#type: 1,
    }
}

fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        f: 0.0,
        i,
        r#type: 2,
    }
}

fn value_info(name: &str, width: usize) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: FLOAT,
                shape: Some(TensorShapeProto {
                    dim: vec![
                        Dimension {
                            dim_value: None,
                            dim_param: Some("batch".into()),
                        },
                        Dimension {
                            dim_value: Some(width as i64),
                            dim_param: None,
                        },
                    ],
                }),
            }),
        }),
    }
}

/// The ONNX model bytes of a loaded model file.
pub fn model_bytes(m: &Loaded) -> Result<Vec<u8>, ExportOnnxError> {
    let meta = &m.meta;
    let width = meta.input_width;
    let mut b = Builder {
        nodes: Vec::new(),
        inits: Vec::new(),
        next: 0,
    };
    let mut h = "features".to_string();
    // Missing-value fill and normalisation, per input column.
    let mut fill = vec![f32::NAN; width];
    let mut shift = vec![0.0f32; width];
    let mut scale = vec![1.0f32; width];
    let mut any_fill = false;
    let mut any_norm = false;
    if let Some(p) = &m.prep {
        let mut at = 0usize;
        for f in &p.features {
            match &f.kind {
                FeatureKind::Numeric {
                    fill: v,
                    shift: s,
                    divisor: d,
                    ..
                } => {
                    if let Some(v) = v {
                        fill[at] = *v as f32;
                        any_fill = true;
                    }
                    if *s != 0.0 || *d != 1.0 {
                        any_norm = true;
                    }
                    shift[at] = *s as f32;
                    scale[at] = if *d == 0.0 { 0.0 } else { (1.0 / d) as f32 };
                    at += 1;
                }
                FeatureKind::Categorical { categories } => {
                    for _ in categories {
                        // A missing one-hot input means "no category".
                        fill[at] = 0.0;
                        any_fill = true;
                        at += 1;
                    }
                }
            }
        }
    }
    if any_fill {
        let nan = b.node("IsNaN", &[&h], vec![]);
        let fills = b.constant("fill".into(), &[width], fill);
        h = b.node("Where", &[&nan, &fills, &h], vec![]);
    }
    if any_norm {
        let s = b.constant("shift".into(), &[width], shift);
        let c = b.constant("scale".into(), &[width], scale);
        let centred = b.node("Sub", &[&h, &s], vec![]);
        h = b.node("Mul", &[&centred, &c], vec![]);
    }
    let mut graph = LayerGraph {
        b: &mut b,
        m,
        error: None,
    };
    for l in &meta.layers {
        let concept = layers::concept(&l.kind);
        h = match concept.onnx(&mut graph, l.index, l.inputs, l.outputs, h) {
            Ok(out) => out,
            Err(MissingTensor) => {
                return Err(graph
                    .error
                    .take()
                    .unwrap_or_else(|| {
                        UseError::Model(ModelFileError::BadMetadata {
                            path: m.path.clone(),
                            key: "nnt.layers".into(),
                            reason: format!("layer {} cannot be exported", l.index),
                        })
                    })
                    .into())
            }
        };
    }
    let k = meta.output_width();
    let (out_name, out_width) = match meta.loss.task() {
        Task::Multiclass => {
            b.node_to(
                "Softmax",
                &[&h],
                vec![int_attr("axis", 1)],
                "probabilities".into(),
            );
            ("probabilities", k)
        }
        Task::Binary => {
            // 1 / (1 + exp(−z)) rather than `Sigmoid`: onnxruntime's Sigmoid kernel is
            // an approximation whose relative error reaches 2e-4 in the tails.
            let one = b.constant("one".into(), &[], vec![1.0]);
            let neg = b.node("Neg", &[&h], vec![]);
            let e = b.node("Exp", &[&neg], vec![]);
            let d = b.node("Add", &[&e, &one], vec![]);
            b.node_to("Reciprocal", &[&d], vec![], "probability".into());
            ("probability", 1)
        }
        Task::Regression => {
            match m.prep.as_ref().and_then(|p| p.targets.as_ref()) {
                Some(t) => {
                    let std: Vec<f32> = t.std.iter().map(|&v| v as f32).collect();
                    let mean: Vec<f32> = t.mean.iter().map(|&v| v as f32).collect();
                    let s = b.constant("target_std".into(), &[k], std);
                    let mn = b.constant("target_mean".into(), &[k], mean);
                    let scaled = b.node("Mul", &[&h, &s], vec![]);
                    b.node_to("Add", &[&scaled, &mn], vec![], "targets".into());
                }
                None => b.node_to("Identity", &[&h], vec![], "targets".into()),
            }
            ("targets", k)
        }
    };
    // The graph is float32: a weight or statistic beyond its range (an f64
    // model's 1e300, a shift of 1e39) would be ±inf there and every output NaN.
    // The fill's NaN marks an input with no fill, and is meant.
    for t in &b.inits {
        let allowed = |v: f32| v.is_finite() || (t.name == "fill" && v.is_nan());
        if let Some(&v) = t.float_data.iter().find(|&&v| !allowed(v)) {
            return Err(ExportOnnxError::NotFloat32 {
                path: m.path.clone(),
                tensor: t.name.clone(),
                value: v,
            });
        }
    }
    let model = ModelProto {
        ir_version: IR_VERSION,
        producer_name: "nnt".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!(
            "exported from {}; input `features`: the model's numeric inputs in order (see `nnt explain MODEL`)",
            m.path
        ),
        graph: Some(GraphProto {
            node: b.nodes,
            name: "nnt".into(),
            initializer: b.inits,
            input: vec![value_info("features", width)],
            output: vec![value_info(out_name, out_width)],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        metadata_props: m
            .prep
            .as_ref()
            .map(|p| {
                vec![StringStringEntryProto {
                    key: "nnt.feature_names".into(),
                    value: p.feature_names().join(","),
                }]
            })
            .unwrap_or_default(),
    };
    Ok(model.encode_to_vec())
}

/// Why `nnt export onnx` fails.
#[derive(Debug, Error, Diagnostic)]
pub enum ExportOnnxError {
    /// The model cannot be read or exported (see [`UseError`]'s variants).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Use(#[from] UseError),
    /// `nnt export onnx m.safetensors -o m.safetensors` (or a link to it): an
    /// output that would replace the model (`nnt::io::output_is_input`).
    /// Test: tests/it/cli_outputs_guard.rs
    /// `predict_and_export_onnx_never_replace_their_inputs`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
    /// A model whose weights or normalisation statistics do not fit the
    /// float32 graph: an f64 model trained to weights of 1e300, or an f32
    /// model of standardised inputs around 1e39 (its shift is inf in f32).
    /// Test: tests/it/model_use.rs `values_beyond_float32_are_not_exported`.
    #[error("{path}: `{tensor}` would hold {value} in the float32 ONNX graph")]
    #[diagnostic(
        code(nnt::export::not_finite),
        help("an ONNX model from nnt computes in float32, and this value is beyond its range; use the model with `nnt predict`, or retrain it with inputs and weights of a smaller scale")
    )]
    NotFloat32 {
        path: String,
        tensor: String,
        value: f32,
    },
    /// `-o` in a folder that does not exist, a device (`/dev/full`), a full disk.
    /// Test: tests/it/model_use.rs `bad_inputs_are_diagnostics_and_nothing_is_half_written`.
    #[error("cannot write {path}: {source}")]
    #[diagnostic(
        code(nnt::export::write),
        help("give -o a file in a folder that exists and is writable")
    )]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Exports the model at `model` to `out` (written atomically, never over the
/// model itself).
pub fn run(model: &Path, out: &Path) -> Result<(), ExportOnnxError> {
    guard::outputs_are_not_inputs(&[("ONNX file", out)], &[("model", model)])?;
    let loaded = Loaded::read(model)?;
    let bytes = model_bytes(&loaded)?;
    write_atomic(out, &bytes).map_err(|source| ExportOnnxError::Write {
        path: out.display().to_string(),
        source,
    })
}
