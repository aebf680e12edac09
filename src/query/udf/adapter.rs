//! The thin DataFusion adapter shared by every UDF: a pure Rust function over optional strings,
//! wrapped so that it accepts arrays or scalars of any string type (Utf8, LargeUtf8, Utf8View;
//! other types are cast to text) and nulls, and returns a scalar when every argument is one.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanBuilder, Int64Builder, StringArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

/// A UDF result value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(Option<bool>),
}

/// Output type of a UDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutType {
    Text,
    Int,
    Bool,
}

impl OutType {
    fn data_type(self) -> DataType {
        match self {
            OutType::Text => DataType::Utf8,
            OutType::Int => DataType::Int64,
            OutType::Bool => DataType::Boolean,
        }
    }
}

type RowFn = dyn Fn(&[Option<&str>]) -> Out + Send + Sync;

/// A scalar UDF of `arity` text arguments.
pub struct TextUdf {
    name: String,
    signature: Signature,
    arity: usize,
    out: OutType,
    f: Arc<RowFn>,
}

impl std::fmt::Debug for TextUdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TextUdf({})", self.name)
    }
}

impl PartialEq for TextUdf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.f, &other.f)
    }
}
impl Eq for TextUdf {}
impl Hash for TextUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl TextUdf {
    /// Builds the UDF; `f` is the pure function (called once per row).
    pub fn new(
        name: &str,
        arity: usize,
        out: OutType,
        f: impl Fn(&[Option<&str>]) -> Out + Send + Sync + 'static,
    ) -> ScalarUDF {
        Self::with_optional(name, arity, arity, out, f)
    }

    /// Like `new`, for `min..=max` arguments; absent trailing arguments reach `f` as None.
    pub fn with_optional(
        name: &str,
        min: usize,
        max: usize,
        out: OutType,
        f: impl Fn(&[Option<&str>]) -> Out + Send + Sync + 'static,
    ) -> ScalarUDF {
        let signature = if min == max {
            Signature::any(max, Volatility::Immutable)
        } else {
            Signature::one_of(
                (min..=max).map(TypeSignature::Any).collect(),
                Volatility::Immutable,
            )
        };
        ScalarUDF::new_from_impl(TextUdf {
            name: name.to_string(),
            signature,
            arity: max,
            out,
            f: Arc::new(f),
        })
    }
}

fn as_text(a: &ArrayRef) -> Result<StringArray> {
    let c = if a.data_type() == &DataType::Utf8 {
        a.clone()
    } else {
        cast(a, &DataType::Utf8)?
    };
    Ok(c.as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .unwrap_or_else(|| StringArray::new_null(a.len())))
}

impl ScalarUDFImpl for TextUdf {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.out.data_type())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { args.number_rows };
        let arrays: Vec<StringArray> = args
            .args
            .iter()
            .map(|a| a.to_array(rows).and_then(|arr| as_text(&arr)))
            .collect::<Result<_>>()?;
        let mut memo = Memo::new(self.arity);
        let out: ArrayRef = match self.out {
            OutType::Text => {
                let mut b = StringBuilder::with_capacity(rows, rows * 16);
                for i in 0..rows {
                    match memo.get(&arrays, i, &*self.f) {
                        Out::Text(v) => b.append_option(v.as_deref()),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            OutType::Int => {
                let mut b = Int64Builder::with_capacity(rows);
                for i in 0..rows {
                    match memo.get(&arrays, i, &*self.f) {
                        Out::Int(v) => b.append_option(*v),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            OutType::Bool => {
                let mut b = BooleanBuilder::with_capacity(rows);
                for i in 0..rows {
                    match memo.get(&arrays, i, &*self.f) {
                        Out::Bool(v) => b.append_option(*v),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
        };
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

/// Per-batch memo of a pure function: the same arguments give the same value, and a column
/// holds few distinct names or addresses (sorted input repeats them row after row), so each
/// distinct argument tuple is computed once per batch. Bounded by the batch. When the first
/// rows show mostly distinct arguments the map is dropped (it would only cost), keeping the
/// same-as-previous-row check.
struct Memo<'a> {
    vals: Vec<Option<&'a str>>,
    seen: Option<foldhash::HashMap<Vec<Option<&'a str>>, Out>>,
    /// Arguments and value of the previous row (the key buffer is reused).
    last_key: Vec<Option<&'a str>>,
    last: Option<Out>,
    lookups: usize,
    hits: usize,
}

/// Rows looked at before deciding whether the map pays.
const MEMO_TRIAL: usize = 1024;

impl<'a> Memo<'a> {
    fn new(arity: usize) -> Self {
        Memo {
            vals: vec![None; arity],
            seen: Some(Default::default()),
            last_key: Vec::with_capacity(arity),
            last: None,
            lookups: 0,
            hits: 0,
        }
    }

    fn get(&mut self, arrays: &'a [StringArray], i: usize, f: &RowFn) -> &Out {
        for (v, a) in self.vals.iter_mut().zip(arrays) {
            *v = if a.is_null(i) { None } else { Some(a.value(i)) };
        }
        let hit = self.last.is_some() && self.last_key == self.vals;
        if !hit {
            let out = match self.seen.as_mut() {
                None => f(&self.vals),
                Some(seen) => {
                    self.lookups += 1;
                    match seen.get(&self.vals) {
                        Some(o) => {
                            self.hits += 1;
                            o.clone()
                        }
                        None => {
                            let o = f(&self.vals);
                            seen.insert(self.vals.clone(), o.clone());
                            o
                        }
                    }
                }
            };
            if self.lookups == MEMO_TRIAL && self.hits * 4 < self.lookups {
                self.seen = None;
            }
            self.last_key.clone_from(&self.vals);
            self.last = Some(out);
        }
        match &self.last {
            Some(o) => o,
            None => &Out::Int(None),
        }
    }
}

#[cfg(test)]
mod memo_tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn run(values: &[Option<&str>], calls: &'static AtomicUsize) -> Vec<Option<String>> {
        let arrays = vec![StringArray::from(values.to_vec())];
        let f = move |v: &[Option<&str>]| {
            calls.fetch_add(1, Ordering::SeqCst);
            Out::Text(v[0].map(|s| s.to_uppercase()))
        };
        let mut memo = Memo::new(1);
        (0..values.len())
            .map(|i| match memo.get(&arrays, i, &f) {
                Out::Text(t) => t.clone(),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn repeated_arguments_are_computed_once_and_distinct_ones_still_right() {
        let calls: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
        let vals: Vec<Option<&str>> = (0..5000)
            .map(|i| [Some("a"), Some("b"), None][i % 3])
            .collect();
        let got = run(&vals, calls);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(got[0..3], [Some("A".into()), Some("B".into()), None]);
        assert_eq!(got[4999], got[4999 % 3]);

        let calls: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
        let names: Vec<String> = (0..3000).map(|i| format!("h{i}")).collect();
        let vals: Vec<Option<&str>> = names.iter().map(|s| Some(s.as_str())).collect();
        let got = run(&vals, calls);
        assert_eq!(calls.load(Ordering::SeqCst), 3000);
        assert!(got
            .iter()
            .zip(&names)
            .all(|(g, n)| g.as_deref() == Some(&*n.to_uppercase())));
    }
}
