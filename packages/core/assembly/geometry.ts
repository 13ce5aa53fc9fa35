// The convolution geometry block the loader writes (src/kernels/conv/geometry.ts, CONV2D_GEOMETRY_FIELDS).

/** The geometry block the loader writes, field by field in this order (the nn Conv2dGeometry). */
@unmanaged
export class Geometry {
  batch: i32;
  inChannels: i32;
  inHeight: i32;
  inWidth: i32;
  outChannels: i32;
  groups: i32;
  kernelHeight: i32;
  kernelWidth: i32;
  strideHeight: i32;
  strideWidth: i32;
  padHeight: i32;
  padWidth: i32;
  dilationHeight: i32;
  dilationWidth: i32;
  outHeight: i32;
  outWidth: i32;
}
