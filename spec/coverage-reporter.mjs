// node:test reporter: prints line coverage of lib/ only (tests and tools excluded) and writes it to
// coverage/summary.json so spec/run.mjs can enforce the threshold.
import { mkdirSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';

export default async function* libCoverage(source) {
  for await (const event of source) {
    if (event.type !== 'test:coverage') continue;
    const { files, workingDirectory } = event.data.summary;
    let total = 0;
    let covered = 0;
    const rows = [];
    for (const f of files) {
      const rel = relative(workingDirectory, f.path);
      if (!rel.startsWith('lib/')) continue;
      total += f.totalLineCount;
      covered += f.coveredLineCount;
      rows.push(
        `  ${rel.padEnd(48)} ${((100 * f.coveredLineCount) / Math.max(1, f.totalLineCount)).toFixed(1).padStart(6)} %`,
      );
    }
    const pct = total === 0 ? 0 : (100 * covered) / total;
    mkdirSync('coverage', { recursive: true });
    writeFileSync('coverage/summary.json', JSON.stringify({ lines: pct, covered, total }));
    yield `\nline coverage of lib/ by file:\n${rows.sort().join('\n')}\nlib/ line coverage: ${pct.toFixed(2)} % (${covered}/${total} lines)\n`;
  }
}
