import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadConfigFile } from '@palisade/idp';
import { type ExportLine, exportStore, importStore } from '@palisade/store';
import { openStore } from '../store.js';

/**
 * `palisade db export --config FILE [--out FILE]`: every live record, the
 * audit chain and its checkpoints as JSON Lines (mode 0600: the export holds
 * private signing keys and grant state).
 */
export async function dbExport(file: string | undefined, out: string | undefined): Promise<number> {
  if (!file) {
    process.stderr.write('usage: palisade db export --config FILE [--out FILE]\n');
    return 2;
  }
  const store = await openStore(loadConfigFile(file));
  const target = out ? createWriteStream(out, { mode: 0o600 }) : process.stdout;
  try {
    let lines = 0;
    for await (const line of exportStore(store)) {
      target.write(`${JSON.stringify(line)}\n`);
      lines++;
    }
    if (target !== process.stdout) {
      await new Promise<void>((resolve) => (target as ReturnType<typeof createWriteStream>).end(resolve));
      process.stderr.write(`exported ${lines} lines\n`);
    }
    return 0;
  } finally {
    await store.close();
  }
}

/** `palisade db import --config FILE EXPORT`: loads an export into the (empty) store the configuration names. */
export async function dbImport(file: string | undefined, input: string | undefined): Promise<number> {
  if (!file || !input) {
    process.stderr.write('usage: palisade db import --config FILE EXPORT_FILE\n');
    return 2;
  }
  const store = await openStore(loadConfigFile(file), { migrate: true });
  try {
    const reader = createInterface({ input: createReadStream(input), crlfDelay: Number.POSITIVE_INFINITY });
    async function* lines(): AsyncGenerator<ExportLine> {
      for await (const line of reader) if (line.trim() !== '') yield JSON.parse(line) as ExportLine;
    }
    const result = await importStore(store, lines());
    process.stdout.write(`imported ${result.records} records and ${result.audit} audit records\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`import failed: ${error instanceof Error ? error.message : 'unknown error'}\n`);
    return 1;
  } finally {
    await store.close();
  }
}
