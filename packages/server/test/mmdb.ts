// A minimal MaxMind DB (.mmdb) writer for tests: IPv4 networks to records, 32-bit search-tree records,
// following the MaxMind DB File Format Specification 2.0. npm has no maintained MMDB writer (MaxMind's
// own writer is a Go library), so the test database is built here, from source, at test time.
import { isIPv4 } from 'node:net';

type Value = string | number | boolean | Value[] | { [key: string]: Value };

const METADATA_MARKER = Buffer.from([0xab, 0xcd, 0xef, ...Buffer.from('MaxMind.com')]);

function control(type: number, size: number): Buffer {
  const extended = type > 7;
  const head: number[] = [];
  const tail: number[] = [];
  let sizeBits: number;
  if (size < 29) sizeBits = size;
  else if (size < 29 + 256) {
    sizeBits = 29;
    tail.push(size - 29);
  } else if (size < 285 + 65536) {
    sizeBits = 30;
    tail.push((size - 285) >> 8, (size - 285) & 0xff);
  } else throw new Error('value too large for this test writer');
  head.push(((extended ? 0 : type) << 5) | sizeBits);
  if (extended) head.push(type - 7);
  return Buffer.from([...head, ...tail]);
}

function uintBytes(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from(bytes);
}

function encode(v: Value): Buffer {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([control(2, b.length), b]);
  }
  if (typeof v === 'boolean') return control(14, v ? 1 : 0);
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`unsupported number ${v}`);
    const b = uintBytes(v);
    return Buffer.concat([control(6, b.length), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([control(11, v.length), ...v.map(encode)]);
  const entries = Object.entries(v);
  return Buffer.concat([control(7, entries.length), ...entries.flatMap(([k, x]) => [encode(k), encode(x)])]);
}

interface Node {
  children: [Node | number | undefined, Node | number | undefined];
}

/** Builds an IPv4 MaxMind DB mapping each CIDR network to its record. */
export function buildMmdb(networks: Record<string, Value>, databaseType = 'Paddock-Test-City'): Buffer {
  const data: Buffer[] = [];
  let dataLength = 0;
  const root: Node = { children: [undefined, undefined] };
  for (const [cidr, record] of Object.entries(networks)) {
    const [address, bitsText] = cidr.split('/');
    const bits = Number(bitsText);
    if (!address || !isIPv4(address) || !(bits >= 1 && bits <= 32)) throw new Error(`bad network ${cidr}`);
    const ip = address.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    const offset = dataLength;
    const encoded = encode(record);
    data.push(encoded);
    dataLength += encoded.length;
    let node = root;
    for (let i = 0; i < bits; i++) {
      const bit = Math.floor(ip / 2 ** (31 - i)) % 2;
      if (i === bits - 1) {
        node.children[bit] = offset;
        break;
      }
      let next = node.children[bit];
      if (typeof next !== 'object') {
        next = { children: [undefined, undefined] };
        node.children[bit] = next;
      }
      node = next;
    }
  }
  const nodes: Node[] = [];
  const index = new Map<Node, number>();
  const visit = (n: Node) => {
    index.set(n, nodes.length);
    nodes.push(n);
    for (const c of n.children) if (typeof c === 'object') visit(c);
  };
  visit(root);
  const nodeCount = nodes.length;
  const tree = Buffer.alloc(nodeCount * 8);
  nodes.forEach((n, i) => {
    n.children.forEach((c, side) => {
      const record = c === undefined ? nodeCount : typeof c === 'number' ? nodeCount + 16 + c : index.get(c)!;
      tree.writeUInt32BE(record, i * 8 + side * 4);
    });
  });
  const metadata = encode({
    node_count: nodeCount,
    record_size: 32,
    ip_version: 4,
    database_type: databaseType,
    languages: ['en'],
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: Math.floor(Date.now() / 1000),
    description: { en: 'Paddock test database' },
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...data, METADATA_MARKER, metadata]);
}
