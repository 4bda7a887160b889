import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/**
 * A worker thread with its own connection to the SQLite file, copying the WAL
 * back into the database (PASSIVE: never waits for, nor blocks, the writer).
 * A checkpoint ends in an fsync; run by the writing connection it would stall
 * the event loop in the middle of a commit, and so every request waiting on it.
 */
const { filename, interval } = workerData as { filename: string; interval: number };
const db = new Database(filename, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or closing: the next tick tries again, and the writer's own autocheckpoint is the backstop.
  }
}, interval);
parentPort?.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
