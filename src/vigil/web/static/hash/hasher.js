// Vigil's in-browser hasher (issue 21), written here from the published algorithms: MD5 (RFC
// 1321) of a file's bytes, read in chunks so a large video never loads whole, and Meta's PDQ
// with its quality, computed exactly as Vigil's server computes it on the same pixels (float
// luma, two box passes and decimation to 64x64, a 16x16 DCT, one bit per coefficient above the
// median; the hex is the 256-bit number, most significant nibble first).
//
// The whole hasher is one function: the page loads it as a script and starts a Web Worker
// from its source, which works from a server and from a file:// bundle alike.
"use strict";

function vigilHasher(scope) {
  const f = Math.fround;

  // ---------------------------------------------------------------- MD5
  const K = Int32Array.from([
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
  ].map((k) => k | 0));
  const R = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

  class MD5 {
    constructor() {
      this.h = Int32Array.of(0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476);
      this.tail = new Uint8Array(64);
      this.kept = 0; // bytes waiting in tail
      this.total = 0; // bytes seen
      this.words = new Int32Array(16);
    }

    block(bytes, at) {
      const w = this.words;
      for (let i = 0; i < 16; i++) {
        const p = at + 4 * i;
        w[i] = bytes[p] | (bytes[p + 1] << 8) | (bytes[p + 2] << 16) | (bytes[p + 3] << 24);
      }
      let a = this.h[0], b = this.h[1], c = this.h[2], d = this.h[3];
      for (let i = 0; i < 64; i++) {
        let fn, g;
        if (i < 16) { fn = (b & c) | (~b & d); g = i; }
        else if (i < 32) { fn = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
        else if (i < 48) { fn = b ^ c ^ d; g = (3 * i + 5) & 15; }
        else { fn = c ^ (b | ~d); g = (7 * i) & 15; }
        const s = R[(i >> 4) * 4 + (i & 3)];
        const sum = (a + fn + K[i] + w[g]) | 0;
        a = d; d = c; c = b;
        b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
      }
      this.h[0] = (this.h[0] + a) | 0; this.h[1] = (this.h[1] + b) | 0;
      this.h[2] = (this.h[2] + c) | 0; this.h[3] = (this.h[3] + d) | 0;
    }

    update(bytes) {
      let at = 0;
      this.total += bytes.length;
      if (this.kept) {
        const take = Math.min(64 - this.kept, bytes.length);
        this.tail.set(bytes.subarray(0, take), this.kept);
        this.kept += take;
        at = take;
        if (this.kept < 64) return;
        this.block(this.tail, 0);
        this.kept = 0;
      }
      for (; at + 64 <= bytes.length; at += 64) this.block(bytes, at);
      this.tail.set(bytes.subarray(at), 0);
      this.kept = bytes.length - at;
    }

    hex() {
      const bits = this.total * 8;
      const pad = new Uint8Array(((this.kept < 56 ? 56 : 120) - this.kept) + 8);
      pad[0] = 0x80;
      const view = new DataView(pad.buffer);
      view.setUint32(pad.length - 8, bits >>> 0, true);
      view.setUint32(pad.length - 4, Math.floor(bits / 2 ** 32), true);
      const total = this.total;
      this.update(pad);
      this.total = total;
      let out = "";
      for (const word of this.h) {
        for (let k = 0; k < 4; k++) out += ((word >>> (8 * k)) & 255).toString(16).padStart(2, "0");
      }
      return out;
    }
  }

  async function md5OfFile(file, chunk = 4 * 2 ** 20, progress = () => {}) {
    const md5 = new MD5();
    for (let at = 0; at < file.size; at += chunk) {
      md5.update(new Uint8Array(await file.slice(at, at + chunk).arrayBuffer()));
      progress(Math.min(file.size, at + chunk) / file.size);
    }
    return md5.hex();
  }

  // ---------------------------------------------------------------- PDQ
  const window_ = (n) => Math.floor((n + 2 * 64 - 1) / (2 * 64));

  function operator(n) {
    // the 64 x n matrix of two box passes then decimation at pixel centres, in band form
    if (n === 64) {
      return { start: Int32Array.from({ length: 64 }, (_, i) => i), k: 1, w: new Float32Array(64).fill(1) };
    }
    const win = window_(n), half = Math.floor((win + 2) / 2);
    const lo = new Int32Array(n), hi = new Int32Array(n);
    for (let k = 0; k < n; k++) { lo[k] = Math.max(0, k - (win - half)); hi[k] = Math.min(n, k + half); }
    const rows = [];
    let first = n, widest = 1;
    for (let r = 0; r < 64; r++) {
      const s = Math.floor(((r + 0.5) * n) / 64);
      const row = new Map();
      for (let j = lo[s]; j < hi[s]; j++) {
        const add = 1.0 / ((hi[s] - lo[s]) * (hi[j] - lo[j]));
        for (let x = lo[j]; x < hi[j]; x++) row.set(x, (row.get(x) || 0) + add);
      }
      const keys = [...row.keys()].filter((x) => row.get(x) !== 0);
      const a = Math.min(...keys), b = Math.max(...keys) + 1;
      widest = Math.max(widest, b - a);
      rows.push({ a, row });
      first = Math.min(first, a);
    }
    const start = new Int32Array(64), w = new Float32Array(64 * widest);
    rows.forEach(({ a, row }, r) => {
      start[r] = Math.min(a, n - widest);
      for (let j = 0; j < widest; j++) w[r * widest + j] = row.get(start[r] + j) || 0;
    });
    return { start, k: widest, w };
  }

  function lumaOf(rgba, count) {
    // float32 luma, as the server computes it; an image whose every pixel is grey is its grey
    // value (the server reads such files as greyscale)
    let grey = true;
    for (let i = 0; i < count * 4; i += 4) {
      if (rgba[i] !== rgba[i + 1] || rgba[i] !== rgba[i + 2]) { grey = false; break; }
    }
    const out = new Float32Array(count);
    if (grey) { for (let i = 0; i < count; i++) out[i] = rgba[4 * i]; return out; }
    const r = f(0.299), g = f(0.587), b = f(0.114);
    for (let i = 0, p = 0; i < count; i++, p += 4) {
      out[i] = f(f(f(r * rgba[p]) + f(g * rgba[p + 1])) + f(b * rgba[p + 2]));
    }
    return out;
  }

  function decimate(luma, width, height) {
    // rows @ luma @ cols^T in float32, reading only each output's band
    const ro = operator(height), co = operator(width);
    const tmp = new Float32Array(64 * width);
    for (let r = 0; r < 64; r++) {
      const t = r * width;
      for (let j = 0; j < ro.k; j++) {
        const weight = ro.w[r * ro.k + j];
        if (weight === 0) continue;
        const line = (ro.start[r] + j) * width;
        for (let x = 0; x < width; x++) tmp[t + x] = f(tmp[t + x] + f(weight * luma[line + x]));
      }
    }
    const out = new Float32Array(64 * 64);
    for (let r = 0; r < 64; r++) {
      for (let c = 0; c < 64; c++) {
        let acc = 0;
        const base = r * width + co.start[c];
        for (let j = 0; j < co.k; j++) acc = f(acc + f(co.w[c * co.k + j] * tmp[base + j]));
        out[r * 64 + c] = acc;
      }
    }
    return out;
  }

  const DCT = (() => {
    const m = new Float64Array(16 * 64), scale = Math.sqrt(2.0 / 64.0);
    for (let i = 1; i <= 16; i++) {
      for (let j = 0; j < 64; j++) m[(i - 1) * 64 + j] = scale * Math.cos((Math.PI / 2 / 64.0) * i * (2 * j + 1));
    }
    return m;
  })();

  function quality(buf) {
    let total = 0;
    for (let i = 0; i < 63; i++) {
      for (let j = 0; j < 64; j++) total += Math.abs(Math.trunc(f(f(f(buf[i * 64 + j] - buf[(i + 1) * 64 + j]) * 100) / 255)));
    }
    for (let i = 0; i < 64; i++) {
      for (let j = 0; j < 63; j++) total += Math.abs(Math.trunc(f(f(f(buf[i * 64 + j] - buf[i * 64 + j + 1]) * 100) / 255)));
    }
    return Math.min(100, Math.floor(total / 90));
  }

  function bitsOf(buf) {
    const t = new Float64Array(16 * 64), c = new Float64Array(256);
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < 64; j++) {
        let s = 0;
        for (let k = 0; k < 64; k++) s += DCT[i * 64 + k] * buf[k * 64 + j];
        t[i * 64 + j] = s;
      }
    }
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < 16; j++) {
        let s = 0;
        for (let k = 0; k < 64; k++) s += t[i * 64 + k] * DCT[j * 64 + k];
        c[i * 16 + j] = s;
      }
    }
    const median = Float64Array.from(c).sort()[127];
    let hex = "";
    for (let k = 255; k >= 0; k -= 4) {
      const nibble = ((c[k] > median) << 3) | ((c[k - 1] > median) << 2) | ((c[k - 2] > median) << 1) | (c[k - 3] > median);
      hex += nibble.toString(16);
    }
    return hex;
  }

  function pdqOfPixels(rgba, width, height) {
    const buf = decimate(lumaOf(rgba, width * height), width, height);
    return { hash: bitsOf(buf), quality: quality(buf) };
  }

  // ---------------------------------------------------------------- images
  const MAX_PIXELS = 100e6; // as the server's limit: larger is refused, not decoded

  function dimensions(head) {
    // width x height from an image's header (PNG, JPEG, GIF, WebP), before decoding it
    const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const at = (s) => s.split("").every((ch, i) => head[i] === ch.charCodeAt(0));
    if (head.length >= 24 && head[0] === 0x89 && at("\x89PNG")) return [v.getUint32(16), v.getUint32(20)];
    if (at("GIF8") && head.length >= 10) return [v.getUint16(6, true), v.getUint16(8, true)];
    if (at("RIFF") && head.length >= 30 && String.fromCharCode(...head.subarray(8, 12)) === "WEBP") {
      const kind = String.fromCharCode(...head.subarray(12, 16));
      if (kind === "VP8X") return [1 + (v.getUint32(24, true) & 0xffffff), 1 + (v.getUint32(27, true) & 0xffffff)];
      if (kind === "VP8 ") return [v.getUint16(26, true) & 0x3fff, v.getUint16(28, true) & 0x3fff];
      if (kind === "VP8L") {
        const bits = v.getUint32(21, true);
        return [1 + (bits & 0x3fff), 1 + ((bits >> 14) & 0x3fff)];
      }
    }
    if (head[0] === 0xff && head[1] === 0xd8) {
      for (let p = 2; p + 9 < head.length;) {
        if (head[p] !== 0xff) { p++; continue; }
        const marker = head[p + 1];
        if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
          return [v.getUint16(p + 7), v.getUint16(p + 5)];
        }
        if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { p += 2; continue; }
        p += 2 + v.getUint16(p + 2);
      }
    }
    return null;
  }

  async function pdqOfFile(file) {
    const head = new Uint8Array(await file.slice(0, 256 * 1024).arrayBuffer());
    const size = dimensions(head);
    if (size && size[0] * size[1] > MAX_PIXELS) {
      throw new Error(`too_large:${size[0]}x${size[1]}`);
    }
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: "from-image", colorSpaceConversion: "none", premultiplyAlpha: "none" });
    } catch (e) {
      throw new Error("undecodable");
    }
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext("2d", { willReadFrequently: true, colorSpace: "srgb" });
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height, { colorSpace: "srgb" });
    return { ...pdqOfPixels(data, canvas.width, canvas.height), width: canvas.width, height: canvas.height };
  }

  async function hashFile(file, progress) {
    const out = { name: file.name, size: file.size, type: file.type };
    if (file.size === 0) { out.error = "empty"; return out; }
    out.md5 = await md5OfFile(file, 4 * 2 ** 20, progress);
    if (!file.type.startsWith("video/")) {
      try { Object.assign(out, await pdqOfFile(file)); }
      catch (e) { out.error = String(e.message || e); }
    }
    return out;
  }

  const api = { MD5, md5OfFile, pdqOfPixels, pdqOfFile, hashFile, dimensions };
  if (typeof WorkerGlobalScope !== "undefined" && scope instanceof WorkerGlobalScope) {
    scope.onmessage = async (event) => {
      const { id, file } = event.data;
      const progress = (share) => scope.postMessage({ id, progress: share });
      try { scope.postMessage({ id, done: await hashFile(file, progress) }); }
      catch (e) { scope.postMessage({ id, done: { name: file.name, error: String(e.message || e) } }); }
    };
  }
  return api;
}

if (typeof window !== "undefined") {
  window.vigilHasher = vigilHasher;
  window.vigil = vigilHasher(window);
} else if (typeof WorkerGlobalScope !== "undefined" && self instanceof WorkerGlobalScope) {
  vigilHasher(self);
}
