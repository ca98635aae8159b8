#!/usr/bin/env node
// Assembles and packs a platform package (npm/<platform>/, made by
// `napi create-npm-dirs`): the addon, and ONNX Runtime's shared library
// with its licence, taken from the official Microsoft build inside the
// `onnxruntime-node` dev dependency (its install script never runs: see
// .npmrc). The main package loads that library by path, beside the addon.
//
//   node scripts/pack-platform.mjs                       # this machine's platform, addon from the repo root
//   node scripts/pack-platform.mjs --platform linux-arm64-gnu --addon /tmp/xbuild/arm64/resonode.linux-arm64-gnu.node
//   node scripts/pack-platform.mjs --out /tmp/packs      # where the .tgz goes (default: npm/)
//
// Prints one JSON line: { platform, tarball, packedBytes, unpackedBytes, files, onnxRuntime }.
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** ONNX Runtime inside onnxruntime-node, per platform package: [dir under bin/napi-v6, file]; null where Microsoft ships no build. */
export const ORT = {
  'linux-x64-gnu': ['linux/x64', 'libonnxruntime.so.1'],
  'linux-arm64-gnu': ['linux/arm64', 'libonnxruntime.so.1'],
  'darwin-arm64': ['darwin/arm64', 'libonnxruntime.1.dylib'],
  'darwin-x64': null,
  'win32-x64-msvc': ['win32/x64', 'onnxruntime.dll'],
  'win32-arm64-msvc': ['win32/arm64', 'onnxruntime.dll'],
}

/**
 * `npm pack` of the package in `dir` into `out`: npm's JSON record of it
 * (`filename`, `files`, `unpackedSize`, ...), with the tarball's path.
 */
export function npmPack(dir, out) {
  mkdirSync(out, { recursive: true })
  // npm is a .cmd script on Windows: it needs a shell there.
  const json = execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], shell: process.platform === 'win32' })
  const [info] = JSON.parse(json.replace(/^[^[]*/, ''))
  return { ...info, tarball: join(out, info.filename) }
}

/** This machine's platform package name suffix, as napi-rs names them. */
export function hostPlatform() {
  const abi = process.platform === 'linux' ? '-gnu' : process.platform === 'win32' ? '-msvc' : ''
  return `${process.platform}-${process.arch}${abi}`
}

/** Fills npm/<platform>/ and packs it into `out`; returns what was packed. */
export function packPlatform({ platform = hostPlatform(), addon, out = join(root, 'npm') } = {}) {
  const dir = join(root, 'npm', platform)
  if (!existsSync(join(dir, 'package.json'))) throw new Error(`no platform package npm/${platform} (known: ${Object.keys(ORT).join(', ')})`)
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  const addonName = pkg.main
  const src = resolve(addon ?? join(root, addonName))
  if (!existsSync(src)) throw new Error(`${src}: no addon built for ${platform} (npm run build, or --addon)`)
  copyFileSync(src, join(dir, addonName))
  const files = [addonName]
  let onnxRuntime = null
  if (ORT[platform]) {
    const [sub, file] = ORT[platform]
    const lib = join(root, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', sub, file)
    if (!existsSync(lib)) throw new Error(`${lib}: ONNX Runtime missing (npm install puts onnxruntime-node, a dev dependency, in node_modules)`)
    copyFileSync(lib, join(dir, file))
    copyFileSync(join(root, 'assets', 'LICENSE-onnxruntime'), join(dir, 'LICENSE-onnxruntime'))
    files.push(file, 'LICENSE-onnxruntime')
    onnxRuntime = { file, version: JSON.parse(readFileSync(join(root, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version }
  }
  pkg.files = files
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`)
  const info = npmPack(dir, out)
  const tarball = info.tarball
  return { platform, tarball, packedBytes: statSync(tarball).size, unpackedBytes: info.unpackedSize, files: info.files.map((f) => f.path), onnxRuntime }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { platform: { type: 'string' }, addon: { type: 'string' }, out: { type: 'string' } } })
  console.log(JSON.stringify(packPlatform({ platform: values.platform, addon: values.addon, out: values.out && resolve(values.out) })))
}
