import { createWriteStream } from 'node:fs';
import { systemClock } from '@palisade/core';
import { Keystore, keyRetention, loadConfigFile, type ParsedConfig, verifyAuditTrail } from '@palisade/idp';
import type { AuditQuery, AuditRow, Store } from '@palisade/store';
import { openStore } from '../store.js';

export interface AuditOptions {
  readonly config?: string | undefined;
  readonly user?: string | undefined;
  readonly client?: string | undefined;
  readonly trace?: string | undefined;
  readonly event?: string | undefined;
  readonly outcome?: string | undefined;
  readonly since?: string | undefined;
  readonly lines?: string | undefined;
  readonly json?: boolean | undefined;
  readonly follow?: boolean | undefined;
  readonly out?: string | undefined;
}

const UNITS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since 1h` (s, m, h, d) or an ISO 8601 time → milliseconds since the epoch. */
export function parseSince(value: string, now = Date.now()): number {
  const relative = /^([0-9]+)([smhd])$/.exec(value);
  if (relative) return now - Number(relative[1]) * (UNITS[relative[2] as string] ?? 0);
  const absolute = Date.parse(value);
  if (Number.isNaN(absolute)) throw new TypeError(`--since: expected 30m, 1h, 2d or an ISO 8601 time, not ${value}`);
  return absolute;
}

/** One line a person can read: time, event, outcome, who, through which client, in which trace, why. */
function line(row: AuditRow, json: boolean): string {
  if (json) return row.entry;
  const event = JSON.parse(row.entry) as { reason?: string; component?: string };
  const who = [row.sub ? `sub=${row.sub}` : '', row.client ? `client=${row.client}` : '', row.traceId ? `trace=${row.traceId}` : '']
    .filter(Boolean)
    .join(' ');
  return [new Date(row.time).toISOString(), `#${row.seq}`, event.component ?? '', row.event, row.outcome, who, event.reason ?? '']
    .filter(Boolean)
    .join('  ');
}

async function withStore<T>(file: string, run: (store: Store, config: ParsedConfig) => Promise<T>): Promise<T> {
  const config = loadConfigFile(file);
  const store = await openStore(config);
  try {
    return await run(store, config);
  } finally {
    await store.close();
  }
}

function query(options: AuditOptions): AuditQuery {
  return {
    ...(options.user ? { sub: options.user } : {}),
    ...(options.client ? { client: options.client } : {}),
    ...(options.trace ? { traceId: options.trace } : {}),
    ...(options.event ? { event: options.event } : {}),
    ...(options.outcome ? { outcome: options.outcome } : {}),
    ...(options.since ? { since: parseSince(options.since) } : {}),
  };
}

/**
 * `palisade audit verify|tail|query|export --config FILE`. Reads the
 * realm's store directly (the trail is append-only there); verify exits 1
 * and names the first bad record when anything was changed.
 */
export async function audit(sub: string | undefined, options: AuditOptions): Promise<number> {
  if (!options.config || !sub || !['verify', 'tail', 'query', 'export'].includes(sub)) {
    process.stderr.write(
      'usage: palisade audit verify|tail|query|export --config FILE [--user SUB] [--client ID] [--trace ID] [--event NAME]\n' +
        '                      [--outcome success|failure] [--since 1h] [-n LINES] [--follow] [--json] [--out FILE]\n',
    );
    return 2;
  }
  let filter: AuditQuery;
  try {
    filter = query(options);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  return withStore(options.config, async (store, config) => {
    if (sub === 'verify') {
      const keystore = new Keystore(store, systemClock, config.keys.algorithms, keyRetention(config), config.issuer);
      await keystore.initialize();
      const report = await verifyAuditTrail(store, config.issuer, keystore.jwks);
      if (report.ok) {
        process.stdout.write(`audit trail intact: ${report.records} records, ${report.checkpoints} signed checkpoints\n`);
        return 0;
      }
      process.stdout.write(`audit trail TAMPERED at record ${report.problem?.seq} (${report.problem?.kind}): ${report.problem?.message}\n`);
      return 1;
    }
    if (sub === 'export') {
      const out = options.out ? createWriteStream(options.out, { mode: 0o600 }) : process.stdout;
      // Each line carries what an outside verifier needs: position, both hashes and the exact hashed text.
      for (const row of await store.readAudit()) {
        out.write(`{"seq":${row.seq},"prev":"${row.prev}","hash":"${row.hash}","event":${row.entry}}\n`);
      }
      if (out !== process.stdout) await new Promise<void>((resolve) => (out as ReturnType<typeof createWriteStream>).end(resolve));
      return 0;
    }
    const json = options.json ?? false;
    let rows = await store.readAudit(filter);
    if (sub === 'tail') rows = rows.slice(-Number(options.lines ?? 20));
    for (const row of rows) process.stdout.write(`${line(row, json)}\n`);
    if (sub === 'tail' && options.follow) {
      let after = rows.at(-1)?.seq ?? (await store.readAudit()).at(-1)?.seq ?? 0;
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        for (const row of await store.readAudit({ ...filter, afterSeq: after })) {
          process.stdout.write(`${line(row, json)}\n`);
          after = row.seq;
        }
      }
    }
    return 0;
  });
}
