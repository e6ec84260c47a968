// Loads a module of the compiled package (dist/), with one clear line when it was never built.
const dist = new URL('../dist/', import.meta.url);

export async function load(file) {
  try {
    return await import(new URL(file, dist).href);
  } catch (e) {
    if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes(new URL(file, dist).pathname)) {
      process.stderr.write(`error: tsbpf is not built (no dist/${file}): run 'npm run build' in ${new URL('..', dist).pathname}\n`);
      process.exit(1);
    }
    throw e;
  }
}
