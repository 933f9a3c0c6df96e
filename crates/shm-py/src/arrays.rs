//! The rows of a pixels frame as a numpy array over memory another object
//! keeps alive, with no copy: a copied frame's payload array, or the mapping
//! itself (the zero-copy view). The stride arithmetic lives here, once; this
//! is the crate's one `unsafe` (numpy's C API), at the boundary to Python.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::Arc;

use numpy::npyffi::{self, NPY_ARRAY_ALIGNED, NpyTypes, PY_ARRAY_API, npy_intp};
use numpy::{Element as _, PyArray1, PyArrayDescrMethods as _, PyUntypedArray};
use numpy::{PyArrayMethods as _, PyUntypedArrayMethods as _};
use pyo3::prelude::*;
use shm_core::layout::PIXELS_PREFIX_LEN_BYTES;
use shm_core::{Mapping, PixelLayout};

/// Keeps a mapping mapped for as long as a numpy array over its memory lives:
/// the base object of every zero-copy view (closing the `Mapping` in Python
/// does not unmap memory a view still uses).
#[pyclass(frozen, module = "shm_exchange._native")]
pub(crate) struct MappingMemory(
    #[expect(dead_code, reason = "held so that the memory stays mapped")] Arc<Mapping>,
);

/// The rows of the pixels frame laid out as `layout` in the payload area of
/// `mapping` (rows from byte 32 of the payload), read-only, with no copy: an
/// HxW array for one byte per pixel, HxWxC otherwise; the array's base object
/// holds `mapping`.
///
/// # Errors
/// `ValueError` if the rows do not fit in the mapping (a layout from another
/// mapping: a bug, never frame content, which shm-core checks first).
pub(crate) fn pixels_in_mapping<'py>(
    py: Python<'py>,
    mapping: Arc<Mapping>,
    layout: &PixelLayout,
) -> PyResult<Bound<'py, PyUntypedArray>> {
    let memory = mapping.payload_memory();
    let base = Bound::new(py, MappingMemory(mapping))?.into_any();
    rows_array(base, memory, layout)
}

/// The rows of a copied pixels frame inside its payload array, read-only, with
/// no copy; the array's base object is `payload`.
///
/// # Errors
/// `ValueError` if the rows do not fit in `payload`.
pub(crate) fn pixels_in_payload<'py>(
    payload: &Bound<'py, PyArray1<u8>>,
    layout: &PixelLayout,
) -> PyResult<Bound<'py, PyUntypedArray>> {
    let start = NonNull::new(payload.data()).expect("numpy arrays have a data pointer");
    let memory = NonNull::slice_from_raw_parts(start, payload.len());
    rows_array(payload.clone().into_any(), memory, layout)
}

/// Shape and strides (in elements of one byte) of `layout`'s rows, and how
/// many bytes they span from the first row's start.
fn shape_and_strides(layout: &PixelLayout) -> (Vec<npy_intp>, Vec<npy_intp>, usize) {
    let (width, height) = (layout.width as usize, layout.height as usize);
    let (stride, channels) = (
        layout.stride_bytes as usize,
        layout.format.bytes_per_pixel() as usize,
    );
    let extent = if width == 0 || height == 0 {
        0
    } else {
        (height - 1) * stride + width * channels
    };
    let as_intp = |v: usize| v as npy_intp;
    if channels == 1 {
        (
            vec![as_intp(height), as_intp(width)],
            vec![as_intp(stride), 1],
            extent,
        )
    } else {
        (
            vec![as_intp(height), as_intp(width), as_intp(channels)],
            vec![as_intp(stride), as_intp(channels), 1],
            extent,
        )
    }
}

/// A read-only uint8 array over `layout`'s rows, which start
/// [`PIXELS_PREFIX_LEN_BYTES`] into `memory`; `base` becomes the array's base
/// object and must keep `memory` valid and in place for as long as it lives.
fn rows_array<'py>(
    base: Bound<'py, PyAny>,
    memory: NonNull<[u8]>,
    layout: &PixelLayout,
) -> PyResult<Bound<'py, PyUntypedArray>> {
    let py = base.py();
    let (mut shape, mut strides, extent) = shape_and_strides(layout);
    if PIXELS_PREFIX_LEN_BYTES.saturating_add(extent) > memory.len() {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "{}x{} pixels with a stride of {} bytes do not fit in {} bytes",
            layout.width,
            layout.height,
            layout.stride_bytes,
            memory.len()
        )));
    }
    let rows = memory
        .cast::<u8>()
        .as_ptr()
        .wrapping_add(PIXELS_PREFIX_LEN_BYTES);
    let descr = u8::get_dtype(py).into_dtype_ptr();
    // SAFETY: numpy's C API with the GIL held (`py`). `shape` and `strides`
    // have `shape.len()` entries and outlive the call, which copies them. Every
    // address the array can reach, `rows + sum((shape[i] - 1) * strides[i])`,
    // lies in `rows..rows + extent`, and `PIXELS_PREFIX_LEN_BYTES + extent`
    // fits in `memory` (checked above). The flags leave out
    // NPY_ARRAY_WRITEABLE, so numpy makes the array read-only; `descr` is a
    // new reference, which the call steals.
    let array = unsafe {
        PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            npyffi::get_type_object(py, NpyTypes::PyArray_Type),
            descr,
            shape.len() as std::ffi::c_int,
            shape.as_mut_ptr(),
            strides.as_mut_ptr(),
            rows.cast::<c_void>(),
            NPY_ARRAY_ALIGNED,
            std::ptr::null_mut(),
        )
    };
    // SAFETY: `array` is a new reference or null (then a Python error is set),
    // which `from_owned_ptr_or_err` takes over either way.
    let array = unsafe { Bound::from_owned_ptr_or_err(py, array)? };
    // SAFETY: `array` is the ndarray made above (so the cast is right), whose
    // base is still unset; the call steals the new reference `into_ptr` makes,
    // even when it fails. `base` keeps `memory` mapped and in place while it
    // lives, and numpy keeps it alive while the array (or any view of it) does.
    let status = unsafe {
        PY_ARRAY_API.PyArray_SetBaseObject(
            py,
            array.as_ptr().cast::<npyffi::PyArrayObject>(),
            base.into_ptr(),
        )
    };
    if status != 0 {
        return Err(PyErr::fetch(py));
    }
    Ok(array.cast_into::<PyUntypedArray>()?)
}
