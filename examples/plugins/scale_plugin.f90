! A dirk kernel plugin in Fortran (include/dirk_plugin.h through bind(C)): `fort::scale`,
! out = 2*a + 1 elementwise on an f64 array of any shape.
!
!   gfortran -shared -fPIC -O2 -ffp-contract=off examples/plugins/scale_plugin.f90 -o libfscale.so
!   sha256sum libfscale.so     # the job's "sha256"
module dirk_scale_plugin
  use iso_c_binding
  implicit none
  private
  public :: dirk_plugin_v1

  ! DLPack's DLDevice, DLDataType and DLTensor, and dirk's kernel and plugin records.
  type, bind(C) :: dl_device
    integer(c_int32_t) :: device_type, device_id
  end type
  type, bind(C) :: dl_data_type
    integer(c_int8_t) :: code, bits
    integer(c_int16_t) :: lanes
  end type
  type, bind(C) :: dl_tensor
    type(c_ptr) :: data
    type(dl_device) :: device
    integer(c_int32_t) :: ndim
    type(dl_data_type) :: dtype
    type(c_ptr) :: shape, strides
    integer(c_int64_t) :: byte_offset
  end type
  type, bind(C) :: dirk_kernel
    type(c_ptr) :: name, args
    integer(c_int32_t) :: arity
    type(c_funptr) :: cpu
  end type
  type, bind(C) :: dirk_plugin
    integer(c_int32_t) :: abi_version, n_kernels
    type(c_ptr) :: kernels
  end type

  character(kind=c_char, len=12), target, save :: kname = "fort::scale" // c_null_char
  character(kind=c_char, len=4), target, save :: kargs = "[a]" // c_null_char
  type(dirk_kernel), target, save :: kernels(1)
  type(dirk_plugin), target, save :: plugin

contains

  integer(c_int) function fscale(inputs, n, output, params, ctx) bind(C)
    type(dl_tensor), intent(in) :: inputs(*)
    integer(c_int32_t), value :: n
    type(dl_tensor), intent(inout) :: output
    type(c_ptr), value :: params, ctx
    integer(c_int64_t), pointer :: shp(:)
    real(c_double), pointer :: a(:), o(:)
    integer(c_int64_t) :: len
    call c_f_pointer(inputs(1)%shape, shp, [inputs(1)%ndim])
    len = product(shp)
    call c_f_pointer(inputs(1)%data, a, [len])
    call c_f_pointer(output%data, o, [len])
    o = 2.0_c_double * a + 1.0_c_double
    fscale = 0
  end function

  type(c_ptr) function dirk_plugin_v1() bind(C, name="dirk_plugin_v1")
    kernels(1)%name = c_loc(kname)
    kernels(1)%args = c_loc(kargs)
    kernels(1)%arity = 1
    kernels(1)%cpu = c_funloc(fscale)
    plugin%abi_version = 1
    plugin%n_kernels = 1
    plugin%kernels = c_loc(kernels)
    dirk_plugin_v1 = c_loc(plugin)
  end function

end module
