import argon2 from 'argon2';

/** Everything on stdin, without its final newline. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** `palisade hash-password`: reads a password on stdin, prints its argon2id hash for `users[].password_hash`. */
export async function hashPassword(): Promise<number> {
  const password = await readStdin();
  if (password.length === 0) {
    process.stderr.write('usage: printf %s "$PASSWORD" | palisade hash-password\n');
    return 2;
  }
  process.stdout.write(`${await argon2.hash(password, { type: argon2.argon2id })}\n`);
  return 0;
}
