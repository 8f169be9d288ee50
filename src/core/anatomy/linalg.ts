// Small dense float64 linear algebra for adapter anatomy: Gram matrices of low-rank factors and a cyclic Jacobi
// eigensolver for the r x r symmetric problems they lead to. Reference: Golub & Van Loan, Matrix Computations (4th ed.),
// 8.5 (the classical/cyclic Jacobi method), which is accurate for the small symmetric matrices met here (r <= a few 100).

/** A row-major float64 matrix. */
export interface Mat {
  readonly rows: number;
  readonly cols: number;
  /** (rows, cols) row-major */
  readonly data: Float64Array;
}

export function mat(rows: number, cols: number, data: Float64Array = new Float64Array(rows * cols)): Mat {
  return { rows, cols, data };
}

/** X^T X of a (rows, cols) matrix given as f32/f64 values: (cols, cols). Used for B^T B, B (out, r). */
export function gramColumns(x: ArrayLike<number>, rows: number, cols: number): Mat {
  const g = new Float64Array(cols * cols);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let a = 0; a < cols; a++) {
      const xa = x[o + a]!;
      if (xa === 0) continue;
      for (let b = a; b < cols; b++) g[a * cols + b]! += xa * x[o + b]!;
    }
  }
  return symmetrize(g, cols);
}

/** X X^T of a (rows, cols) matrix: (rows, rows). Used for A A^T, A (r, in). */
export function gramRows(x: ArrayLike<number>, rows: number, cols: number): Mat {
  const g = new Float64Array(rows * rows);
  for (let a = 0; a < rows; a++) {
    for (let b = a; b < rows; b++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += x[a * cols + k]! * x[b * cols + k]!;
      g[a * rows + b] = s;
    }
  }
  return symmetrize(g, rows);
}

/** Copy the upper triangle onto the lower one. */
function symmetrize(g: Float64Array<ArrayBuffer>, n: number): Mat {
  for (let a = 0; a < n; a++) for (let b = 0; b < a; b++) g[a * n + b] = g[b * n + a]!;
  return mat(n, n, g);
}

export function matmul(x: Mat, y: Mat): Mat {
  const out = new Float64Array(x.rows * y.cols);
  for (let i = 0; i < x.rows; i++) {
    for (let k = 0; k < x.cols; k++) {
      const v = x.data[i * x.cols + k]!;
      if (v === 0) continue;
      for (let j = 0; j < y.cols; j++) out[i * y.cols + j]! += v * y.data[k * y.cols + j]!;
    }
  }
  return mat(x.rows, y.cols, out);
}

/** trace(X Y) without forming the product. */
export function traceOfProduct(x: Mat, y: Mat): number {
  let t = 0;
  for (let i = 0; i < x.rows; i++) for (let k = 0; k < x.cols; k++) t += x.data[i * x.cols + k]! * y.data[k * y.cols + i]!;
  return t;
}

export interface SymmetricEigen {
  /** Descending. */
  readonly values: Float64Array;
  /** Column j is the eigenvector of values[j]: (n, n) row-major. */
  readonly vectors: Mat;
}

const MAX_SWEEPS = 60;

/**
 * Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations, to full float64 accuracy: sweeps until the
 * off-diagonal mass is below 1e-30 of the total (Jacobi converges quadratically, a handful of sweeps for r <= 64).
 */
export function symmetricEigen(m: Mat): SymmetricEigen {
  const n = m.rows;
  const a = Float64Array.from(m.data);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const total = frobeniusSq(a);
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    if (offDiagonalSq(a, n) <= 1e-30 * total) break;
    for (let p = 0; p < n - 1; p++) for (let q = p + 1; q < n; q++) rotate(a, v, n, p, q);
  }
  return sortedEigen(a, v, n);
}

function frobeniusSq(a: Float64Array): number {
  let s = 0;
  for (const x of a) s += x * x;
  return s;
}

function offDiagonalSq(a: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) s += a[i * n + j]! ** 2;
  return s;
}

/** One Jacobi rotation zeroing a[p][q] (Golub & Van Loan Algorithm 8.5.1, the stable tangent formula). */
function rotate(a: Float64Array, v: Float64Array, n: number, p: number, q: number): void {
  const apq = a[p * n + q]!;
  if (apq === 0) return;
  const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
  const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
  const c = 1 / Math.sqrt(t * t + 1);
  const s = t * c;
  for (let k = 0; k < n; k++) {
    const akp = a[k * n + p]!;
    const akq = a[k * n + q]!;
    a[k * n + p] = c * akp - s * akq;
    a[k * n + q] = s * akp + c * akq;
  }
  for (let k = 0; k < n; k++) {
    const apk = a[p * n + k]!;
    const aqk = a[q * n + k]!;
    a[p * n + k] = c * apk - s * aqk;
    a[q * n + k] = s * apk + c * aqk;
  }
  for (let k = 0; k < n; k++) {
    const vkp = v[k * n + p]!;
    const vkq = v[k * n + q]!;
    v[k * n + p] = c * vkp - s * vkq;
    v[k * n + q] = s * vkp + c * vkq;
  }
}

function sortedEigen(a: Float64Array, v: Float64Array, n: number): SymmetricEigen {
  const order = [...Array(n).keys()].sort((i, j) => a[j * n + j]! - a[i * n + i]!);
  const values = Float64Array.from(order, (i) => a[i * n + i]!);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src]!;
  });
  return { values, vectors: mat(n, n, vectors) };
}

/** The PSD square root V diag(sqrt(max(λ, 0))) V^T (rounding can leave tiny negative eigenvalues). */
export function psdSqrt(m: Mat): Mat {
  const { values, vectors } = symmetricEigen(m);
  const n = m.rows;
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt(Math.max(values[k]!, 0));
    if (s === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors.data[i * n + k]! * s;
      for (let j = 0; j < n; j++) out[i * n + j]! += vik * vectors.data[j * n + k]!;
    }
  }
  return mat(n, n, out);
}

/**
 * Singular values (descending) of B A from the factors' Gram matrices G_B = B^T B and G_A = A A^T (both r x r):
 * sigma^2 are the eigenvalues of G_A G_B, which equal those of the symmetric PSD S G_B S with S = G_A^(1/2). The
 * symmetric form keeps Jacobi applicable and, unlike a Cholesky factor of G_A, works when A is rank-deficient.
 */
export function lowRankSingularValues(gB: Mat, gA: Mat): Float64Array {
  const s = psdSqrt(gA);
  const m = matmul(matmul(s, gB), s);
  return symmetricEigen(m).values.map((x) => Math.sqrt(Math.max(x, 0)));
}
