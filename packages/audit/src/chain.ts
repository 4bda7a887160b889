import { createHash } from 'node:crypto';
import { compactVerify, type JWTVerifyGetKey } from 'jose';

/** The `prev` of the first record. */
export const GENESIS = '0'.repeat(64);

/** A record of the chain as stored: its position, its canonical event text, and the two hashes that bind it in place. */
export interface ChainRecord {
  readonly seq: number;
  readonly entry: string;
  readonly prev: string;
  readonly hash: string;
}

/** A signed statement "the chain up to `seq` hashes to `hash`", a JWS by the IdP's key. */
export interface Checkpoint {
  readonly seq: number;
  readonly hash: string;
  readonly signature: string;
}

/** JWS `typ` of a checkpoint, so no other token of the IdP's can pass for one (RFC 8725 §3.11). */
export const CHECKPOINT_TYPE = 'audit-checkpoint+jwt';

/**
 * Each record commits to its predecessor, its own position and its content:
 * SHA-256 over `prev`, `seq` and the canonical JSON of the event, hex. An
 * edit changes the hash, a deletion or insertion breaks the next link, a
 * reordering both.
 */
export function chainHash(prev: string, seq: number, entry: string): string {
  return createHash('sha256').update(`${prev}\n${seq}\n${entry}`).digest('hex');
}

export type ProblemKind = 'edited' | 'missing' | 'out_of_place' | 'bad_checkpoint' | 'truncated';

export interface VerifyReport {
  readonly ok: boolean;
  readonly records: number;
  readonly checkpoints: number;
  /** The first thing wrong, by position: what a security team needs to start from. */
  readonly problem?: { readonly seq: number; readonly kind: ProblemKind; readonly message: string };
}

export interface CheckpointClaims {
  readonly iss: string;
  readonly seq: number;
  readonly hash: string;
  readonly iat: number;
}

/**
 * Recomputes the chain from its first record and checks every checkpoint:
 * its signature by one of the IdP's keys, and that the chain really hashed
 * to the signed value at that position. Detects an edit (the record's hash
 * no longer matches), a deletion (a gap), an insertion or reordering (a
 * record that does not follow its predecessor), a rewrite of the whole
 * chain from some point (a checkpoint that no longer matches), and a
 * truncation of the tail behind the last checkpoint.
 */
export async function verifyChain(
  records: AsyncIterable<ChainRecord> | Iterable<ChainRecord>,
  checkpoints: readonly Checkpoint[],
  keys: JWTVerifyGetKey,
  issuer: string,
): Promise<VerifyReport> {
  const pending = [...checkpoints].sort((a, b) => a.seq - b.seq);
  let checked = 0;
  for (const checkpoint of pending) {
    let claims: CheckpointClaims;
    try {
      const { payload, protectedHeader } = await compactVerify(checkpoint.signature, keys);
      if (protectedHeader.typ !== CHECKPOINT_TYPE) throw new Error('not a checkpoint');
      claims = JSON.parse(new TextDecoder().decode(payload)) as CheckpointClaims;
    } catch {
      return fail(0, checked, checkpoint.seq, 'bad_checkpoint', `the checkpoint at ${checkpoint.seq} is not signed by the IdP`);
    }
    if (claims.iss !== issuer || claims.seq !== checkpoint.seq || claims.hash !== checkpoint.hash) {
      return fail(0, checked, checkpoint.seq, 'bad_checkpoint', `the checkpoint at ${checkpoint.seq} does not match its signature`);
    }
  }

  let expected = 1;
  let prev = GENESIS;
  let count = 0;
  const bySeq = new Map(pending.map((c) => [c.seq, c]));
  for await (const record of records) {
    count++;
    if (record.seq > expected) return fail(count, checked, expected, 'missing', `record ${expected} is missing (deleted)`);
    if (record.seq < expected || record.prev !== prev) {
      return fail(
        count,
        checked,
        record.seq,
        'out_of_place',
        `record ${record.seq} does not follow record ${expected - 1} (inserted, reordered or rewritten)`,
      );
    }
    if (chainHash(record.prev, record.seq, record.entry) !== record.hash) {
      return fail(count, checked, record.seq, 'edited', `record ${record.seq} was changed after it was written`);
    }
    const checkpoint = bySeq.get(record.seq);
    if (checkpoint) {
      if (checkpoint.hash !== record.hash) {
        return fail(
          count,
          checked,
          record.seq,
          'bad_checkpoint',
          `the chain up to ${record.seq} was rewritten: it no longer matches the signed checkpoint`,
        );
      }
      checked++;
    }
    prev = record.hash;
    expected++;
  }
  const last = pending.at(-1);
  if (last && last.seq >= expected) {
    return fail(count, checked, expected, 'truncated', `records from ${expected} on are missing: a checkpoint vouches for ${last.seq}`);
  }
  return { ok: true, records: count, checkpoints: checked };
}

function fail(records: number, checkpoints: number, seq: number, kind: ProblemKind, message: string): VerifyReport {
  return { ok: false, records, checkpoints, problem: { seq, kind, message } };
}
