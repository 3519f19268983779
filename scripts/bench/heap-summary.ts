/**
 * `npx tsx scripts/bench/heap-summary.ts <before.heapsnapshot> <after.heapsnapshot> [--per N] [--owners A,B]`:
 * what a heap holds more after than before (docs/benchmarks.md, "What a cached workflow holds").
 * Prints the heap's size in each, the growth by kind of object (count and self size, and per workflow
 * with `--per N`), and the retained size (dominator tree, weak edges ignored, as DevTools computes it)
 * of each object whose constructor is one of the owners (default: the SDK's per-workflow objects,
 * `Activator` and `ReusableVMWorkflow`), with what those retain, grouped by kind.
 *
 * Heap snapshots come from the bench's probe (scripts/bench/heap-probe.ts, `npm run bench --
 * --heap-snapshots`). A 1,000-workflow snapshot takes a few GB to read: run with
 * `NODE_OPTIONS=--max-old-space-size=8192`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[]];
      edge_fields: string[];
      edge_types: [string[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

interface Heap {
  count: number;
  selfSize: Float64Array;
  kind: string[];
  kindOf: Int32Array;
  name: (n: number) => string;
  firstEdge: Uint32Array;
  edgeTo: Uint32Array;
  edgeWeak: Uint8Array;
  edgeName: (e: number) => string;
}

function load(file: string): Heap {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const meta = raw.snapshot.meta;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const nType = meta.node_fields.indexOf('type');
  const nName = meta.node_fields.indexOf('name');
  const nSelf = meta.node_fields.indexOf('self_size');
  const nEdges = meta.node_fields.indexOf('edge_count');
  const eType = meta.edge_fields.indexOf('type');
  const eName = meta.edge_fields.indexOf('name_or_index');
  const eTo = meta.edge_fields.indexOf('to_node');
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const weak = edgeTypes.indexOf('weak');
  const count = raw.nodes.length / nf;
  const selfSize = new Float64Array(count);
  const firstEdge = new Uint32Array(count + 1);
  const kinds = new Map<string, number>();
  const kind: string[] = [];
  const kindOf = new Int32Array(count);
  let edge = 0;
  for (let n = 0; n < count; n += 1) {
    const base = n * nf;
    selfSize[n] = raw.nodes[base + nSelf]!;
    firstEdge[n] = edge;
    edge += raw.nodes[base + nEdges]!;
    const type = nodeTypes[raw.nodes[base + nType]!]!;
    // Objects and closures by their constructor or function name; strings, code, arrays by type.
    const label =
      type === 'object' || type === 'closure' || type === 'native'
        ? `${type} ${raw.strings[raw.nodes[base + nName]!]!.slice(0, 60)}`
        : type;
    let k = kinds.get(label);
    if (k === undefined) {
      k = kind.length;
      kind.push(label);
      kinds.set(label, k);
    }
    kindOf[n] = k;
  }
  firstEdge[count] = edge;
  const edgeCount = raw.edges.length / ef;
  const edgeTo = new Uint32Array(edgeCount);
  const edgeWeak = new Uint8Array(edgeCount);
  for (let e = 0; e < edgeCount; e += 1) {
    edgeTo[e] = raw.edges[e * ef + eTo]! / nf;
    edgeWeak[e] = raw.edges[e * ef + eType] === weak ? 1 : 0;
  }
  const nameIndex = Int32Array.from({ length: count }, (_, n) => raw.nodes[n * nf + nName]!);
  const edgeNames = Int32Array.from({ length: edgeCount }, (_, e) => raw.edges[e * ef + eName]!);
  const edgeKinds = Uint8Array.from({ length: edgeCount }, (_, e) => raw.edges[e * ef + eType]!);
  const strings = raw.strings;
  return {
    count,
    selfSize,
    kind,
    kindOf,
    name: (n) => strings[nameIndex[n]!] ?? '',
    firstEdge,
    edgeTo,
    edgeWeak,
    edgeName: (e) =>
      edgeTypes[edgeKinds[e]!] === 'element' || edgeTypes[edgeKinds[e]!] === 'hidden'
        ? `[${edgeNames[e]}]`
        : (strings[edgeNames[e]!] ?? ''),
  };
}

/** Immediate dominators (Cooper, Harvey, Kennedy), from node 0 (the snapshot's root); -1: unreachable. */
function dominators(heap: Heap): { idom: Int32Array; postorder: Uint32Array; reached: number } {
  const { count, firstEdge, edgeTo, edgeWeak } = heap;
  const order = new Int32Array(count).fill(-1); // postorder number
  const postorder = new Uint32Array(count);
  const stack = new Uint32Array(count);
  const cursor = new Uint32Array(count);
  const visited = new Uint8Array(count);
  let top = 0;
  let next = 0;
  stack[top++] = 0;
  visited[0] = 1;
  cursor[0] = firstEdge[0]!;
  while (top > 0) {
    const v = stack[top - 1]!;
    if (cursor[v]! < firstEdge[v + 1]!) {
      const e = cursor[v]!;
      cursor[v] = e + 1;
      if (edgeWeak[e]) continue;
      const w = edgeTo[e]!;
      if (!visited[w]) {
        visited[w] = 1;
        cursor[w] = firstEdge[w]!;
        stack[top++] = w;
      }
    } else {
      top -= 1;
      order[v] = next;
      postorder[next++] = v;
    }
  }
  // Predecessors (non-weak edges between reached nodes), CSR.
  const predCount = new Uint32Array(count + 1);
  for (let v = 0; v < count; v += 1) {
    if (order[v]! < 0) continue;
    for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += 1)
      if (!edgeWeak[e] && order[edgeTo[e]!]! >= 0) predCount[edgeTo[e]! + 1]! += 1;
  }
  for (let v = 0; v < count; v += 1) predCount[v + 1]! += predCount[v]!;
  const preds = new Uint32Array(predCount[count]!);
  const fill = predCount.slice(0, count);
  for (let v = 0; v < count; v += 1) {
    if (order[v]! < 0) continue;
    for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += 1) {
      const w = edgeTo[e]!;
      if (!edgeWeak[e] && order[w]! >= 0) preds[fill[w]!++] = v;
    }
  }
  const idom = new Int32Array(count).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number) => {
    let x = a;
    let y = b;
    while (x !== y) {
      while (order[x]! < order[y]!) x = idom[x]!;
      while (order[y]! < order[x]!) y = idom[y]!;
    }
    return x;
  };
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = next - 1; i >= 0; i -= 1) {
      const v = postorder[i]!;
      if (v === 0) continue;
      let dom = -1;
      for (let p = predCount[v]!; p < predCount[v + 1]!; p += 1) {
        const u = preds[p]!;
        if (idom[u]! < 0) continue;
        dom = dom < 0 ? u : intersect(u, dom);
      }
      if (dom >= 0 && idom[v] !== dom) {
        idom[v] = dom;
        changed = true;
      }
    }
  }
  return { idom, postorder: postorder.slice(0, next), reached: next };
}

interface KindRow {
  kind: string;
  count: number;
  bytes: number;
}

function byKind(heap: Heap, include?: (n: number) => boolean): Map<string, KindRow> {
  const rows = new Map<string, KindRow>();
  for (let n = 0; n < heap.count; n += 1) {
    if (include && !include(n)) continue;
    const kind = heap.kind[heap.kindOf[n]!]!;
    const row = rows.get(kind) ?? { kind, count: 0, bytes: 0 };
    row.count += 1;
    row.bytes += heap.selfSize[n]!;
    rows.set(kind, row);
  }
  return rows;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      per: { type: 'string' },
      owners: { type: 'string', default: 'Activator,ReusableVMWorkflow' },
      top: { type: 'string', default: '25' },
    },
  });
  const [beforeFile, afterFile] = positionals;
  if (!beforeFile || !afterFile) {
    console.error('usage: heap-summary.ts <before.heapsnapshot> <after.heapsnapshot> [--per N]');
    process.exit(2);
  }
  const per = values.per === undefined ? undefined : Number(values.per);
  const top = Number(values.top);
  const perText = (bytes: number) => (per ? ` (${kb(bytes / per)} per workflow)` : '');

  const before = load(beforeFile);
  const beforeKinds = byKind(before);
  const beforeTotal = before.selfSize.reduce((a, b) => a + b, 0);
  const beforeCount = before.count;
  // Let the first one go before reading the second.
  (before as Partial<Heap>).selfSize = undefined;
  const after = load(afterFile);
  const afterKinds = byKind(after);
  const afterTotal = after.selfSize.reduce((a, b) => a + b, 0);
  console.log(
    `heap: ${mb(beforeTotal)} in ${beforeCount} objects → ${mb(afterTotal)} in ${after.count}: +${mb(afterTotal - beforeTotal)}${perText(afterTotal - beforeTotal)}`,
  );
  const growth = [...afterKinds.values()]
    .map((row) => {
      const b = beforeKinds.get(row.kind);
      return { kind: row.kind, count: row.count - (b?.count ?? 0), bytes: row.bytes - (b?.bytes ?? 0) };
    })
    .sort((x, y) => y.bytes - x.bytes)
    .slice(0, top);
  console.log('\ngrowth by kind (self sizes):');
  for (const row of growth) {
    console.log(
      `  ${row.kind.padEnd(50)} ${String(row.count).padStart(9)} ${mb(row.bytes).padStart(10)}${per ? `  ${(row.count / per).toFixed(1).padStart(7)} / wf  ${kb(row.bytes / per).padStart(9)} / wf` : ''}`,
    );
  }

  const owners = new Set((values.owners ?? '').split(',').filter((o) => o !== ''));
  const { idom, postorder } = dominators(after);
  const retained = Float64Array.from(after.selfSize);
  for (const v of postorder) if (v !== 0 && idom[v]! >= 0) retained[idom[v]!]! += retained[v]!;
  const isOwner = (n: number) => {
    const kind = after.kind[after.kindOf[n]!]!;
    return kind.startsWith('object ') && owners.has(kind.slice('object '.length));
  };
  // The nearest owner above each object in the dominator tree (parents come before children here).
  const owner = new Int32Array(after.count).fill(-1);
  for (let i = postorder.length - 1; i >= 0; i -= 1) {
    const v = postorder[i]!;
    owner[v] = isOwner(v) ? v : v === 0 ? -1 : owner[idom[v]!]!;
  }
  for (const name of owners) {
    const mine: number[] = [];
    for (const v of postorder) if (after.kind[after.kindOf[v]!] === `object ${name}`) mine.push(v);
    if (mine.length === 0) {
      console.log(`\n${name}: none`);
      continue;
    }
    const sizes = mine.map((v) => retained[v]!).sort((a, b) => a - b);
    const sum = sizes.reduce((a, b) => a + b, 0);
    console.log(
      `\n${name}: ${mine.length} objects retaining ${mb(sum)}: mean ${kb(sum / mine.length)}, median ${kb(sizes[Math.floor(sizes.length / 2)]!)}, max ${kb(sizes[sizes.length - 1]!)}`,
    );
    const set = new Set(mine);
    const held = [...byKind(after, (n) => owner[n]! >= 0 && set.has(owner[n]!)).values()]
      .sort((x, y) => y.bytes - x.bytes)
      .slice(0, top);
    console.log(`  what they retain (self sizes of objects they dominate; nearest owner counted):`);
    for (const row of held) {
      console.log(
        `    ${row.kind.padEnd(50)} ${String(row.count).padStart(9)} ${mb(row.bytes).padStart(10)}  ${(row.count / mine.length).toFixed(1).padStart(7)} / each  ${kb(row.bytes / mine.length).padStart(9)} / each`,
      );
    }
    // The largest one's biggest direct children by retained size, named by edge.
    const biggest = mine.reduce((a, b) => (retained[a]! >= retained[b]! ? a : b));
    const children: { edge: string; kind: string; bytes: number }[] = [];
    for (let e = after.firstEdge[biggest]!; e < after.firstEdge[biggest + 1]!; e += 1) {
      const w = after.edgeTo[e]!;
      if (idom[w] === biggest) {
        children.push({ edge: after.edgeName(e), kind: after.kind[after.kindOf[w]!]!, bytes: retained[w]! });
      }
    }
    children.sort((x, y) => y.bytes - x.bytes);
    console.log(`  one of them (the largest), by field, retained:`);
    for (const c of children.slice(0, 15))
      console.log(`    .${c.edge.padEnd(30)} ${c.kind.padEnd(40)} ${kb(c.bytes)}`);
  }
}

main();
