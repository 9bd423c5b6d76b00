/**
 * Writes a small but deliberately slow ONNX generator for tests that need a run to take a
 * while: a stack of 3x3 convolutions (3 -> C -> ... -> C -> 3) with ReLU between them and a
 * Tanh at the end, dynamic height and width, input `input`, output `output`, opset 17.
 * Weights are a fixed pseudo-random pattern; nothing is downloaded or trained. The protobuf is
 * encoded by hand (the few ONNX fields needed) so the tests need no Python.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

class Pb {
  readonly parts: Buffer[] = [];
  #varint(v: number | bigint): void {
    let x = BigInt(v);
    const bytes: number[] = [];
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x > 0n) b |= 0x80;
      bytes.push(b);
    } while (x > 0n);
    this.parts.push(Buffer.from(bytes));
  }
  int(field: number, v: number): this {
    this.#varint((field << 3) | 0);
    this.#varint(v);
    return this;
  }
  bytes(field: number, data: Uint8Array | Pb | string): this {
    const buf = data instanceof Pb ? data.done() : typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    this.#varint((field << 3) | 2);
    this.#varint(buf.length);
    this.parts.push(buf);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function tensorValueInfo(name: string): Pb {
  // TensorShapeProto: [1, 3, height, width]
  const shape = new Pb()
    .bytes(1, new Pb().int(1, 1))
    .bytes(1, new Pb().int(1, 3))
    .bytes(1, new Pb().bytes(2, 'height'))
    .bytes(1, new Pb().bytes(2, 'width'));
  const tensorType = new Pb().int(1, 1 /* FLOAT */).bytes(2, shape);
  return new Pb().bytes(1, name).bytes(2, new Pb().bytes(1, tensorType));
}

function initializer(name: string, dims: number[], seed: number): Pb {
  const count = dims.reduce((a, b) => a * b, 1);
  const fanIn = dims.slice(1).reduce((a, b) => a * b, 1);
  const values = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    values[i] = ((s / 2 ** 32) * 2 - 1) / Math.sqrt(fanIn);
  }
  const t = new Pb();
  for (const d of dims) t.int(1, d);
  return t.int(2, 1 /* FLOAT */).bytes(8, name).bytes(9, new Uint8Array(values.buffer));
}

function node(op: string, inputs: string[], output: string, attrs: Pb[] = []): Pb {
  const n = new Pb();
  for (const i of inputs) n.bytes(1, i);
  n.bytes(2, output).bytes(3, output).bytes(4, op);
  for (const a of attrs) n.bytes(5, a);
  return n;
}

function intsAttr(name: string, values: number[]): Pb {
  const a = new Pb().bytes(1, name).int(20, 7 /* INTS */);
  for (const v of values) a.int(8, v);
  return a;
}

/** Returns the ONNX bytes; MACs per pixel = 9 * (3C + (layers - 2) C^2 + 3C). */
export function convStackModel(channels = 32, layers = 6): Buffer {
  const graph = new Pb();
  const inits: Pb[] = [];
  let prev = 'input';
  for (let l = 0; l < layers; l++) {
    const cin = l === 0 ? 3 : channels;
    const cout = l === layers - 1 ? 3 : channels;
    const w = `w${l}`;
    inits.push(initializer(w, [cout, cin, 3, 3], 1234 + l));
    const conv = `conv${l}`;
    graph.bytes(1, node('Conv', [prev, w], conv, [intsAttr('kernel_shape', [3, 3]), intsAttr('pads', [1, 1, 1, 1])]));
    const act = l === layers - 1 ? 'output' : `relu${l}`;
    graph.bytes(1, node(l === layers - 1 ? 'Tanh' : 'Relu', [conv], act));
    prev = act;
  }
  graph.bytes(2, 'conv_stack');
  for (const i of inits) graph.bytes(5, i);
  graph.bytes(11, tensorValueInfo('input')).bytes(12, tensorValueInfo('output'));
  return new Pb()
    .int(1, 8 /* IR version */)
    .bytes(2, 'cyclestream-test')
    .bytes(7, graph)
    .bytes(8, new Pb().bytes(1, '').int(2, 17))
    .done();
}

/** Writes <dir>/<id>.onnx and a manifest the inference host accepts. */
export async function writeConvStackModel(dir: string, id: string, channels = 32, layers = 6): Promise<void> {
  await writeFile(join(dir, `${id}.onnx`), convStackModel(channels, layers));
  const manifest = {
    schemaVersion: 1,
    id,
    title: `Test: ${layers}-layer conv stack, ${channels} channels`,
    file: `${id}.onnx`,
    domains: { from: 'rgb', to: 'rgb' },
    architecture: 'conv-stack',
    params: 9 * (3 * channels + (layers - 2) * channels * channels + 3 * channels),
    macsAt256: 65536 * 9 * (3 * channels + (layers - 2) * channels * channels + 3 * channels),
    input: { name: 'input', layout: 'NCHW', channels: 3, range: [-1, 1], sizeMultiple: 4 },
    output: { name: 'output', layout: 'NCHW', channels: 3, range: [-1, 1] },
    provenance: { kind: 'random', description: 'Fixed pseudo-random weights; written by test/server/inference/conv-stack-model.ts.' },
    hidden: true,
  };
  await writeFile(join(dir, `${id}.json`), JSON.stringify(manifest, null, 2));
}
