import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from '../../recommender/safetensors.ts';

/** Builds a safetensors file by hand: u64 LE header length, header padded with spaces, data. */
function handBuilt(headerJson: string, paddedLength: number, data: number[]): Uint8Array {
  const header = new TextEncoder().encode(headerJson);
  const out = new Uint8Array(8 + paddedLength + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(paddedLength), true);
  out.set(header, 8);
  out.fill(0x20, 8 + header.length, 8 + paddedLength);
  out.set(data, 8 + paddedLength);
  return out;
}

/** A file with an arbitrary header object (no padding needed for decoding). */
function withHeader(header: unknown, data: number[] = []): Uint8Array {
  const json = JSON.stringify(header);
  return handBuilt(json, new TextEncoder().encode(json).length, data);
}

describe('encodeSafetensors', () => {
  it('matches a hand-built file byte for byte', () => {
    const json =
      '{"__metadata__":{"format":"pt"},' +
      '"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"idx":{"dtype":"I32","shape":[1,1],"data_offsets":[8,12]},' +
      '"m":{"dtype":"U8","shape":[3],"data_offsets":[12,15]}}';
    expect(json.length).toBe(197); // + 3 spaces = 200, a multiple of 8
    const data = [
      0x00, 0x00, 0x80, 0x3f, // 1.0f
      0x00, 0x00, 0x00, 0xc0, // -2.0f
      0x02, 0x01, 0x00, 0x00, // 258
      1, 2, 3,
    ];
    const expected = handBuilt(json, 200, data);
    expect(expected.length).toBe(8 + 200 + 15);
    expect(Array.from(expected.subarray(0, 8))).toEqual([200, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(expected.subarray(8 + 197, 8 + 200))).toEqual([0x20, 0x20, 0x20]);

    const actual = encodeSafetensors(
      [
        { name: 'w', dtype: 'F32', shape: [2], data: Float32Array.from([1, -2]) },
        { name: 'idx', dtype: 'I32', shape: [1, 1], data: Int32Array.from([258]) },
        { name: 'm', dtype: 'U8', shape: [3], data: Uint8Array.from([1, 2, 3]) },
      ],
      { format: 'pt' },
    );
    expect(Array.from(actual)).toEqual(Array.from(expected));
  });

  it('adds no padding when the header is already a multiple of 8 and omits absent metadata', () => {
    const json = '{"abcd":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
    expect(json.length).toBe(56);
    const actual = encodeSafetensors([{ name: 'abcd', dtype: 'U8', shape: [1], data: Uint8Array.from([7]) }]);
    expect(Array.from(actual)).toEqual(Array.from(handBuilt(json, 56, [7])));
  });

  it('keeps the given order for numeric-looking names', () => {
    const bytes = encodeSafetensors([
      { name: 'b', dtype: 'U8', shape: [1], data: Uint8Array.from([1]) },
      { name: '0', dtype: 'U8', shape: [1], data: Uint8Array.from([2]) },
    ]);
    const text = new TextDecoder().decode(bytes.subarray(8, bytes.length - 2));
    expect(text.trimEnd()).toBe(
      '{"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"0":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}',
    );
    expect(Array.from(bytes.subarray(bytes.length - 2))).toEqual([1, 2]);
  });

  it('rejects inconsistent tensors', () => {
    const f = Float32Array.from([1, 2]);
    expect(() => encodeSafetensors([{ name: 'x', dtype: 'F32', shape: [3], data: f }])).toThrow(/needs 3 values, got 2/);
    expect(() => encodeSafetensors([{ name: 'x', dtype: 'I32', shape: [2], data: f }])).toThrow(/I32 needs a Int32Array/);
    expect(() =>
      encodeSafetensors([
        { name: 'x', dtype: 'F32', shape: [2], data: f },
        { name: 'x', dtype: 'F32', shape: [2], data: f },
      ]),
    ).toThrow(/duplicate tensor name 'x'/);
    expect(() => encodeSafetensors([{ name: '__metadata__', dtype: 'F32', shape: [2], data: f }])).toThrow(/reserved/);
    expect(() => encodeSafetensors([{ name: 'x', dtype: 'F32', shape: [-2], data: f }])).toThrow(/non-negative/);
    expect(() => encodeSafetensors([{ name: 'x', dtype: 'Q4' as 'F32', shape: [2], data: f }])).toThrow(/unsupported dtype Q4/);
    expect(() => encodeSafetensors([], { n: 3 as unknown as string })).toThrow(/metadata 'n' must be a string/);
  });
});

describe('decodeSafetensors', () => {
  it('round-trips every dtype, scalars and empty tensors', () => {
    const tensors: NamedTensor[] = [
      { name: 'f32', dtype: 'F32', shape: [2, 3], data: Float32Array.from([0.5, -1.25, 3, Math.PI, -0, 1e-30]) },
      { name: 'f64', dtype: 'F64', shape: [2], data: Float64Array.from([Math.E, -1e300]) },
      { name: 'f16', dtype: 'F16', shape: [1], data: Uint16Array.from([0x3c00]) },
      { name: 'bf16', dtype: 'BF16', shape: [1], data: Uint16Array.from([0x3f80]) },
      { name: 'i8', dtype: 'I8', shape: [2], data: Int8Array.from([-128, 127]) },
      { name: 'u8', dtype: 'U8', shape: [3], data: Uint8Array.from([0, 128, 255]) },
      { name: 'bool', dtype: 'BOOL', shape: [2], data: Uint8Array.from([1, 0]) },
      { name: 'i16', dtype: 'I16', shape: [1], data: Int16Array.from([-300]) },
      { name: 'u16', dtype: 'U16', shape: [1], data: Uint16Array.from([65535]) },
      { name: 'i32', dtype: 'I32', shape: [1, 1, 2], data: Int32Array.from([-7, 2147483647]) },
      { name: 'u32', dtype: 'U32', shape: [1], data: Uint32Array.from([4294967295]) },
      { name: 'i64', dtype: 'I64', shape: [1], data: BigInt64Array.from([-(2n ** 62n)]) },
      { name: 'u64', dtype: 'U64', shape: [1], data: BigUint64Array.from([2n ** 64n - 1n]) },
      { name: 'scalar', dtype: 'F32', shape: [], data: Float32Array.from([42]) },
      { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    ];
    const meta = { producer: 'fedrec', note: 'ünïcödé ✓' };
    const decoded = decodeSafetensors(encodeSafetensors(tensors, meta));
    expect(decoded.metadata).toEqual(meta);
    expect([...decoded.tensors.keys()]).toEqual(tensors.map((t) => t.name));
    for (const t of tensors) {
      const d = decoded.tensors.get(t.name)!;
      expect(d.dtype).toBe(t.dtype);
      expect(d.shape).toEqual(t.shape);
      expect(d.data.constructor).toBe(t.data.constructor);
      expect(Array.from(d.data as ArrayLike<number | bigint>)).toEqual(Array.from(t.data as ArrayLike<number | bigint>));
    }
  });

  it('returns empty metadata when the file has none', () => {
    const bytes = encodeSafetensors([{ name: 'x', dtype: 'U8', shape: [1], data: Uint8Array.from([9]) }]);
    expect(decodeSafetensors(bytes).metadata).toEqual({});
  });

  it('copies unaligned data into aligned arrays', () => {
    // a U8 at [0,1) pushes the F32 to the unaligned offset 1; 1.5f = 0x3FC00000
    const json = '{"pad":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"v":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}}';
    const file = handBuilt(json, Math.ceil(json.length / 8) * 8, [0xaa, 0x00, 0x00, 0xc0, 0x3f]);
    // also place the whole file at an odd byte offset of a larger buffer
    const host = new Uint8Array(file.length + 3);
    host.set(file, 3);
    const decoded = decodeSafetensors(host.subarray(3));
    const v = decoded.tensors.get('v')!.data as Float32Array;
    expect(v).toBeInstanceOf(Float32Array);
    expect(v.byteOffset).toBe(0);
    expect(Array.from(v)).toEqual([1.5]);
    expect(Array.from(decoded.tensors.get('pad')!.data as Uint8Array)).toEqual([0xaa]);
    // the copy is independent of the input bytes
    host.fill(0);
    expect(Array.from(v)).toEqual([1.5]);
  });

  it('says what is wrong with corrupt inputs', () => {
    const good = encodeSafetensors([{ name: 'w', dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) }]);
    expect(() => decodeSafetensors(good.subarray(0, 5))).toThrow(/5 bytes, too short/);
    expect(() => decodeSafetensors(good.subarray(0, good.length - 1))).toThrow(/tensor 'w'.*exceed the 7-byte data section/);
    expect(() => decodeSafetensors(good.subarray(0, 20))).toThrow(/header length \d+ exceeds the 12 bytes/);

    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
    expect(() => decodeSafetensors(huge)).toThrow(/header length 9223372036854775808 exceeds/);

    expect(() => decodeSafetensors(handBuilt('{"w":', 8, []))).toThrow(/header is not valid JSON/);
    expect(() => decodeSafetensors(handBuilt('[1,2]', 8, []))).toThrow(/header must be a JSON object/);
    const badUtf8 = handBuilt('{}', 8, []);
    badUtf8[9] = 0xff;
    expect(() => decodeSafetensors(badUtf8)).toThrow(/not valid UTF-8/);
  });

  it('rejects bad tensor entries', () => {
    const four = [0, 0, 128, 63];
    const entry = (e: unknown): Uint8Array => withHeader({ x: e }, four);
    expect(() => decodeSafetensors(entry({ dtype: 'F32', shape: [1], data_offsets: [0, 8] }))).toThrow(
      /tensor 'x': data_offsets \[0, 8\] exceed the 4-byte data section/,
    );
    expect(() => decodeSafetensors(entry({ dtype: 'F32', shape: [2], data_offsets: [0, 4] }))).toThrow(
      /F32 \[2\] needs 8 bytes but data_offsets span 4/,
    );
    expect(() => decodeSafetensors(entry({ dtype: 'F32', shape: [1], data_offsets: [4, 0] }))).toThrow(/end before they begin/);
    expect(() => decodeSafetensors(entry({ dtype: 'F32', shape: [1], data_offsets: [0] }))).toThrow(/data_offsets must be/);
    expect(() => decodeSafetensors(entry({ dtype: 'F32', shape: [1], data_offsets: [-1, 3] }))).toThrow(/data_offsets must be/);
    expect(() => decodeSafetensors(entry({ dtype: 'F32', shape: [1.5], data_offsets: [0, 4] }))).toThrow(/shape/);
    expect(() => decodeSafetensors(entry({ dtype: 'X9', shape: [1], data_offsets: [0, 4] }))).toThrow(/unsupported dtype "X9"/);
    expect(() => decodeSafetensors(entry({ dtype: 'F32', shape: '1', data_offsets: [0, 4] }))).toThrow(/shape must be an array/);
    expect(() => decodeSafetensors(entry(7))).toThrow(/tensor 'x': expected/);
    expect(() => decodeSafetensors(withHeader({ __metadata__: { a: 1 } }))).toThrow(/__metadata__.a must be a string/);
  });

  it('rejects overlapping tensors', () => {
    const bytes = withHeader(
      {
        a: { dtype: 'U8', shape: [3], data_offsets: [0, 3] },
        b: { dtype: 'U8', shape: [2], data_offsets: [2, 4] },
      },
      [1, 2, 3, 4],
    );
    expect(() => decodeSafetensors(bytes)).toThrow(/'a' and 'b' overlap/);
    // empty tensors can sit anywhere
    const ok = withHeader(
      {
        a: { dtype: 'U8', shape: [3], data_offsets: [0, 3] },
        e: { dtype: 'U8', shape: [0], data_offsets: [1, 1] },
      },
      [1, 2, 3],
    );
    expect(decodeSafetensors(ok).tensors.get('e')!.data.length).toBe(0);
  });
});
