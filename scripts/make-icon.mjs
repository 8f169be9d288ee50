// Draws media/icon.png (128x128, the Marketplace/extension icon) without any image library: the same LoRA picture as
// media/activity.svg (weight W plus low-rank factors A and B), rasterised with 4x4 supersampling and written as a PNG.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const SIZE = 128;
const SS = 4;

/** Signed distance to a rounded rectangle (negative inside). */
function roundedRect(px, py, x, y, w, h, r) {
  const qx = Math.abs(px - (x + w / 2)) - (w / 2 - r);
  const qy = Math.abs(py - (y + h / 2)) - (h / 2 - r);
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
}

const over = (dst, [r, g, b], a) => [dst[0] * (1 - a) + r * a, dst[1] * (1 - a) + g * a, dst[2] * (1 - a) + b * a, Math.min(1, dst[3] + a * (1 - dst[3]))];

/** Colour of one sample point in icon coordinates (0..128). */
function sample(x, y) {
  let c = [0, 0, 0, 0];
  if (roundedRect(x, y, 4, 4, 120, 120, 22) <= 0) {
    const t = (x + y) / 256; // diagonal gradient, deep blue to teal
    c = over(c, [22 + 10 * t, 46 + 60 * t, 92 + 40 * t], 1);
  }
  const inBg = c[3] > 0;
  if (!inBg) return c;
  // W: outlined square
  const dW = roundedRect(x, y, 24, 50, 54, 54, 5);
  if (dW <= 0 && dW > -6) c = over(c, [226, 236, 245], 1);
  else if (dW <= -6) c = over(c, [255, 255, 255], 0.08);
  // A (r x in): a short wide bar above W; B (out x r): a tall narrow bar right of W
  if (roundedRect(x, y, 24, 24, 54, 16, 4) <= 0) c = over(c, [255, 166, 77], 1);
  if (roundedRect(x, y, 88, 50, 16, 54, 4) <= 0) c = over(c, [255, 166, 77], 1);
  return c;
}

function crc32(buf) {
  let c, crc = 0xffffffff;
  for (const byte of buf) {
    c = (crc ^ byte) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

export function renderIconPng() {
  const raw = Buffer.alloc(SIZE * (1 + SIZE * 4));
  for (let y = 0; y < SIZE; y++) {
    raw[y * (1 + SIZE * 4)] = 0; // filter: none
    for (let x = 0; x < SIZE; x++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const s = sample(x + (sx + 0.5) / SS, y + (sy + 0.5) / SS);
          r += s[0] * s[3]; g += s[1] * s[3]; b += s[2] * s[3]; a += s[3];
        }
      }
      const o = y * (1 + SIZE * 4) + 1 + x * 4;
      raw[o] = a ? Math.round(r / a) : 0;
      raw[o + 1] = a ? Math.round(g / a) : 0;
      raw[o + 2] = a ? Math.round(b / a) : 0;
      raw[o + 3] = Math.round((a / (SS * SS)) * 255);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(SIZE, 0);
  ihdr.writeUInt32BE(SIZE, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'media', 'icon.png');
  const png = renderIconPng();
  writeFileSync(out, png);
  console.log(`wrote ${out} (${png.length} bytes)`);
}
