import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SHT_NOTE, elfFile, elfNote } from './elf-fixture.js';
import { bzImagePayload, extractVmlinux, hasPvhEntryNote } from './vmlinux.js';

const PVH_NOTE = elfNote('Xen', 18, Buffer.from([0, 0, 0, 1]));
const OTHER_NOTE = elfNote('GNU', 3, Buffer.alloc(20));

/** A bzImage as the x86 boot protocol lays it out: setup sectors, header, then the payload. */
function bzImage(payload: Buffer, setupSectors = 3): Buffer {
  const protectedMode = (setupSectors + 1) * 512;
  const payloadOffset = 0x40;
  const image = Buffer.alloc(protectedMode + payloadOffset + payload.length + 4);
  image.writeUInt8(setupSectors, 0x1f1);
  image.write('HdrS', 0x202, 'latin1');
  image.writeUInt32LE(payloadOffset, 0x248);
  image.writeUInt32LE(payload.length, 0x24c);
  payload.copy(image, protectedMode + payloadOffset);
  return image;
}

describe('vmlinux from a bzImage', () => {
  const vmlinux = elfFile([{ name: '.notes', type: SHT_NOTE, data: Buffer.concat([OTHER_NOTE, PVH_NOTE]) }]);

  it('finds the payload through the setup header and decompresses it', () => {
    const image = bzImage(gzipSync(vmlinux));
    expect(bzImagePayload(image).compression).toBe('gzip');
    expect(extractVmlinux(image).equals(vmlinux)).toBe(true);
  });

  it('tells the PVH entry note apart from other notes', () => {
    expect(hasPvhEntryNote(vmlinux)).toBe(true);
    expect(hasPvhEntryNote(elfFile([{ name: '.notes', type: SHT_NOTE, data: OTHER_NOTE }]))).toBe(false);
  });

  it('refuses a kernel QEMU could not boot directly, and bytes that are no bzImage', () => {
    const noPvh = elfFile([{ name: '.notes', type: SHT_NOTE, data: OTHER_NOTE }]);
    expect(() => extractVmlinux(bzImage(gzipSync(noPvh)))).toThrow(/no PVH entry note/);
    expect(() => bzImagePayload(Buffer.alloc(4096))).toThrow(/not a bzImage/);
    expect(() => bzImagePayload(bzImage(Buffer.from('plain bytes')))).toThrow(/unknown compression/);
    const truncated = bzImage(gzipSync(vmlinux)).subarray(0, 2100);
    expect(() => bzImagePayload(truncated)).toThrow(/outside/);
  });
});
