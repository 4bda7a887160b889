import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { failure, groupCommit, type WriteOp } from './sqlite-writes.js';

/**
 * The writer thread (SqliteOptions.writerThread): its own connection to the
 * store's file runs every batch of writes the event loop sends, in order, and
 * answers each batch's outcomes after its commit. SQLite's work on a write
 * (B-tree inserts, index updates, the WAL frames of the commit) then costs the
 * event loop one message each way per batch instead.
 */
const { filename, autocheckpoint } = workerData as { filename: string; autocheckpoint: number };
const db = new Database(filename, { fileMustExist: true });
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 5000');
db.pragma(`wal_autocheckpoint = ${autocheckpoint}`);
const commit = groupCommit(db);

parentPort?.on('message', (batch: readonly WriteOp[] | 'close') => {
  if (batch === 'close') {
    db.close();
    parentPort?.close();
    return;
  }
  try {
    parentPort?.postMessage({ outcomes: commit(batch) });
  } catch (error) {
    // The transaction itself failed (BEGIN or COMMIT): every write of the batch fails with it.
    parentPort?.postMessage({ failed: failure(error) });
  }
});
