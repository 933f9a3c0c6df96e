//! The planes of a pixels frame as numpy arrays over memory another object
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
use shm_core::{Mapping, PixelLayout, Plane};

/// Keeps a mapping mapped for as long as a numpy array over its memory lives:
/// the base object of every zero-copy view (closing the `Mapping` in Python
/// does not unmap memory a view still uses).
#[pyclass(frozen, module = "shm_exchange._native")]
pub(crate) struct MappingMemory(
    #[expect(dead_code, reason = "held so that the memory stays mapped")] Arc<Mapping>,
);

/// The planes of the pixels frame laid out as `layout` in the payload area of
/// `mapping` (rows from byte 32 of the payload), read-only, with no copy (see
/// [`plane_arrays`]); every array's base object holds `mapping`.
///
/// # Errors
/// `ValueError` if the rows do not fit in the mapping (a layout from another
/// mapping: a bug, never frame content, which shm-core checks first).
pub(crate) fn planes_in_mapping<'py>(
    py: Python<'py>,
    mapping: Arc<Mapping>,
    layout: &PixelLayout,
) -> PyResult<Vec<Bound<'py, PyUntypedArray>>> {
    let memory = mapping.payload_memory();
    let base = Bound::new(py, MappingMemory(mapping))?.into_any();
    plane_arrays(&base, memory, layout)
}

/// The planes of a copied pixels frame inside its payload array, read-only,
/// with no copy; every array's base object is `payload`.
///
/// # Errors
/// `ValueError` if the rows do not fit in `payload`.
pub(crate) fn planes_in_payload<'py>(
    payload: &Bound<'py, PyArray1<u8>>,
    layout: &PixelLayout,
) -> PyResult<Vec<Bound<'py, PyUntypedArray>>> {
    let start = NonNull::new(payload.data()).expect("numpy arrays have a data pointer");
    let memory = NonNull::slice_from_raw_parts(start, payload.len());
    plane_arrays(payload.as_any(), memory, layout)
}

/// One read-only uint8 array per plane of `layout` (whose rows start
/// [`PIXELS_PREFIX_LEN_BYTES`] into `memory`): rows x columns for one sample
/// per column (GRAY8, the Y plane, I420's Cb and Cr), else rows x columns x
/// samples (RGB8: 3; NV12's CbCr plane: 2; YUY2: 4, one column per pair of
/// pixels, Y0 Cb Y1 Cr), each with its plane's stride.
fn plane_arrays<'py>(
    base: &Bound<'py, PyAny>,
    memory: NonNull<[u8]>,
    layout: &PixelLayout,
) -> PyResult<Vec<Bound<'py, PyUntypedArray>>> {
    layout
        .planes()
        .iter()
        .map(|plane| rows_array(base.clone(), memory, plane))
        .collect()
}

/// Shape and strides (in elements of one byte) of `plane`'s rows, and how
/// many bytes they span from the plane's first row's start.
fn shape_and_strides(plane: &Plane) -> (Vec<npy_intp>, Vec<npy_intp>, usize) {
    let rows = plane.rows as usize;
    let (stride, channels) = (plane.stride_bytes as usize, plane.channels.max(1) as usize);
    let row_len = plane.row_len_bytes as usize;
    let columns = row_len / channels;
    let extent = if row_len == 0 || rows == 0 {
        0
    } else {
        (rows - 1) * stride + row_len
    };
    let as_intp = |v: usize| v as npy_intp;
    if channels == 1 {
        (
            vec![as_intp(rows), as_intp(columns)],
            vec![as_intp(stride), 1],
            extent,
        )
    } else {
        (
            vec![as_intp(rows), as_intp(columns), as_intp(channels)],
            vec![as_intp(stride), as_intp(channels), 1],
            extent,
        )
    }
}

/// A read-only uint8 array over `plane`'s rows, which start
/// `PIXELS_PREFIX_LEN_BYTES + plane.offset_bytes` into `memory`; `base`
/// becomes the array's base object and must keep `memory` valid and in place
/// for as long as it lives.
fn rows_array<'py>(
    base: Bound<'py, PyAny>,
    memory: NonNull<[u8]>,
    plane: &Plane,
) -> PyResult<Bound<'py, PyUntypedArray>> {
    let py = base.py();
    let (mut shape, mut strides, extent) = shape_and_strides(plane);
    let start = usize::try_from(plane.offset_bytes)
        .ok()
        .and_then(|offset| offset.checked_add(PIXELS_PREFIX_LEN_BYTES));
    let Some(start) = start.filter(|start| start.saturating_add(extent) <= memory.len()) else {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "a plane of {} rows of {} bytes, {} bytes apart, at offset {} does not fit in {} bytes",
            plane.rows,
            plane.row_len_bytes,
            plane.stride_bytes,
            plane.offset_bytes,
            memory.len()
        )));
    };
    let rows = memory.cast::<u8>().as_ptr().wrapping_add(start);
    let descr = u8::get_dtype(py).into_dtype_ptr();
    // SAFETY: numpy's C API with the GIL held (`py`). `shape` and `strides`
    // have `shape.len()` entries and outlive the call, which copies them. Every
    // address the array can reach, `rows + sum((shape[i] - 1) * strides[i])`,
    // lies in `rows..rows + extent` (the last row's last sample is at
    // `(rows - 1) * stride + row_len - 1`), and `start + extent` fits in
    // `memory` (checked above). The flags leave out NPY_ARRAY_WRITEABLE, so
    // numpy makes the array read-only; `descr` is a new reference, which the
    // call steals.
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
