//! The CUDA device's tiled-op launches: the stencil steps (padded tile assembled on the
//! device, then the step kernel) and the Cholesky tile kernels (cuBLAS, cuSOLVER).
//!
//! Row-major against column-major: a row-major r×c buffer is the column-major c×r matrix
//! of its transpose (leading dimension c), so each BLAS call below is the transposed
//! equation of the row-major one, and a row-major lower triangle is a column-major upper one.

use super::{buf, cuda, made_f64, CudaDevice, Elem};
use crate::device::{DeviceArray, DeviceError, DeviceInput, DeviceOutput};
use crate::graph::stencil;
use cudarc::cublas::sys::{
    cublasDiagType_t, cublasFillMode_t, cublasOperation_t, cublasSideMode_t,
};
use cudarc::cublas::{Gemm, GemmConfig};
use cudarc::driver::{CudaSlice, DevicePtr, DevicePtrMut, DeviceRepr, PushKernelArg};

/// halo.cu's `Strips`: where each side's strip starts in its array, and its row stride
/// (elements).
#[repr(C)]
struct Strips {
    start: [i64; 8],
    stride: [i64; 8],
}

// SAFETY: plain old data with the layout of halo.cu's `struct Strips` (two arrays of 8
// `long long`), passed by value.
unsafe impl DeviceRepr for Strips {}

fn dim(x: usize) -> Result<i32, DeviceError> {
    i32::try_from(x).map_err(|_| DeviceError::Unsupported("a tile side above 2^31".into()))
}

impl CudaDevice {
    /// The padded tile ((h + 2hr) × (w + 2hc)) of a stencil launch: args[0] is the tile,
    /// args[1..] its strips in the order n, s, w, e, nw, ne, sw, se (arrays, or numbers that
    /// `konst` converts; missing corners read as zero). Returns it with the tile's [h, w].
    pub(super) fn pad<T: Elem>(
        &self,
        args: &[DeviceInput<'_>],
        halo: [usize; 2],
        konst: fn(f64) -> T,
    ) -> Result<(CudaSlice<T>, [usize; 2]), DeviceError> {
        let DeviceInput::Array(tile) = args[0] else {
            panic!("a stencil's args[0] should be an array");
        };
        let (h, w) = (tile.shape()[0], tile.shape()[1]);
        let [hr, hc] = halo;
        let c = T::unwrap(buf(tile));
        let mut arrays = 0u32;
        let mut sides: [&CudaSlice<T>; 8] = [c; 8];
        let mut consts = [konst(0.0); 8];
        let mut at = Strips {
            start: [0; 8],
            stride: [0; 8],
        };
        for k in 0..8 {
            match args.get(k + 1) {
                Some(DeviceInput::Array(a)) => {
                    sides[k] = T::unwrap(buf(a));
                    arrays |= 1 << k;
                    let (start, stride) = stencil::strip_origin(k, a.shape(), halo);
                    at.start[k] = start as i64;
                    at.stride[k] = stride as i64;
                }
                Some(DeviceInput::Number(x)) => consts[k] = konst(*x),
                Some(DeviceInput::Shape(_)) => panic!("a stencil strip should not be a shape"),
                None => {}
            }
        }
        let total = (h + 2 * hr) * (w + 2 * hc);
        let s = &self.streams[self.stream_index()];
        let mut out = s.alloc_zeros::<T>(total.max(1)).map_err(cuda)?;
        if h * w == 0 {
            return Ok((out, [h, w]));
        }
        let f = self.function(&format!("pad_{}", T::NAME))?;
        let (h64, w64, hr64, hc64) = (h as i64, w as i64, hr as i64, hc as i64);
        let mut l = s.launch_builder(f);
        l.arg(c);
        for side in &sides {
            l.arg(*side);
        }
        for k in &consts {
            l.arg(k);
        }
        l.arg(&arrays)
            .arg(&at)
            .arg(&h64)
            .arg(&w64)
            .arg(&hr64)
            .arg(&hc64)
            .arg(&mut out);
        // SAFETY: halo.cu's pad_T takes (9 const T* c, n, s, w, e, nw, ne, sw, se; 8 T
        // constants; unsigned arrays; Strips at; long long h, w, hr, hc; T* out); `Strips`
        // below has its layout. The planner typed the sides (`graph::stencil`): a side whose
        // bit is set in `arrays` covers its strip (n, s: hr × w; w, e: h × hc; corners
        // hr × hc), which starts at `at.start` with rows `at.stride` apart, as the kernel
        // indexes it; the other sides are never read (the tile is passed in their place).
        // `out` holds (h + 2hr)(w + 2hc) elements, the loop's bound.
        unsafe { l.launch(Self::config(total)) }.map_err(cuda)?;
        Ok((out, [h, w]))
    }

    /// One Life step on the padded u8 tile `p` of a `tile`-sized tile with a `halo`-deep
    /// halo, its result in `frame` (`stencil::Frame`): output cell (r, c) is tile cell
    /// (r − grow_n, c − grow_w), or zero in the frame's stale ring. Returns the result and
    /// its shape.
    pub(super) fn life(
        &self,
        p: &CudaSlice<u8>,
        tile: [usize; 2],
        halo: [usize; 2],
        frame: &stencil::Frame,
    ) -> Result<(super::Buf, [usize; 2]), DeviceError> {
        let [oh, ow] = frame.shape(tile).map_err(DeviceError::Unsupported)?;
        let s = &self.streams[self.stream_index()];
        let mut out = s.alloc_zeros::<u8>((oh * ow).max(1)).map_err(cuda)?;
        if oh * ow > 0 {
            let f = self.function("life_step")?;
            let (oh64, ow64) = (oh as i64, ow as i64);
            let pw = (tile[1] + 2 * halo[1]) as i64;
            // The padded cell above and left of output cell (0, 0).
            let r0 = halo[0] as i64 - i64::from(frame.grow[0]) - 1;
            let c0 = halo[1] as i64 - i64::from(frame.grow[2]) - 1;
            let stale = frame.stale.map(i64::from);
            let mut l = s.launch_builder(f);
            l.arg(p)
                .arg(&mut out)
                .arg(&oh64)
                .arg(&ow64)
                .arg(&pw)
                .arg(&r0)
                .arg(&c0);
            for z in &stale {
                l.arg(z);
            }
            // SAFETY: life.cu's life_step takes (const u8* p, u8* out, long long oh, ow, pw,
            // r0, c0, zn, zs, zw, ze); p is the padded tile, (tile rows + 2 halo rows) × pw.
            // The typing (`Frame::halo`: one cell beyond the first computed row or column on
            // each side) keeps every cell read for a computed one, rows r0 + zn .. r0 + oh −
            // zs + 1 and columns c0 + zw .. c0 + ow − ze + 1, inside it; out has oh·ow
            // elements, the loop's bound.
            unsafe { l.launch(Self::config(oh * ow)) }.map_err(cuda)?;
        }
        s.synchronize().map_err(cuda)?;
        Ok((super::Buf::U8(out), [oh, ow]))
    }

    /// One heat step on the padded f64 tile `p` of an h × w tile at `offset` of `global`.
    pub(super) fn heat(
        &self,
        p: &CudaSlice<f64>,
        [h, w]: [usize; 2],
        alpha: f64,
        global: &[usize],
        offset: &[usize],
    ) -> Result<super::Buf, DeviceError> {
        let s = &self.streams[self.stream_index()];
        let mut out = s.alloc_zeros::<f64>((h * w).max(1)).map_err(cuda)?;
        if h * w > 0 {
            let f = self.function("heat_step")?;
            let dims = [h, w, global[0], global[1], offset[0], offset[1]].map(|x| x as i64);
            let mut l = s.launch_builder(f);
            l.arg(p)
                .arg(&mut out)
                .arg(&dims[0])
                .arg(&dims[1])
                .arg(&alpha);
            for d in &dims[2..] {
                l.arg(d);
            }
            // SAFETY: heat.cu's heat_step takes (const double* p, double* out, long long h,
            // w, double alpha, long long gh, gw, r0, c0); p is the (h + 2) × (w + 2) padded
            // tile, out has h·w elements, the loop's bound.
            unsafe { l.launch(Self::config(h * w)) }.map_err(cuda)?;
        }
        s.synchronize().map_err(cuda)?;
        Ok(super::Buf::F64(out))
    }

    /// The correlation of the padded f64 tile `p` of an h × w tile with `kernel`.
    pub(super) fn conv2d(
        &self,
        p: &CudaSlice<f64>,
        [h, w]: [usize; 2],
        [kh, kw]: [usize; 2],
        kernel: &[f64],
    ) -> Result<super::Buf, DeviceError> {
        let s = &self.streams[self.stream_index()];
        let mut out = s.alloc_zeros::<f64>((h * w).max(1)).map_err(cuda)?;
        if h * w > 0 && !kernel.is_empty() {
            let k = s.clone_htod(kernel).map_err(cuda)?;
            let f = self.function("conv2d_f64")?;
            let dims = [h, w, kh, kw].map(|x| x as i64);
            let mut l = s.launch_builder(f);
            l.arg(p).arg(&k).arg(&mut out);
            for d in &dims {
                l.arg(d);
            }
            // SAFETY: conv2d.cu's conv2d_f64 takes (const double* p, const double* k,
            // double* out, long long h, w, kh, kw); p is the (h + 2(kh/2)) × (w + 2(kw/2))
            // padded tile, k has kh·kw values (checked when the graph was built), out has
            // h·w elements, the loop's bound.
            unsafe { l.launch(Self::config(h * w)) }.map_err(cuda)?;
            s.synchronize().map_err(cuda)?;
        }
        s.synchronize().map_err(cuda)?;
        Ok(super::Buf::F64(out))
    }

    /// Runs a triangle fix-up of triangle.cu on the n × n tile `a`.
    fn triangle(&self, kernel: &str, a: &mut CudaSlice<f64>, n: usize) -> Result<(), DeviceError> {
        if n == 0 {
            return Ok(());
        }
        let s = &self.streams[self.stream_index()];
        let f = self.function(kernel)?;
        let n64 = n as i64;
        let mut l = s.launch_builder(f);
        l.arg(a).arg(&n64);
        // SAFETY: triangle.cu's kernels take (double* a, long long n) and touch the n·n
        // elements of `a`, which has that many.
        unsafe { l.launch(Self::config(n * n)) }.map_err(cuda)?;
        Ok(())
    }

    /// `gemm_nt`: C − A·Bᵀ (C m×n, A m×k, B n×k). Column-major: Cᵀ − B·Aᵀ, with Cᵀ the
    /// buffer of C (n×m, ld n), B = (buffer of B: k×n, ld k)ᵀ and Aᵀ the buffer of A (k×m).
    pub(super) fn gemm_nt(
        &self,
        c: &DeviceArray,
        a: &DeviceArray,
        b: &DeviceArray,
    ) -> Result<DeviceOutput, DeviceError> {
        let (m, n, k) = (c.shape()[0], c.shape()[1], a.shape()[1]);
        let i = self.stream_index();
        let s = &self.streams[i];
        let mut out = s.clone_dtod(f64::unwrap(buf(c))).map_err(cuda)?;
        if m > 0 && n > 0 && k > 0 {
            let cfg = GemmConfig {
                transa: cublasOperation_t::CUBLAS_OP_T,
                transb: cublasOperation_t::CUBLAS_OP_N,
                m: dim(n)?,
                n: dim(m)?,
                k: dim(k)?,
                alpha: -1.0,
                lda: dim(k)?,
                ldb: dim(k)?,
                beta: 1.0,
                ldc: dim(n)?,
            };
            let blas = self.blas[i].lock().expect("cuBLAS handle lock");
            // SAFETY: op(A) = (k×n buffer of B, ld k)ᵀ is n×k, B = the k×m buffer of A (ld k),
            // C = the n×m buffer of `out` (ld n): each buffer has exactly those elements
            // (shapes checked when the graph was built); the handle is bound to stream i,
            // which also made `out`.
            unsafe { blas.gemm(cfg, f64::unwrap(buf(b)), f64::unwrap(buf(a)), &mut out) }
                .map_err(cuda)?;
        }
        s.synchronize().map_err(cuda)?;
        made_f64(vec![m, n], out)
    }

    /// `syrk`: C − A·Aᵀ (C n×n, A n×k), the full tile. Column-major: cublasDsyrk with
    /// trans = T on the k×n buffer of A updates the upper triangle of the buffer of C (the
    /// row-major lower one); `mirror_lower_f64` then copies it onto the other triangle.
    pub(super) fn syrk(
        &self,
        c: &DeviceArray,
        a: &DeviceArray,
    ) -> Result<DeviceOutput, DeviceError> {
        let (n, k) = (a.shape()[0], a.shape()[1]);
        let i = self.stream_index();
        let s = &self.streams[i];
        let mut out = s.clone_dtod(f64::unwrap(buf(c))).map_err(cuda)?;
        if n > 0 && k > 0 {
            let (alpha, beta) = (-1.0f64, 1.0f64);
            let blas = self.blas[i].lock().expect("cuBLAS handle lock");
            let (ap, _ra) = f64::unwrap(buf(a)).device_ptr(s);
            let (cp, _rc) = out.device_ptr_mut(s);
            // SAFETY: A is the k×n column-major buffer of a (ld k, n·k elements), C the n×n
            // buffer of `out` (ld n); alpha and beta live across the call; the handle is bound
            // to stream s, on which both pointers were taken (their guards live to the end of
            // this block, after the call is queued).
            unsafe {
                cudarc::cublas::sys::cublasDsyrk_v2(
                    *blas.handle(),
                    cublasFillMode_t::CUBLAS_FILL_MODE_UPPER,
                    cublasOperation_t::CUBLAS_OP_T,
                    dim(n)?,
                    dim(k)?,
                    &alpha,
                    ap as *const f64,
                    dim(k)?,
                    &beta,
                    cp as *mut f64,
                    dim(n)?,
                )
            }
            .result()
            .map_err(cuda)?;
        }
        self.triangle("mirror_lower_f64", &mut out, n)?;
        s.synchronize().map_err(cuda)?;
        made_f64(vec![n, n], out)
    }

    /// `trsm`: X with X·Lᵀ = B (L s×s lower, B m×s). Transposed, L·Xᵀ = Bᵀ: the buffer of L
    /// is the column-major upper-triangular Lᵀ (ld s), so cublasDtrsm solves op(A)·Y = Bᵀ
    /// on the left with A upper and op = T, in place in a copy of the s×m buffer of B.
    pub(super) fn trsm(
        &self,
        l: &DeviceArray,
        b: &DeviceArray,
    ) -> Result<DeviceOutput, DeviceError> {
        let (sz, m) = (l.shape()[0], b.shape()[0]);
        let i = self.stream_index();
        let s = &self.streams[i];
        let mut out = s.clone_dtod(f64::unwrap(buf(b))).map_err(cuda)?;
        if sz > 0 && m > 0 {
            let alpha = 1.0f64;
            let blas = self.blas[i].lock().expect("cuBLAS handle lock");
            let (lp, _rl) = f64::unwrap(buf(l)).device_ptr(s);
            let (xp, _rx) = out.device_ptr_mut(s);
            // SAFETY: A is the s×s buffer of l (ld s), B the s×m buffer of `out` (ld s, m·s
            // elements); alpha lives across the call; the handle is bound to stream s, on
            // which both pointers were taken.
            unsafe {
                cudarc::cublas::sys::cublasDtrsm_v2(
                    *blas.handle(),
                    cublasSideMode_t::CUBLAS_SIDE_LEFT,
                    cublasFillMode_t::CUBLAS_FILL_MODE_UPPER,
                    cublasOperation_t::CUBLAS_OP_T,
                    cublasDiagType_t::CUBLAS_DIAG_NON_UNIT,
                    dim(sz)?,
                    dim(m)?,
                    &alpha,
                    lp as *const f64,
                    dim(sz)?,
                    xp as *mut f64,
                    dim(sz)?,
                )
            }
            .result()
            .map_err(cuda)?;
        }
        s.synchronize().map_err(cuda)?;
        made_f64(vec![m, sz], out)
    }

    /// `potrf` through cuSOLVER: the buffer of the row-major tile is its column-major
    /// transpose, whose upper triangle (the row-major lower one, the only one read) is
    /// factored as UᵀU; U's buffer read row-major is L = Uᵀ. `zero_upper_f64` clears the
    /// other triangle. A tile that is not positive definite fails like the CPU kernel.
    pub(super) fn potrf(&self, a: &DeviceArray) -> Result<DeviceOutput, DeviceError> {
        let Some(solver) = &self.solver else {
            return Err(DeviceError::Unsupported(
                "potrf (libcusolver cannot be loaded)".into(),
            ));
        };
        let n = a.shape()[0];
        let i = self.stream_index();
        let s = &self.streams[i];
        let mut out = s.clone_dtod(f64::unwrap(buf(a))).map_err(cuda)?;
        if n > 0 {
            use cudarc::cusolver::sys as sol;
            let upper = sol::cublasFillMode_t::CUBLAS_FILL_MODE_UPPER;
            let h = solver[i].lock().expect("cuSOLVER handle lock");
            let mut lwork: i32 = 0;
            {
                let (ap, _ra) = out.device_ptr_mut(s);
                // SAFETY: asks the workspace size for an n×n matrix at `ap` (ld n, n·n
                // elements); `lwork` lives across the call; the handle is bound to stream s.
                unsafe {
                    sol::cusolverDnDpotrf_bufferSize(
                        h.cu(),
                        upper,
                        dim(n)?,
                        ap as *mut f64,
                        dim(n)?,
                        &mut lwork,
                    )
                }
                .result()
                .map_err(cuda)?;
            }
            let mut work = s
                .alloc_zeros::<f64>((lwork.max(1)) as usize)
                .map_err(cuda)?;
            let mut info = s.alloc_zeros::<i32>(1).map_err(cuda)?;
            {
                let (ap, _ra) = out.device_ptr_mut(s);
                let (wp, _rw) = work.device_ptr_mut(s);
                let (ip, _ri) = info.device_ptr_mut(s);
                // SAFETY: the n×n matrix at `ap` (ld n), a workspace of `lwork` doubles (as
                // cuSOLVER asked) and one int for devInfo, all on stream s, the handle's.
                unsafe {
                    sol::cusolverDnDpotrf(
                        h.cu(),
                        upper,
                        dim(n)?,
                        ap as *mut f64,
                        dim(n)?,
                        wp as *mut f64,
                        lwork,
                        ip as *mut i32,
                    )
                }
                .result()
                .map_err(cuda)?;
            }
            let info = s.clone_dtoh(&info).map_err(cuda)?[0];
            if info != 0 {
                return Err(DeviceError::Kernel(format!(
                    "the tile is not positive definite (cuSOLVER potrf info {info})"
                )));
            }
            self.triangle("zero_upper_f64", &mut out, n)?;
        }
        s.synchronize().map_err(cuda)?;
        made_f64(vec![n, n], out)
    }
}
