// Installs npm dependencies and builds the native addon and the TypeScript
// facade when they are missing or older than their sources. Used by
// `npm run demo` and `npm test` so both work on a fresh clone. With `--test`
// it also makes sure of what the tests run against (sox, PulseAudio).
import { execSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' })

function newest(dir, exts) {
  let t = 0
  if (!existsSync(dir)) return t
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'target' && e.name !== 'fixtures') t = Math.max(t, newest(p, exts))
    } else if (exts.some((x) => e.name.endsWith(x))) t = Math.max(t, statSync(p).mtimeMs)
  }
  return t
}
const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0)

// Debian packages first (the ALSA headers the build links against; sox and
// PulseAudio for the tests): a fresh machine lacks them.
const forTests = process.argv.includes('--test')
try {
  run(`bash scripts/system-deps.sh ${forTests ? 'test' : 'build'}`)
} catch {
  // The script said what is missing and how to install it.
  process.exit(1)
}

if (!existsSync(join(root, 'node_modules', '.bin', 'napi'))) {
  // The lock file is complete: a fresh clone installs exactly it.
  run('npm ci --no-audit --no-fund')
}
const addon = readdirSync(root).find((f) => /^resonode\..*\.node$/.test(f))
const rustSrc = Math.max(newest(join(root, 'crates'), ['.rs', 'Cargo.toml']), mtime(join(root, 'Cargo.toml')))
if (!addon || mtime(join(root, addon)) < rustSrc || !existsSync(join(root, 'index.js'))) {
  run('npm run build:native')
}
if (mtime(join(root, 'dist', 'index.js')) < Math.max(newest(join(root, 'src-ts'), ['.ts']), mtime(join(root, 'index.d.ts')))) {
  run('npm run build:ts')
}
