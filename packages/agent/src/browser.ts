import { spawn } from 'node:child_process';

/**
 * Opens the system browser on the sign-in page (RFC 8252 §4: native apps use
 * the external user agent, never an embedded one), and prints the URL too,
 * for a machine without a browser. The URL is passed as an argument, never
 * through a shell (it carries `&`).
 */
export function openSystemBrowser(url: URL, print: (text: string) => void = (text) => process.stderr.write(text)): void {
  print(`Opening the browser to sign in; if nothing opens, visit:\n  ${url.href}\n`);
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url.href]]
      : process.platform === 'win32'
        ? ['rundll32', ['url.dll,FileProtocolHandler', url.href]]
        : ['xdg-open', [url.href]];
  try {
    const child = spawn(command, args, { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // No browser launcher: the printed URL is the way.
  }
}
