/**
 * Markdown as Biome formats it (biome.json formats *.md, and `npm test` runs `biome ci`): a generated
 * document must already be in that form, or the lint step and the generator would fight.
 */

/** A table with every column padded to its widest cell (at least 3 characters), as Biome writes it. */
export function markdownTable(header: string[], rows: string[][]): string {
  for (const row of [header, ...rows]) {
    if (row.length !== header.length)
      throw new Error(`table row of ${row.length} cells, expected ${header.length}`);
    for (const cell of row) {
      if (/[|\n]/.test(cell)) throw new Error(`table cell with a pipe or a newline: ${cell}`);
    }
  }
  const widths = header.map((_, i) => Math.max(3, ...[header, ...rows].map((row) => [...row[i]!].length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => cell + ' '.repeat(widths[i]! - [...cell].length)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Inline code, for values shown as they are typed. */
export function code(value: string | number): string {
  return `\`${value}\``;
}
